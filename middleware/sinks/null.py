"""A sink that discards audio: for benchmarks and tests that need the engine pulled but no device."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import EngineError
from ..rt import guard
from .base import Renderable, check_block

_RENDER_SLOTS = 1 << 12


class NullSink:
    """Pull blocks from a ``Renderable`` and drop them.

    ``realtime=True`` paces the pulls to the wall clock (a block is rendered when it would be due
    on a device, measured from ``start``); ``False`` renders as fast as the CPU allows. Use
    ``run(seconds)`` on the calling thread, or ``start()``/``stop()`` for a background thread.
    ``on_block(start_frame, block)`` sees every block (e.g. a test capturing the output).
    """

    def __init__(
        self,
        renderable: Renderable,
        *,
        realtime: bool = False,
        on_block: Callable[[int, np.ndarray], None] | None = None,
    ) -> None:
        self.renderable = renderable
        self.realtime = realtime
        self.on_block = on_block
        self.sample_rate = int(renderable.config.sample_rate)
        self.block = int(renderable.config.block)
        self.frames = 0
        self.blocks = 0
        self.late_blocks = 0
        self._render_ns = np.zeros(_RENDER_SLOTS, dtype=np.int64)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self.error: BaseException | None = None

    def _pull(self) -> None:
        t0 = time.perf_counter_ns()
        block = check_block(self.renderable.render(self.block), self.block)
        self._render_ns[self.blocks & (_RENDER_SLOTS - 1)] = time.perf_counter_ns() - t0
        if self.on_block is not None:
            self.on_block(self.frames, block)
        self.frames += self.block
        self.blocks += 1

    def _pace(self) -> None:
        # Block k may be rendered once blocks 0..k-1 would have been played.
        due = self._t0 + self.frames / self.sample_rate
        wait = due - time.perf_counter()
        if wait > 0:
            self._stop.wait(wait)
        elif wait < -self.block / self.sample_rate:
            self.late_blocks += 1

    def run(self, seconds: float) -> dict[str, Any]:
        """Render ``seconds`` of audio (rounded up to whole blocks) on this thread; returns stats."""
        if seconds < 0:
            raise EngineError(f"seconds={seconds}: must be >= 0")
        target = self.frames + int(np.ceil(seconds * self.sample_rate / self.block)) * self.block
        guard.install_from_env()
        self._t0 = time.perf_counter() - self.frames / self.sample_rate
        with guard.audio_thread():  # this thread renders: the real-time guard watches it meanwhile
            while self.frames < target and not self._stop.is_set():
                if self.realtime:
                    self._pace()
                self._pull()
        return self.stats()

    def _loop(self) -> None:
        self._t0 = time.perf_counter() - self.frames / self.sample_rate
        try:
            with guard.audio_thread():  # the render loop: watched by the real-time guard
                while not self._stop.is_set():
                    if self.realtime:
                        self._pace()
                    if not self._stop.is_set():
                        self._pull()
        except Exception as exc:
            self.error = exc

    def start(self) -> NullSink:
        if self._thread is not None:
            raise EngineError("start(): the null sink is already running")
        self._stop.clear()
        guard.install_from_env()
        self._thread = threading.Thread(target=self._loop, name="soundscape-null-sink", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def __enter__(self) -> NullSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stats(self) -> dict[str, Any]:
        render = self._render_ns[: min(self.blocks, _RENDER_SLOTS)]
        if render.size:
            p50, p99 = (float(v) / 1e6 for v in np.percentile(render, [50, 99]))
            rmax = float(render.max()) / 1e6
        else:
            p50 = p99 = rmax = 0.0
        return {
            "backend": "null-sink",
            "realtime": self.realtime,
            "frames": self.frames,
            "blocks": self.blocks,
            "late_blocks": self.late_blocks,
            "render_ms_p50": p50,
            "render_ms_p99": p99,
            "render_ms_max": rmax,
            "error": None if self.error is None else repr(self.error),
        }
