"""``set_switch``: a switch value, globally or for one game object."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..handler import Handler
from ..runtime_protocol import Runtime


def perform(rt: Runtime, f: Mapping[str, Any], at: int | None) -> Any:
    rt.set_switch(f["group"], f["value"], object=f.get("object"), at_frame=at)


HANDLER = Handler("set_switch", perform, needs=("set_switch",))
