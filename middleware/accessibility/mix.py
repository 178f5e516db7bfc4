"""A profile's per-group player volumes and dialogue boost, expressed as what the engine already has.

A scene's top-level buses (children of ``master``) are sorted into the profile's groups (``BUS_ROLES``):
by an explicit role when the caller has one (a future scene field ``role:``), else by name
(``ROLE_NAMES``), else ``effects``. :func:`player_mix` then gives

* ``bus_gain_db``: the player's offset per top-level bus, to be added to whatever the scene and its
  snapshots set (it is the player's fader, not the designer's);
* ``ducks``: the dialogue boost as ordinary ducking rules (``engine.specs.DuckSpec``): every dialogue
  bus lowers every other top-level bus by ``dialogue_boost_db`` while a line is playing (above
  ``DuckSpec``'s default threshold), with the engine's usual attack and release ramps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from ..engine.specs import DuckSpec
from .profile import BUS_ROLES, HearingProfile, ProfileError

ROLE_NAMES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "dialogue": ("voice", "voices", "dialogue", "dialog", "speech", "vo", "lines"),
        "music": ("music", "score", "songs"),
        "ambience": ("ambience", "ambiance", "ambient", "ambiences", "atmos", "environment"),
        "effects": ("sfx", "effects", "fx", "footsteps", "foley", "weapons", "ui"),
    }
)
"""Bus names recognised as each group (case-insensitive); any other top-level bus counts as effects."""
DEFAULT_ROLE = "effects"


@dataclass(frozen=True)
class PlayerMix:
    bus_gain_db: Mapping[str, float]
    ducks: tuple[DuckSpec, ...]
    roles: Mapping[str, str]


def bus_roles(parents: Mapping[str, str | None], roles: Mapping[str, str] | None = None) -> dict[str, str]:
    """Group of every top-level bus in ``parents`` (bus name -> parent name, ``master``/None at the top)."""
    explicit = dict(roles or {})
    for bus, role in explicit.items():
        if role not in BUS_ROLES:
            raise ProfileError(f"role {role!r} is not one of {', '.join(BUS_ROLES)}", f"bus {bus}")
    by_name = {alias: role for role, names in ROLE_NAMES.items() for alias in names}
    out = {}
    for bus, parent in parents.items():
        if bus == "master" or parent not in (None, "master"):
            continue
        out[bus] = explicit.get(bus) or by_name.get(bus.casefold(), DEFAULT_ROLE)
    return out


def player_mix(
    profile: HearingProfile, parents: Mapping[str, str | None], roles: Mapping[str, str] | None = None
) -> PlayerMix:
    """The profile's volumes and dialogue boost for a scene whose buses have these ``parents``."""
    role_of = bus_roles(parents, roles)
    gains = {bus: float(profile.volume_db[role]) for bus, role in role_of.items()}
    ducks: list[DuckSpec] = []
    if profile.dialogue_boost_db > 0.0:
        speakers = [b for b, r in role_of.items() if r == "dialogue"]
        ducks = [
            DuckSpec(source=s, target=t, amount_db=-profile.dialogue_boost_db)
            for s in speakers
            for t, r in role_of.items()
            if r != "dialogue"
        ]
    return PlayerMix(MappingProxyType(gains), tuple(ducks), MappingProxyType(role_of))
