"""The player profile: what a player (or a game's options menu) says about how they hear and listen.

A profile is a frozen :class:`HearingProfile`, built from a plain mapping by :func:`profile_from_dict`
(what a future protocol message ``profile`` carries, msgpack-able) or from a YAML/JSON file by
:func:`load_profile` (``yaml.safe_load`` only). Every field's range, default and meaning is declared once
in ``FIELDS``; validation, defaults and ``docs/accessibility.md``'s table come from there. Errors are
:class:`ProfileError` and name the field path, the value and what was allowed, plus ``file:line:col``
for files.

Example (YAML)::

    name: grandad
    audiogram:                      # dB HL, each ear, at 250 500 1k 2k 4k 8k Hz
      left:  [15, 20, 30, 45, 60, 70]
      right: {250: 10, 500: 15, 1000: 25, 2000: 40, 4000: 55, 8000: 65}
    prescription: nal-r             # or half-gain
    mono: false
    dynamic_range: night            # full | home | headphones | night
    volume_db: {dialogue: 3, music: -6}
    dialogue_boost_db: 6
    preferences: {ambience: 0.2, startle: 0.9}   # 0..1, 0.5 = as the designer mixed it
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from ..errors import SoundscapeError
from ..hints import did_you_mean
from .prescription import AUDIOGRAM_HZ, MAX_GAIN_CAP_DB, RULES

EARS = ("left", "right")
BUS_ROLES = ("dialogue", "music", "effects", "ambience")
"""Player volume groups; ``compensation``'s integration maps a scene's buses onto them."""


@dataclass(frozen=True)
class DynamicsMode:
    """A dynamic-range mode: keep the short-term loudness within ``lra_lu`` of the programme level.

    Levels outside the window are pulled toward it by ``ratio`` (the loud part down, the quiet part up by
    at most ``max_boost_db``), so the output's loudness range (EBU Tech 3342 LRA) approaches ``lra_lu``.
    ``lra_lu = None`` means no processing.
    """

    lra_lu: float | None
    ratio: float = 1.0
    max_boost_db: float = 0.0


DYNAMIC_MODES: Mapping[str, DynamicsMode] = MappingProxyType(
    {
        # the game's own mix, untouched
        "full": DynamicsMode(None),
        # a living room at normal volume: only the widest swings are tamed (the demo's 7.5 LU passes)
        "home": DynamicsMode(12.0, ratio=3.0, max_boost_db=6.0),
        # earbuds on the move: quiet detail lifted above street noise, loud hits held down
        "headphones": DynamicsMode(6.0, ratio=4.0, max_boost_db=9.0),
        # late at night: hear every line without waking anyone; everything within ~2 LU
        "night": DynamicsMode(2.0, ratio=10.0, max_boost_db=12.0),
    }
)
"""Dynamic-range modes by name and their loudness-range targets (our choice; see docs/accessibility.md)."""


@dataclass(frozen=True)
class Preference:
    """A player preference the scene's director may read (an amount 0..1; 0.5 = as designed).

    A scene that wants it declares a parameter ``player_<name>`` (``PREFERENCE_PARAM``) and lists it
    among its director's inputs; the designer's examples teach the model what it means for that
    scene, and the designer's clamps and locks still apply after the model."""

    name: str
    doc: str
    for_whom: str


PREFERENCES: tuple[Preference, ...] = (
    Preference(
        "ambience",
        "how much of the world's ambience (wind, rain, crowds, room tone) the mix keeps: 0 sparse, 1 rich",
        "players who lose speech and cues in a dense background (hearing loss, ADHD, autism); "
        "players who play for the atmosphere",
    ),
    Preference(
        "music",
        "how much music against the world: 0 little, 1 a lot",
        "players who need the world's sounds to play (hard of hearing, blind players); players who "
        "play for the score",
    ),
    Preference(
        "startle",
        "startle sensitivity: 1 softens sudden loud sounds (thunder, explosions, jump scares), 0 keeps "
        "their full impact",
        "players with PTSD, anxiety, hyperacusis or sensory sensitivity; young children",
    ),
)
PREFERENCE_BY_NAME: Mapping[str, Preference] = MappingProxyType({p.name: p for p in PREFERENCES})
PREFERENCE_PARAM = "player_{}"
"""The scene parameter a preference sets (``player_ambience``); its range maps the amount 0..1."""
PREFERENCE_RANGE = (0.0, 1.0)


@dataclass(frozen=True)
class Field:
    """One profile field: its kind, default, range (numbers, per entry for audiograms/volumes) and meaning."""

    name: str
    kind: str  # text | number | bool | choice | audiogram | volumes | preferences
    default: Any
    lo: float = -math.inf
    hi: float = math.inf
    unit: str = ""
    choices: tuple[str, ...] = ()
    doc: str = ""


FIELDS: tuple[Field, ...] = (
    Field("name", "text", "default", doc="a label for the profile (menus, logs)"),
    Field(
        "audiogram",
        "audiogram",
        None,
        -10.0,
        120.0,
        "dB HL",
        doc=f"hearing thresholds per ear ({', '.join(EARS)}) at {', '.join(map(str, AUDIOGRAM_HZ))} Hz; "
        "absent: no compensation EQ",
    ),
    Field(
        "prescription",
        "choice",
        "nal-r",
        choices=tuple(RULES),
        doc="the fitting rule turning the audiogram into gains",
    ),
    Field(
        "max_gain_db", "number", MAX_GAIN_CAP_DB, 0.0, MAX_GAIN_CAP_DB, "dB", doc="cap on any prescribed gain"
    ),
    Field("mono", "bool", False, doc="fold the mix to mono (one ear, one earbud), keeping its loudness"),
    Field(
        "dynamic_range",
        "choice",
        "full",
        choices=tuple(DYNAMIC_MODES),
        doc="compress toward a loudness-range target (full: off)",
    ),
    Field(
        "volume_db",
        "volumes",
        MappingProxyType({r: 0.0 for r in BUS_ROLES}),
        -60.0,
        12.0,
        "dB",
        doc=f"player volume per bus group ({', '.join(BUS_ROLES)}); missing groups stay at 0 dB",
    ),
    Field(
        "dialogue_boost_db",
        "number",
        0.0,
        0.0,
        24.0,
        "dB",
        doc="how far every other group is lowered while a dialogue line plays",
    ),
    Field(
        "preferences",
        "preferences",
        MappingProxyType({}),
        *PREFERENCE_RANGE,
        choices=tuple(PREFERENCE_BY_NAME),
        doc="amounts 0..1 (0.5 = as designed) that a scene's director reads as inputs; missing ones "
        "leave the scene's default",
    ),
)
FIELD_BY_NAME: Mapping[str, Field] = MappingProxyType({f.name: f for f in FIELDS})


class ProfileError(SoundscapeError):
    """A profile is invalid; ``where`` is the field path (``audiogram.left.4000``) or ``file:line:col``."""

    def __init__(self, message: str, where: str = "") -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where
        self.path = where


def _default(name: str) -> Any:
    return FIELD_BY_NAME[name].default


@dataclass(frozen=True)
class HearingProfile:
    """A validated player profile (defaults from ``FIELDS``). Audiograms are dB HL at ``AUDIOGRAM_HZ``."""

    name: str = _default("name")
    audiogram: Mapping[str, tuple[float, ...]] | None = _default("audiogram")
    prescription: str = _default("prescription")
    max_gain_db: float = _default("max_gain_db")
    mono: bool = _default("mono")
    dynamic_range: str = _default("dynamic_range")
    volume_db: Mapping[str, float] = field(default_factory=lambda: _default("volume_db"))
    dialogue_boost_db: float = _default("dialogue_boost_db")
    preferences: Mapping[str, float] = field(default_factory=lambda: _default("preferences"))

    @property
    def dynamics(self) -> DynamicsMode:
        return DYNAMIC_MODES[self.dynamic_range]

    def to_dict(self) -> dict[str, Any]:
        """A plain, msgpack-able mapping that :func:`profile_from_dict` reads back to an equal profile."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in FIELDS}
        if self.audiogram is not None:
            out["audiogram"] = {ear: list(v) for ear, v in self.audiogram.items()}
        out["volume_db"] = dict(self.volume_db)
        out["preferences"] = dict(self.preferences)
        return out


def _number(fld: Field, value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ProfileError(
            f"{value!r} must be a number within {fld.lo:g}..{fld.hi:g} {fld.unit}".rstrip(), where
        )
    if not fld.lo <= value <= fld.hi:
        raise ProfileError(f"{value!r} is outside {fld.lo:g}..{fld.hi:g} {fld.unit}".rstrip(), where)
    return float(value)


def _ear(fld: Field, value: Any, where: str) -> tuple[float, ...]:
    if isinstance(value, (list, tuple)):
        if len(value) != len(AUDIOGRAM_HZ):
            raise ProfileError(
                f"{len(value)} thresholds given; needs {len(AUDIOGRAM_HZ)}, at {list(AUDIOGRAM_HZ)} Hz", where
            )
        return tuple(_number(fld, v, f"{where}.{f}") for f, v in zip(AUDIOGRAM_HZ, value, strict=True))
    if isinstance(value, Mapping):
        by_hz: dict[int, Any] = {}
        for k, v in value.items():
            try:
                hz = int(k)
            except (TypeError, ValueError):
                hz = -1
            if hz not in AUDIOGRAM_HZ or isinstance(k, bool):
                raise ProfileError(f"frequency {k!r} is not one of {list(AUDIOGRAM_HZ)} Hz", f"{where}.{k}")
            by_hz[hz] = v
        missing = [f for f in AUDIOGRAM_HZ if f not in by_hz]
        if missing:
            raise ProfileError(f"missing thresholds at {missing} Hz", where)
        return tuple(_number(fld, by_hz[f], f"{where}.{f}") for f in AUDIOGRAM_HZ)
    raise ProfileError(
        f"{value!r} must be a list of {len(AUDIOGRAM_HZ)} thresholds or a map Hz -> dB HL", where
    )


def _value(fld: Field, value: Any, where: str) -> Any:
    if fld.kind == "text":
        if not isinstance(value, str) or not 0 < len(value) <= 128:
            raise ProfileError(f"{value!r} must be a text of 1..128 characters", where)
        return value
    if fld.kind == "number":
        return _number(fld, value, where)
    if fld.kind == "bool":
        if not isinstance(value, bool):
            raise ProfileError(f"{value!r} must be true or false", where)
        return value
    if fld.kind == "choice":
        if value not in fld.choices:
            raise ProfileError(
                f"{value!r} is not allowed; {did_you_mean(value, fld.choices, 'allowed')}", where
            )
        return value
    if fld.kind == "audiogram":
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise ProfileError(f"must be a map with {' and '.join(EARS)}", where)
        for ear in value:
            if ear not in EARS:
                raise ProfileError(
                    f"unknown ear {ear!r}; {did_you_mean(ear, EARS, 'ears')}", f"{where}.{ear}"
                )
        missing = [e for e in EARS if e not in value]
        if missing:
            raise ProfileError(f"missing ear(s) {missing}: give both {' and '.join(EARS)}", where)
        return MappingProxyType({ear: _ear(fld, value[ear], f"{where}.{ear}") for ear in EARS})
    if fld.kind == "preferences":
        if not isinstance(value, Mapping):
            raise ProfileError(f"must be a map of {', '.join(fld.choices)} to an amount 0..1", where)
        prefs = {}
        for name, v in value.items():
            if name not in fld.choices:
                raise ProfileError(
                    f"unknown preference {name!r}; {did_you_mean(name, fld.choices, 'preferences')}",
                    f"{where}.{name}",
                )
            prefs[name] = _number(fld, v, f"{where}.{name}")
        return MappingProxyType(prefs)
    # volumes
    if not isinstance(value, Mapping):
        raise ProfileError(f"must be a map of {', '.join(BUS_ROLES)} to dB", where)
    out = dict(fld.default)
    for role, v in value.items():
        if role not in BUS_ROLES:
            raise ProfileError(
                f"unknown group {role!r}; {did_you_mean(role, BUS_ROLES, 'groups')}", f"{where}.{role}"
            )
        out[role] = _number(fld, v, f"{where}.{role}")
    return MappingProxyType(out)


def profile_from_dict(data: Any, where: str = "") -> HearingProfile:
    """Validate a plain mapping (a file's content or a ``profile`` message) into a profile.

    Missing fields take their declared default; unknown ones are refused (with a close match if any).
    ``where`` prefixes error paths (for example ``profile`` for a protocol message).
    """
    if not isinstance(data, Mapping):
        raise ProfileError(f"a profile must be a map of fields, got {type(data).__name__}", where)
    pre = f"{where}." if where else ""
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in FIELD_BY_NAME:
            raise ProfileError(
                f"unknown field {key!r}; {did_you_mean(key, FIELD_BY_NAME, 'fields')}", f"{pre}{key}"
            )
        values[key] = _value(FIELD_BY_NAME[key], value, f"{pre}{key}")
    return HearingProfile(**values)


def _mark_of(text: str, path: str) -> tuple[int, int] | None:
    """1-based (line, column) of the YAML node at dotted ``path`` (deepest existing prefix), if found."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    best = node
    for part in path.split("."):
        if isinstance(node, yaml.MappingNode):
            nxt = next(((k, v) for k, v in node.value if str(k.value) == part), None)
            if nxt is None:
                break
            key, node = nxt
            best = key if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) else node
        elif isinstance(node, yaml.SequenceNode):
            idx = AUDIOGRAM_HZ.index(int(part)) if part.isdigit() and int(part) in AUDIOGRAM_HZ else -1
            if not 0 <= idx < len(node.value):
                break
            best = node = node.value[idx]
        else:
            break
    if best is None:
        return None
    return best.start_mark.line + 1, best.start_mark.column + 1


def load_profile(path: str | Path) -> HearingProfile:
    """Read a profile file (``.yaml``/``.yml`` with ``yaml.safe_load``, ``.json`` with ``json``).

    Errors say ``file:line:col: field.path: what was wrong``.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"cannot read profile: {exc.strerror or exc}", str(p)) from exc
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise ProfileError(exc.msg, f"{p}:{exc.lineno}:{exc.colno}") from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        at = f"{p}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(p)
        raise ProfileError(str(exc.problem or exc), at) from exc
    if data is None:
        data = {}
    try:
        return profile_from_dict(data)
    except ProfileError as exc:
        # JSON is a YAML subset, so the YAML composer finds the line for both.
        pos = _mark_of(text, exc.path) if exc.path else None
        loc = f"{p}:{pos[0]}:{pos[1]}" if pos else str(p)
        msg = str(exc)[len(exc.path) + 2 :] if exc.path else str(exc)
        raise ProfileError(msg, f"{loc}: {exc.path}" if exc.path else loc) from exc
