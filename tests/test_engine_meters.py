"""Loudness meters on buses, checked against pyloudnorm (an independent BS.1770 implementation)."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest
from conftest import SR, noise

from middleware.config import EngineConfig
from middleware.engine import BusSpec, Engine


def test_bus_meters_match_pyloudnorm() -> None:
    eng = Engine(EngineConfig(block=256, max_voices=8, voice_limit=8))
    eng.add_bus(BusSpec("ambience", gain_db=-6.0))
    eng.enable_meters()
    eng.bank.add("n", noise(4.0, amp=0.2, seed=4))
    eng.play("n", bus="ambience", loop=True)
    eng.render(SR // 10)  # settle the ramps
    out = eng.render(4 * SR).astype(np.float64)
    meter = pyloudnorm.Meter(SR)
    readings = eng.loudness()
    # master is metered after the limiter: compare with the very output (last 3 s = short-term window)
    assert readings["master"]["short_term_lufs"] == pytest.approx(
        meter.integrated_loudness(out[-3 * SR :]), abs=0.5
    )
    # the ambience bus is metered post-fader; with a single bus the master equals it (no limiting here)
    assert readings["ambience"]["short_term_lufs"] == pytest.approx(
        readings["master"]["short_term_lufs"], abs=0.1
    )
    assert readings["master"]["true_peak_dbtp"] <= 0.0
