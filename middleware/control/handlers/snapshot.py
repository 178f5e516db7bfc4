"""``snapshot``: blend a mix snapshot in or out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..handler import Handler
from ..runtime_protocol import Runtime


def perform(rt: Runtime, f: Mapping[str, Any], at: int | None) -> Any:
    rt.snapshot(f["name"], f["on"], at_frame=at)


HANDLER = Handler("snapshot", perform, needs=("snapshot",))
