"""The network process's fast path for untimed updates behaves exactly like the generic validator.

``protocol.fast_update`` must accept only what ``protocol.validate`` accepts, with equal fields
(same values *and* types: tuples, floats, defaults), and decline everything else so that the
generic path raises the usual errors. The server's drain loop is then checked end to end over real
sockets: the same stream of messages (valid, invalid, odd framings) handled by the fast drain and by
the generic per-message path must leave the same pending updates, counters and replies. The same
holds for ``protocol.fast_batch`` (untimed batches made only of bare updates).
"""

from __future__ import annotations

import math
import tempfile
import time

import msgpack
import pytest
import zmq
from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.errors import ProtocolError
from middleware.transport import protocol as P
from middleware.transport.server import Server

# ------------------------------------------------------------------------------- strategies
EDGES = [0.0, -0.0, 1.5, 1e4, 1e4 + 1, 1e6, 1e6 + 1, 1e9, 1e9 + 1, 2e9]
edge_floats = st.sampled_from([*EDGES, *(-x for x in EDGES), math.nan, math.inf, -math.inf])
floats = st.one_of(edge_floats, edge_floats, st.floats())
ints = st.one_of(st.sampled_from([0, 1, 3, -1, 10**4 + 1, 10**6, 10**6 + 1, 10**9 + 1, 2**32]), st.integers())
numbers = st.one_of(floats, floats, floats, ints, st.booleans(), st.none())
names = st.one_of(st.sampled_from(["", "speed", "o1", "x" * 128, "x" * 129]), st.text(max_size=3))
scalars = st.one_of(st.none(), st.booleans(), ints, floats, names, st.binary(max_size=3))


@st.composite
def vectors(draw):
    """Mostly three good floats with one coordinate near a limit; sometimes anything list-like."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.one_of(st.lists(numbers, min_size=2, max_size=4), st.tuples(floats, floats, floats)))
    vec = [1.0, -2.0, 0.5]
    vec[draw(st.integers(0, 2))] = draw(numbers)
    return vec


values = st.one_of(scalars, vectors(), st.dictionaries(names, scalars, max_size=2))
FIELD_VALUES = {
    "v": st.sampled_from([1, True, 1.0, 2, 0, None, "1"]),
    "id": st.sampled_from([None, 0, 7, 2**32 - 1, 2**32, -1, True, 1.0, "7"]),
    "t": st.sampled_from([None, 0.0, 1.0, math.nan, 2, "x"]),
    "name": names,
    "value": numbers,
    "position": vectors(),
    "forward": vectors(),
    "up": vectors(),
    "velocity": vectors(),
}
OPTIONAL = {"object": ("forward", "velocity", "id"), "set_param": ("id",),
            "listener": ("forward", "up", "velocity", "id")}  # fmt: skip
types = st.one_of(st.sampled_from(["object", "set_param", "listener", "trigger", "objekt", 8, 2, 7]), scalars)


@st.composite
def near_updates(draw) -> dict:
    """A valid fast-path message (optional fields or not), then 0-2 fields redrawn near their limits."""
    kind = draw(st.sampled_from(["object", "set_param", "listener"]))
    base: dict = {"v": 1, "type": kind}
    if kind == "object":
        base["name"] = "car1"
        base["position"] = [1.0, 2.0, -3.0]
    elif kind == "set_param":
        base.update(name="speed", value=0.5)
    else:
        base["position"] = [0.0, 1.7, 0.0]
    for key in OPTIONAL[kind]:
        if draw(st.booleans()):
            base[key] = 3 if key == "id" else [0.0, 0.0, -1.0]
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2]))):
        action = draw(st.sampled_from(["near"] * 6 + ["drop", "any", "extra"]))
        key = draw(st.sampled_from([k for k in FIELD_VALUES if k in base or k in OPTIONAL[kind] or k == "t"]))
        if action == "drop":
            base.pop(key, None)
        elif action == "near":
            base[key] = draw(FIELD_VALUES[key])
        elif action == "any":
            base[key] = draw(values)
        else:
            base[draw(st.sampled_from(["group", "nme", "up", "value", "name"]))] = draw(values)
    if draw(st.integers(0, 19)) == 0:
        base["type"] = draw(types)
    return base


def _typed(x):
    """A value with its exact types spelled out (1 == 1.0 == True in Python; not on the wire)."""
    if isinstance(x, dict):
        return {k: _typed(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [_typed(v) for v in x])
    return (type(x).__name__, x)


def _same_as_validate(raw) -> None:
    hit = P.fast_update(raw)
    try:
        req = P.validate(raw)
    except ProtocolError:
        assert hit is None, f"fast path accepted what validate rejects: {raw!r}"
        return
    if hit is None:
        return  # declining is always allowed: the generic path handles it
    name, key, fields = hit
    assert req.t is None and name == req.msg.name
    assert req.msg.coalesce_key is not None
    assert key == (name if req.msg.coalesce_key == () else (name, req.fields["name"]))
    assert _typed(fields) == _typed(req.fields), raw
    assert list(fields) == list(req.fields)  # the same key order goes to the audio process


@settings(max_examples=800, deadline=None)
@given(near_updates())
def test_fast_update_agrees_with_validate_near_valid_shapes(raw) -> None:
    _same_as_validate(raw)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([*FIELD_VALUES, "group", "nme"]), values, max_size=6), types)
def test_fast_update_agrees_with_validate_on_arbitrary_maps(raw, kind) -> None:
    raw["type"] = kind
    _same_as_validate(raw)
    raw["v"] = 1
    _same_as_validate(raw)


def _one_field_variants(msg: P.Message):
    """Every field of `msg` (and the envelope) set in turn to values on, just inside and just outside
    its limits, read from the message definition (so a wrong constant in the fast path shows)."""
    for f in msg.fields:
        if f.kind == "vec3":
            for i in range(3):
                edges = (f.lo, f.hi, math.nextafter(f.lo, -math.inf), math.nextafter(f.hi, math.inf))
                for x in (
                    *edges,
                    math.nan,
                    math.inf,
                    -math.inf,
                    0,
                    int(f.hi),
                    int(f.hi) + 1,
                    True,
                    None,
                    "a",
                ):
                    vec = [0.5, -0.5, 1.0]
                    vec[i] = x
                    yield f.name, vec
            for vec in ([], [1.0, 2.0], [1.0, 2.0, 3.0, 4.0], "abc", None, {"x": 1.0}, 3.0):
                yield f.name, vec
        elif f.kind == "number":
            edges = (f.lo, f.hi, math.nextafter(f.lo, -math.inf), math.nextafter(f.hi, math.inf))
            whole = (int(f.lo), int(f.hi), int(f.hi) + 1, int(f.lo) - 1)
            for x in (*edges, *whole, math.nan, math.inf, True, None, "1", [1.0]):
                yield f.name, x
        else:
            for x in ("", "x", "x" * f.max_len, "x" * (f.max_len + 1), 5, None, b"x", ["x"]):
                yield f.name, x
    for key, xs in (("v", [1, True, 1.0, 2, None]), ("id", [None, 0, P.MAX_ID, P.MAX_ID + 1, -1, True, 1.0]),
                    ("t", [None, 0.0, math.nan]), ("bogus", [1.0])):  # fmt: skip
        for x in xs:
            yield key, x


BASES = [
    {"v": 1, "type": "object", "name": "car1", "position": [1.0, 0.0, -2.0]},
    {
        "v": 1,
        "type": "object",
        "name": "car1",
        "position": [1.0, 0.0, -2.0],
        "forward": [0.0, 0.0, -1.0],
        "velocity": [3.0, 0.0, 0.0],
        "id": 7,
    },
    {"v": 1, "type": "set_param", "name": "speed", "value": 0.25},
    {"v": 1, "type": "listener", "position": [0.0, 1.7, 0.0]},
    {
        "v": 1,
        "type": "listener",
        "position": [0.0, 1.7, 0.0],
        "forward": [1.0, 0.0, 0.0],
        "up": [0.0, 1.0, 0.0],
        "velocity": [0.0, 0.0, 0.0],
        "id": 0,
    },
]


@pytest.mark.parametrize("base", BASES, ids=lambda b: f"{b['type']}-{len(b)}")
def test_fast_update_agrees_with_validate_at_every_limit(base) -> None:
    msg = P.MESSAGES[base["type"]]
    n = accepted = 0
    for key, x in _one_field_variants(msg):
        raw = {**base, key: x}
        _same_as_validate(raw)
        n += 1
        accepted += P.fast_update(raw) is not None
    assert n > 30 and accepted > 5  # both sides of the limits were really exercised


def _same_batch_as_validate(raw) -> bool:
    """``fast_batch`` accepts only batches `validate` accepts, with the same items; True if it took it."""
    hit = P.fast_batch(raw)
    try:
        req = P.validate(raw)
    except ProtocolError:
        assert hit is None, f"fast_batch accepted what validate rejects: {raw!r}"
        return False
    if hit is None:
        return False
    assert req.msg.name == "batch" and req.t is None and len(hit) == len(req.items)
    for (name, key, fields), item in zip(hit, req.items, strict=True):
        assert name == item.msg.name
        assert key == (name if item.msg.coalesce_key == () else (name, item.fields["name"]))
        assert _typed(fields) == _typed(item.fields) and list(fields) == list(item.fields)
    return True


@pytest.mark.parametrize("base", [b for b in BASES if "id" not in b], ids=lambda b: b["type"])
def test_fast_batch_agrees_with_validate_at_every_limit(base) -> None:
    good = {"type": "set_param", "name": "speed", "value": 1.0}
    item = {k: v for k, v in base.items() if k != "v"}
    taken = 0
    for key, x in _one_field_variants(P.MESSAGES[base["type"]]):
        if key in ("v", "id", "t"):
            continue
        for items in ([{**item, key: x}], [good, {**item, key: x}, good]):
            taken += _same_batch_as_validate({"v": 1, "type": "batch", "items": items})
    assert taken > 5
    # the envelope, and items that are not bare updates
    for key, xs in (("v", [1, True, 2]), ("id", [None, 0, P.MAX_ID, P.MAX_ID + 1, -1, True]),
                    ("t", [None, 0.0]), ("bogus", [1])):  # fmt: skip
        for x in xs:
            _same_batch_as_validate({"v": 1, "type": "batch", "items": [item, good], key: x})
    for items in ([], [item] * (P.MAX_BATCH + 1), [item] * P.MAX_BATCH, [item, 3], [item, {"type": "trigger",
                  "event": "x"}], [{**item, "type": 8}], "abc", None, [{**item, "v": 1}]):  # fmt: skip
        _same_batch_as_validate({"v": 1, "type": "batch", "items": items})
    assert P.fast_batch({"v": 1, "type": "batch", "items": [item] * P.MAX_BATCH}) is not None


@pytest.mark.parametrize(
    "raw",
    [*BASES, {"v": 1, "type": "set_param", "name": "speed", "value": 3}],
    ids=lambda b: f"{b['type']}-{len(b)}",
)
def test_common_shapes_take_the_fast_path(raw) -> None:
    """The shapes games send (and the benchmark measures) must not fall back to the generic path."""
    assert P.fast_update(raw) is not None
    _same_as_validate(raw)


@pytest.mark.parametrize(
    "raw",
    [
        {"v": 1, "type": "object", "name": "car1", "position": [1.0, 0.0, -2.0], "t": 3.0},  # timed
        {"v": 1, "type": 8, "name": "car1", "position": [1.0, 0.0, -2.0]},  # numeric code
        {"v": 1, "type": "object", "name": "car1", "position": [1, 0, -2]},  # ints: converted by validate
        {"v": True, "type": "set_param", "name": "speed", "value": 0.25},
        {"v": 1, "type": "set_param", "name": "speed", "value": True},
        {"v": 1, "type": "set_param", "name": "speed", "value": math.inf},
        {"v": 1, "type": "listener", "position": [0.0, math.nan, 0.0]},
        {"v": 1, "type": "object", "name": "car1", "position": [1.0, 0.0, -2.0], "id": -1},
    ],
)
def test_unusual_shapes_are_left_to_validate(raw) -> None:
    assert P.fast_update(raw) is None


# ------------------------------------------------------------------------- the server, end to end
SCENE = {"scene": "t", "parameters": {"speed": {"min": 0.0, "max": 10.0}}, "events": ["ping"]}


def _messages() -> list[list[bytes]]:
    """Frames after the DEALER's identity: valid, invalid and oddly framed messages, mixed."""
    pk = msgpack.packb
    out = []
    for i in range(60):
        out.append([pk({"v": 1, "type": "object", "name": f"o{i % 7}", "position": [i * 0.5, 0.0, -1.0]})])
        out.append([pk({"v": 1, "type": "set_param", "name": "speed", "value": (i % 12) * 1.0, "id": i})])
        out.append([pk({"v": 1, "type": "listener", "position": [0.0, 1.0 * i, 0.0], "id": 1000 + i})])
    out += [
        [pk({"v": 1, "type": "set_param", "name": "sped", "value": 1.0, "id": 1})],  # unknown name
        [pk({"v": 1, "type": "set_param", "name": "speed", "value": 11.0, "id": 2})],  # out of range
        [pk({"v": 1, "type": "object", "name": "o1", "position": [1, 2, 3], "id": 3})],  # ints: ok
        [pk({"v": 1, "type": "object", "name": "o1", "position": [1.0, 2.0], "id": 4})],
        [pk({"v": 1, "type": "object", "name": "o1", "position": [1.0, 2.0, 3.0], "t": 1.0, "id": 5})],
        [pk({"v": 1, "type": "listener", "position": [0.0, 0.0, 0.0], "fwd": [0.0, 0.0, 1.0], "id": 6})],
        [pk({"v": 2, "type": "object", "name": "o1", "position": [1.0, 2.0, 3.0], "id": 7})],
        [pk({"v": 1, "type": "trigger", "event": "ping", "id": 8})],
        [b"\xc1"],  # not msgpack
        [b"", pk({"v": 1, "type": "set_param", "name": "speed", "value": 2.0, "id": 9})],  # REQ-style
        [pk({"v": 1, "type": "stats"}), pk({"v": 1, "type": "object", "name": "o1", "position": [0.0] * 3})],
        [msgpack.packb([1, 2, 3])],
        [pk({"v": 1, "type": "object", "name": "o9", "position": [0.0, 0.0, 0.0], "id": 2**32})],
        [
            pk(
                {
                    "v": 1,
                    "type": "batch",
                    "id": 20,
                    "items": [
                        {"type": "object", "name": "o1", "position": [5.0, 0.0, 0.0]},
                        {"type": "set_param", "name": "speed", "value": 4.0},
                        {"type": "listener", "position": [0.0, 0.0, 1.0]},
                    ],
                }
            )
        ],
        [
            pk(
                {
                    "v": 1,
                    "type": "batch",
                    "items": [
                        {"type": "object", "name": f"b{i}", "position": [1.0, 2.0, 3.0]} for i in range(10)
                    ],
                }
            )
        ],
        [
            pk(
                {
                    "v": 1,
                    "type": "batch",
                    "id": 21,
                    "items": [
                        {"type": "object", "name": "o2", "position": [5.0, 0.0, 0.0]},
                        {"type": "set_param", "name": "speed", "value": 40.0},
                    ],
                }
            )
        ],  # out of range: nothing applied
        [
            pk(
                {
                    "v": 1,
                    "type": "batch",
                    "id": 22,
                    "items": [
                        {"type": "object", "name": "o2", "position": [5.0, 0.0, 0.0]},
                        {"type": "set_param", "name": "spede", "value": 4.0},
                    ],
                }
            )
        ],
        [
            pk(
                {
                    "v": 1,
                    "type": "batch",
                    "id": 23,
                    "items": [{"type": "object", "name": "o3", "position": [1, 2, 3]}],
                }
            )
        ],
    ]
    return out


class _Recorder(Server):
    """Keeps the order of replies and flushes (the audio side must get a trigger before its reply)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.log: list[tuple[str, object]] = []

    def _reply(self, envelope, reply) -> None:
        self.log.append(
            ("reply", (reply.get("re"), reply.get("id"), reply.get("code"), reply.get("message")))
        )
        super()._reply(envelope, reply)

    def _flush(self) -> None:
        self.log.append(("flush", [c[0] for c in self._out]))
        super()._flush()


def _run(fast: bool) -> tuple[Server, dict, list, list]:
    ctx = zmq.Context()
    tmp = tempfile.mkdtemp(prefix="fastpath-")
    audio = ctx.socket(zmq.PULL)
    audio.bind(f"ipc://{tmp}/c")
    srv = _Recorder(ctx, bind="tcp://127.0.0.1:0", pub="tcp://127.0.0.1:0", link_out=f"ipc://{tmp}/c",
                    link_in=f"ipc://{tmp}/b", scene_root=None)  # fmt: skip
    srv.set_scene(SCENE)
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.IDENTITY, b"client-1")
    dealer.connect(srv.bind_endpoint)
    try:
        msgs = _messages()
        for m in msgs:
            dealer.send_multipart(m)
        deadline = time.monotonic() + 10
        handled = 0
        while handled < len(msgs) and time.monotonic() < deadline:
            if not srv.router.poll(100):
                continue
            if fast:
                srv._drain_router()
            else:
                while True:
                    try:
                        srv._handle(srv.router.recv_multipart(zmq.NOBLOCK))
                    except zmq.Again:
                        break
                if srv._out:
                    srv._flush()
            handled = srv.counters["received"]
        pending = {k: list(v) for k, v in srv._pending.items()}
        counters = dict(srv.counters)
        replies = []
        while dealer.poll(200):
            replies.append(msgpack.unpackb(dealer.recv_multipart()[-1]))
        log = srv.log
    finally:
        srv.close()
        dealer.close(0)
        audio.close(0)
        ctx.term()
    return srv, {"pending": pending, "counters": counters}, replies, log


def test_fast_drain_equals_generic_handling_over_real_sockets() -> None:
    _, fast_state, fast_replies, fast_log = _run(fast=True)
    _, slow_state, slow_replies, slow_log = _run(fast=False)
    assert fast_state["counters"]["received"] == len(_messages())
    assert fast_state["counters"]["invalid"] >= 9  # the broken ones really were rejected
    assert _typed(fast_state["pending"]) == _typed(slow_state["pending"])
    for key in ("received", "accepted", "invalid", "coalesced", "replies"):
        assert fast_state["counters"][key] == slow_state["counters"][key], key
    assert fast_replies == slow_replies
    assert [e for e in fast_log if e[0] == "reply"] == [e for e in slow_log if e[0] == "reply"]


def test_a_trigger_reaches_the_audio_link_before_its_reply() -> None:
    _, _, replies, log = _run(fast=True)
    assert any(r.get("re") == "trigger" and r.get("type") == "ok" for r in replies)
    i_reply = next(i for i, e in enumerate(log) if e[0] == "reply" and e[1][0] == "trigger")
    i_flush = next(i for i, e in enumerate(log) if e[0] == "flush" and "trigger" in e[1])
    assert i_flush < i_reply
