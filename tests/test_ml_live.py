"""Director and morph playing live: a scene on miniaudio's NULL device, the director ticking at its
rate, a morph stream following a parameter, the game changing things meanwhile: zero underruns."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from test_ml_director import FAST, make_scene
from test_ml_morph import TINY, make_sources

from middleware.config import EngineConfig
from middleware.engine.bank import decode_file
from middleware.ml.director import load_director
from middleware.ml.morph import MorphOverlay, bake_morph_file
from middleware.ml.train_director import train_director
from middleware.ml.train_morph import train_morph_files
from middleware.player import ScenePlayer
from middleware.scene.load import load_scene
from middleware.sinks.device import DeviceSink

SOAK = pytest.mark.skipif(not os.environ.get("SOUNDSCAPE_SOAK"), reason="60 s soak: set SOUNDSCAPE_SOAK=1")


@pytest.mark.parametrize("seconds", [8.0, pytest.param(60.0, marks=[pytest.mark.slow, SOAK])])
def test_director_and_morph_play_live_without_underruns(tmp_path, seconds):
    scene_file = make_scene(tmp_path)
    train_director(load_scene(scene_file, check_assets=False), FAST, progress=False)
    sources = make_sources(tmp_path)
    cfg = TINY.__class__(**{**TINY.__dict__, "steps": 150, "calib_seconds": 3.0})
    morph = train_morph_files(sources, tmp_path / "models" / "tex.onnx", cfg, progress=False)
    scene = load_scene(scene_file)
    player = ScenePlayer(scene, EngineConfig(block=256, max_voices=32, voice_limit=32))
    rt = player.runtime
    rt.attach_director(load_director(scene))
    live = MorphOverlay(player)
    live.add(morph.model_path, "intensity", gain_db=-12.0)
    live.render(256)  # warm up numba kernels and onnxruntime before the clock starts
    # 16 blocks (85 ms) ahead: the morph synthesises 85 ms of frames in one go every 16 blocks
    # (~1.2 ms CPU), and the test machine is shared with other suites; with 2 blocks a busy
    # neighbour caused an underrun in about 1 run in 5, with 8 blocks in about 1 in 10
    sink = DeviceSink(live, backend="null", lookahead_blocks=16)
    sink.start()
    try:
        t0 = time.monotonic()
        k = 0
        while time.monotonic() - t0 < seconds:  # the game: sweeps, state changes, a designer's slider
            rt.set_param("intensity", float(0.5 + 0.5 * np.sin(k / 10)))
            if k % 40 == 0:
                rt.set_state("weather", ["clear", "rain", "storm"][(k // 40) % 3])
            if k % 60 == 30:
                rt.override("bed.calm", 0.5)
            elif k % 60 == 45:
                rt.override("bed.calm", None)
            k += 1
            time.sleep(0.02)
    finally:
        sink.stop()
    st = sink.stats()
    assert st["frames_played"] >= 0.9 * seconds * 48000
    keys = ("underruns", "render_ms_p99", "render_ms_max", "callback_interval_max_ms", "lookahead_frames")
    assert st["underruns"] == 0, {k: st.get(k) for k in keys}
    ticks = [p for topic, p in rt.events if topic == "director_tick"]
    assert len(ticks) > 0.5 * seconds * scene.director.rate_hz
    assert not [p for topic, p in rt.events if topic == "error"]
    assert live.streams[0]["stream"].frames_out >= st["frames_played"]


def test_baked_morph_file_is_a_seamless_loop(tmp_path):
    sources = make_sources(tmp_path)
    cfg = TINY.__class__(**{**TINY.__dict__, "steps": 100, "calib_seconds": 2.0})
    t = train_morph_files(sources, tmp_path / "m.onnx", cfg, progress=False)
    wav = bake_morph_file(tmp_path / "baked.wav", t.model_path, 0.5, seconds=3.0, seed=4)
    x = decode_file(wav, 48000)
    assert x.shape == (3 * 48000, 2)
    inner = np.max(np.abs(np.diff(x, axis=0)))
    seam = np.max(np.abs(x[0] - x[-1]))
    assert seam <= inner  # the wrap-around step is no larger than any step inside the loop
