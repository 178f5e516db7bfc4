"""Put a player profile into a running scene: the one place the offline renderer and the daemon share.

* the master chain: ``HearingCompensation`` in the engine's master slot ``hearing`` (before the
  limiter), created once; a later profile is handed to it with ``set_profile`` (its EQ is designed in
  the caller's thread, 5-40 ms of numpy: never on the render thread), and it ramps there;
* the player's volumes: ``player_mix``'s bus gains become the runtime's player layer
  (``SceneRuntime.set_player_gains``), added on top of what the scene and its snapshots set.

The dialogue boost (``player_mix``'s ducks) is not applied yet: the engine can add ducking rules but
not remove or replace them, so a profile switch could not take one back (docs/accessibility.md).
"""

from __future__ import annotations

from typing import Any

from .compensation import HearingCompensation
from .mix import player_mix
from .profile import HearingProfile

SLOT = "hearing"
"""The engine's master-effect slot the compensation lives in."""


def bus_parents(scene: Any) -> dict[str, str | None]:
    """Bus name -> parent name of a scene definition (what ``player_mix`` sorts into groups)."""
    return {name: bus.parent for name, bus in scene.buses.items()}


def hearing_of(engine: Any) -> HearingCompensation | None:
    """The compensation already in ``engine``'s master slot, if any (a new profile switches it)."""
    for slot, fx in getattr(getattr(engine, "buses", None), "master_fx", ()):
        if slot == SLOT and isinstance(fx, HearingCompensation):
            return fx
    return None


def apply_player_profile(
    engine: Any, runtime: Any, profile: HearingProfile, effect: HearingCompensation | None = None
) -> HearingCompensation:
    """Apply ``profile`` (call off the render thread); returns the master effect to pass next time."""
    if effect is None:
        # Inserted neutral, then switched: a profile arriving while sound plays glides in over RAMP_S
        # like any later switch (prepared with it, the fold or EQ would start at full on one sample).
        effect = HearingCompensation()
        engine.set_master_effect(SLOT, effect)  # prepares it here
    effect.set_profile(profile)
    scene = getattr(runtime, "scene", None)
    if scene is not None and hasattr(runtime, "set_player_gains"):
        runtime.set_player_gains(player_mix(profile, bus_parents(scene)).bus_gain_db)
    return effect


def profile_note(profile: HearingProfile) -> dict[str, Any]:
    """What a rendered file's metadata says about the profile applied (transparency)."""
    return {"applied": True, **profile.to_dict()}
