"""The runtime hands a tick's voice refreshes to the engine in bulk (``Engine.set_voices``), and a tick
where only objects moved sends poses alone; the mix is what one full ``set_voice`` refresh per moved
voice made (issue 15: cost follows voices playing, not moving).

Reference: the same scene, inputs and seed rendered with every moved voice refreshed in full and
sent at once, one call per voice (the path before bulk control).
Tolerance 1e-6: both paths hand the engine the same float64 values for the same block, but the bulk
call lands after the tick's other commands (a play or stop of another voice) instead of between them,
which may reorder float sums in the mix by an ulp or so; anything a real difference would make (a
voice left at its old pose or gain for a block) is orders of magnitude larger.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from conftest import write_wav

from middleware.config import EngineConfig
from middleware.player import ScenePlayer
from middleware.scene.load import load_scene_text
from middleware.scene.voice_changes import VoiceChanges

SR = 48000
SCENE = """
name: movers
parameters:
  level: {range: [0, 1], default: 1, seek: 2}
  dark: {range: [0, 1], default: 0}
buses: {sfx: {}, verb: {reverb: {wet: 0.3}}}
emitters:
  bee:
    follows: bee
    doppler: 1.0
    attenuation: {min: 1, max: 50}
    layers:
      - id: buzz
        source: sounds/tone.wav
        gain: {param: level, curve: [[0, -40], [1, 0]]}
        lowpass: {param: dark, curve: [[0, 16000], [1, 800]], shape: exp}
        sends: {verb: -6}
  drone:
    follows: drone
    binaural: true
    layers:
      - {id: hum, source: sounds/noise.wav, gain: -6}
events:
  ping:
    layers:
      - {id: p, source: sounds/tone.wav, mode: loop, gain: {param: level, curve: [[0, -30], [1, -6]]}}
"""


class PerVoice(VoiceChanges):
    """The reference: every refresh sent at once, one ``set_voice`` per voice (the old path)."""

    def add(self, engine, handle, change) -> None:
        engine.set_voice(handle, **change)

    def add_pose(self, handle, position, velocity) -> None:
        raise AssertionError("the reference refreshes every moved voice in full")


def _render(tmp: Path, reference: bool) -> tuple[np.ndarray, list]:
    scene = load_scene_text(SCENE, str(tmp / "scene.yaml"), tmp)
    player = ScenePlayer(scene, EngineConfig(block=256, max_voices=64, voice_limit=64), seed=7)
    rt = player.runtime
    if reference:
        rt.voice_changes = PerVoice()
        rt.pose_fast_path = False
    calls: list = []
    real = player.engine.set_voices
    player.engine.set_voices = lambda *a, **k: (calls.append(len(a[0])), real(*a, **k))[1]
    out = []
    for b in range(120):  # 0.64 s: objects move every block, parameters glide, events fire
        t = b * 256 / SR
        rt.set_object(
            "bee", [8 * math.cos(3 * t), 1.0, 8 * math.sin(3 * t)], velocity=[0, 0, 24 * math.cos(3 * t)]
        )
        rt.set_object("drone", [-5 + 10 * t, 0.0, -3.0])
        if b % 20 == 0:
            rt.trigger("ping", position=[2.0 * b / 20, 0.0, -4.0])
        if b % 30 == 5:
            rt.trigger("ping", object="drone")  # an instance that follows a moving object
        if b == 40:
            rt.set_param("level", 0.2)
            rt.set_param("dark", 0.8)
        out.append(player.render(256))
    return np.concatenate(out), calls


def test_bulk_refresh_renders_what_per_voice_calls_render(tmp_path: Path) -> None:
    t = np.arange(SR) / SR
    write_wav(tmp_path / "sounds" / "tone.wav", 0.3 * np.sin(2 * np.pi * 330 * t))
    write_wav(tmp_path / "sounds" / "noise.wav", 0.2 * np.random.default_rng(1).uniform(-1, 1, SR))
    bulk, calls = _render(tmp_path, reference=False)
    ref, ref_calls = _render(tmp_path, reference=True)
    assert ref_calls == [] and len(calls) >= 100  # the bulk path really was taken, about once a tick
    assert max(calls) >= 3  # several voices per call: bee, drone and the ping instances
    assert float(np.max(np.abs(ref))) > 0.01  # it plays
    assert float(np.max(np.abs(bulk - ref))) < 1e-6
