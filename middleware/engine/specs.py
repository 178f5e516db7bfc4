"""Plain descriptions of buses, reverbs and ducking rules (what a scene declares, engine-side).

Frozen so a reload can build new ones and compare them with the old, never mutate in place.

Each setting's range is declared once here (``*_BOUNDS``) and its default once, on the dataclass
field. The engine checks against them, and the scene format (``scene/fields.py``) builds its
fields from them, so a value the loader accepts is one the engine takes: they cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..errors import EngineError

if TYPE_CHECKING:
    from .effects import EffectSpec


@dataclass(frozen=True)
class Bounds:
    """The closed range ``lo .. hi`` of one setting, in ``unit``."""

    lo: float
    hi: float
    unit: str = ""

    def check(self, owner: str, field: str, value: Any) -> None:
        """Raise EngineError unless ``value`` is a finite number inside the range."""
        if not (isinstance(value, (int, float)) and math.isfinite(value) and self.lo <= value <= self.hi):
            raise EngineError(f"{owner}: {field}={value!r} must be a number within {self.lo}..{self.hi}")


CUTOFF_HZ = Bounds(10.0, 24000.0, "Hz")

REVERB_BOUNDS: Mapping[str, Bounds] = MappingProxyType(
    {f: Bounds(0.0, 1.0) for f in ("room_size", "damping", "wet", "dry", "width")}
)
BUS_BOUNDS: Mapping[str, Bounds] = MappingProxyType(
    {"gain_db": Bounds(-120.0, 24.0, "dB"), "lowpass_hz": CUTOFF_HZ, "highpass_hz": CUTOFF_HZ}
)
DUCK_BOUNDS: Mapping[str, Bounds] = MappingProxyType(
    {
        "amount_db": Bounds(-96.0, 0.0, "dB"),
        "threshold_db": Bounds(-120.0, 0.0, "dBFS"),
        "attack": Bounds(0.0, 10.0, "s"),
        "release": Bounds(0.0, 30.0, "s"),
    }
)
LOUDNESS_TARGET = Bounds(-60.0, 0.0, "LUFS")
"""Integrated loudness a bus's assets, or the master's automatic gain, aim at."""

# A voice's playback-rate factor (1 = original) is > 0 and at most this: 48 semitones up.
MAX_PITCH_RATIO = 16.0

MAX_SENDS = 4
"""Sends one voice may have (the voice table's columns): a layer's ``sends`` at most this many."""
MAX_ROLLOFF_POINTS = 16
"""Points of a custom distance-attenuation table (the engine's table rows)."""
MAX_EFFECTS = 8
"""Effects in one bus's ``effects`` chain."""
"""Points of a custom distance-attenuation table (the engine's table rows)."""


def defaults(cls: type) -> Mapping[str, Any]:
    """The declared default of every field of dataclass ``cls`` that has one."""
    return MappingProxyType(
        {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
    )


@dataclass(frozen=True)
class ReverbSpec:
    """Freeverb-style reverb on a bus: all values 0..1."""

    room_size: float = 0.5
    damping: float = 0.5
    wet: float = 0.3
    dry: float = 1.0
    width: float = 1.0

    def __post_init__(self) -> None:
        for f, b in REVERB_BOUNDS.items():
            b.check("reverb", f, getattr(self, f))


@dataclass(frozen=True)
class BusSpec:
    """One node of the bus tree. ``parent`` None only for master."""

    name: str
    parent: str | None = "master"
    gain_db: float = 0.0
    lowpass_hz: float | None = None
    highpass_hz: float | None = None
    reverb: ReverbSpec | None = None
    muted: bool = False
    effects: tuple[EffectSpec, ...] = ()
    """The bus's chain after its own filters and reverb, in order (``engine/effects``)."""

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise EngineError(f"bus name {self.name!r} must be a non-empty string")
        for f, b in BUS_BOUNDS.items():
            v = getattr(self, f)
            if v is not None or f == "gain_db":
                b.check(f"bus '{self.name}'", f, v)
        check_chain(f"bus '{self.name}'", self.effects)


def check_chain(owner: str, effects: Any) -> None:
    """A chain is a tuple of EffectSpec whose names are unique (snapshots address effects by name)."""
    from .effects import EffectSpec

    if not isinstance(effects, tuple) or not all(isinstance(e, EffectSpec) for e in effects):
        raise EngineError(f"{owner}: effects must be a tuple of EffectSpec")
    if len(effects) > MAX_EFFECTS:
        raise EngineError(f"{owner}: at most {MAX_EFFECTS} effects, got {len(effects)}")
    names = [e.name for e in effects]
    for n in names:
        if names.count(n) > 1:
            raise EngineError(f"{owner}: two effects named {n!r} (give one a name: to tell them apart)")


@dataclass(frozen=True)
class DuckSpec:
    """While ``source``'s level is above ``threshold_db``, ``target`` is lowered by ``amount_db``.

    Like Wwise auto-ducking: a fixed depth while the source speaks, with attack and release times,
    because designers think "voice lowers ambience by 12 dB". The engine plays it as a compressor
    keyed by ``source`` with the ``depth`` curve and the rms detector (``engine/ducking.py``); these
    ranges are the compressor's too.
    """

    source: str
    target: str
    amount_db: float = -12.0
    threshold_db: float = -45.0
    attack: float = 0.05
    release: float = 0.4

    def __post_init__(self) -> None:
        for f, b in DUCK_BOUNDS.items():
            b.check("duck", f, getattr(self, f))
        if self.source == self.target:
            raise EngineError(f"duck: bus '{self.source}' cannot duck itself")
