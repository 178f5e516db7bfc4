"""Work the audio path hands off: one background thread, and streams built (and rendered) on it.

The render path must not construct generators or morph streams, open or run models (issue 14, item
5; ``rt/guard.py`` checks it). In real time a runtime is given a ``Worker``: the render path posts a
job (a callable; posting never blocks) and carries on; the job runs on the worker thread and hands its
result back by rebinding one attribute, which the render path reads at its next block. Offline, with
no worker, the same code runs inline, so an offline render stays exactly reproducible.

``WorkerStream`` is a stream voice's source (``render(frames)``, ``channels``, ``finished``) whose
real source is built on the worker: silence until it is there (a block or two), then its frames. With
``ahead`` frames it is also *rendered* on the worker, into a single-producer single-consumer ring that
the render path only copies from (for sources whose render runs a model, like the morph decoder).
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .ring import FrameRing
from .wake import WakeFlag

IDLE_WAIT_S = 0.05  # the worker looks at its stop flag this often when idle
SILENCE = np.zeros((16384, 2), dtype=np.float32)
"""Read-only silence for a stream whose source is not built yet (views of it, never written)."""
SILENCE.flags.writeable = False


class Worker:
    """One background thread running the jobs the render path posts, in order.

    ``post`` is for one producer thread (the render path); jobs run one at a time, so a job may
    write state that only jobs write. A failing job is counted and printed here, never on the
    render path; whatever it was to produce simply does not arrive."""

    def __init__(self, name: str = "soundscape-worker") -> None:
        self._jobs: deque[Callable[[], None]] = deque()
        self._wake = WakeFlag()
        self._stop = False
        self.done = 0
        self.failed = 0
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def post(self, job: Callable[[], None]) -> None:
        """Queue ``job`` (never blocks, allocates one deque slot)."""
        self._jobs.append(job)
        self._wake.raise_()

    def _loop(self) -> None:
        jobs = self._jobs
        while not self._stop:
            self._wake.wait(IDLE_WAIT_S)
            while jobs and not self._stop:
                job = jobs.popleft()
                try:
                    job()
                    self.done += 1
                except Exception:  # the result never arrives; the audio goes on
                    self.failed += 1
                    traceback.print_exc(file=sys.stderr)

    def close(self, timeout: float = 2.0) -> None:
        self._stop = True
        self._wake.raise_()
        self._thread.join(timeout)

    def stats(self) -> dict[str, int]:
        return {"worker_jobs": self.done, "worker_failed": self.failed, "worker_queued": len(self._jobs)}


class WorkerStream:
    """A stream source built on ``worker`` by ``build()`` (see the module docstring).

    ``render_fn(source, frames)`` renders the built source (default ``source.render(frames)``).
    ``set_params`` before the source is there is kept and applied when it arrives. ``ahead`` > 0:
    the worker keeps that many frames rendered in a ring; the render path copies them out and asks
    for more (a late worker is silence for the missing frames, counted in ``late_frames``)."""

    def __init__(
        self,
        worker: Worker,
        build: Callable[[], Any],
        *,
        channels: int = 2,
        ahead: int = 0,
        chunk: int = 256,
        render_fn: Callable[[Any, int], np.ndarray] | None = None,
    ) -> None:
        self.channels = channels
        self.source: Any = None  # rebound once, by the worker, when built
        self.error: BaseException | None = None
        self.late_frames = 0
        self._worker = worker
        self._build_fn = build
        self._render_fn = render_fn or _render
        self._params: Mapping[str, Any] | None = None
        self._ahead = int(ahead)
        self._chunk = int(chunk)
        self._ring = FrameRing(self._ahead + 2 * self._chunk, channels) if self._ahead else None
        self._out = np.zeros((SILENCE.shape[0], channels), dtype=np.float32) if self._ahead else None
        self._filling = True  # the build job fills the ring first
        worker.post(self._build)

    # ----------------------------------------------------------------------------- worker side
    def _build(self) -> None:
        try:
            source = self._build_fn()
            if self._ring is not None:
                self._fill(source)
        except Exception as exc:  # reported by the render path as a failing stream source
            self.error = exc
            raise
        finally:
            self._filling = False
        self.source = source  # publish last: the render path sees a ready (and filled) source

    def _fill(self, source: Any) -> None:
        ring, chunk = self._ring, self._chunk
        assert ring is not None
        params, self._params = self._params, None
        if params is not None:
            source.set_params(params)
        while ring.fill < self._ahead and ring.space >= chunk:
            ring.write(np.asarray(self._render_fn(source, chunk), dtype=np.float32).reshape(chunk, -1))

    def _refill(self) -> None:
        try:
            self._fill(self.source)
        finally:
            self._filling = False

    # ------------------------------------------------------------------------------ render side
    @property
    def finished(self) -> bool:
        return bool(getattr(self.source, "finished", False))

    def set_params(self, params: Mapping[str, Any]) -> None:
        """Follow the layer's parameters (applied now, on the worker, or when the source arrives)."""
        source = self.source
        if source is None or self._ring is not None:
            self._params = params
        else:
            source.set_params(params)

    def render(self, frames: int) -> np.ndarray:
        if self.error is not None:
            raise RuntimeError(f"stream source could not be built: {self.error}")
        source = self.source
        if source is None:
            return SILENCE[:frames, : self.channels]
        if self._ring is None:
            if self._params is not None:
                params, self._params = self._params, None
                source.set_params(params)
            return self._render_fn(source, frames)
        out = self._out[:frames]  # type: ignore[index]
        got = self._ring.read_into(out, frames)
        self.late_frames += frames - got
        if not self._filling and self._ring.fill < self._ahead:
            self._filling = True
            self._worker.post(self._refill)
        return out


def _render(source: Any, frames: int) -> np.ndarray:
    return source.render(frames)
