"""Which call of each client sends which protocol message, checked against the protocol table.

The protocol table (``middleware.transport.protocol.MESSAGES``) is the contract; every client must
offer every message in it, and every message that may be batched as a batch item. Two checks keep
the clients from drifting away from it, both derived from the table at test time:

* :func:`source_gaps` (tests/test_bindings_sources.py, no toolchain needed): :data:`BINDINGS`
  declares, per client, the call(s) that send each message; the declaration must name exactly the
  table's messages, each call must be defined in the client's source and named in its guide, and
  the messages the source actually encodes (the type literal handed to its encoder) must be
  exactly the table's, and every field name of the table must be written somewhere in it;
* :func:`wire_gaps` (tests/test_bindings_conformance.py): what a client put on the wire during the
  conformance script must contain every message and every field of the table, and every batchable
  message as a batch item.

So a message added to the table fails both until every client sends it (and the script does).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from middleware.transport import protocol as P

ROOT = Path(__file__).resolve().parents[2]


def client_messages(table: Mapping[str, P.Message] | None = None) -> list[str]:
    """The messages a client sends: the whole table (the daemon has no other inbound messages)."""
    return list((P.MESSAGES if table is None else table).keys())


def batch_messages(table: Mapping[str, P.Message] | None = None) -> list[str]:
    """The messages that may be items of a ``batch``."""
    return [m.name for m in (P.MESSAGES if table is None else table).values() if m.in_batch]


# ------------------------------------------------------------------------------------ declared
@dataclass(frozen=True)
class Binding:
    """One client: where its calls are defined, how to find them and what it encodes.

    ``calls``/``items`` map a message to the call(s) sending it as a message / adding it to a batch.
    ``define`` is a regex template (``{name}``) matching a call's definition in ``source``;
    ``encode``/``encode_item`` are regexes whose group 1 is the message type literal handed to the
    encoder. ``scopes`` optionally narrows item calls to a part of the source (a class body).
    """

    source: str
    guide: str | None
    define: str
    encode: str
    encode_item: str
    calls: dict[str, tuple[str, ...]]
    items: dict[str, tuple[str, ...]]
    item_scope: tuple[str, str] | None = None  # (start marker, end marker) of the batch class
    call_scope: tuple[str, str] | None = None
    extra_sources: tuple[str, ...] = field(default_factory=tuple)


BINDINGS: dict[str, Binding] = {
    "C": Binding(
        source="bindings/c/soundscape.c",
        extra_sources=("bindings/c/soundscape.h",),
        guide="docs/c.md",
        define=r"^\w[\w ]*\**\s*\b{name}\(",  # a definition starts at column 0; calls are indented
        encode=r'\bbegin\(c, "(\w+)"',
        encode_item=r'\bITEM\("(\w+)"',
        calls={
            "hello": ("ss_hello",),
            "set_param": ("ss_set_param",),
            "set_state": ("ss_set_state",),
            "set_switch": ("ss_set_switch",),
            "trigger": ("ss_trigger", "ss_trigger_nowait", "ss_trigger_ex", "ss_trigger_ex_nowait"),
            "stop": ("ss_stop",),
            "listener": ("ss_listener",),
            "object": ("ss_object",),
            "snapshot": ("ss_snapshot",),
            "load_scene": ("ss_load_scene",),
            "stats": ("ss_stats",),
            "batch": ("ss_batch_begin", "ss_batch_send"),
            "sync": ("ss_sync",),
            "say": ("ss_say",),
            "stinger": ("ss_stinger",),
            "set_weight": ("ss_set_weight",),
            "profile": ("ss_profile",),
        },
        items={
            "set_param": ("ss_batch_set_param",),
            "set_state": ("ss_batch_set_state",),
            "set_switch": ("ss_batch_set_switch",),
            "trigger": ("ss_batch_trigger", "ss_batch_trigger_ex"),
            "stop": ("ss_batch_stop",),
            "listener": ("ss_batch_listener",),
            "object": ("ss_batch_object",),
            "snapshot": ("ss_batch_snapshot",),
            "say": ("ss_batch_say",),
            "stinger": ("ss_batch_stinger",),
            "set_weight": ("ss_batch_set_weight",),
        },
    ),
    "C#": Binding(
        source="bindings/unity/Runtime/Core/SoundscapeClient.cs",
        guide="docs/unity.md",
        define=r"\bpublic [\w<>?, ]+ {name}\(",
        encode=r'\bBegin\("(\w+)"',
        encode_item=r'\bItem\("(\w+)"',
        call_scope=("public sealed class SoundscapeClient", None),
        item_scope=("public sealed class SoundscapeBatch", "public sealed class SoundscapeClient"),
        calls={
            "hello": ("Hello",),
            "set_param": ("SetParam",),
            "set_state": ("SetState",),
            "set_switch": ("SetSwitch",),
            "trigger": ("Trigger", "TriggerNoReply"),
            "stop": ("Stop",),
            "listener": ("Listener",),
            "object": ("Object",),
            "snapshot": ("Snapshot",),
            "load_scene": ("LoadScene",),
            "stats": ("Stats",),
            "batch": ("Batch",),
            "sync": ("Sync",),
            "say": ("Say",),
            "stinger": ("Stinger",),
            "set_weight": ("SetWeight",),
            "profile": ("Profile",),
        },
        items={
            "set_param": ("SetParam",),
            "set_state": ("SetState",),
            "set_switch": ("SetSwitch",),
            "trigger": ("Trigger",),
            "stop": ("Stop",),
            "listener": ("Listener",),
            "object": ("Object",),
            "snapshot": ("Snapshot",),
            "say": ("Say",),
            "stinger": ("Stinger",),
            "set_weight": ("SetWeight",),
        },
    ),
    "GDScript": Binding(
        source="bindings/godot/addons/soundscape/client.gd",
        guide="docs/godot.md",
        define=r"^(?:static )?func {name}\(",
        encode=r'\b_(?:send|request)\("(\w+)"',
        encode_item=r'\bitem\("(\w+)"',
        calls={
            "hello": ("hello",),
            "set_param": ("set_param",),
            "set_state": ("set_state",),
            "set_switch": ("set_switch",),
            "trigger": ("trigger", "trigger_no_reply"),
            "stop": ("stop",),
            "listener": ("listener",),
            "object": ("set_object",),
            "snapshot": ("snapshot",),
            "load_scene": ("load_scene",),
            "stats": ("stats",),
            "batch": ("send_batch",),
            "sync": ("sync",),
            "say": ("say",),
            "stinger": ("stinger",),
            "set_weight": ("set_weight",),
            "profile": ("profile",),
        },
        items={
            "set_param": ("batch_set_param",),
            "set_state": ("batch_set_state",),
            "set_switch": ("batch_set_switch",),
            "trigger": ("batch_trigger",),
            "stop": ("batch_stop",),
            "listener": ("batch_listener",),
            "object": ("batch_object",),
            "snapshot": ("batch_snapshot",),
            "say": ("batch_say",),
            "stinger": ("batch_stinger",),
            "set_weight": ("batch_set_weight",),
        },
    ),
}
"""The three engine bindings. The Python client (the reference) is checked by :func:`python_gaps`."""

PYTHON_CALLS: dict[str, tuple[str, ...]] = {
    "hello": ("hello",),
    "set_param": ("set_param",),
    "set_state": ("set_state",),
    "set_switch": ("set_switch",),
    "trigger": ("trigger",),
    "stop": ("stop",),
    "listener": ("listener",),
    "object": ("object",),
    "snapshot": ("snapshot",),
    "load_scene": ("load_scene",),
    "stats": ("stats",),
    "batch": ("batch",),
    "sync": ("sync",),
    "say": ("say",),
    "stinger": ("stinger",),
    "set_weight": ("set_weight",),
    "profile": ("profile",),
}
"""``middleware.client.Client`` methods; its ``Batch`` has a method named like each batchable message."""


def _strip_comments(text: str, language: str) -> str:
    if language == "GDScript":
        return re.sub(r"#[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def _scope(text: str, scope: tuple[str, str | None] | None) -> str:
    if scope is None:
        return text
    start, end = scope
    i = text.index(start)
    j = text.index(end, i) if end else len(text)
    return text[i:j]


def _compare(what: str, got: set[str], want: list[str]) -> list[str]:
    out = [f"{what}: no {m!r} (the protocol table has it)" for m in want if m not in got]
    out += [f"{what}: {m!r} is not in the protocol table" for m in sorted(got - set(want))]
    return out


def source_gaps(
    language: str, binding: Binding, table: Mapping[str, P.Message] | None = None, root: Path = ROOT
) -> list[str]:
    """Everything that keeps ``binding`` from offering exactly the table's messages (empty: none)."""
    want, want_items = client_messages(table), batch_messages(table)
    text = _strip_comments((root / binding.source).read_text(encoding="utf-8"), language)
    headers = "".join(
        _strip_comments((root / p).read_text(encoding="utf-8"), language) for p in binding.extra_sources
    )
    gaps = _compare(f"{language}: declared calls", set(binding.calls), want)
    gaps += _compare(f"{language}: declared batch items", set(binding.items), want_items)
    encoded = set(re.findall(binding.encode, text))
    gaps += _compare(f"{language}: messages encoded in {binding.source}", encoded, want)
    encoded_items = set(re.findall(binding.encode_item, text))
    gaps += _compare(f"{language}: batch items encoded in {binding.source}", encoded_items, want_items)
    for m in (P.MESSAGES if table is None else table).values():
        gaps += [
            f"{language}: field {f.name!r} of {m.name!r} is never written in {binding.source}"
            for f in m.fields
            if f'"{f.name}"' not in text
        ]
    guide = (root / binding.guide).read_text(encoding="utf-8") if binding.guide else None
    for kind, calls, scope in (
        ("call", binding.calls, binding.call_scope),
        ("batch item call", binding.items, binding.item_scope),
    ):
        body = _scope(text, scope)
        for message, names in calls.items():
            for name in names:
                pattern = re.compile(binding.define.format(name=re.escape(name)), re.M)
                for where, src in ((binding.source, body), *((p, headers) for p in binding.extra_sources)):
                    if not pattern.search(src):
                        gaps.append(f"{language}: {kind} {name} (for {message!r}) is not defined in {where}")
                if guide is not None and not re.search(rf"\b{re.escape(name)}\b", guide):
                    gaps.append(
                        f"{language}: {kind} {name} (for {message!r}) is not named in {binding.guide}"
                    )
    return gaps


def python_gaps(table: Mapping[str, P.Message] | None = None, root: Path = ROOT) -> list[str]:
    """The same for the Python client: a ``Client`` method per message, a ``Batch`` one per item."""
    tree = ast.parse((root / "middleware/transport/client.py").read_text(encoding="utf-8"))
    methods = {
        node.name: {f.name for f in node.body if isinstance(f, ast.FunctionDef)}
        for node in tree.body
        if isinstance(node, ast.ClassDef)
    }
    gaps = _compare("Python: declared calls", set(PYTHON_CALLS), client_messages(table))
    for message, names in PYTHON_CALLS.items():
        gaps += [
            f"Python: Client.{n} (for {message!r}) is not defined"
            for n in names
            if n not in methods["Client"]
        ]
    items = methods["Batch"] & set(client_messages(table))
    gaps += _compare("Python: Batch methods", items, batch_messages(table))
    return gaps


# ---------------------------------------------------------------------------------------- wire
def _untyped(value: object) -> object:
    """Undo ``run._typed`` for maps (keys are all we need)."""
    if isinstance(value, dict) and set(value) == {"map"}:
        return {k: _untyped(v) for k, v in value["map"]}
    if isinstance(value, list):
        return [_untyped(v) for v in value]
    return value


def wire_messages(wire: list[str]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """From a run's wire records: {message: fields seen} as messages and as batch items."""
    top: dict[str, set[str]] = {}
    items: dict[str, set[str]] = {}
    for record in wire:
        if not record.startswith("{"):
            continue  # "restart", "INVALID ..."
        msg = _untyped(json.loads(record))
        top.setdefault(msg["type"], set()).update(k for k in msg if k not in P.RESERVED)
        for item in msg.get("items", []) if msg["type"] == "batch" else []:
            items.setdefault(item["type"], set()).update(k for k in item if k != "type")
    return top, items


def wire_gaps(wire: list[str], table: Mapping[str, P.Message] | None = None) -> list[str]:
    """Messages, fields and batch items of the table that a run never put on the wire."""
    table = P.MESSAGES if table is None else table
    top, items = wire_messages(wire)
    gaps = [f"never sent: {m!r}" for m in client_messages(table) if m not in top]
    gaps += [f"never sent as a batch item: {m!r}" for m in batch_messages(table) if m not in items]
    for m in table.values():
        seen = top.get(m.name, set()) | items.get(m.name, set())
        gaps += [f"{m.name}: field {f.name!r} never sent" for f in m.fields if f.name not in seen]
    return gaps
