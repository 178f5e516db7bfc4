"""The message table: one handler per protocol message, each in ``handlers/<message>.py``.

The table is built from ``transport.protocol.MESSAGES`` itself: adding a message is its entry in
the protocol's field table plus one module here, named after it, that defines ``HANDLER`` (a
``control.handler.Handler``). A message without its module fails at import, naming the file to add,
so no process can start that would not know what a message means. The offline renderer
(``control.apply``), the daemon's audio process (``AudioSide._apply_one``) and its network process
(``Server._dispatch``) all look messages up here.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from ...transport.protocol import MESSAGES
from ..handler import Handler
from ..runtime_protocol import Runtime


class MissingHandler(LookupError):
    """A protocol message has no handler module."""


def build_table(names: Iterable[str]) -> dict[str, Handler]:
    """Import ``handlers.<name>`` for each message name and collect their ``HANDLER``s."""
    table: dict[str, Handler] = {}
    missing = []
    for name in names:
        module = f"{__name__}.{name}"
        try:
            handler = importlib.import_module(module).HANDLER
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            missing.append(name)
            continue
        if not isinstance(handler, Handler) or handler.message != name:
            raise TypeError(f"{module}.HANDLER must be a Handler for message {name!r}, got {handler!r}")
        table[name] = handler
    if missing:
        raise MissingHandler(
            f"protocol messages without a handler: {', '.join(missing)} "
            f"(add middleware/control/handlers/<message>.py defining HANDLER)"
        )
    return table


HANDLERS: Mapping[str, Handler] = MappingProxyType(build_table(MESSAGES))


def perform(rt: Runtime, name: str, fields: Mapping[str, Any], at_frame: int | None = None) -> Any:
    """Perform message ``name`` (validated ``fields``) on ``rt``; returns the reply's result, if any."""
    return HANDLERS[name].perform(rt, fields, at_frame)
