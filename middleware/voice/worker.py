"""A process that renders spoken lines for the daemon's audio process, so synthesis never holds its GIL.

Why a process (measured on a 2-core machine, ``benchmarks/bench_say.py``): rendering a 4096-byte
line in a thread of the audio process kept the GIL for up to 38 ms at a time (numpy calls over
whole-line arrays: interpolation of the formant tracks, loudness filters), while the device
callback needs it every 5.3 ms; in another process it costs the audio process nothing but the
copy of the samples, which numpy does without the GIL.

Link (internal, may change with the daemon): the parent writes requests to the worker's stdin and
reads results from its stdout, each a frame of a 4-byte little-endian length and a msgpack map;
a successful result is followed by ``frames`` float32 samples. The worker runs at a lower CPU
priority (``WORKER_NICE``, and Linux's ``SCHED_BATCH``: it never preempts a thread that wakes up, like
the device callback), ignores SIGINT (the daemon decides when to stop) and exits when its
stdin closes, so it never outlives the audio process for longer than the line it is rendering.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import signal
import struct
import subprocess
import sys
import threading
from collections import deque
from typing import Any, BinaryIO

import msgpack
import numpy as np

WORKER_NICE = 10
"""CPU priority of the worker: below the audio process, which must win the CPU when both want it."""

_HEADER = struct.Struct("<I")
MAX_FRAME = 1 << 20  # a request or result header is a few kB; anything bigger is a broken link


def _write_frame(out: BinaryIO, obj: Any) -> None:
    data = msgpack.packb(obj, use_bin_type=True)
    out.write(_HEADER.pack(len(data)) + data)


def _read_exact(inp: BinaryIO, view: memoryview) -> bool:
    got = 0
    while got < len(view):
        n = inp.readinto(view[got:])
        if not n:
            return False
        got += n
    return True


def _read_frame(inp: BinaryIO) -> Any:
    head = bytearray(_HEADER.size)
    if not _read_exact(inp, memoryview(head)):
        return None
    (size,) = _HEADER.unpack(head)
    if size > MAX_FRAME:
        raise OSError(f"voice worker link: frame of {size} bytes (at most {MAX_FRAME})")
    body = bytearray(size)
    if not _read_exact(inp, memoryview(body)):
        return None
    return msgpack.unpackb(bytes(body), raw=False)


def _received(frames: int) -> np.ndarray:
    """A buffer for a line's samples in anonymous memory of its own: given back to the system as soon
    as the line is stored or refused (a heap block that size would stay with the process)."""
    mm = mmap.mmap(-1, max(4 * frames, mmap.PAGESIZE))
    return np.frombuffer(mm, dtype=np.float32, count=frames)


# ------------------------------------------------------------------------------------ worker side
def lower_priority(pid: int = 0) -> None:
    """Nice ``WORKER_NICE`` (never higher than it is) and, on Linux, ``SCHED_BATCH``: a CPU-bound job
    that never preempts a thread that wakes up, like the device callback."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, pid, max(os.getpriority(os.PRIO_PROCESS, pid), WORKER_NICE))
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(pid, os.SCHED_BATCH, os.sched_param(0))


def main() -> int:
    """The worker process: render each request, answer in order, stop at end of input."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lower_priority()
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stdout is the link: nothing else may print to it
    from ..errors import SoundscapeError
    from . import render_line

    while True:
        req = _read_frame(inp)
        if req is None:
            return 0
        key = req.get("key")
        try:
            audio, info = render_line(req["text"], req["preset"], int(req["sr"]))
        except SoundscapeError as exc:
            _write_frame(out, {"key": key, "ok": False, "code": "rejected", "message": str(exc)})
        except Exception as exc:  # a bug: say what, keep serving
            message = f"voice worker: {type(exc).__name__}: {exc}"
            _write_frame(out, {"key": key, "ok": False, "code": "internal", "message": message})
        else:
            audio = np.ascontiguousarray(audio, dtype=np.float32)
            _write_frame(out, {"key": key, "ok": True, "info": info, "frames": int(audio.shape[0])})
            out.write(memoryview(audio).cast("B"))
        out.flush()


# ------------------------------------------------------------------------------------ parent side
class SynthWorker:
    """The audio process's handle on one worker process.

    ``submit`` writes a request (a few kB: never blocks while the caller bounds how many are in
    flight below a pipe's 64 kB); a reader thread, blocked in ``readinto`` without the GIL most of
    the time, turns results into ``(key, samples | None, info | error)`` for ``poll``. When the
    worker dies, ``poll`` returns ``(None, None, error)`` once and ``alive`` turns False.
    """

    def __init__(self, argv: list[str] | None = None) -> None:
        cmd = argv or [sys.executable, "-m", "middleware.voice.worker"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        # At once, from here: the child inherits the audio process's raised priority, and its imports
        # (numpy, numba: about a second of CPU) run before its own main() could lower it.
        lower_priority(self.proc.pid)
        self._results: deque = deque()
        self.alive = True
        self._reader = threading.Thread(target=self._read, name="voice-worker-reader", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def submit(self, key: str, text: str, preset: str, sr: int) -> None:
        assert self.proc.stdin is not None
        try:
            _write_frame(self.proc.stdin, {"key": key, "text": text, "preset": preset, "sr": int(sr)})
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as exc:
            self.alive = False
            raise OSError(f"voice worker is gone ({exc})") from exc

    def poll(self) -> list[tuple[str | None, np.ndarray | None, dict[str, Any]]]:
        out = []
        results = self._results
        while results:
            out.append(results.popleft())
        return out

    def _read(self) -> None:
        inp = self.proc.stdout
        assert inp is not None
        try:
            while True:
                head = _read_frame(inp)
                if head is None:
                    break
                if not head.get("ok"):
                    self._results.append((head.get("key"), None, head))
                    continue
                samples = _received(int(head["frames"]))
                if not _read_exact(inp, memoryview(samples).cast("B")):
                    break
                self._results.append((head["key"], samples, head["info"]))
                del samples  # this thread now waits for the next line: it must not keep this one
        except (OSError, ValueError) as exc:
            self._results.append((None, None, {"code": "internal", "message": f"voice worker link: {exc}"}))
        self.alive = False
        code = self.proc.poll()
        why = "exited" if code is None else f"exited with code {code}"
        self._results.append((None, None, {"code": "internal", "message": f"the voice worker {why}"}))

    def close(self, timeout: float = 1.0) -> None:
        """Close the worker's input (it exits after the line it is rendering), then kill it if it
        has not gone within ``timeout``."""
        with contextlib.suppress(OSError, ValueError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout)
        self._reader.join(timeout)
        if self.proc.stdout is not None:
            with contextlib.suppress(OSError, ValueError):
                self.proc.stdout.close()


if __name__ == "__main__":
    sys.exit(main())
