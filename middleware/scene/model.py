"""Scene definitions: immutable, validated descriptions of what a scene contains.

These are the *descriptions* (FMOD's EventDescription, SoLoud's AudioSource); the runtime builds
mutable *instances* from them. A hot reload builds a fresh ``SceneDef`` and never mutates a live one,
so every class here is a frozen dataclass and every collection is a tuple or a read-only mapping.

Units, everywhere: gains in dB (``gain_db``, curve outputs of ``gain``), times in seconds, filter
frequencies in Hz, pitch in semitones (0 = unchanged; the engine's ratio is ``2 ** (st / 12)``),
distances in metres, tempo in beats per minute.

Every layer has a stable ``id`` (unique within its emitter/event) and a scene-wide ``uid``
(``"emitter.layer"``), which hot reload uses to match old and new layers. Every condition has
``evaluate(env)`` and ``names``; every curve has ``evaluate(x)``; every modulated value has
``evaluate(env)`` and ``names``, so the runtime recomputes only what a change can affect.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from ..engine.effects import EffectSpec
from ..engine.specs import MAX_PITCH_RATIO, BusSpec, DuckSpec, ReverbSpec, defaults
from .curves import Curve
from .expr import Condition, Env

_EMPTY: Mapping = MappingProxyType({})


MAX_PITCH_SEMITONES = 12.0 * math.log2(MAX_PITCH_RATIO)  # the engine's range, in semitones (48)


def semitones_to_ratio(semitones: float) -> float:
    """Playback-rate ratio for a pitch shift in semitones (the engine's ``pitch`` argument).

    Clamped to the engine's range (+-48 semitones): bindings, curves and jitter that add up past it
    play at the limit, as gains do at theirs, instead of failing at render with a scene that validated.
    """
    return 2.0 ** (min(max(semitones, -MAX_PITCH_SEMITONES), MAX_PITCH_SEMITONES) / 12.0)


# ---------------------------------------------------------------------------------------------
# Game-facing values


@dataclass(frozen=True)
class ParameterDef:
    """A continuous game value (``intensity``, ``time_of_day``). ``seek`` is the glide speed in
    units per second (0 = jump at once), like FMOD's parameter seek speed."""

    name: str
    min: float
    max: float
    default: float
    seek: float = 0.0
    description: str = ""

    @property
    def range(self) -> tuple[float, float]:
        return self.min, self.max

    def clamp(self, value: float) -> float:
        """``value`` limited to the declared range (the game may overshoot; the scene never does)."""
        return min(max(float(value), self.min), self.max)


@dataclass(frozen=True)
class StateGroupDef:
    """An exclusive scene-wide state (``weather: [clear, rain, storm]``)."""

    name: str
    values: tuple[str, ...]
    default: str
    description: str = ""


@dataclass(frozen=True)
class SwitchGroupDef:
    """A per-object choice (footstep ``surface``): each emitter/event instance has its own value."""

    name: str
    values: tuple[str, ...]
    default: str
    description: str = ""


# ---------------------------------------------------------------------------------------------
# Mixing


# Ranges and defaults of mixing settings are the engine's (engine/specs.py), declared once there.
_DUCK = defaults(DuckSpec)
_BUS = defaults(BusSpec)

ReverbDef = ReverbSpec
"""Reverb on a bus (Freeverb-style, all amounts 0..1): the scene's is the engine's own spec."""


@dataclass(frozen=True)
class DuckDef:
    """``by``'s level lowers this bus by ``amount_db`` when ``by`` is above ``threshold_db``."""

    by: str
    amount_db: float = _DUCK["amount_db"]
    threshold_db: float = _DUCK["threshold_db"]
    attack: float = _DUCK["attack"]
    release: float = _DUCK["release"]


@dataclass(frozen=True)
class BusDef:
    """A mixing bus. ``parent`` is None only for ``master``."""

    name: str
    parent: str | None = "master"
    gain_db: float = _BUS["gain_db"]
    lowpass_hz: float | None = _BUS["lowpass_hz"]
    highpass_hz: float | None = _BUS["highpass_hz"]
    reverb: ReverbDef | None = None
    ducking: tuple[DuckDef, ...] = ()
    description: str = ""
    loudness_lufs: float | None = None  # assets on this bus are normalised to it; on master: the mix target
    effects: tuple[EffectSpec, ...] = ()  # the chain after the bus's own filters and reverb (engine specs)


@dataclass(frozen=True)
class BusOverride:
    """What a snapshot changes on one bus; None leaves that setting alone."""

    gain_db: float | None = None
    lowpass_hz: float | None = None
    highpass_hz: float | None = None
    reverb_wet: float | None = None
    reverb_room_size: float | None = None
    effects: Mapping[str, Mapping[str, object]] = field(default_factory=lambda: MappingProxyType({}))
    """effect name -> {parameter: value}; an equaliser's ``bands`` is a tuple of such mappings."""


@dataclass(frozen=True)
class SnapshotDef:
    """A named mix preset, blended in over ``blend_in`` s and out over ``blend_out`` s. Active while
    ``when`` holds, or while the game turns it on when ``when`` is None."""

    name: str
    buses: Mapping[str, BusOverride]
    blend_in: float = 0.5
    blend_out: float = 0.5
    when: Condition | None = None
    priority: int = 0
    description: str = ""


# ---------------------------------------------------------------------------------------------
# Values bound to parameters


@dataclass(frozen=True)
class BindingDef:
    """``param`` mapped through ``curve`` (output in the units of the field it drives)."""

    param: str
    curve: Curve

    def evaluate(self, env: Env) -> float:
        return self.curve.evaluate(float(env[self.param]))  # type: ignore[arg-type]


@dataclass(frozen=True)
class ValueDef:
    """A layer setting: a constant, or one or more parameter bindings.

    With several bindings, their outputs combine by ``combine``: ``sum`` for dB and semitones (two
    curves each take some dB off), ``min`` for low-pass Hz (the darkest wins), ``max`` for high-pass.
    A ``constant`` is added to (or, for min/max, combined with) the bindings' result.
    """

    constant: float | None = None
    bindings: tuple[BindingDef, ...] = ()
    combine: str = "sum"

    @property
    def names(self) -> frozenset[str]:
        return frozenset(b.param for b in self.bindings)

    @property
    def is_constant(self) -> bool:
        return not self.bindings

    def evaluate(self, env: Env = _EMPTY) -> float | None:
        """The value for the current parameters (None: a filter that is off)."""
        if not self.bindings:
            return self.constant
        vals = [b.evaluate(env) for b in self.bindings]
        if self.combine == "sum":
            return sum(vals) + (self.constant or 0.0)
        if self.constant is not None:
            vals.append(self.constant)
        return min(vals) if self.combine == "min" else max(vals)


# ---------------------------------------------------------------------------------------------
# Sources


@dataclass(frozen=True)
class SampleSource:
    """One audio file. ``path`` as written (relative to the scene), ``file`` resolved."""

    path: str
    file: Path
    gain_db: float = 0.0

    @property
    def files(self) -> tuple[Path, ...]:
        return (self.file,)


@dataclass(frozen=True)
class RandomItem:
    source: SampleSource
    weight: float = 1.0


@dataclass(frozen=True)
class RandomSource:
    """Pick one item per play, by weight, never repeating the last ``no_repeat`` picks, with
    random pitch (± semitones) and gain (± dB) jitter. Wwise's random container, Godot's Randomizer."""

    items: tuple[RandomItem, ...]
    no_repeat: int = 1
    pitch_jitter: float = 0.0
    gain_jitter_db: float = 0.0

    @property
    def files(self) -> tuple[Path, ...]:
        return tuple(i.source.file for i in self.items)


@dataclass(frozen=True)
class SequenceSource:
    """Play items in order, one per trigger (or back to back for a looping layer)."""

    items: tuple[SampleSource, ...]
    loop: bool = True

    @property
    def files(self) -> tuple[Path, ...]:
        return tuple(i.file for i in self.items)


@dataclass(frozen=True)
class GeneratorSource:
    """A procedural generator by name (``rain``, ``wind`` ... later issue) with its parameters;
    a parameter may be a constant or bound to a scene parameter."""

    name: str
    params: Mapping[str, float | str | bool | ValueDef] = field(default_factory=lambda: _EMPTY)

    @property
    def files(self) -> tuple[Path, ...]:
        return ()


@dataclass(frozen=True)
class MorphSource:
    """A model-made texture blending between sources (later issue); kept declarative for now."""

    sources: tuple[SampleSource, ...]
    param: str | None = None
    model: Path | None = None

    @property
    def files(self) -> tuple[Path, ...]:
        return tuple(s.file for s in self.sources) + ((self.model,) if self.model else ())


SourceDef = SampleSource | RandomSource | SequenceSource | GeneratorSource | MorphSource


# ---------------------------------------------------------------------------------------------
# Layers, emitters, events

IMPORTANCE = ("low", "normal", "high", "critical")  # a caption's importance, least to most (captions.py)
MAX_CAPTION_LEN = 200  # characters of a caption: one subtitle line, not a paragraph


@dataclass(frozen=True)
class LayerDef:
    """One sound in an emitter's stack: a source, a mode, modulated settings and a condition."""

    id: str
    uid: str
    source: SourceDef
    mode: str = "loop"  # loop | oneshot | scatter
    interval: tuple[float, float] | None = None  # scatter: seconds between triggers, uniform in [a, b]
    jitter: tuple[float, float, float] = (0.0, 0.0, 0.0)  # scatter: ± metres around the emitter
    gain: ValueDef = ValueDef(0.0)  # dB
    pitch: ValueDef = ValueDef(0.0)  # semitones
    lowpass: ValueDef | None = None  # Hz; None = off
    highpass: ValueDef | None = None  # Hz; None = off
    when: Condition | None = None
    fade_in: float = 0.25
    fade_out: float = 0.25
    director: bool = False
    sends: Mapping[str, float] = field(default_factory=lambda: _EMPTY)  # bus -> send level dB
    priority: int = 0
    random_start: bool = True
    description: str = ""
    normalize: bool = True  # follow the bus's loudness_lufs (False: play the asset at its own level)
    caption: str | None = None  # text shown when this layer's sound becomes audible (captions.py)
    importance: str = "normal"  # one of IMPORTANCE

    @property
    def names(self) -> frozenset[str]:
        """Every parameter/state/switch this layer's condition and curves read."""
        out: set[str] = set(self.when.names if self.when else ())
        for v in (self.gain, self.pitch, self.lowpass, self.highpass):
            if v is not None:
                out |= v.names
        return frozenset(out)

    def active(self, env: Env) -> bool:
        """Whether the condition holds (layers without ``when`` are always active)."""
        return self.when is None or self.when.evaluate(env)


@dataclass(frozen=True)
class AttenuationDef:
    """Distance attenuation: full level up to ``min_distance`` m, silent/floor beyond ``max_distance``.
    ``rolloff`` is ``inverse``, ``linear`` or a curve of distance (m) -> gain (dB)."""

    min_distance: float = 1.0
    max_distance: float = 50.0
    rolloff: str | Curve = "inverse"

    def engine_rolloff(self) -> str | list[list[float]]:
        """The engine's ``rolloff`` argument."""
        if isinstance(self.rolloff, Curve):
            return [list(p) for p in self.rolloff.points]
        return self.rolloff


@dataclass(frozen=True)
class PathDef:
    """Authored motion: move through ``points`` (m) at ``speed`` m/s, looping or ping-ponging."""

    points: tuple[tuple[float, float, float], ...]
    speed: float
    loop: bool = True

    @property
    def length(self) -> float:
        pts = list(self.points) + ([self.points[0]] if self.loop else [])
        return sum(math.dist(a, b) for a, b in itertools.pairwise(pts))

    def position_at(self, t: float) -> tuple[float, float, float]:
        """Position after ``t`` seconds (looping path wraps; an open path goes back and forth)."""
        if len(self.points) == 1 or self.speed <= 0:
            return self.points[0]
        pts = list(self.points) + ([self.points[0]] if self.loop else [])
        total = self.length
        if total <= 0:
            return self.points[0]
        d = (t * self.speed) % (total if self.loop else 2 * total)
        if not self.loop and d > total:
            d = 2 * total - d
        for a, b in itertools.pairwise(pts):
            seg = math.dist(a, b)
            if d <= seg and seg > 0:
                u = d / seg
                return (a[0] + (b[0] - a[0]) * u, a[1] + (b[1] - a[1]) * u, a[2] + (b[2] - a[2]) * u)
            d -= seg
        return pts[-1]


@dataclass(frozen=True)
class EmitterDef:
    """A persistent sound object: a bus, a place (fixed, following a game object, on a path, or
    none for a non-spatial 2D bed), attenuation and a stack of layers."""

    name: str
    bus: str = "master"
    position: tuple[float, float, float] | None = None
    follows: str | None = None
    path: PathDef | None = None
    attenuation: AttenuationDef = AttenuationDef()
    binaural: bool = False
    doppler: float = 0.0
    gain_db: float = 0.0
    switches: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    layers: tuple[LayerDef, ...] = ()
    description: str = ""
    caption: str | None = None  # caption for every layer that has none of its own
    importance: str = "normal"

    @property
    def spatial(self) -> bool:
        """True when the emitter has a place in the world (3D voice), False for a 2D bed."""
        return self.position is not None or self.follows is not None or self.path is not None

    def layer(self, layer_id: str) -> LayerDef:
        return next(layer for layer in self.layers if layer.id == layer_id)


@dataclass(frozen=True)
class EventDef:
    """A named trigger the game fires. Each fire makes an *instance* with its own local parameters
    and switch value, which the game can stop. The instance plays at ``position`` (``instance``: the
    game gives it; a fixed ``[x, y, z]``; or None for 2D), at an emitter's place (``emitter``), or
    following a game object (``follows``). With ``switch``, ``choose`` maps each switch value to the
    layers to play; otherwise every layer whose condition holds plays."""

    name: str
    layers: tuple[LayerDef, ...]
    bus: str = "sfx"
    position: str | tuple[float, float, float] | None = "instance"
    emitter: str | None = None
    follows: str | None = None
    attenuation: AttenuationDef = AttenuationDef()
    binaural: bool = False
    doppler: float = 0.0
    gain_db: float = 0.0
    parameters: Mapping[str, ParameterDef] = field(default_factory=lambda: _EMPTY)
    switch: str | None = None
    choose: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _EMPTY)
    max_instances: int = 16
    description: str = ""
    caption: str | None = None  # caption for every layer that has none of its own
    importance: str = "normal"

    def layers_for(self, switch_value: str | None) -> tuple[LayerDef, ...]:
        """The layers an instance plays for a switch value (all layers when there is no switch,
        and for a value that ``choose`` does not list)."""
        if self.switch is None or switch_value not in self.choose:
            return self.layers
        ids = self.choose[switch_value]  # type: ignore[index]
        return tuple(layer for layer in self.layers if layer.id in ids)


# ---------------------------------------------------------------------------------------------
# Music


@dataclass(frozen=True)
class TransitionDef:
    """How to leave a segment for ``to``: ``at`` the next ``beat``, ``bar`` or ``immediate``ly, with
    the outgoing segment fading over ``fade_out`` s and the new one over ``fade_in`` s, optionally
    playing a stinger on the boundary."""

    to: str
    at: str = "bar"
    fade_out: float = 0.05
    fade_in: float = 0.0
    stinger: str | None = None


@dataclass(frozen=True)
class SegmentDef:
    """A piece of music (one sample, looping or followed by ``next``). The runtime plays the first
    segment whose ``when`` holds (in file order), starting from ``MusicDef.start``."""

    name: str
    source: SampleSource
    bars: int | None = None
    loop: bool = True
    next: str | None = None
    gain: ValueDef = ValueDef(0.0)
    when: Condition | None = None
    transitions: Mapping[str, TransitionDef] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True)
class StingerDef:
    """A short phrase laid over the music, quantised to the next ``beat``/``bar``, fired by the
    game (by name) or whenever ``when`` becomes true."""

    name: str
    source: SampleSource
    at: str = "beat"
    gain_db: float = 0.0
    when: Condition | None = None


@dataclass(frozen=True)
class MusicDef:
    """Interactive music: a tempo grid, segments with beat/bar-quantised transitions, stingers.
    The runtime publishes beat and bar callbacks from the same grid."""

    segments: Mapping[str, SegmentDef]
    start: str
    bus: str = "music"
    tempo: float = 120.0
    beats_per_bar: int = 4
    beat_unit: int = 4
    default_transition: TransitionDef = TransitionDef("", "bar")
    stingers: Mapping[str, StingerDef] = field(default_factory=lambda: _EMPTY)

    @property
    def seconds_per_beat(self) -> float:
        return 60.0 / self.tempo

    @property
    def seconds_per_bar(self) -> float:
        return self.seconds_per_beat * self.beats_per_bar

    def transition(self, frm: str, to: str) -> TransitionDef:
        """The transition from segment ``frm`` to ``to`` (its own, else the music-wide default)."""
        seg = self.segments[frm]
        if to in seg.transitions:
            return seg.transitions[to]
        d = self.default_transition
        return TransitionDef(to, d.at, d.fade_out, d.fade_in, d.stinger)

    def next_boundary_frame(self, now_frame: int, origin_frame: int, at: str, sample_rate: int) -> int:
        """First frame >= ``now_frame`` on the beat/bar grid that started at ``origin_frame``.

        Grid points are ``round(origin + k * period)`` so a fractional period (e.g. 130 BPM at
        48 kHz) never drifts: the error stays within half a frame for the whole piece.
        """
        if at == "immediate":
            return now_frame
        period = self.seconds_per_bar if at == "bar" else self.seconds_per_beat
        period_frames = period * sample_rate
        k = max(0, math.ceil((now_frame - origin_frame) / period_frames - 1e-9))
        frame = origin_frame + round(k * period_frames)
        while frame < now_frame:
            k += 1
            frame = origin_frame + round(k * period_frames)
        return frame


# ---------------------------------------------------------------------------------------------
# Director, listener, scene


@dataclass(frozen=True)
class DirectorDef:
    """The ML director (next issue): reads ``inputs`` (parameter/state names), writes weights of
    ``outputs`` (layer uids ``emitter.layer``), runs ``model`` (ONNX) ``rate_hz`` times a second.
    ``examples`` holds the designer's training examples."""

    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    model: Path | None = None
    examples: Path | None = None
    rate_hz: float = 10.0
    constraints: Mapping[str, ConstraintDef] = field(default_factory=lambda: _EMPTY)
    smoothing: float = 0.15  # s: glide of the model's weights


@dataclass(frozen=True)
class ConstraintDef:
    """The designer's last word on one director output: weight limits, or a lock (linear 0..1)."""

    min: float = 0.0
    max: float = 1.0
    lock: float | None = None


@dataclass(frozen=True)
class ListenerDef:
    """Where the listener is when no game says otherwise: fixed, following an object, or on a path."""

    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    forward: tuple[float, float, float] = (0.0, 0.0, -1.0)
    follows: str | None = None
    path: PathDef | None = None


@dataclass(frozen=True)
class SceneDef:
    """A whole scene. ``file`` is the YAML it came from; asset paths are resolved against ``root``."""

    name: str
    file: Path
    root: Path
    version: int = 1
    description: str = ""
    parameters: Mapping[str, ParameterDef] = field(default_factory=lambda: _EMPTY)
    states: Mapping[str, StateGroupDef] = field(default_factory=lambda: _EMPTY)
    switches: Mapping[str, SwitchGroupDef] = field(default_factory=lambda: _EMPTY)
    buses: Mapping[str, BusDef] = field(default_factory=lambda: _EMPTY)
    snapshots: Mapping[str, SnapshotDef] = field(default_factory=lambda: _EMPTY)
    emitters: Mapping[str, EmitterDef] = field(default_factory=lambda: _EMPTY)
    events: Mapping[str, EventDef] = field(default_factory=lambda: _EMPTY)
    music: MusicDef | None = None
    director: DirectorDef | None = None
    listener: ListenerDef = ListenerDef()

    def bus_order(self) -> tuple[BusDef, ...]:
        """Buses with every parent before its children (``master`` first): the order to create them."""
        done: dict[str, BusDef] = {}

        def visit(b: BusDef) -> None:
            if b.name in done:
                return
            if b.parent is not None and b.parent in self.buses:
                visit(self.buses[b.parent])
            done[b.name] = b

        for b in self.buses.values():
            visit(b)
        return tuple(done.values())

    def all_layers(self) -> Iterator[tuple[EmitterDef | EventDef, LayerDef]]:
        """Every (owner, layer) pair of emitters and events, in file order."""
        for e in self.emitters.values():
            for layer in e.layers:
                yield e, layer
        for ev in self.events.values():
            for layer in ev.layers:
                yield ev, layer

    def default_env(self) -> dict[str, float | str]:
        """Every global name at its default: parameters, states and switches."""
        env: dict[str, float | str] = {p.name: p.default for p in self.parameters.values()}
        env.update({s.name: s.default for s in self.states.values()})
        env.update({s.name: s.default for s in self.switches.values()})
        return env

    def asset_files(self) -> tuple[Path, ...]:
        """Every audio file the scene uses, once each (for preloading into the engine's bank)."""
        seen: dict[Path, None] = {}
        for _, layer in self.all_layers():
            for f in layer.source.files:
                seen.setdefault(f, None)
        if self.music:
            for s in self.music.segments.values():
                seen.setdefault(s.source.file, None)
            for st in self.music.stingers.values():
                seen.setdefault(st.source.file, None)
        return tuple(seen)
