"""``hello``: introduce the client; the reply says what the daemon and its scene offer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..handler import Handler, Lane, NetworkSide
from ..runtime_protocol import Runtime


def perform(rt: Runtime, f: Mapping[str, Any], at: int | None) -> Any:
    return {"scene": rt.describe()}


def answer(net: NetworkSide, f: Mapping[str, Any], client: int) -> dict[str, Any]:
    if "name" in f:
        net.name_client(client, f["name"])
    return net.hello()


HANDLER = Handler("hello", perform, needs=("describe",), lane=Lane.LOCAL, answer=answer)
