"""``sync``: a barrier. Requests are performed in order as they come, so nothing earlier is
outstanding once it is reached; the daemon answers it when its audio process gets there."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..handler import Handler, Lane
from ..runtime_protocol import Runtime


def perform(rt: Runtime, f: Mapping[str, Any], at: int | None) -> Any:
    return {}


HANDLER = Handler("sync", perform, needs=(), lane=Lane.BARRIER, flush=True)
