"""``object``: move a game object; what is attached to it follows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..handler import Handler
from ..runtime_protocol import Runtime


def perform(rt: Runtime, f: Mapping[str, Any], at: int | None) -> Any:
    rt.set_object(f["name"], f["position"], forward=f.get("forward"), velocity=f.get("velocity"), at_frame=at)


HANDLER = Handler("object", perform, needs=("set_object",), object_field="name")
