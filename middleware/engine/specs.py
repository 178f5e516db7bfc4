"""Plain descriptions of buses, reverbs and ducking rules (what a scene declares, engine-side).

Frozen so a reload can build new ones and compare them with the old, never mutate in place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import EngineError


def _check_range(owner: str, field: str, value: float, lo: float, hi: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and lo <= value <= hi):
        raise EngineError(f"{owner}: {field}={value!r} must be a number within {lo}..{hi}")


@dataclass(frozen=True)
class ReverbSpec:
    """Freeverb-style reverb on a bus: all values 0..1."""

    room_size: float = 0.7
    damping: float = 0.5
    wet: float = 0.33
    dry: float = 1.0
    width: float = 1.0

    def __post_init__(self) -> None:
        for f in ("room_size", "damping", "wet", "dry", "width"):
            _check_range("reverb", f, getattr(self, f), 0.0, 1.0)


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

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise EngineError(f"bus name {self.name!r} must be a non-empty string")
        _check_range(f"bus '{self.name}'", "gain_db", self.gain_db, -120.0, 24.0)
        for f in ("lowpass_hz", "highpass_hz"):
            v = getattr(self, f)
            if v is not None:
                _check_range(f"bus '{self.name}'", f, v, 10.0, 24000.0)


@dataclass(frozen=True)
class DuckSpec:
    """While ``source``'s level is above ``threshold_db``, ``target`` is lowered by ``amount_db``.

    Like Wwise auto-ducking: a fixed depth while the source speaks, with attack and release times,
    rather than a ratio-based compressor, because designers think "voice lowers ambience by 12 dB".
    """

    source: str
    target: str
    amount_db: float = -12.0
    threshold_db: float = -45.0
    attack: float = 0.05
    release: float = 0.4

    def __post_init__(self) -> None:
        _check_range("duck", "amount_db", self.amount_db, -80.0, 0.0)
        _check_range("duck", "threshold_db", self.threshold_db, -100.0, 0.0)
        _check_range("duck", "attack", self.attack, 0.0, 10.0)
        _check_range("duck", "release", self.release, 0.0, 10.0)
        if self.source == self.target:
            raise EngineError(f"duck: bus '{self.source}' cannot duck itself")
