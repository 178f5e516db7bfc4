"""``trigger``: start an event instance; the result carries the runtime's instance id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..handler import Handler, Instances
from ..runtime_protocol import Runtime


def perform(rt: Runtime, f: Mapping[str, Any], at: int | None) -> Any:
    iid = rt.trigger(
        f["event"],
        position=f.get("position"),
        params=f.get("params"),
        object=f.get("object"),
        switches=f.get("switches"),
        at_frame=at,
    )
    return {"instance": iid}


HANDLER = Handler("trigger", perform, needs=("trigger",), instances=Instances.NEW, flush=True)
