"""``set_state``: the value of an exclusive state group."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..handler import Handler
from ..runtime_protocol import Runtime


def perform(rt: Runtime, f: Mapping[str, Any], at: int | None) -> Any:
    rt.set_state(f["group"], f["value"], at_frame=at)


HANDLER = Handler("set_state", perform, needs=("set_state",))
