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
from typing import Any

import numpy as np

OP = "objects"
"""The link command of an object frame."""

_NAN3 = (float("nan"),) * 3


class ObjectNumbers:
    """Network process: object names -> link numbers, and which numbers the audio process knows."""

    def __init__(self) -> None:
        self.number: dict[str, int] = {}
        self.announced: set[int] = set()  # numbers sent in packets that left
        self.in_flight: list[int] = []  # numbers announced in frames not sent yet

    def encode(self, commands: list[list]) -> list:
        """One frame from pending ``["object", client, None, fields]`` commands (validated fields).

        Comprehensions over the items rather than one loop with appends: this runs in the network
        process for every object a game moves (~0.5 us per item)."""
        fields = [cmd[3] for cmd in commands]
        number = self.number
        names = [f["name"] for f in fields]
        rows = [number.get(n) for n in names]
        if None in rows:
            for k, name in enumerate(names):
                if rows[k] is None:
                    rows[k] = number.setdefault(name, len(number))  # a name twice: one number
        announced = self.announced
        fresh = [[i, names[k]] for k, i in enumerate(rows) if i not in announced]
        self.in_flight.extend(i for i, _ in fresh)
        body = {
            "rows": array("i", rows).tobytes(),
            "names": fresh,
            "position": array("d", chain.from_iterable(f["position"] for f in fields)).tobytes(),
            "forward": _optional(fields, "forward"),
            "velocity": _optional(fields, "velocity"),
        }
        return [OP, commands[0][1], None, body]

    def sent(self, ok: bool) -> None:
        """The packet holding the frames since the last call left (``ok``) or was dropped."""
        if ok:
            self.announced.update(self.in_flight)
        self.in_flight.clear()


def _optional(fields: list[dict], key: str) -> bytes | None:
    """An optional vector field of every item, NaN where an item has none; None when none has it."""
    if all(f.get(key) is None for f in fields):
        return None
    return array("d", chain.from_iterable(f.get(key) or _NAN3 for f in fields)).tobytes()


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
