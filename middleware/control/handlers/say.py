"""``say``: speak a character line. At once here (``prepare_line`` then ``play_line``); the daemon
synthesises on its audio process's main thread and plays on the render thread."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..handler import Handler, Lane
from ..runtime_protocol import Runtime


def perform(rt: Runtime, f: Mapping[str, Any], at: int | None) -> Any:
    return rt.say(
        f["text"],
        f.get("preset", "neutral"),
        emitter=f.get("emitter"),
        position=f.get("position"),
        at_frame=at,
    )


HANDLER = Handler("say", perform, needs=("say", "prepare_line", "play_line"), lane=Lane.PREPARED, spoken=True)
