"""Object updates between the daemon's two processes as arrays: one frame for many objects.

A game moving thousands of objects at 60 Hz sends ``batch`` messages of ``object`` items. The network
process validates every item (names, finite numbers, ranges, the object cap) before its ``ok``, and
coalesces untimed updates latest-wins; at each flush it turns them into **one frame**
``["objects", client, None, body]`` instead of one command per object, so the audio process decodes
a few byte strings, not thousands of maps:

* ``rows``: int32, the object's number on this link (the network process numbers names on first
  sight; a name is never renumbered);
* ``names``: ``[[number, name], ...]`` for numbers the audio process has not been told yet (a packet
  the network process had to drop takes its announcements with it: they are sent again);
* ``position``: float64 (n, 3); ``forward`` and ``velocity``: float64 (n, 3) or nil when no item had
  one, a row of NaN where that item had none (NaN never passes validation, so it only means "keep").

The audio process's receiver thread turns the byte strings into numpy arrays (:func:`decode`); its
render path hands them to the runtime in one step (:class:`ObjectRows`), ahead of the next ordered
command exactly where the single updates would have been applied.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np

from . import protocol as P

OP = "objects"
"""The link command of an object frame."""

_NAN3 = (float("nan"),) * 3
_F64 = np.float64


# ------------------------------------------------------------------ network process: a batch at once
# A game moving thousands of objects sends batches of bare `object` items. `P.fast_batch` checks them
# one by one (~1 us per item here); `object_batch` checks the whole list in a few C-level passes
# (types, lengths, one float64 array and its min/max) and builds the frame's arrays from the same
# pass. Like every fast path, None only means "not this shape or not valid": the caller then takes
# the per-item path, and `validate` names the exact item and field (`items[1].position[1]`), so
# errors come from one place. What it accepts, `validate` accepts with equal values
# (tests/test_object_batch_fast.py checks both ways).

_ITEM_KEYS = frozenset(P.MESSAGES["object"].field_map) | frozenset(P._ITEM_ENVELOPE)
_TYPE, _NAME, _POSITION = itemgetter("type"), itemgetter("name"), itemgetter("position")
_OBJECT_ONLY = {"object"}
_STR_ONLY, _FLOAT_ONLY, _THREE = {str}, {float}, {3}


def object_batch(raw: Any) -> tuple[list[str], np.ndarray, np.ndarray | None, np.ndarray | None] | None:
    """``(names, position, forward, velocity)`` of an untimed batch of only ``object`` items, else None.

    ``position`` is float64 (n, 3); ``forward``/``velocity`` are float64 (n, 3) with NaN rows where
    an item has none, or None when no item has one. Item order is kept (a name twice: both rows)."""
    items = P.fast_batch_items(raw)
    if items is None:
        return None
    try:  # an item that is not a map: TypeError from the getters (msgpack makes plain dicts only)
        if set(map(_TYPE, items)) != _OBJECT_ONLY:
            return None
        names = list(map(_NAME, items))
        pos = _rows(list(map(_POSITION, items)), P._OBJ_POS_LO, P._OBJ_POS_HI)
    except (KeyError, TypeError):  # a missing field, a value without a length ...
        return None
    if pos is None or set(map(type, names)) != _STR_ONLY or "" in names:
        return None
    if max(map(len, names)) > P._OBJ_NAME_LEN:
        return None
    fwd = vel = None
    if set(map(len, items)) != _THREE:  # besides type, name and position: forward and/or velocity
        if not all(map(_ITEM_KEYS.issuperset, items)):
            return None
        fwd = _optional_rows([it.get("forward") for it in items], P._OBJ_FWD_LO, P._OBJ_FWD_HI)
        vel = _optional_rows([it.get("velocity") for it in items], P._OBJ_VEL_LO, P._OBJ_VEL_HI)
        if fwd is False or vel is False:
            return None
    return names, pos, fwd, vel  # type: ignore[return-value]


def _rows(values: list, lo: float, hi: float) -> np.ndarray | None:
    """Lists of 3 floats (float, not int or bool: as the fast paths) within lo..hi as (n, 3), else None.

    Raises TypeError for a value without a length. A str, map or binary of 3 passes the length test
    but not the float one (its characters, keys or bytes are not floats)."""
    if set(map(len, values)) != _THREE:
        return None
    flat = list(chain.from_iterable(values))
    if set(map(type, flat)) != _FLOAT_ONLY:
        return None
    a = np.array(flat, dtype=_F64)
    if not (lo <= a.min() and a.max() <= hi):  # NaN fails both
        return None
    return a.reshape(-1, 3)


def _optional_rows(values: list, lo: float, hi: float) -> np.ndarray | bool | None:
    """`_rows` of an optional field (None: the item has none -> a NaN row); None if no item has it,
    False if one is not valid."""
    given = [k for k, v in enumerate(values) if v is not None]
    if not given:
        return None
    try:
        rows = _rows([values[k] for k in given], lo, hi)
    except TypeError:
        return False
    if rows is None:
        return False
    if len(given) == len(values):
        return rows
    out = np.full((len(values), 3), np.nan)
    out[given] = rows
    return out


class PendingObjects:
    """Network process: untimed object updates waiting for the next flush, latest-wins per name.

    A batch's rows are kept as the arrays ``object_batch`` made (one dict update per batch maps each
    name to its latest row); single updates are appended as tuples. ``take`` gathers the latest row
    of every name, in order of first sight, as the frame's arrays."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.row: dict[str, int] = {}  # name -> its latest row in the chunks below
        self.pos: list = []  # chunks: (k, 3) float64 arrays (a batch) or lists of 3-tuples (singles)
        self.fwd: list = []  # the same chunks: None where no row of the chunk has one
        self.vel: list = []
        self.count = 0
        self.client: Any = None  # the frame's client: the first update's (as the per-item frames)

    def __len__(self) -> int:
        return len(self.row)

    def add_rows(
        self, names: list[str], pos: np.ndarray, fwd: np.ndarray | None, vel: np.ndarray | None, client: Any
    ) -> int:
        """A validated batch's rows; returns how many were coalesced (their name was already pending)."""
        if not self.row:
            self.client = client
        before = len(self.row)
        n = len(names)
        self.row.update(zip(names, range(self.count, self.count + n), strict=True))
        self.pos.append(pos)
        self.fwd.append(fwd)
        self.vel.append(vel)
        self.count += n
        return n - (len(self.row) - before)

    def add_one(self, fields: dict, client: Any) -> bool:
        """One validated update's fields; True if its name was already pending (coalesced)."""
        row = self.row
        if not row:
            self.client = client
        name = fields["name"]
        coalesced = name in row
        row[name] = self.count
        self.count += 1
        pos = self.pos
        if not pos or pos[-1].__class__ is not list:
            pos.append([])
            self.fwd.append(None)
            self.vel.append(None)
        pos[-1].append(fields["position"])
        fwd, vel = fields.get("forward"), fields.get("velocity")
        if fwd is not None or self.fwd[-1] is not None:
            _append_optional(self.fwd, fwd, len(pos[-1]))
        if vel is not None or self.vel[-1] is not None:
            _append_optional(self.vel, vel, len(pos[-1]))
        return coalesced

    def take(self) -> tuple[Any, list[str], np.ndarray, np.ndarray | None, np.ndarray | None]:
        """``(client, names, position, forward, velocity)`` of the latest row of each name; clears."""
        names = list(self.row)
        pick = np.fromiter(self.row.values(), dtype=np.intp, count=len(names))
        starts = np.cumsum([0] + [len(c) for c in self.pos])
        chunk = np.searchsorted(starts, pick, "right") - 1  # which chunk holds each picked row
        at = [np.flatnonzero(chunk == j) for j in range(len(self.pos))]
        # (chunk, the frame's rows from it, their rows in the chunk)
        where = [(j, a, pick[a] - starts[j]) for j, a in enumerate(at) if len(a)]
        pos = _gather(self.pos, where, len(names))
        fwd = None if all(c is None for c in self.fwd) else _gather(self.fwd, where, len(names))
        vel = None if all(c is None for c in self.vel) else _gather(self.vel, where, len(names))
        if fwd is not None and np.isnan(fwd[:, 0]).all():
            fwd = None  # only names whose latest update had none
        if vel is not None and np.isnan(vel[:, 0]).all():
            vel = None
        client = self.client
        self._reset()
        return client, names, pos, fwd, vel


def _append_optional(chunks: list, value: Any, rows: int) -> None:
    """A single update's optional vector to the last chunk (NaN if it has none), starting the chunk's
    list (NaN for the ``rows - 1`` rows before it) at the first value."""
    if chunks[-1] is None:
        chunks[-1] = [_NAN3] * (rows - 1)
    chunks[-1].append(_NAN3 if value is None else value)


def _gather(chunks: list, where: list, n: int) -> np.ndarray:
    """The frame's (n, 3) rows from the chunks: ``where`` lists (chunk, frame rows, chunk rows); a None
    chunk gives NaN rows. Only the picked rows of a list chunk (single updates) become floats: a name
    updated 10 times between flushes costs one conversion, not ten."""
    if len(where) == 1 and where[0][1].size == n:
        j, _, rows = where[0]
        c = chunks[j]
        if c.__class__ is np.ndarray:
            return c if rows.size == len(c) and (rows == np.arange(n)).all() else c[rows]
    out = np.full((n, 3), np.nan)
    for j, at, rows in where:
        c = chunks[j]
        if c is None:
            continue
        if c.__class__ is np.ndarray:
            out[at] = c[rows]
        else:
            out[at] = np.array([c[i] for i in rows.tolist()], dtype=_F64).reshape(-1, 3)
    return out


class ObjectNumbers:
    """Network process: object names -> link numbers, and which numbers the audio process knows."""

    def __init__(self) -> None:
        self.number: dict[str, int] = {}
        self.announced: set[int] = set()  # numbers sent in packets that left
        self.in_flight: list[int] = []  # numbers announced in frames not sent yet

    def encode(self, commands: list[list]) -> list:
        """One frame from ``["object", client, None, fields]`` commands (validated fields)."""
        fields = [cmd[3] for cmd in commands]
        pos = np.array([f["position"] for f in fields], dtype=_F64).reshape(-1, 3)
        fwd, vel = _optional(fields, "forward"), _optional(fields, "velocity")
        return self.encode_arrays(commands[0][1], [f["name"] for f in fields], pos, fwd, vel)

    def encode_arrays(
        self, client: Any, names: list[str], pos: np.ndarray, fwd: np.ndarray | None, vel: np.ndarray | None
    ) -> list:
        """One frame from names and their float64 (n, 3) rows (``PendingObjects.take``).

        C-level passes over the names (map, array), not a loop with appends: this runs in the network
        process for every object a game moves."""
        number = self.number
        rows = list(map(number.get, names))
        if None in rows:
            for k, name in enumerate(names):
                if rows[k] is None:
                    rows[k] = number.setdefault(name, len(number))  # a name twice: one number
        announced = self.announced
        if announced.issuperset(rows):
            fresh = []
        else:
            fresh = [[i, names[k]] for k, i in enumerate(rows) if i not in announced]
            self.in_flight.extend(i for i, _ in fresh)
        body = {
            "rows": array("i", rows).tobytes(),
            "names": fresh,
            "position": pos.tobytes(),
            "forward": None if fwd is None else fwd.tobytes(),
            "velocity": None if vel is None else vel.tobytes(),
        }
        return [OP, client, None, body]

    def sent(self, ok: bool) -> None:
        """The packet holding the frames since the last call left (``ok``) or was dropped."""
        if ok:
            self.announced.update(self.in_flight)
        self.in_flight.clear()


def _optional(fields: list[dict], key: str) -> np.ndarray | None:
    """An optional vector field of every item, NaN where an item has none; None when none has it."""
    if all(f.get(key) is None for f in fields):
        return None
    return np.array([f.get(key) or _NAN3 for f in fields], dtype=_F64)


def decode(body: dict) -> dict:
    """Audio process, receiver thread: the frame's byte strings as numpy arrays (no copies)."""
    out = dict(body)
    out["rows"] = np.frombuffer(body["rows"], dtype=np.intc)
    for k in ("position", "forward", "velocity"):
        b = body.get(k)
        out[k] = None if b is None else np.frombuffer(b, dtype=np.float64).reshape(-1, 3)
    return out


class ObjectRows:
    """Audio process, render path: link numbers -> the runtime's object rows, and applying frames."""

    def __init__(self, capacity: int) -> None:
        self.names: dict[int, str] = {}
        self.rows = np.full(capacity, -1, dtype=np.int64)

    def apply(self, rt: Any, body: dict, one: Callable[[dict, Any], None], client: Any) -> None:
        """Hand a decoded frame to ``rt.set_objects_arrays`` in one step; a runtime without it gets one
        ``object`` message per item through ``one(fields, client)`` (the recording runtime)."""
        bulk = getattr(rt, "set_objects_arrays", None)
        if body["names"]:
            fresh = [(i, name) for i, name in body["names"] if self.names.get(i) != name]
            for i, name in fresh:
                self.names[i] = name
            if fresh and bulk is not None:
                self.rows[[i for i, _ in fresh]] = rt.object_rows([name for _, name in fresh])
        numbers, p, f, v = body["rows"], body["position"], body["forward"], body["velocity"]
        if bulk is None:
            names = self.names
            for k, i in enumerate(numbers.tolist()):
                fields = {"name": names[i], "position": p[k].tolist()}
                if f is not None and not np.isnan(f[k, 0]):
                    fields["forward"] = f[k].tolist()
                if v is not None and not np.isnan(v[k, 0]):
                    fields["velocity"] = v[k].tolist()
                one(fields, client)
            return
        rows = self.rows[numbers]
        ok = rows >= 0
        if not ok.all():  # the runtime's table is full (it counts them); keep the rest
            rows, p = rows[ok], p[ok]
            f = None if f is None else f[ok]
            v = None if v is None else v[ok]
        bulk(rows, p, f, v)
