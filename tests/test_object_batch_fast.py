"""Batches of object items checked as arrays in the network process (issue 15).

``object_frames.object_batch`` validates a whole untimed batch of ``object`` items in a few
vectorised passes instead of one call per item. It must accept only what ``protocol.validate``
accepts, with equal values, and decline everything else, so that the generic path refuses the batch
naming the exact item and field. The server then coalesces the batch's rows latest-wins with any
single updates and sends one array frame where the first object update was. Checked here with a
real ``Server`` on real ZeroMQ sockets (127.0.0.1 and ipc), the audio process's side read from its
PULL socket.
"""

from __future__ import annotations

import math
import tempfile

import msgpack
import numpy as np
import pytest
import zmq
from hypothesis import given, settings
from hypothesis import strategies as st
from test_protocol_fastpath import names as name_values
from test_protocol_fastpath import vectors

from middleware.errors import ProtocolError
from middleware.transport import object_frames
from middleware.transport import protocol as P
from middleware.transport.server import Server

N_ITEMS = P.MAX_BATCH


# -------------------------------------------------------------------------- the check alone
@st.composite
def object_batches(draw) -> dict:
    """Batches of mostly good object items; some with one odd field (value, name, key, type)."""
    items = []
    for i in range(draw(st.integers(1, 5))):
        item = {"type": "object", "name": f"o{i % 3}", "position": [1.0, -2.0, 0.5]}
        for key in ("forward", "velocity"):
            if draw(st.integers(0, 3)) == 0:
                item[key] = draw(st.one_of(vectors(), st.none()))
        odd = draw(st.integers(0, 9))
        if odd == 0:
            item["position"] = draw(vectors())
        elif odd == 1:
            item["name"] = draw(name_values)
        elif odd == 2:
            item[draw(st.sampled_from(["id", "t", "up", "value", "extra"]))] = 1.0
        elif odd == 3:
            item["type"] = draw(st.sampled_from(["set_param", "listener", "objekt", None]))
        elif odd == 4:
            del item[draw(st.sampled_from(["type", "name", "position"]))]
        items.append(item)
    return {"v": 1, "type": "batch", "items": items}


def _rows_equal(got: np.ndarray | None, items: list, key: str) -> None:
    """The array rows hold each item's value exactly (the same float64 from the wire: no arithmetic),
    NaN where the item has none; None only when no item has one."""
    given_ = [it.fields.get(key) for it in items]
    if got is None:
        assert all(v is None for v in given_)
        return
    for row, v in zip(got.tolist(), given_, strict=True):
        if v is None:
            assert all(math.isnan(x) for x in row)
        else:
            assert row == list(v)


@settings(max_examples=600, deadline=None)
@given(object_batches())
def test_object_batch_agrees_with_validate(raw) -> None:
    hit = object_frames.object_batch(raw)
    try:
        req = P.validate(raw)
    except ProtocolError:
        assert hit is None, f"the array check accepted what validate refuses: {raw!r}"
        return
    if hit is None:
        # declining a valid batch is allowed only for shapes the fast paths leave alone (ints in a
        # vector, a nil optional field, a message type besides object...); never for the bare shape
        bare = all(
            it.keys() == {"type", "name", "position"} and all(x.__class__ is float for x in it["position"])
            for it in raw["items"]
        )
        assert not bare, raw
        return
    names, pos, fwd, vel = hit
    assert names == [it.fields["name"] for it in req.items]
    assert pos.dtype == np.float64 and pos.shape == (len(names), 3)
    _rows_equal(pos, req.items, "position")
    _rows_equal(fwd, req.items, "forward")
    _rows_equal(vel, req.items, "velocity")


def test_the_common_shapes_take_the_array_path() -> None:
    items = [{"type": "object", "name": f"m{i}", "position": [float(i), 0.0, -1.5]} for i in range(N_ITEMS)]
    hit = object_frames.object_batch({"v": 1, "type": "batch", "id": 3, "items": items})
    assert hit is not None and hit[2] is None and hit[3] is None
    items[5]["forward"] = [0.0, 0.0, -1.0]
    items[7]["velocity"] = [1.0, 0.0, 0.0]
    hit = object_frames.object_batch({"v": 1, "type": "batch", "items": items})
    assert hit is not None
    assert hit[2][5].tolist() == [0.0, 0.0, -1.0] and np.isnan(hit[2][6]).all()
    assert hit[3][7].tolist() == [1.0, 0.0, 0.0] and np.isnan(hit[3][5]).all()


# ------------------------------------------------------------------ through a real server
class _Link:
    """A Server on real sockets, a DEALER as the game and a PULL as the audio process."""

    def __init__(self) -> None:
        self.ctx = zmq.Context()
        tmp = tempfile.mkdtemp(prefix="objbatch-")
        self.audio = self.ctx.socket(zmq.PULL)
        self.audio.bind(f"ipc://{tmp}/c")
        self.srv = Server(self.ctx, bind="tcp://127.0.0.1:0", pub="tcp://127.0.0.1:0",
                          link_out=f"ipc://{tmp}/c", link_in=f"ipc://{tmp}/b", scene_root=None)  # fmt: skip
        self.game = self.ctx.socket(zmq.DEALER)
        self.game.connect(self.srv.bind_endpoint)

    def send(self, *msgs: dict) -> None:
        """Send and let the server take them all through its hot path (``_drain_router``)."""
        want = self.srv.counters["received"] + len(msgs)
        for m in msgs:
            self.game.send(msgpack.packb(m))
        for _ in range(500):
            if self.srv.counters["received"] >= want:
                return
            if self.srv.router.poll(10):
                self.srv._drain_router()
        raise AssertionError(f"the server took {self.srv.counters['received']} of {want}")

    def reply(self) -> dict:
        assert self.game.poll(2000), "no reply"
        return msgpack.unpackb(self.game.recv())

    def packet(self) -> list | None:
        """The next packet to the audio process after a flush, or None if nothing was sent."""
        self.srv._flush()
        if not self.audio.poll(200):
            return None
        return msgpack.unpackb(self.audio.recv(), raw=False)

    def close(self) -> None:
        self.srv.close()
        self.game.close(0)
        self.audio.close(0)
        self.ctx.term()


@pytest.fixture
def link():
    lk = _Link()
    yield lk
    lk.close()


BAD = {  # badness -> (field, bad value, error code, the field's path inside the item)
    "nan": ("position", [1.0, math.nan, 3.0], "not_finite", "position[1]"),
    "out_of_range": ("position", [1.0, 2e6, 3.0], "out_of_range", "position[1]"),
    "wrong_type": ("position", [1.0, "x", 3.0], "wrong_type", "position[1]"),
    "bool": ("position", [1.0, True, 3.0], "wrong_type", "position[1]"),
    "short": ("position", [1.0, 2.0], "wrong_type", "position"),
    "empty_name": ("name", "", "too_long", "name"),
    "long_name": ("name", "x" * (P._OBJ_NAME_LEN + 1), "too_long", "name"),
    "name_not_text": ("name", 5, "wrong_type", "name"),
    "velocity": ("velocity", [0.0, 2e4, 0.0], "out_of_range", "velocity[1]"),
    "forward_inf": ("forward", [0.0, math.inf, 0.0], "not_finite", "forward[1]"),
}


@pytest.mark.parametrize("at", [0, 1, 517, N_ITEMS - 1])
@pytest.mark.parametrize("bad", sorted(BAD))
def test_a_bad_item_refuses_the_batch_naming_its_index(link, bad, at) -> None:
    """One bad item among 1,023 good ones: the whole batch is refused, the reply names that item and
    field, and nothing of it reaches the audio process. The good items share its batch so that the
    array check sees it among them (an index off by one, or the bad row accepted, fails here)."""
    field, value, code, path = BAD[bad]
    items = [{"type": "object", "name": f"m{i}", "position": [float(i), 0.0, -1.0]} for i in range(N_ITEMS)]
    if field in ("forward", "velocity"):
        for it in items[::2]:
            it[field] = [0.0, 0.0, -1.0]  # some items have the field: the optional rows' path
    items[at][field] = value
    assert object_frames.object_batch({"v": 1, "type": "batch", "items": items}) is None
    link.send({"v": 1, "type": "batch", "id": 41, "items": items})
    reply = link.reply()
    assert reply["id"] == 41 and reply["type"] == "error", reply
    assert (reply["code"], reply["field"]) == (code, f"items[{at}].{path}"), reply
    assert link.packet() is None  # nothing of the refused batch was queued
    assert link.srv.counters["invalid"] == 1 and not link.srv.object_names


def _frame(packet: list) -> dict[str, list]:
    """The packet's object frame as name -> [position, forward, velocity] rows (lists; NaN: none)."""
    [frame] = [cmd for cmd in packet if cmd[0] == object_frames.OP]
    body = object_frames.decode(frame[3])
    names = dict(body["names"])
    out = {}
    for k, i in enumerate(body["rows"].tolist()):
        keys = ("position", "forward", "velocity")
        out[names[i]] = [body[key][k].tolist() if body[key] is not None else None for key in keys]
    return out


def test_batches_and_single_updates_coalesce_latest_wins_in_one_frame(link) -> None:
    """Array rows and single updates of the same names merge latest-wins, whichever came last; the
    frame takes the place of the first object update among the other pending updates."""
    link.srv.set_scene({"parameters": {"speed": {"min": 0.0, "max": 10.0}}})
    b1 = [{"type": "object", "name": f"m{i}", "position": [float(i), 0.0, 0.0]} for i in range(4)]
    b1.append({"type": "object", "name": "m1", "position": [9.0, 9.0, 9.0]})  # twice in one batch
    b2 = [{"type": "object", "name": "m2", "position": [2.5, 0.0, 0.0], "forward": [1.0, 0.0, 0.0]},
          {"type": "object", "name": "m4", "position": [4.0, 0.0, 0.0]}]  # fmt: skip
    link.send(
        {"v": 1, "type": "set_param", "name": "speed", "value": 1.0},
        {"v": 1, "type": "batch", "items": b1},
        {"v": 1, "type": "object", "name": "m0", "position": [-1.0, 0.0, 0.0]},  # a single after
        {"v": 1, "type": "object", "name": "m3", "position": [3.0, 3.0, 3.0], "velocity": [0.0, 1.0, 0.0]},
        {"v": 1, "type": "batch", "items": b2},  # a batch after the single of m3's neighbour
        {"v": 1, "type": "set_param", "name": "speed", "value": 2.0},
        {"v": 1, "type": "object", "name": "m4", "position": [4.5, 0.0, 0.0]},  # single after a batch
    )
    c = link.srv.counters
    assert c["invalid"] == 0 and c["coalesced"] == 6  # m1 in b1; m0, m3, m2 and m4 again; speed
    packet = link.packet()
    assert [cmd[0] for cmd in packet] == ["set_param", object_frames.OP]  # speed's first place, then
    assert packet[0][3] == {"name": "speed", "value": 2.0}  # the frame where m0 was first seen
    nan = [math.nan] * 3
    want = {
        "m0": [[-1.0, 0.0, 0.0], None, None],
        "m1": [[9.0, 9.0, 9.0], None, None],
        "m2": [[2.5, 0.0, 0.0], [1.0, 0.0, 0.0], None],
        "m3": [[3.0, 3.0, 3.0], None, [0.0, 1.0, 0.0]],
        "m4": [[4.5, 0.0, 0.0], None, None],
    }
    got = _frame(packet)
    assert list(got) == list(want)  # first sight order
    for name, (p, f, v) in want.items():  # exact: the wire's float64 values, copied, no arithmetic
        assert got[name][0] == p
        assert got[name][1] == f or (f is None and _all_nan(got[name][1], nan)), name
        assert got[name][2] == v or (v is None and _all_nan(got[name][2], nan)), name


def _all_nan(row: list | None, nan: list) -> bool:
    return row is None or (len(row) == len(nan) and all(math.isnan(x) for x in row))


def test_the_object_cap_refuses_a_batch_of_new_names(link) -> None:
    link.srv.max_objects = 10
    items = [{"type": "object", "name": f"m{i}", "position": [0.0, 0.0, 0.0]} for i in range(11)]
    link.send({"v": 1, "type": "batch", "id": 5, "items": items})
    reply = link.reply()
    assert reply["code"] == "limit" and reply["field"] == "items[10].name", reply
    assert link.packet() is None and not link.srv.object_names
    link.send({"v": 1, "type": "batch", "id": 6, "items": items[:10] + items[:3]})  # 10 names: room
    assert link.reply()["type"] == "ok"
    assert sorted(_frame(link.packet())) == sorted(f"m{i}" for i in range(10))
