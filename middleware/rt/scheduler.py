"""Commands queued by one thread and applied by the render loop, each on its frame.

The game-facing thread ``post``s a command, optionally for a frame; the render loop ``drain``s the
queue before each block, applying untimed commands at once (in arrival order) and keeping timed ones
in a heap until the block that holds their frame. A deque append and popleft are atomic in CPython,
so the two threads share no lock. Nothing here knows what a command means: ``drain`` hands each to
the caller's ``apply(command, frame | None)``; the engine (its voice and bus commands) and the scene
runtime (game commands) both queue through it.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable
from typing import Any


class _Timed:
    """A queued command for a given frame (a class of its own, so no command can look like one)."""

    __slots__ = ("cmd", "frame")

    def __init__(self, frame: int, cmd: Any) -> None:
        self.frame, self.cmd = frame, cmd


class CommandScheduler:
    """A deque of arriving commands plus a heap of commands due in a later block."""

    def __init__(self) -> None:
        self._queue: deque = deque()
        self._future: list = []  # heap of (frame, seq, command): seq keeps equal frames in order
        self._seq = itertools.count()

    def post(self, cmd: Any, at_frame: int | None = None) -> None:
        """Queue ``cmd`` (for ``at_frame`` when given; the caller checked it is a frame number)."""
        if at_frame is None:
            self._queue.append(cmd)
        else:
            self._queue.append(_Timed(at_frame, cmd))

    def drain(self, end: int, apply: Callable[[Any, int | None], None]) -> None:
        """Apply every command due before frame ``end``, in the order they were posted.

        Commands that waited in the heap were posted in an earlier block, so they go first (in
        (frame, post) order); then the ones that arrived since the last drain, in arrival order
        (untimed ones with ``None``, timed ones already due with their frame; timed ones for a later
        block join the heap). Posting order is what a caller means: a ``stop`` posted after a
        ``play`` for this block stops that voice (applied before it, the stop found nothing and the
        voice then played for ever), and of two values posted for the same frame the later wins.
        """
        future = self._future
        while future and future[0][0] < end:
            at, _, cmd = heapq.heappop(future)
            apply(cmd, at)
        queue = self._queue
        while queue:
            cmd = queue.popleft()
            if type(cmd) is _Timed:
                if cmd.frame >= end:
                    heapq.heappush(future, (cmd.frame, next(self._seq), cmd.cmd))
                    continue
                apply(cmd.cmd, cmd.frame)
            else:
                apply(cmd, None)

    def pending(self) -> list:
        """Every command not applied yet, in the order ``drain`` would apply them if all were due:
        waiting ones in due order, then queued ones in arrival order."""
        waiting = [c for _, _, c in sorted(self._future, key=lambda e: e[:2])]
        return waiting + [c.cmd if type(c) is _Timed else c for c in list(self._queue)]
