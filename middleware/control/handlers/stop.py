"""``stop``: stop an event instance, with its release or at once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..handler import Handler, Instances
from ..runtime_protocol import Runtime


def perform(rt: Runtime, f: Mapping[str, Any], at: int | None) -> Any:
    rt.stop(f["instance"], release=f.get("release", True), at_frame=at)


HANDLER = Handler("stop", perform, needs=("stop",), instances=Instances.LIVE, flush=True)
