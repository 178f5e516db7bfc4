"""Single-producer single-consumer ring buffer of float32 stereo frames.

The render thread is the only writer and the device callback the only reader. Each side owns one
monotonically increasing counter (``_written`` / ``_read``) and only ever rebinds its own counter,
after it has finished copying the frames. Rebinding an attribute is a single bytecode under the GIL,
so the other side sees either the old or the new count, never a torn value, and never frames that
are not yet copied. No lock is needed, which matters because the reader runs on the audio thread:
a lock there could make the callback wait for the render thread.

Counters never wrap around (Python ints), so ``fill = written - read`` is always exact; positions
in storage are the counters modulo the capacity.
"""

from __future__ import annotations

import numpy as np

from ..errors import EngineError


class FrameRing:
    """Lock-free SPSC ring of ``(frames, channels)`` float32 audio.

    ``write`` is for the producer thread only; ``read_into`` for the consumer thread only. ``fill``
    and ``space`` may be read from any thread (they are snapshots).
    """

    def __init__(self, capacity: int, channels: int = 2) -> None:
        if capacity < 1:
            raise EngineError(f"capacity={capacity}: must be at least 1 frame")
        if channels < 1:
            raise EngineError(f"channels={channels}: must be at least 1")
        self.capacity = int(capacity)
        self.channels = int(channels)
        self._buf = np.zeros((self.capacity, self.channels), dtype=np.float32)
        self._written = 0  # only the producer rebinds this
        self._read = 0  # only the consumer rebinds this

    @property
    def fill(self) -> int:
        """Frames written but not yet read."""
        return self._written - self._read

    @property
    def space(self) -> int:
        """Frames that can be written without overwriting unread audio."""
        return self.capacity - (self._written - self._read)

    @property
    def frames_written(self) -> int:
        return self._written

    @property
    def frames_read(self) -> int:
        return self._read

    def write(self, block: np.ndarray) -> int:
        """Copy as much of ``block`` as fits; returns the number of frames written.

        A short write means the ring was full: the producer should wait for the consumer rather
        than overwrite audio that has not been played yet.
        """
        if block.ndim != 2 or block.shape[1] != self.channels:
            raise EngineError(f"block shape={block.shape}: expected (frames, {self.channels})")
        written = self._written
        n = min(block.shape[0], self.capacity - (written - self._read))
        if n <= 0:
            return 0
        start = written % self.capacity
        first = min(n, self.capacity - start)
        self._buf[start : start + first] = block[:first]
        if first < n:
            self._buf[: n - first] = block[first:n]
        self._written = written + n  # publish only after the copy is complete
        return n

    def read_into(self, out: np.ndarray, frames: int) -> int:
        """Copy up to ``frames`` frames into ``out[:frames]``; returns the frames that were available.

        When fewer than ``frames`` frames are queued, the rest of ``out[:frames]`` is filled with
        silence and the caller learns the shortfall (``frames - returned``): that is an underrun.
        Allocates nothing but small numpy views, so it is safe on the audio thread.
        """
        read = self._read
        n = min(frames, self._written - read)
        if n > 0:
            start = read % self.capacity
            first = min(n, self.capacity - start)
            out[:first] = self._buf[start : start + first]
            if first < n:
                out[first:n] = self._buf[: n - first]
            self._read = read + n  # release the space only after the copy is complete
        else:
            n = 0
        if n < frames:
            out[n:frames] = 0.0
        return n

    def clear(self) -> None:
        """Drop all queued frames. Only call while neither thread is running."""
        self._read = self._written
