"""Game objects' transforms as arrays: one row per object, so thousands move in one numpy step.

A game moves its objects every frame; the daemon hands them over as arrays (``batch`` of ``object``
items, docs/protocol.md). The table keeps each object's position, forward and velocity in rows of
float64 arrays (a row per name, given on first sight and never reused: the daemon bounds names by
``MAX_OBJECTS``), marks the rows that changed since the runtime last looked, and reads as a mapping
``name -> GameObject`` for the code that asks about one object (emitters, a trigger, the studio view).

A row can be reserved before the game sends its object (an instance following an object the game has
not placed yet): it is then not *present*, and the mapping does not list it until it is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from .state import GameObject

_FORWARD = (0.0, 0.0, -1.0)  # GameObject's default facing


class ObjectTable(Mapping[str, GameObject]):
    """Transforms of up to ``capacity`` named game objects (see module docstring)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.slot: dict[str, int] = {}  # name -> row, reserved or present
        self.names: list[str] = []  # row -> name
        self.position = np.zeros((capacity, 3))
        self.forward = np.tile(np.array(_FORWARD), (capacity, 1))
        self.velocity = np.zeros((capacity, 3))
        self.present = np.zeros(capacity, dtype=bool)
        self.moved = np.zeros(capacity, dtype=bool)  # position or velocity changed since take_moved()
        self.any_moved = False
        self._count = 0  # present rows
        self._mark = np.zeros(capacity, dtype=np.int64)  # scratch of _unique

    # ---------------------------------------------------------------- rows
    def row(self, name: str) -> int:
        """The row of ``name``, reserved now if new; -1 when the table is full."""
        i = self.slot.get(name)
        if i is None:
            if len(self.names) >= self.capacity:
                return -1
            i = self.slot[name] = len(self.names)
            self.names.append(name)
        return i

    def rows(self, names: Sequence[str]) -> np.ndarray:
        """Rows of many names (reserved when new; -1 for those beyond the capacity)."""
        row = self.row
        return np.fromiter((row(n) for n in names), dtype=np.int64, count=len(names))

    # ---------------------------------------------------------------- writing
    def set(self, name: str, position: Sequence[float], forward=None, velocity=None) -> bool:
        """One object's transform (``forward``/``velocity`` None: kept). False when the table is full."""
        i = self.row(name)
        if i < 0:
            return False
        old_p, old_v = self.position[i].copy(), self.velocity[i].copy()
        self.position[i] = position
        if forward is not None:
            self.forward[i] = forward
        if velocity is not None:
            self.velocity[i] = velocity
        if not self.present[i]:
            self.present[i] = True
            self._count += 1
            self.moved[i] = self.any_moved = True
        elif (old_p != self.position[i]).any() or (old_v != self.velocity[i]).any():
            self.moved[i] = self.any_moved = True
        return True

    def set_rows(
        self,
        rows: np.ndarray,
        position: np.ndarray,
        forward: np.ndarray | None = None,
        velocity: np.ndarray | None = None,
    ) -> None:
        """Many transforms in one step: ``rows`` (n,) from :meth:`rows`, arrays (n, 3). A row of NaN
        in ``forward`` or ``velocity`` keeps that object's value; a row listed twice: the last wins."""
        if rows.size > 1 and not self._unique(rows):  # keep each row's last entry (numpy leaves
            rev = rows[::-1]  # repeated fancy writes unspecified)
            uniq, first = np.unique(rev, return_index=True)
            if uniq.size != rows.size:
                keep = rows.size - 1 - first
                rows, position = rows[keep], position[keep]
                forward = None if forward is None else forward[keep]
                velocity = None if velocity is None else velocity[keep]
        was = self.present[rows]
        old_p, old_v = self.position[rows], self.velocity[rows]
        self.position[rows] = position
        if forward is not None:
            given = ~np.isnan(forward[:, 0])
            self.forward[rows[given]] = forward[given]
        if velocity is not None:
            given = ~np.isnan(velocity[:, 0])
            self.velocity[rows[given]] = velocity[given]
        changed = (
            ~was | (old_p != self.position[rows]).any(axis=1) | (old_v != self.velocity[rows]).any(axis=1)
        )
        if not was.all():
            self.present[rows] = True
            self._count += int((~was).sum())
        if changed.any():
            self.moved[rows[changed]] = True
            self.any_moved = True

    def _unique(self, rows: np.ndarray) -> bool:
        """Whether no row is listed twice (O(n), no sort: the common case, the daemon coalesced them)."""
        mark, order = self._mark, np.arange(rows.size)
        mark[rows] = order
        return bool((mark[rows] == order).all())

    def take_moved(self) -> np.ndarray | None:
        """The moved-rows mask since the last call (None: none moved); the marks are cleared after the
        caller's use, at the next call."""
        if not self.any_moved:
            return None
        self.any_moved = False
        mask = self.moved.copy()
        self.moved[:] = False
        return mask

    # ---------------------------------------------------------------- reading
    def get_row(self, i: int) -> GameObject:
        return GameObject(
            tuple(self.position[i].tolist()),
            tuple(self.forward[i].tolist()),
            tuple(self.velocity[i].tolist()),
        )

    def __getitem__(self, name: str) -> GameObject:
        i = self.slot.get(name)
        if i is None or not self.present[i]:
            raise KeyError(name)
        return self.get_row(i)

    def get(self, name: str, default=None):  # type: ignore[override]  # faster than Mapping's
        i = self.slot.get(name)
        if i is None or not self.present[i]:
            return default
        return self.get_row(i)

    def __contains__(self, name: object) -> bool:
        i = self.slot.get(name)  # type: ignore[arg-type]
        return i is not None and bool(self.present[i])

    def __iter__(self) -> Iterator[str]:
        present = self.present
        return (n for i, n in enumerate(self.names) if present[i])

    def __len__(self) -> int:
        return self._count
