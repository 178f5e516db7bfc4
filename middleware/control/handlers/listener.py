"""``listener``: move the listener (absent axes keep the runtime's defaults)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..handler import Handler
from ..runtime_protocol import Runtime


def perform(rt: Runtime, f: Mapping[str, Any], at: int | None) -> Any:
    kw = {k: f[k] for k in ("forward", "up", "velocity") if f.get(k) is not None}
    rt.set_listener(f["position"], at_frame=at, **kw)


HANDLER = Handler("listener", perform, needs=("set_listener",))
