"""``profile``: the player's hearing profile and volumes. Applied at once here (an offline render
applies its timeline between blocks); the daemon designs the EQ on its audio process's main thread."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..handler import Handler, Lane
from ..runtime_protocol import Runtime


def perform(rt: Runtime, f: Mapping[str, Any], at: int | None) -> Any:
    from ...accessibility.host import apply_player_profile, hearing_of
    from ...accessibility.profile import profile_from_dict

    apply_player_profile(rt.engine, rt, profile_from_dict(f), hearing_of(rt.engine))


HANDLER = Handler(
    "profile", perform, needs=("engine", "scene", "set_player_gains", "set_param"), lane=Lane.PREPARED
)
