"""NullSink: pulls every frame once, in order; real-time mode follows the wall clock."""

from __future__ import annotations

import time

import numpy as np

from middleware.config import EngineConfig
from middleware.sinks.null import NullSink


class Counter:
    """Renderable whose samples are their absolute frame index (so gaps and repeats show)."""

    def __init__(self, block: int = 256) -> None:
        self.config = EngineConfig(block=block)
        self.frame = 0

    def render(self, frames: int) -> np.ndarray:
        x = np.arange(self.frame, self.frame + frames, dtype=np.float32)
        self.frame += frames
        return np.stack([x, x], axis=1)


def test_fast_mode_pulls_contiguous_blocks() -> None:
    seen: list[np.ndarray] = []
    sink = NullSink(Counter(64), on_block=lambda start, block: seen.append(block[:, 0].copy()))
    stats = sink.run(0.1)
    assert stats["frames"] == 4800 and stats["blocks"] == 75
    np.testing.assert_array_equal(np.concatenate(seen), np.arange(4800, dtype=np.float32))


def test_realtime_mode_is_paced() -> None:
    sink = NullSink(Counter(), realtime=True)
    t0 = time.perf_counter()
    sink.run(0.3)
    elapsed = time.perf_counter() - t0
    # the last block may start once the previous ones would have played: 0.3 s minus one block
    assert elapsed >= 0.3 - 2 * 256 / 48000
    assert sink.frames == 57 * 256  # 0.3 s = 56.25 blocks, rounded up to whole blocks


def test_background_thread_stops() -> None:
    with NullSink(Counter(), realtime=True) as sink:
        time.sleep(0.1)
    assert sink._thread is None and sink.error is None
    assert 0 < sink.frames <= 0.5 * 48000
