"""The runtime's plain records: game objects, playing layers, emitters and event instances.

No behaviour lives here, so every runtime module (emitters, instances, sources, mixer ...) can share
these types without importing each other. ``RuntimeErrorMsg`` is the error a game command the scene
cannot honour raises; ``middleware.scene.runtime`` re-exports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..checks import finite, vec3
from ..errors import SoundscapeError
from ..hints import did_you_mean
from .model import EmitterDef, EventDef, LayerDef

MIN_GAIN_DB = -80.0  # a layer this quiet is silent; -inf never reaches the engine
MIN_SEND_DB = -120.0  # a removed send (the engine takes finite dB only)
SETTLE = 1e-4  # change threshold (dB, semitones, Hz-ratio) below which no engine command is sent


class RuntimeErrorMsg(SoundscapeError):
    """A game command the scene cannot honour (unknown name, bad value)."""


def unknown(kind: str, name: Any, known: Sequence[str]) -> RuntimeErrorMsg:
    """'unknown <kind> <name>' with a did-you-mean hint from ``known``."""
    hint = did_you_mean(name, known, "known")
    return RuntimeErrorMsg(f"unknown {kind} '{name}'" + (f" ({hint})" if hint else ""))


def game_number(name: str, value: Any) -> float:
    """A number from the game: finite, else a :class:`RuntimeErrorMsg` naming the field."""
    return finite(name, value, RuntimeErrorMsg)


def game_vec3(name: str, value: Any) -> tuple[float, float, float]:
    """An ``[x, y, z]`` list from the game, else a :class:`RuntimeErrorMsg` naming the field."""
    return vec3(name, value, RuntimeErrorMsg, lists_only=True)


Vec3 = tuple[float, float, float]


@dataclass
class GameObject:
    """A game object's transform, as the game last sent it."""

    position: Vec3 = (0.0, 0.0, 0.0)
    forward: Vec3 = (0.0, 0.0, -1.0)
    velocity: Vec3 = (0.0, 0.0, 0.0)


@dataclass
class LayerInstance:
    """One playing layer of an emitter or an event instance.

    What its source picked or built for the playing voice is kept here (``stream``, ``pick_db`` ...);
    what a container remembers across plays (sequence position, no-repeat history) is not: that
    belongs to the layer's definition and lives in its source's per-scene state (``sources/``)."""

    layer: LayerDef
    handle: int | None = None  # the voice that follows the layer's curves (loop, or the last one-shot)
    active: bool = False
    next_frame: int = -1  # scatter: when the next hit starts
    sent: dict = field(default_factory=dict)  # what the engine was last told
    weight: float = 1.0  # director / override weight (linear, 0..1)
    weight_source: str = "rule"
    stream: Any = None  # the live rendered source (generator, morph feed) the voice follows
    norm_db: float = 0.0  # automatic-mixing gain of the playing asset
    pick_db: float = 0.0  # the playing voice's own gain: its file's gain_db, random jitter, norm_db
    pick_st: float = 0.0  # the playing voice's own pitch offset (random pitch jitter), semitones
    variations: int = 0  # one-shot generator hits fired so far (each one a new seeded variation)


@dataclass
class EmitterInstance:
    emitter: EmitterDef
    layers: dict[str, LayerInstance]
    position: Vec3 | None = None
    velocity: Vec3 = (0.0, 0.0, 0.0)
    switches: dict[str, str] = field(default_factory=dict)
    born: int = 0


@dataclass
class EventInstance:
    iid: int
    event: EventDef
    env: dict[str, Any]
    position: Vec3 | None
    follows: str | None
    handles: set[int] = field(default_factory=set)
    start_frame: int = 0
    layers: dict[str, LayerInstance] = field(default_factory=dict)
    local: dict[str, Any] = field(default_factory=dict)  # the trigger's own parameters and switches
    velocity: Vec3 = (0.0, 0.0, 0.0)
    synced: bool = False  # brought up to date once since its voices started
