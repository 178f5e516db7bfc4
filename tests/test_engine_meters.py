"""Loudness meters on buses, checked against pyloudnorm (an independent BS.1770 implementation)."""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest
from conftest import SR, noise

from middleware.config import EngineConfig
from middleware.engine import BusSpec, Engine

METER_TOL = 1e-9  # LU: see test_deferred_meters_read_what_inline_meters_read


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


def test_deferred_meters_read_what_inline_meters_read() -> None:
    """Deferred meters (render path copies, another thread meters) give the same readings as inline
    ones, and pyloudnorm's; a reader that falls behind loses frames from the meter, never audio."""
    import threading
    import time

    readings = {}
    for deferred in (False, True):
        eng = Engine(EngineConfig(block=256, max_voices=8, voice_limit=8))
        eng.add_bus(BusSpec("ambience", gain_db=-6.0))
        eng.enable_meters(deferred=deferred)
        eng.bank.add("n", noise(4.0, amp=0.2, seed=4))
        eng.play("n", bus="ambience", loop=True)
        stop = threading.Event()

        def read(e: Engine = eng, stop: threading.Event = stop) -> None:
            while not stop.wait(0.002):
                e.drain_meters()

        reader = threading.Thread(target=read)
        reader.start()
        blocks = []
        for i in range(4 * SR // 256):
            blocks.append(eng.render(256))
            if deferred and i % 64 == 63:  # render runs ~50x real time: let the reader keep up
                while any(t._ring.fill for t in eng.buses.meters.values()):
                    time.sleep(0.001)
        out = np.concatenate(blocks).astype(np.float64)
        stop.set()
        reader.join()
        eng.drain_meters()
        readings[deferred] = eng.loudness()
    # Same frames in the same order, but not the same arithmetic: the inline meter sums each 256-frame
    # block's energies, the deferred one whatever chunk the reader drained (up to 4096 frames), and
    # numpy's pairwise sum rounds differently for different chunkings. A 100 ms sub-block is a float64
    # sum of 4800 terms, so regrouping moves it by at most ~4800 * 2.2e-16 ~ 1e-12 relative, i.e.
    # ~5e-12 LU (seen: 0 or one last digit, ~4e-15 LU). METER_TOL (1e-9 LU) leaves 200x margin, yet
    # one 256-frame block lost from the deferred meter moves the readings by 2e-4 to 6e-3 LU.
    assert readings[True].keys() == readings[False].keys()
    for bus, inline in readings[False].items():
        assert readings[True][bus] == pytest.approx(inline, abs=METER_TOL, rel=0), bus
    ref = pyloudnorm.Meter(SR).integrated_loudness(out[-3 * SR :])
    assert readings[True]["master"]["short_term_lufs"] == pytest.approx(ref, abs=0.5)

    eng = Engine(EngineConfig(block=256, max_voices=8, voice_limit=8))
    eng.enable_meters(deferred=True)
    eng.bank.add("n", noise(4.0, amp=0.2, seed=4))
    eng.play("n", loop=True)
    eng.render(3 * SR)  # nobody drains: the tap holds 1 s, the rest is dropped from the meter
    tap = eng.buses.meters[0]
    assert tap.dropped_frames == 2 * SR
    assert tap.drain() == SR
