"""Spoken lines kept in an engine's sample bank, within a memory budget.

Each line is a bank sample ``voice:<cache key>``. A line is *in use* from the moment a caller takes
it (``admit`` or ``take``) until the last frame of every voice started on it has been rendered
(``played`` says when a voice starts and for how long; a line that will not be played is released
with ``played(name, frame, 0)``, and one nobody plays within ``PENDING_TIMEOUT_S`` counts as released:
a runtime that does not report, like the daemon's recording scene, cannot pin lines for ever). Lines
not in use are dropped least recently used first, and only
when a new line needs their room, so a line said again soon is still there. A line that cannot fit
even after dropping every idle one is refused with a ``limit`` error.

Threads: in the daemon, the audio process's main thread admits, takes and drops lines; the render
thread only calls ``played``, which appends to a deque (no lock, no allocation beyond the tuple).
Offline (``SceneRuntime.say``) everything runs on one thread.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict, deque
from typing import Any

import numpy as np

from ..errors import ProtocolError
from .limits import VoiceLimits

RELEASE_MARGIN_S = 0.5
"""Seconds a line stays in use after its last voice's planned end (a voice starts at the block its
command is applied in, never earlier; the margin covers a late block)."""

PENDING_TIMEOUT_S = 10.0
"""Seconds a taken line waits to be played before it counts as idle again: the daemon plays a line the
block after it is ready, so this only frees lines a caller took and never played (a runtime that
does not report, a prepare_line without play_line)."""

PREFIX = "voice:"


def line_name(key: str) -> str:
    """The bank name of the line with cache key ``key``."""
    return PREFIX + key


class LineStore:
    """The lines in one engine's bank: budget, least-recently-used order and use counts."""

    def __init__(self, engine: Any, budget_bytes: int | None = None) -> None:
        self.engine = engine
        self.bank = engine.bank
        self.budget = int(budget_bytes if budget_bytes is not None else VoiceLimits().budget_bytes)
        self._lines: OrderedDict[str, int] = OrderedDict()  # name -> bytes; least recently used first
        self._pending: dict[str, tuple[int, int]] = {}  # name -> (takes not yet played, frame of the last)
        self._until: dict[str, int] = {}  # name -> engine frame after which no voice plays it
        self._played: deque = deque()  # (name, start frame, frames) from the render thread
        self._labels: dict[str, dict[str, Any]] = {}  # name -> label published with each `say`
        self.bytes = 0
        self._reserved = False
        self.counters = {"voice_lines_added": 0, "voice_lines_evicted": 0, "voice_lines_refused": 0}

    # ------------------------------------------------------------------------------- queries
    def __contains__(self, name: str) -> bool:
        return name in self._lines

    def in_use(self, name: str) -> bool:
        self._collect()
        return self._busy(name, int(self.engine.frame))

    def stats(self) -> dict[str, int]:
        self._collect()
        now = int(self.engine.frame)
        busy = sum(1 for n in self._lines if self._busy(n, now))
        return {
            "voice_lines": len(self._lines),
            "voice_lines_playing": busy,
            "voice_bytes": self.bytes,
            "voice_budget_bytes": self.budget,
            "bank_used_bytes": self.bank.used_bytes,
            "bank_capacity_bytes": self.bank.nbytes,
            **self.counters,
        }

    # ------------------------------------------------------------------------------ control side
    def take(self, name: str) -> dict[str, Any] | None:
        """Mark a stored line as about to be played (it stays until ``played`` and its end) and
        return its label; None when the line is not stored."""
        label = self._labels.get(name)
        if label is None:
            return None
        self._lines.move_to_end(name)
        self._take(name)
        return label

    def admit(
        self, name: str, samples: np.ndarray, label: dict[str, Any], source: str = ""
    ) -> dict[str, Any]:
        """Store a rendered line (mono float32) and take it once; drops idle lines to make room.
        Returns the line's label (the stored one if the line was there already).

        Raises ProtocolError(code ``limit``) when the line does not fit the budget even with every
        idle line dropped (the caller reports it; nothing is stored)."""
        stored = self.take(name)
        if stored is not None:
            return stored
        frames = int(np.asarray(samples).shape[0])
        size = self.bank.footprint(frames, 1)
        self._make_room(size)
        if not self._reserved:  # room for the whole budget now: no copy of the bank per line later
            self.bank.reserve(self.budget)
            self._reserved = True
        self.bank.add(name, samples, source=source)
        self._lines[name] = size
        self._labels[name] = label
        self.bytes += size
        self._take(name)
        self.counters["voice_lines_added"] += 1
        return label

    def drop_idle(self) -> int:
        """Drop every line no voice plays (frees their memory now); returns the bytes released."""
        self._collect()
        now = int(self.engine.frame)
        freed = 0
        for name in [n for n in self._lines if not self._busy(n, now)]:
            freed += self._evict(name)
        return freed

    # ------------------------------------------------------------------------------ render side
    def played(self, name: str, start_frame: int, frames: int) -> None:
        """A voice for ``name`` starts at ``start_frame`` for ``frames`` frames (0: the take is
        released without playing). Safe to call from the render thread."""
        self._played.append((name, start_frame, frames))

    # ------------------------------------------------------------------------------- internals
    def _take(self, name: str) -> None:
        count = self._pending.get(name, (0, 0))[0]
        self._pending[name] = (count + 1, int(self.engine.frame))

    def _collect(self) -> None:
        margin = int(RELEASE_MARGIN_S * self.bank.sample_rate)
        played, pending, until = self._played, self._pending, self._until
        while played:
            name, start, frames = played.popleft()
            count, taken = pending.get(name, (0, 0))
            if count > 1:
                pending[name] = (count - 1, taken)
            else:
                pending.pop(name, None)
            if frames > 0:
                until[name] = max(until.get(name, 0), int(start) + int(frames) + margin)

    def _busy(self, name: str, now: int) -> bool:
        taken = self._pending.get(name)
        if taken is not None and now - taken[1] <= PENDING_TIMEOUT_S * self.bank.sample_rate:
            return True
        return self._until.get(name, 0) > now

    def _fits(self, size: int) -> bool:
        if self.bytes + size > self.budget:
            return False
        bank = self.bank
        if bank.frees_memory:  # holes cost no memory: only live lines count
            return True
        # Holes stay resident: a line goes into one, or the bank grows only while lines + holes fit.
        return bank.largest_hole() >= size or self.bytes + bank.free_bytes + size <= self.budget

    def _make_room(self, size: int) -> None:
        if size > self.budget:
            self.counters["voice_lines_refused"] += 1
            raise ProtocolError(
                f"say: the line needs {size / 2**20:.1f} MiB of samples; the voice budget is "
                f"{self.budget / 2**20:.0f} MiB (soundscape serve --voice-budget)",
                code="limit",
                where="text",
            )
        self._collect()
        now = int(self.engine.frame)
        while not self._fits(size):
            victim = next((n for n in self._lines if not self._busy(n, now)), None)
            if victim is None:
                self.counters["voice_lines_refused"] += 1
                raise ProtocolError(
                    f"say: {len(self._lines)} line(s) ({self.bytes / 2**20:.1f} MiB) are playing; the voice "
                    f"budget is {self.budget / 2**20:.0f} MiB: wait for lines to end, or say shorter ones",
                    code="limit",
                    where="text",
                )
            self._evict(victim)

    def _evict(self, name: str) -> int:
        size = self._lines.pop(name)
        self._until.pop(name, None)
        self._labels.pop(name, None)
        self.bytes -= size
        self.bank.remove(name)
        self.counters["voice_lines_evicted"] += 1
        return size


_STORES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def store_for(engine: Any, budget_bytes: int | None = None) -> LineStore:
    """The line store of ``engine`` (made on first use, on the control side; ``budget_bytes`` sets
    or changes its budget)."""
    store = _STORES.get(engine)
    if store is None:
        store = _STORES[engine] = LineStore(engine, budget_bytes)
    elif budget_bytes is not None:
        store.budget = int(budget_bytes)
    return store


def existing_store(engine: Any) -> LineStore | None:
    """The line store of ``engine`` if one was made (a lookup only: safe on the render thread)."""
    return _STORES.get(engine)
