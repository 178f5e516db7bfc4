"""Meter a bus on another thread than the one that renders it.

A BS.1770 meter costs ~0.15 ms per 256-frame block (two K-weighting biquads, 4x-oversampled true
peak, Python bookkeeping). When the device callback renders (the daemon's callback mode), every
microsecond of render time is added to event-to-sound latency, and a meter does not change the
sound, so it need not run there: the render thread only copies the block into a lock-free ring
(``FrameRing``, a few microseconds) and the reader's thread feeds the meter with ``drain()``.
If the reader falls behind by more than the ring holds, frames are dropped from the meter (counted),
never waited for.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..rt.ring import FrameRing
from .dsp.loudness import LoudnessMeter

TAP_SECONDS = 1.0  # how far the reader may fall behind before the meter loses frames


class MeterTap:
    """A ``LoudnessMeter`` fed through a ring: ``push`` on the render thread, ``drain`` elsewhere.

    ``push`` has the meter's signature so the bus tree treats both alike; ``snapshot`` reads the
    meter (call it on the draining thread, after ``drain``).
    """

    def __init__(self, sr: int, true_peak: bool) -> None:
        self.meter = LoudnessMeter(sr, 2, true_peak=true_peak)
        self._ring = FrameRing(max(1024, round(TAP_SECONDS * sr)), 2)
        self._buf = np.zeros((4096, 2), dtype=np.float32)
        self.dropped_frames = 0  # render thread only
        self.spectrum: Any = None  # a spectrum.Spectrum fed the same frames on the reader's thread

    def push(self, block: np.ndarray) -> None:
        """Render thread: copy the block for the meter (drops what does not fit)."""
        written = self._ring.write(block)
        if written < block.shape[0]:
            self.dropped_frames += block.shape[0] - written

    def drain(self) -> int:
        """Reader's thread: meter everything queued so far; returns the frames metered."""
        total = 0
        while (n := self._ring.read_into(self._buf, min(self._ring.fill, self._buf.shape[0]))) > 0:
            self.meter.push(self._buf[:n])
            if self.spectrum is not None:
                self.spectrum.push(self._buf[:n])
            total += n
        return total

    def snapshot(self) -> dict[str, float]:
        return self.meter.snapshot()
