"""Automatic mixing: assets normalised to their bus's LUFS target, the master held at its target.

Measured with pyloudnorm (independent BS.1770) on renders of the example scenes driven by their
own event timelines.
"""

from __future__ import annotations

import dataclasses
import wave
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest

from middleware.config import EngineConfig
from middleware.offline import load_timeline, render_offline
from middleware.player import ScenePlayer
from middleware.scene.load import load_scene, load_scene_text
from middleware.tools.example_assets import ensure_example_assets

SR = 48000
SCENES = Path(__file__).resolve().parents[1] / "scenes"
TARGET = -20.0


def _with_master_target(scene, lufs: float):
    master = scene.buses.get("master")
    from middleware.scene.model import BusDef

    new_master = (
        dataclasses.replace(master, loudness_lufs=lufs)
        if master
        else BusDef("master", None, loudness_lufs=lufs)
    )
    return dataclasses.replace(scene, buses={**scene.buses, "master": new_master})


@pytest.mark.parametrize("name", ["forest", "dungeon", "town"])
def test_master_loudness_target_holds_over_a_long_render(tmp_path: Path, name: str) -> None:
    ensure_example_assets()
    scene = _with_master_target(load_scene(SCENES / f"{name}.yaml"), TARGET)
    player = ScenePlayer(scene, EngineConfig(seed=1), seed=1)
    timeline = load_timeline(SCENES / f"{name}.events.jsonl", SR)
    seconds = 40.0
    out = tmp_path / "mix.wav"
    render_offline(player, timeline, seconds, out)
    import soundfile

    x, rate = soundfile.read(out)
    assert rate == SR
    meter = pyloudnorm.Meter(SR)
    settled = x[10 * SR :]  # after the automatic gain has converged (3 s time constant)
    integrated = meter.integrated_loudness(settled)
    assert integrated == pytest.approx(TARGET, abs=1.0), f"{name}: integrated {integrated:.2f} LUFS"
    # short-term spread, for the record (situations differ on purpose; the gain is slow)
    st = [meter.integrated_loudness(settled[i : i + 3 * SR]) for i in range(0, len(settled) - 3 * SR, SR)]
    st = [v for v in st if np.isfinite(v)]
    print(f"{name}: integrated {integrated:.2f} LUFS, short-term {min(st):.1f}..{max(st):.1f} LUFS")


def test_assets_are_normalised_to_their_bus_target(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    rng = np.random.default_rng(0)
    for name, amp in (("quiet", 0.02), ("loud", 0.4)):
        x = (amp * rng.uniform(-1, 1, SR * 2) * 32767).astype("<i2")
        with wave.open(str(tmp_path / "s" / f"{name}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(SR)
            w.writeframes(x.tobytes())
    text = """\
buses:
  ambience: {loudness_lufs: -30}
emitters:
  a: {bus: ambience, layers: [{id: q, source: s/quiet.wav}]}
  b: {bus: ambience, layers: [{id: l, source: s/loud.wav}]}
  c: {bus: ambience, layers: [{id: raw, source: s/loud.wav, normalize: false}]}
"""
    meter = pyloudnorm.Meter(SR)
    levels = {}
    for keep in ("a", "b", "c"):
        scene = load_scene_text(text, str(tmp_path / "x.yaml"), tmp_path)
        scene = dataclasses.replace(scene, emitters={keep: scene.emitters[keep]})
        y = ScenePlayer(scene).render(3 * SR)[SR:].astype(np.float64)
        levels[keep] = meter.integrated_loudness(y)
    # both normalised layers land at the same loudness (the bus target, minus the equal-power pan)
    assert levels["a"] == pytest.approx(levels["b"], abs=0.5)
    assert levels["a"] == pytest.approx(-30.0 - 3.0, abs=1.0)
    # the opted-out layer keeps its own (much louder) level
    assert levels["c"] > levels["b"] + 10
