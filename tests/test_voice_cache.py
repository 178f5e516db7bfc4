"""The voice line cache key covers the preset's settings; the noise seed does not (issue 17, part 4)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from middleware import voice
from middleware.voice import cache as vcache
from middleware.voice.presets import PRESETS

TEXT = "The bridge is out."
SR = 16000


def _edited(monkeypatch: pytest.MonkeyPatch, name: str, **voice_changes: float) -> None:
    p = PRESETS[name]
    monkeypatch.setitem(
        PRESETS, name, dataclasses.replace(p, voice=dataclasses.replace(p.voice, **voice_changes))
    )


def test_changing_a_presets_settings_renders_the_line_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, info = voice.render_line(TEXT, "child", SR, cache_dir=tmp_path)
    assert not info["cached"]
    _, info2 = voice.render_line(TEXT, "child", SR, cache_dir=tmp_path)
    assert info2["cached"] and info2["key"] == info["key"]
    _edited(monkeypatch, "child", f0=180.0)  # a designer lowers the child's pitch
    after, info3 = voice.render_line(TEXT, "child", SR, cache_dir=tmp_path)
    # Before the fix the key was (text, preset name, engine, version, rate): the 280 Hz audio came back.
    assert info3["key"] != info["key"]
    assert not info3["cached"]
    assert not np.array_equal(before[: min(before.size, after.size)], after[: min(before.size, after.size)])
    assert voice.line_key(TEXT, "child", SR) == info3["key"]
    # an effect parameter counts too
    p = PRESETS["child"]
    monkeypatch.setitem(
        PRESETS, "child", dataclasses.replace(p, effects=(("tremolo", {"rate_hz": 3.0, "depth": 0.2}),))
    )
    assert voice.line_key(TEXT, "child", SR) != info3["key"]


def test_the_noise_seed_does_not_move_with_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The seed is the one the intelligibility scores were measured with: the first 32 bits of the
    key of (text, preset, engine, engine version, rate), whatever the preset's settings."""
    version = voice.ENGINE_VERSION
    old_key = hashlib.sha256(
        json.dumps([TEXT, "ogre", "formant", version, SR], ensure_ascii=False).encode("utf-8")
    ).hexdigest()
    seed = vcache.line_seed(TEXT, "ogre", "formant", version, SR)
    assert seed == int(old_key[:8], 16)
    seen = []
    import middleware.voice as vmod

    real = vmod.synthesize

    def spy(tokens, vp, sr, seed):  # records the seed render_line hands the synthesiser
        seen.append(seed)
        return real(tokens, vp, sr, seed)

    monkeypatch.setattr(vmod, "synthesize", spy)
    voice.render_line(TEXT, "ogre", SR, use_cache=False)
    _edited(monkeypatch, "ogre", formant_scale=0.9)
    voice.render_line(TEXT, "ogre", SR, use_cache=False)
    assert seen == [seed, seed]


def test_settings_digest_ignores_the_description() -> None:
    p = PRESETS["ghost"]
    assert dataclasses.replace(p, description="other words").settings_digest == p.settings_digest
    assert len({q.settings_digest for q in PRESETS.values()}) == len(PRESETS)
