"""``set_param``: a global game parameter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..handler import Handler
from ..runtime_protocol import Runtime


def perform(rt: Runtime, f: Mapping[str, Any], at: int | None) -> Any:
    rt.set_param(f["name"], f["value"], at_frame=at)


HANDLER = Handler("set_param", perform, needs=("set_param",))
