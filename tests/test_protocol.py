"""The protocol table: validation of every message, error codes and fields, docs and schema in sync.

These run in-process against ``middleware.transport.protocol`` (no sockets); the live daemon is
tested in test_daemon.py.
"""

from __future__ import annotations

import math
from pathlib import Path

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from middleware.errors import ProtocolError
from middleware.transport import protocol as P

DOC = Path(__file__).resolve().parents[1] / "docs" / "protocol.md"


def enc(obj) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def err(obj) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        P.decode(obj if isinstance(obj, bytes) else enc(obj))
    return info.value


def test_every_example_validates_and_round_trips():
    for m in P.MESSAGES.values():
        req = P.decode(enc(m.example))
        assert req.msg is m
        assert req.id == m.example.get("id")


def test_numeric_type_codes_are_accepted_and_stable():
    # Codes are append-only: these are the published numbers, never renumbered.
    expected = {
        "hello": 1, "set_param": 2, "set_state": 3, "set_switch": 4, "trigger": 5, "stop": 6, "listener": 7,
        "object": 8, "snapshot": 9, "load_scene": 10, "stats": 11, "batch": 12, "sync": 13,
        "say": 14, "stinger": 15, "set_weight": 16, "profile": 17,
    }  # fmt: skip
    assert {m.name: m.code for m in P.MESSAGES.values()} == expected
    req = P.decode(enc({"v": 1, "type": 2, "name": "x", "value": 1}))
    assert req.name == "set_param" and req.fields == {"name": "x", "value": 1.0}


def test_defaults_are_filled_and_types_normalised():
    req = P.decode(enc({"v": 1, "type": "listener", "position": [1, 2, 3]}))
    assert req.fields["position"] == (1.0, 2.0, 3.0)
    assert req.fields["forward"] == (0.0, 0.0, -1.0) and req.fields["up"] == (0.0, 1.0, 0.0)
    assert P.decode(enc({"v": 1, "type": "stop", "instance": 3})).fields["release"] is True


@pytest.mark.parametrize(
    ("msg", "code", "where"),
    [
        ({"type": "hello"}, "bad_version", "v"),
        ({"v": 2, "type": "hello"}, "bad_version", "v"),
        ({"v": True, "type": "hello"}, "bad_version", "v"),
        ({"v": 1}, "missing_field", "type"),
        ({"v": 1, "type": "set_parm", "name": "a", "value": 1}, "unknown_type", "type"),
        ({"v": 1, "type": 99}, "unknown_type", "type"),
        ({"v": 1, "type": "set_param", "name": "a"}, "missing_field", "value"),
        ({"v": 1, "type": "set_param", "name": "a", "value": "1"}, "wrong_type", "value"),
        ({"v": 1, "type": "set_param", "name": "a", "value": True}, "wrong_type", "value"),
        ({"v": 1, "type": "set_param", "name": "a", "value": math.nan}, "not_finite", "value"),
        ({"v": 1, "type": "set_param", "name": "a", "value": -math.inf}, "not_finite", "value"),
        ({"v": 1, "type": "set_param", "name": "a", "value": 1e300}, "out_of_range", "value"),
        ({"v": 1, "type": "set_param", "name": "", "value": 1}, "too_long", "name"),
        ({"v": 1, "type": "set_param", "name": "x" * 129, "value": 1}, "too_long", "name"),
        ({"v": 1, "type": "set_param", "name": 5, "value": 1}, "wrong_type", "name"),
        ({"v": 1, "type": "set_param", "name": "a", "value": 1, "vaule": 2}, "unknown_field", "vaule"),
        ({"v": 1, "type": "object", "name": "a", "position": [1, 2]}, "wrong_type", "position"),
        ({"v": 1, "type": "object", "name": "a", "position": [1, math.nan, 2]}, "not_finite", "position[1]"),
        ({"v": 1, "type": "object", "name": "a", "position": [1, 2, 2e6]}, "out_of_range", "position[2]"),
        ({"v": 1, "type": "object", "name": "a", "position": "1,2,3"}, "wrong_type", "position"),
        ({"v": 1, "type": "stop", "instance": 0}, "out_of_range", "instance"),
        ({"v": 1, "type": "stop", "instance": 1.5}, "wrong_type", "instance"),
        ({"v": 1, "type": "stop", "instance": 1, "release": 1}, "wrong_type", "release"),
        ({"v": 1, "type": "trigger", "event": "e", "params": {"a": "x"}}, "wrong_type", "params.a"),
        ({"v": 1, "type": "trigger", "event": "e", "params": {str(i): 1 for i in range(40)}},
         "too_long", "params"),
        ({"v": 1, "type": "trigger", "event": "e", "switches": {"surface": 3}},
         "wrong_type", "switches.surface"),
        ({"v": 1, "type": "trigger", "event": "e", "switches": ["surface"]}, "wrong_type", "switches"),
        ({"v": 1, "type": "hello", "id": -1}, "wrong_type", "id"),
        ({"v": 1, "type": "hello", "id": 2**40}, "wrong_type", "id"),
        ({"v": 1, "type": "hello", "t": math.nan}, "not_finite", "t"),
        ({"v": 1, "type": "batch"}, "missing_field", "items"),
        ({"v": 1, "type": "batch", "items": []}, "too_long", "items"),
        ({"v": 1, "type": "batch", "items": [{"type": "hello"}]}, "wrong_type", "items[0].type"),
        ({"v": 1, "type": "batch", "items": [{"type": "set_param", "name": "a", "value": 1, "id": 3}]},
         "unknown_field", "items[0].id"),
        ({"v": 1, "type": "batch", "items": [{"type": "stop", "instance": 1}, 5]}, "wrong_type", "items[1]"),
        ({"v": 1, "type": "batch", "items": [{"type": "stop", "instance": 1}, {"type": "stop"}]},
         "missing_field", "items[1].instance"),
    ],
)  # fmt: skip
def test_bad_messages_name_code_and_field(msg, code, where):
    e = err(msg)
    assert e.code == code, str(e)
    assert e.where == where, str(e)
    assert e.code in P.ERROR_CODES
    assert len(str(e)) > 10


def test_did_you_mean_hints():
    assert "did you mean 'set_param'" in str(err({"v": 1, "type": "set_parm"}))
    assert "did you mean 'value'" in str(
        err({"v": 1, "type": "set_param", "name": "a", "value": 1, "valeu": 1})
    )


def test_malformed_frames():
    assert err(b"\xc1").code == "bad_msgpack"  # never-used msgpack byte
    assert err(enc({"v": 1})[:-1]).code == "bad_msgpack"  # truncated
    assert err(enc({"v": 1, "type": "hello"}) + b"\x00").code == "bad_msgpack"  # trailing data
    assert err(b"").code == "bad_msgpack"
    assert err(enc([1, 2])).code == "not_a_map"
    assert err(enc({1: 2})).code == "not_a_map"  # a map, but its key is not a string (as documented)
    ext = msgpack.packb(msgpack.ExtType(5, b"abc"))
    assert err(ext).code == "wrong_type"
    deep = b"\x91" * 100_000 + b"\xc0"  # 100k nested arrays
    assert err(deep).code in ("bad_msgpack", "not_a_map")


def test_catalog_checks_names_and_ranges():
    cat = P.Catalog.from_describe(
        {
            "name": "s",
            "parameters": {"intensity": {"min": 0.0, "max": 1.0, "default": 0.0}},
            "states": {"weather": ["clear", "rain"]},
            "switches": {"surface": {"values": ["grass"]}},
            "events": ["door"],
            "snapshots": ["underwater"],
        }
    )

    def check(msg):
        with pytest.raises(ProtocolError) as info:
            cat.check(P.decode(enc({"v": 1, **msg})))
        return info.value

    e = check({"type": "set_param", "name": "intensty", "value": 0.5})
    assert (e.code, e.where) == ("unknown_name", "name") and "did you mean 'intensity'" in str(e)
    e = check({"type": "set_param", "name": "intensity", "value": 1.5})
    assert (e.code, e.where) == ("out_of_range", "value") and "0..1" in str(e)
    assert check({"type": "set_state", "group": "weather", "value": "snow"}).where == "value"
    assert check({"type": "set_state", "group": "wether", "value": "rain"}).where == "group"
    assert check({"type": "set_switch", "group": "surface", "value": "ice"}).code == "unknown_name"
    assert check({"type": "trigger", "event": "dor"}).where == "event"
    assert check({"type": "trigger", "event": "door", "switches": {"surfce": "grass"}}).where == "switches"
    e = check({"type": "trigger", "event": "door", "switches": {"surface": "ice"}})
    assert (e.code, e.where) == ("unknown_name", "switches.surface")
    assert check({"type": "snapshot", "name": "x", "on": True}).where == "name"
    cat.check(P.decode(enc({"v": 1, "type": "set_param", "name": "intensity", "value": 1.0})))
    cat.check(P.decode(enc({"v": 1, "type": "object", "name": "anything", "position": [0, 0, 0]})))


def test_docs_embed_the_generated_reference():
    text = DOC.read_text(encoding="utf-8")
    start = text.index(P.BEGIN_MARK) + len(P.BEGIN_MARK)
    end = text.index(P.END_MARK)
    assert text[start:end].strip() == P.messages_markdown().strip(), (
        "docs/protocol.md is stale: run python -m middleware.transport.protocol --update-doc docs/protocol.md"
    )
    for m in P.MESSAGES.values():
        assert f"### `{m.name}` (code {m.code})" in text


def test_json_schema_agrees_with_the_validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = P.json_schema()
    validator = jsonschema.Draft202012Validator(schema)
    for m in P.MESSAGES.values():
        assert not list(validator.iter_errors(m.example)), m.name
    assert list(validator.iter_errors({"v": 1, "type": "set_param", "name": "a", "value": "x"}))
    assert list(validator.iter_errors({"v": 1, "type": "set_param", "name": "a", "value": 1, "extra": 1}))


# ------------------------------------------------------------------------------------ fuzzing
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=20),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _mutations():
    keys = st.sampled_from(["v", "type", "id", "t", "name", "value", "position", "items", "event", "instance",
                            "group", "on", "params", "forward", "release", "zzz"])  # fmt: skip
    messages = st.sampled_from(list(P.MESSAGES.values()))
    return st.tuples(messages, st.lists(st.tuples(keys, _values), max_size=3), st.lists(keys, max_size=2))


def _mutate(base: dict, sets, drops) -> dict:
    msg = dict(base)
    for k, v in sets:
        msg[k] = v
    for k in drops:
        msg.pop(k, None)
    return msg


def _only_protocol_errors(payload: bytes) -> None:
    try:
        req = P.decode(payload)
    except ProtocolError as e:
        assert e.code in P.ERROR_CODES
        return
    # Accepted: every field must have its declared kind and be finite.
    for f in req.msg.fields:
        if f.name in req.fields and f.kind in ("number", "vec3"):
            vals = req.fields[f.name] if f.kind == "vec3" else (req.fields[f.name],)
            assert all(isinstance(x, float) and math.isfinite(x) for x in vals)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_values)
def test_fuzz_random_values_never_crash(value):
    _only_protocol_errors(msgpack.packb(value, use_bin_type=True))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations())
def test_fuzz_mutated_messages_never_crash(mut):
    m, sets, drops = mut
    _only_protocol_errors(msgpack.packb(_mutate(m.example, sets, drops), use_bin_type=True))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.integers(min_value=0, max_value=60))
def test_fuzz_corrupted_bytes_never_crash(noise, cut):
    base = enc(P.MESSAGES["trigger"].example)
    _only_protocol_errors(base[:cut] + noise)
