"""``batch``: its items, in order, each by its own handler (``fields["items"]``: (name, fields) pairs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..handler import Handler, Lane
from ..runtime_protocol import Runtime


def perform(rt: Runtime, f: Mapping[str, Any], at: int | None) -> Any:
    from . import HANDLERS

    return [HANDLERS[name].perform(rt, fields, at) for name, fields in f["items"]]


HANDLER = Handler("batch", perform, needs=(), lane=Lane.BATCH, flush=True)
