"""Pitch bindings, curves and jitter that add up past the engine's range play at its limit.

The loader allows a layer's pitch curve up to +-48 semitones and a random container's ``pitch_jitter``
up to 12 on top, but the engine takes playback rates only up to ``MAX_PITCH_RATIO`` (x16 = 48
semitones). A scene that validated used to fail at render (``pitch=22.6: must be > 0 and <= 16.0``);
the runtime now clamps pitch into the engine's range the way it clamps gain.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import sine, write_wav

from middleware.config import EngineConfig
from middleware.engine.specs import MAX_PITCH_RATIO
from middleware.player import ScenePlayer
from middleware.scene.load import load_scene_text
from middleware.scene.model import MAX_PITCH_SEMITONES, semitones_to_ratio

SR = 48000


def test_semitone_range_is_derived_from_the_engines_rate_limit() -> None:
    assert abs(2.0 ** (MAX_PITCH_SEMITONES / 12.0) - MAX_PITCH_RATIO) < 1e-9  # derived, not restated
    assert semitones_to_ratio(1000.0) == semitones_to_ratio(MAX_PITCH_SEMITONES)
    assert semitones_to_ratio(-1000.0) == semitones_to_ratio(-MAX_PITCH_SEMITONES)
    assert abs(semitones_to_ratio(12.0) - 2.0) < 1e-12


def test_pitch_curve_plus_jitter_past_the_range_renders_at_the_limit(tmp_path: Path) -> None:
    for name in ("a", "b"):
        write_wav(tmp_path / "sounds" / f"{name}.wav", sine(110.0, 1.0, amp=0.2))
    text = """
name: pitchy
parameters:
  up: {range: [0, 1], default: 1}
buses: {sfx: {}}
emitters:
  bed:
    layers:
      - id: loop
        source: {random: [sounds/a.wav, sounds/b.wav], pitch_jitter: 12}
        pitch: {param: up, curve: [[0, 0], [1, 48]]}
events:
  hit:
    position: null
    layers:
      - id: shot
        source: {random: [sounds/a.wav, sounds/b.wav], pitch_jitter: 12}
        mode: oneshot
        pitch: {param: up, curve: [[0, 0], [1, 48]]}
"""
    scene = load_scene_text(text, str(tmp_path / "scene.yaml"), tmp_path)
    player = ScenePlayer(scene, EngineConfig(block=256, max_voices=32, voice_limit=32), seed=3)
    out = []
    for i in range(60):  # 20 fires, each a fresh jitter draw (half of them past the limit); all render
        if i % 3 == 0:
            player.runtime.trigger("hit")
        out.append(player.render(256))
    x = np.concatenate(out)
    assert np.all(np.isfinite(x)) and float(np.max(np.abs(x))) > 1e-3
    # every fire played: the runtime reported no refused voice (it used to, for each draw past x16)
    errors = [e for e in player.runtime.events if e[0] == "error"]
    assert player.runtime.counters["errors"] == 0 and errors == [], errors[:3]
    infos = [player.engine.voice_info(h) for h in list(player.engine._slot_of)]
    rates = [i["rate"] for i in infos if i and i["state"] == "playing"]
    assert rates and max(rates) <= MAX_PITCH_RATIO * 1.0001  # float32 table, hence the 1e-4 slack
