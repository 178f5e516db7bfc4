"""FrameRing: FIFO order, exact counts, silence on shortfall, and a real two-thread run."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.errors import EngineError
from middleware.rt.ring import FrameRing


def ramp(start: int, frames: int) -> np.ndarray:
    """Frames whose left sample is their sequence number and right is its negative."""
    seq = np.arange(start, start + frames, dtype=np.float32)
    return np.stack([seq, -seq], axis=1)


@settings(max_examples=60, deadline=None)
@given(capacity=st.integers(1, 64), ops=st.lists(st.tuples(st.booleans(), st.integers(0, 80)), max_size=40))
def test_fifo_matches_a_reference_queue(capacity: int, ops: list[tuple[bool, int]]) -> None:
    ring = FrameRing(capacity)
    queue: list[float] = []  # independent reference: a plain list of sequence numbers
    next_seq = 0
    out = np.full((80, 2), 7.0, dtype=np.float32)
    for is_write, n in ops:
        if is_write:
            wrote = ring.write(ramp(next_seq, n))
            assert wrote == min(n, capacity - len(queue))
            queue.extend(range(next_seq, next_seq + wrote))
            next_seq += wrote
        else:
            got = ring.read_into(out, n)
            expected = queue[:n]
            del queue[:n]
            assert got == len(expected)
            np.testing.assert_array_equal(out[:got, 0], np.array(expected, dtype=np.float32))
            np.testing.assert_array_equal(out[:got, 1], -np.array(expected, dtype=np.float32))
            assert not out[got:n].any(), "the shortfall must be silence"
        assert ring.fill == len(queue)
        assert ring.space == capacity - len(queue)


def test_rejects_bad_shapes_and_sizes() -> None:
    with pytest.raises(EngineError, match="capacity=0"):
        FrameRing(0)
    with pytest.raises(EngineError, match="block shape"):
        FrameRing(8).write(np.zeros((4, 1), dtype=np.float32))


def test_two_threads_keep_order_without_locks() -> None:
    ring = FrameRing(100)
    total = 200_000
    received = np.zeros(total, dtype=np.float32)

    def produce() -> None:
        seq = 0
        while seq < total:
            n = min(37, total - seq)
            wrote = ring.write(ramp(seq, n))
            seq += wrote
            if wrote < n:
                time.sleep(0)  # full: hand the GIL to the consumer instead of spinning

    out = np.zeros((53, 2), dtype=np.float32)
    thread = threading.Thread(target=produce)
    thread.start()
    pos = 0
    while pos < total:
        got = ring.read_into(out, 53)
        received[pos : pos + got] = out[:got, 0]
        pos += got
        if got < 53:
            time.sleep(0)
    thread.join()
    np.testing.assert_array_equal(received, np.arange(total, dtype=np.float32))
    assert ring.frames_read == ring.frames_written == total
