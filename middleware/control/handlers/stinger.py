"""``stinger``: a music stinger, on its beat or bar."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..handler import Handler
from ..runtime_protocol import Runtime


def perform(rt: Runtime, f: Mapping[str, Any], at: int | None) -> Any:
    rt.stinger(f["name"], at_frame=at)


HANDLER = Handler("stinger", perform, needs=("stinger",))
