"""``stats``: live counters (a runtime alone has only its scene's)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..handler import Handler, Lane, NetworkSide
from ..runtime_protocol import Runtime


def perform(rt: Runtime, f: Mapping[str, Any], at: int | None) -> Any:
    return {"stats": {"scene": rt.telemetry()}}


def answer(net: NetworkSide, f: Mapping[str, Any], client: int) -> dict[str, Any]:
    return {"stats": net.stats()}


HANDLER = Handler("stats", perform, needs=("telemetry",), lane=Lane.LOCAL, answer=answer)
