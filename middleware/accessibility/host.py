"""Put a player profile into a running scene: the one place the offline renderer and the daemon share.

* the master chain: ``HearingCompensation`` in the engine's master slot ``hearing`` (before the
  limiter), created once; a later profile is handed to it with ``set_profile`` (its EQ is designed in
  the caller's thread, 5-40 ms of numpy: never on the render thread), and it ramps there;
* what depends on the scene (:class:`PlayerSettings`): the player's volumes as the runtime's player
  gain per bus (added on top of what the scene and its snapshots set), the dialogue boost as the
  engine's ducking rules of owner ``player`` (replaced as a whole on each profile, gliding), and the
  preferences as the scene's ``player_<name>`` parameters, which its director reads. The runtime's
  mixer keeps the settings and derives them again for every scene it swaps in (hot reload,
  ``load_scene``; the director host sets the preferences), so a new scene's buses get the player's
  volumes and boost without a new ``profile`` message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..engine.specs import DuckSpec
from .compensation import HearingCompensation
from .mix import player_mix
from .profile import PREFERENCE_PARAM, PREFERENCES, HearingProfile

DUCK_OWNER = "player"
"""The owner of the dialogue boost's ducking rules in the engine (``Engine.set_ducks``)."""

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


def preference_params(profile: HearingProfile, scene: Any) -> dict[str, float]:
    """The scene's preference parameters (``player_<name>``) and their values for ``profile``.

    The amount 0..1 maps linearly onto the parameter's declared range; a preference the profile does
    not give sets the parameter's default (the designer's mix), so switching to a profile without it
    takes the previous player's value back."""
    out = {}
    for pref in PREFERENCES:
        p = scene.parameters.get(PREFERENCE_PARAM.format(pref.name))
        if p is None:
            continue
        amount = profile.preferences.get(pref.name)
        out[p.name] = p.default if amount is None else p.min + amount * (p.max - p.min)
    return out


@dataclass(frozen=True)
class PlayerSettings:
    """What a profile asks of whichever scene plays: derived again for each scene (its buses, its
    parameters), so it is the profile a runtime keeps, not per-bus numbers of a scene it left.
    Satisfies ``scene.mixer.PlayerLayer``; the director host reads ``params`` on a scene swap."""

    profile: HearingProfile

    def bus_gain_db(self, scene: Any) -> Mapping[str, float]:
        return player_mix(self.profile, bus_parents(scene)).bus_gain_db

    def ducks(self, scene: Any) -> tuple[DuckSpec, ...]:
        return player_mix(self.profile, bus_parents(scene)).ducks

    def set_ducks(self, engine: Any, scene: Any) -> None:
        """The dialogue boost for ``scene``'s buses, replacing the previous profile's (it glides)."""
        engine.set_ducks(DUCK_OWNER, self.ducks(scene))

    def params(self, scene: Any) -> dict[str, float]:
        return preference_params(self.profile, scene)


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
    if scene is None:
        return effect  # a daemon without a scene: the master chain is all there is
    settings = PlayerSettings(profile)
    mixer = getattr(runtime, "mixer", None)
    if mixer is not None:
        # Kept by the mixer, which derives the gains and the boost again for the scene playing when
        # the posted gains land, and for every scene swapped in later (hot reload, load_scene).
        mixer.player = settings
    else:
        settings.set_ducks(engine, scene)
    runtime.set_player_gains(settings.bus_gain_db(scene))
    for name, value in settings.params(scene).items():
        runtime.set_param(name, value)
    return effect


def profile_note(profile: HearingProfile) -> dict[str, Any]:
    """What a rendered file's metadata says about the profile applied (transparency)."""
    return {"applied": True, **profile.to_dict()}
