"""Perform a validated protocol request on a runtime: the offline renderer's entry to the message table.

Every message means what its handler in ``control.handlers`` says, whether it arrives over ZeroMQ
(the daemon looks up the same table) or from a timeline file; the ones about the connection
(``hello``, ``stats``, ``sync``) answer from the runtime and change nothing, so an events file may
carry any message a game sends.
"""

from __future__ import annotations

from typing import Any

from ..transport.protocol import Request
from .handlers import HANDLERS
from .runtime_protocol import Runtime


def apply_request(rt: Runtime, req: Request, at_frame: int | None = None) -> Any:
    """Perform ``req`` on ``rt`` (at ``at_frame`` when given); returns the reply's result, if any."""
    if req.items is not None:
        return HANDLERS["batch"].perform(rt, {"items": [(it.name, it.fields) for it in req.items]}, at_frame)
    return HANDLERS[req.name].perform(rt, req.fields, at_frame)
