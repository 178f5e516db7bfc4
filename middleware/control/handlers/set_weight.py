"""``set_weight``: hold a layer's weight (absent or null: hand it back to its rules)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..handler import Handler
from ..runtime_protocol import Runtime


def perform(rt: Runtime, f: Mapping[str, Any], at: int | None) -> Any:
    rt.override(f["layer"], f.get("weight"), at_frame=at)


HANDLER = Handler("set_weight", perform, needs=("override",))
