"""One message table, one runtime protocol: every message has a handler, every runtime takes every message.

Nothing here lists the messages: they come from ``transport.protocol.MESSAGES``, so a message added
to the protocol fails these tests until it has its handler (``control/handlers/<message>.py``) and
every runtime implements what that handler uses (``control.runtime_protocol.Runtime``).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_runtime_conformance import RUNTIMES, _example, _make

from middleware.control.apply import apply_request
from middleware.control.handler import Handler, Lane
from middleware.control.handlers import HANDLERS, MissingHandler, build_table
from middleware.control.runtime_protocol import Runtime, protocol_members
from middleware.daemon.recording import RecordingRuntime
from middleware.scene.runtime import RuntimeErrorMsg, SceneRuntime
from middleware.transport.protocol import MESSAGES, validate

SR = 48000
MEMBERS = protocol_members(Runtime)


def test_every_protocol_message_has_exactly_one_handler_in_its_own_module() -> None:
    assert list(HANDLERS) == list(MESSAGES)  # built from the protocol's table, in its order
    for name, handler in HANDLERS.items():
        assert isinstance(handler, Handler) and handler.message == name
        assert handler.perform.__module__ == f"middleware.control.handlers.{name}"


def test_a_message_without_a_handler_stops_the_table_and_names_the_file_to_add() -> None:
    with pytest.raises(MissingHandler, match=r"teleport \(add middleware/control/handlers/<message>\.py"):
        build_table([*MESSAGES, "teleport"])


def test_handlers_use_only_what_the_runtime_protocol_declares() -> None:
    undeclared = {name: set(h.needs) - set(MEMBERS) for name, h in HANDLERS.items()}
    assert not {k: v for k, v in undeclared.items() if v}, undeclared


def test_a_lane_that_the_network_process_answers_has_an_answer_and_no_other_does() -> None:
    for name, h in HANDLERS.items():
        assert (h.answer is not None) == (h.lane is Lane.LOCAL), name
    with pytest.raises(ValueError, match="exactly when its lane is LOCAL"):
        Handler("x", lambda rt, f, at: None, needs=(), lane=Lane.LOCAL)


def _params(fn: Any) -> list[tuple[str, inspect._ParameterKind, bool]]:
    """A method's parameters after ``self``: name, kind and whether it has a default."""
    sig = inspect.signature(fn)
    return [(p.name, p.kind, p.default is not p.empty) for p in list(sig.parameters.values())[1:]]


@pytest.mark.parametrize("cls", [SceneRuntime, RecordingRuntime], ids=lambda c: c.__name__)
def test_each_runtime_class_implements_every_method_of_the_protocol_with_its_parameters(cls: type) -> None:
    """Handlers call with keywords: a renamed or missing parameter would fail only when a game sends
    that message, so the parameter lists must match the protocol's (names, kinds, defaults)."""
    wrong = {}
    for name, proto_fn in MEMBERS.items():
        if proto_fn is None:  # an attribute: checked on instances below
            continue
        impl = getattr(cls, name, None)
        if impl is None:
            wrong[name] = "missing"
        elif _params(impl) != _params(proto_fn):
            wrong[name] = f"{_params(impl)} != protocol {_params(proto_fn)}"
    assert not wrong, f"{cls.__name__}: {wrong}"


@pytest.mark.parametrize("kind", RUNTIMES)
def test_each_runtime_instance_has_every_attribute_of_the_protocol(kind: str, tmp_path: Path) -> None:
    rt = _make(kind, tmp_path).runtime
    attrs = [name for name, fn in MEMBERS.items() if fn is None]
    assert attrs == ["engine", "scene", "events"]
    missing = [name for name in attrs if name not in dir(rt)]
    assert not missing, f"{type(rt).__name__} lacks {missing}"
    assert rt.engine.frame >= 0 and isinstance(rt.events, type(rt.events))


class _Spy:
    """A runtime seen through a window that writes down every attribute a handler takes from it."""

    def __init__(self, rt: Any) -> None:
        self._rt = rt
        self.used: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._rt, name)  # raises like the runtime itself for a name it lacks
        self.used.add(name)
        return value


@pytest.mark.parametrize("name", list(MESSAGES))
@pytest.mark.parametrize("kind", RUNTIMES)
def test_every_message_goes_through_the_table_to_each_runtime_using_only_what_its_handler_declares(
    kind: str, name: str, tmp_path: Path
) -> None:
    """Each message's documented example, performed by its handler on a real runtime (a scene
    runtime on a small scene, the recording runtime): what the handler touched of the runtime must
    be among the protocol members it declares (a batch: those of its items' handlers)."""
    player = _make(kind, tmp_path)
    rt = player.runtime
    iid = HANDLERS["trigger"].perform(rt, validate(_example("trigger")).fields, None)["instance"]
    req = validate(_example(name, instance=iid))
    spy = _Spy(rt)
    if kind == "recording" and name == "load_scene":
        with pytest.raises(RuntimeErrorMsg, match="no scene folder"):
            apply_request(spy, req)
    else:
        apply_request(spy, req)
    declared = set(HANDLERS[name].needs)
    for item in req.items or ():
        declared |= set(HANDLERS[item.name].needs)
    assert spy.used & set(MEMBERS) <= declared, (name, spy.used)
    if declared - {"describe", "telemetry"}:  # the connection's messages may answer from the daemon alone
        assert spy.used & declared, f"{name}: its handler reached none of {sorted(declared)}"
    out = player.render(SR // 4)
    assert np.all(np.isfinite(out))
