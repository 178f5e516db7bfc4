"""A wake-up flag an audio thread can raise without ever blocking.

A ``threading.Lock`` used as a binary semaphore: held means "nothing new". Only one thread raises it
(the audio side: the device callback waking the render thread, or the render waking the daemon's
sender thread) and only one other thread waits on it. ``raise_`` never waits; because a single
thread raises, ``locked()`` followed by ``release()`` cannot race. ``threading.Event.set`` would
take a Condition lock that the waiting thread may hold at that moment, which can make the audio
thread wait.
"""

from __future__ import annotations

import contextlib
import threading


class WakeFlag:
    """Raised by exactly one producer thread, waited on by exactly one consumer thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()

    def raise_(self) -> None:
        """Wake the waiting thread (never blocks). Should a second thread raise it at the same moment,
        the flag is simply up already."""
        if self._lock.locked():
            with contextlib.suppress(RuntimeError):  # released by the other raiser in between
                self._lock.release()

    def wait(self, timeout: float) -> bool:
        """Sleep until raised or ``timeout`` seconds passed; True if it was raised (and lowers it)."""
        return self._lock.acquire(timeout=timeout)
