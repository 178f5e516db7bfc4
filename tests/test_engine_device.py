"""The real engine on miniaudio's NULL device: 64 looping voices for 2 s with zero underruns."""

from __future__ import annotations

import time

import numpy as np
from conftest import noise

from middleware.config import EngineConfig
from middleware.engine import BusSpec, Engine, ReverbSpec
from middleware.sinks.device import DeviceSink


def test_null_device_plays_64_voices_for_2s_without_underruns() -> None:
    eng = Engine(EngineConfig(block=256, max_voices=128, voice_limit=128))
    eng.add_bus(BusSpec("sfx"))
    eng.add_bus(BusSpec("verb", reverb=ReverbSpec()))
    eng.bank.add("n", noise(1.0, amp=0.1))
    rng = np.random.default_rng(0)
    for i in range(64):
        eng.play(
            "n",
            bus="sfx" if i % 2 else "verb",
            loop=True,
            gain_db=-24.0,
            pitch=float(rng.uniform(0.5, 2.0)),
            pan=float(rng.uniform(-1, 1)),
            lowpass_hz=float(rng.uniform(500, 8000)),
        )
    eng.render(256)  # compile kernels before the clock starts
    sink = DeviceSink(eng, backend="null")
    sink.start()
    try:
        time.sleep(2.0)
    finally:
        sink.stop()
    st = sink.stats()
    assert st["frames_played"] >= 1.8 * 48000
    assert st["underruns"] == 0, st
    assert eng.stats()["voices_real"] == 64
