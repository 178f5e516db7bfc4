"""The live side of a scene: instances of the definitions, driving the engine at control rate.

``SceneRuntime`` is what plays (FMOD's EventInstance, SoLoud's AudioSourceInstance): parameter
values gliding at their seek speed, the current states and switches, game objects, emitters whose
layers start, glide and fade as conditions and curves say, event instances the game fires, the
music grid, snapshots blending in and out.

Threading: the game-facing methods (``set_param``, ``trigger`` ...) validate in the caller's thread,
raising a :class:`SoundscapeError` with a clear message, then queue a command; ``update(n)`` runs in
the render loop right before each engine block, drains the queue and turns the scene's state into
engine commands. So the network thread and the render thread never share a lock, and a command
carrying a frame lands on that frame.
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np

from ..config import MAX_INSTANCES, MAX_OBJECTS  # declared once: the daemon refuses beyond them first
from ..engine import BusSpec, DuckSpec, Engine, ReverbSpec
from ..engine.effects import blend_chain
from ..engine.specs import BUS_BOUNDS
from ..errors import EngineError, SceneError, SoundscapeError
from ..hints import did_you_mean
from ..transport.protocol import MAX_NAME_LEN
from .captions import Captioner, caption_of
from .model import (
    BusDef,
    EmitterDef,
    EventDef,
    GeneratorSource,
    LayerDef,
    MorphSource,
    RandomSource,
    SampleSource,
    SceneDef,
    SegmentDef,
    SequenceSource,
    ValueDef,
    semitones_to_ratio,
)
from .voice_changes import VoiceChanges

MIN_GAIN_DB = -80.0  # a layer this quiet is silent; -inf never reaches the engine
_BUS_GAIN = BUS_BOUNDS["gain_db"]
MIN_SEND_DB = -120.0  # a removed send (the engine takes finite dB only)
SETTLE = 1e-4  # change threshold (dB, semitones, Hz-ratio) below which no engine command is sent


class RuntimeErrorMsg(SoundscapeError):
    """A game command the scene cannot honour (unknown name, bad value)."""


def _unknown(kind: str, name: Any, known: Sequence[str]) -> RuntimeErrorMsg:
    hint = did_you_mean(name, known, "known")
    return RuntimeErrorMsg(f"unknown {kind} '{name}'" + (f" ({hint})" if hint else ""))


def _finite(name: str, value: Any) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise RuntimeErrorMsg(f"{name}={value!r}: must be a number") from None
    if not math.isfinite(f):
        raise RuntimeErrorMsg(f"{name}={value!r}: must be finite (not NaN or infinite)")
    return f


def _vec3(name: str, value: Any) -> tuple[float, float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise RuntimeErrorMsg(f"{name}={value!r}: must be [x, y, z]")
    x, y, z = (_finite(f"{name}[{i}]", v) for i, v in enumerate(value))
    return x, y, z


@dataclass
class GameObject:
    """A game object's transform, as the game last sent it."""

    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    forward: tuple[float, float, float] = (0.0, 0.0, -1.0)
    velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass
class ContainerState:
    """Where a sequence container is and which items a random container picked last.

    It belongs to the layer's *definition* for the scene's lifetime, as FMOD and Wwise keep it on the
    event description: every instance of an event shares it, so the third fire of a footstep
    sequence plays its third file and ``no_repeat`` holds across fires. A hot reload keeps it while
    the layer's source is unchanged."""

    seq_index: int = 0
    recent: deque = field(default_factory=deque)  # random: the last ``no_repeat`` picks


@dataclass
class LayerInstance:
    """One playing layer of an emitter or an event instance."""

    layer: LayerDef
    handle: int | None = None  # the voice that follows the layer's curves (loop, or the last one-shot)
    active: bool = False
    next_frame: int = -1  # scatter: when the next hit starts
    container: ContainerState = field(default_factory=ContainerState)
    sent: dict = field(default_factory=dict)  # what the engine was last told
    weight: float = 1.0  # director / override weight (linear, 0..1)
    weight_source: str = "rule"
    one_shots: list = field(default_factory=list)
    generator: Any = None  # the live generator of a looping generator layer
    norm_db: float = 0.0  # automatic-mixing gain of the playing asset
    pick_db: float = 0.0  # the playing voice's own gain: its file's gain_db, random jitter, norm_db
    pick_st: float = 0.0  # the playing voice's own pitch offset (random pitch jitter), semitones
    variations: int = 0  # one-shot generator hits fired so far (each one a new seeded variation)


@dataclass
class EmitterInstance:
    emitter: EmitterDef
    layers: dict[str, LayerInstance]
    position: tuple[float, float, float] | None = None
    velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)
    switches: dict[str, str] = field(default_factory=dict)
    born: int = 0


@dataclass
class EventInstance:
    iid: int
    event: EventDef
    env: dict[str, Any]
    position: tuple[float, float, float] | None
    follows: str | None
    handles: set[int] = field(default_factory=set)
    start_frame: int = 0
    layers: dict[str, LayerInstance] = field(default_factory=dict)
    local: dict[str, Any] = field(default_factory=dict)  # the trigger's own parameters and switches
    velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)
    synced: bool = False  # brought up to date once since its voices started


class LayerDirector(Protocol):
    """What the runtime needs from an ML director (``middleware.ml``): weights for flagged layers.

    ``evaluate`` runs at control rate (``rate_hz``) and must be quick (a small onnxruntime
    session on one thread); ``label`` names the model and version for telemetry. Weights are linear
    0..1; the runtime clamps them and designer overrides always win.
    """

    rate_hz: float
    label: dict

    def evaluate(self, env: Mapping[str, Any]) -> Mapping[str, float]: ...


class SceneRuntime:
    """Instances of one scene's definitions, driving one engine (see module docstring)."""

    # A tick where only objects moved sends poses alone, skipping the curves (off: every moved voice
    # is refreshed in full, the reference that tests/test_scene_bulk_voices.py compares against).
    pose_fast_path = True

    def __init__(self, scene: SceneDef, engine: Engine, seed: int = 0) -> None:
        self.engine = engine
        self.sr = engine.sample_rate
        self.rng = np.random.default_rng(seed)
        self.scene = scene
        self.frame = engine.frame
        self.events: deque = deque(maxlen=4096)  # (topic, payload) for telemetry / callbacks
        self.captioner = Captioner(self.sr)  # captioned voices -> `caption` topic (captions.py)
        self._voice_changes = VoiceChanges()  # this tick's voice refreshes, sent as one bulk call
        self._cmds: deque = deque()
        self._future: list = []
        self._seq = itertools.count()
        self._iids = itertools.count(1)
        self._known_iids: set[int] = set()
        self.objects: dict[str, GameObject] = {}
        self.listener = GameObject(scene.listener.position, scene.listener.forward)
        self.targets: dict[str, float] = {p.name: p.default for p in scene.parameters.values()}
        self.env: dict[str, Any] = scene.default_env()
        self.snapshot_on: dict[str, bool] = {}
        self.snapshot_amount: dict[str, float] = {}
        self.emitters: dict[str, EmitterInstance] = {}
        self.instances: dict[int, EventInstance] = {}
        self._handle_owner: dict[int, int] = {}  # voice handle -> event instance id
        self._oneshot_owner: dict[int, LayerInstance] = {}  # emitter one-shot voice -> its layer
        self._event_containers: dict[str, ContainerState] = {}  # event layer uid -> shared state
        self._dirty = True
        self._music: _MusicPlayer | None = None
        self._bus_base: dict[str, BusDef] = {}
        self._asset_lufs: dict[str, float] = {}
        self._seen_engine_events = 0
        self.overrides: dict[str, float] = {}  # layer uid -> weight set live (teach mode, tools)
        self.director: LayerDirector | None = None
        self.director_weights: dict[str, float] = {}
        self.director_inputs: Mapping[str, Any] = {}
        self._next_director_frame = 0
        self.on_override: Any = None  # callable(uid, weight, env) for teach mode recording
        self._setup_buses(scene)
        self._morph_models: dict[Any, Any] = {}
        self._warm: set = set()
        self.prepare(scene)
        for em in scene.emitters.values():
            self.emitters[em.name] = self._new_emitter(em)
        if scene.music is not None:
            self._music = _MusicPlayer(self, scene)
        self.counters = {"commands": 0, "errors": 0, "reloads": 0, "objects_refused": 0}
        self._game_listener = False  # once the game sends a listener, the scene's default steps aside
        self._listener_born = self.frame
        self._scene_listener()
        self._scene_director()

    # ================================================================ game-facing API
    def set_param(self, name: str, value: Any, at_frame: int | None = None) -> None:
        p = self.scene.parameters.get(name)
        if p is None:
            raise _unknown("parameter", name, list(self.scene.parameters))
        v = _finite(f"parameter '{name}'", value)
        if not p.min <= v <= p.max:
            raise RuntimeErrorMsg(f"parameter '{name}'={v}: must be within {p.min}..{p.max}")
        self._post(("param", name, v), at_frame)

    def set_state(self, group: str, value: str, at_frame: int | None = None) -> None:
        g = self.scene.states.get(group)
        if g is None:
            raise _unknown("state group", group, list(self.scene.states))
        if value not in g.values:
            raise _unknown(f"value of state '{group}'", value, list(g.values))
        self._post(("state", group, value), at_frame)

    def set_switch(
        self, group: str, value: str, object: str | None = None, at_frame: int | None = None
    ) -> None:
        g = self.scene.switches.get(group)
        if g is None:
            raise _unknown("switch group", group, list(self.scene.switches))
        if value not in g.values:
            raise _unknown(f"value of switch '{group}'", value, list(g.values))
        if object is not None and object not in self.scene.emitters:
            # per-object switches address emitters by name; objects the game moves use 'object'
            pass
        self._post(("switch", group, value, object), at_frame)

    def trigger(
        self,
        event: str,
        position: Sequence[float] | None = None,
        params: Mapping[str, Any] | None = None,
        object: str | None = None,
        at_frame: int | None = None,
        switches: Mapping[str, str] | None = None,
    ) -> int:
        ev = self.scene.events.get(event)
        if ev is None:
            raise _unknown("event", event, list(self.scene.events))
        pos = _vec3("position", position) if position is not None else None
        local: dict[str, Any] = {}
        for k, v in (params or {}).items():
            pdef = ev.parameters.get(k) or self.scene.parameters.get(k)
            if pdef is None:
                raise _unknown(
                    f"parameter of event '{event}'", k, list(ev.parameters) + list(self.scene.parameters)
                )
            f = _finite(f"parameter '{k}'", v)
            if not pdef.min <= f <= pdef.max:
                raise RuntimeErrorMsg(f"parameter '{k}'={f}: must be within {pdef.min}..{pdef.max}")
            local[k] = f
        for k, v in (switches or {}).items():
            g = self.scene.switches.get(k)
            if g is None:
                raise _unknown("switch group", k, list(self.scene.switches))
            if v not in g.values:
                raise _unknown(f"value of switch '{k}'", v, list(g.values))
            local[k] = v
        if len(self._known_iids) >= MAX_INSTANCES:
            raise RuntimeErrorMsg(f"too many live event instances (cap {MAX_INSTANCES}); stop some first")
        iid = next(self._iids)
        self._known_iids.add(iid)
        self._post(("trigger", iid, ev, pos, local, object), at_frame)
        return iid

    def stop(self, iid: int, release: bool = True, at_frame: int | None = None) -> None:
        if not isinstance(iid, int) or iid not in self._known_iids:
            raise RuntimeErrorMsg(f"unknown or finished instance id {iid!r}")
        self._post(("stop", iid, bool(release)), at_frame)

    def set_listener(
        self,
        position: Sequence[float],
        forward: Sequence[float] = (0.0, 0.0, -1.0),
        up: Sequence[float] = (0.0, 1.0, 0.0),
        velocity: Sequence[float] = (0.0, 0.0, 0.0),
        at_frame: int | None = None,
    ) -> None:
        p, f, u, v = (
            _vec3(n, x)
            for n, x in (("position", position), ("forward", forward), ("up", up), ("velocity", velocity))
        )
        try:
            self.engine.set_listener(p, f, u, v, at_frame=at_frame)
        except EngineError as exc:
            raise RuntimeErrorMsg(str(exc)) from None
        self._post(("listener", p, f, v), at_frame)

    def set_object(
        self,
        name: str,
        position: Sequence[float],
        forward: Sequence[float] | None = None,
        velocity: Sequence[float] | None = None,
        at_frame: int | None = None,
    ) -> None:
        if not isinstance(name, str) or not name or len(name) > MAX_NAME_LEN:
            raise RuntimeErrorMsg(
                f"object name {name!r}: must be a non-empty string of at most {MAX_NAME_LEN} characters"
            )
        p = _vec3("position", position)
        f = _vec3("forward", forward) if forward is not None else None
        v = _vec3("velocity", velocity) if velocity is not None else None
        if name not in self.objects and len(self.objects) >= MAX_OBJECTS:
            raise RuntimeErrorMsg(f"too many game objects (cap {MAX_OBJECTS})")
        self._post(("object", name, p, f, v), at_frame)

    def set_objects_validated(self, updates: dict[str, tuple]) -> None:
        """Many untimed object transforms at once: ``{name: (position, forward | None, velocity | None)}``.

        For callers that validated every field already (the daemon's network process checks names,
        vector lengths and finiteness): one queue entry instead of one checked call per object, which
        is what lets the audio side absorb 100k updates per second inside its per-block budget. The
        object cap still applies (objects beyond it are counted in ``objects_refused``).
        """
        self._cmds.append(("objects", updates))

    def snapshot(self, name: str, on: bool, at_frame: int | None = None) -> None:
        if name not in self.scene.snapshots:
            raise _unknown("snapshot", name, list(self.scene.snapshots))
        self._post(("snapshot", name, bool(on)), at_frame)

    _player_gain_db: Mapping[str, float] = MappingProxyType({})
    """The player's volume per bus (dB; accessibility profile), added on top of the scene's and its
    snapshots' gains: the player's fader, which no snapshot overwrites."""

    def set_player_gains(self, gain_db: Mapping[str, float]) -> None:
        """Set the player's volume offsets per bus (``accessibility.mix.player_mix``'s ``bus_gain_db``);
        buses not named go back to 0 dB."""
        gains = {}
        for bus, db in gain_db.items():
            if bus not in self.scene.buses:
                raise _unknown("bus", bus, list(self.scene.buses))
            gains[bus] = _finite(f"player gain of bus {bus}", db)
        self._post(("player_gains", MappingProxyType(gains)), None)

    def override(self, layer_uid: str, weight: float | None, at_frame: int | None = None) -> None:
        """Set a layer's weight live (0..1), or None to hand it back to its rules/director
        (protocol ``set_weight``; at ``at_frame`` when given)."""
        known = [layer.uid for _, layer in self.scene.all_layers()]
        if layer_uid not in known:
            raise _unknown("layer", layer_uid, known)
        if weight is not None:
            w = _finite("weight", weight)
            if not 0.0 <= w <= 1.0:
                raise RuntimeErrorMsg(f"weight={w}: must be within 0..1")
            weight = w
        self._post(("override", layer_uid, weight), at_frame)

    def say(
        self,
        text: str,
        preset: str = "neutral",
        emitter: str | None = None,
        position: Sequence[float] | None = None,
        at_frame: int | None = None,
    ) -> dict:
        """Speak a synthetic line: ``prepare_line`` (renders or takes it from the cache, in the
        caller's thread) then ``play_line``. Returns the line's label (``synthetic: True`` ...)."""
        name, label = self.prepare_line(text, preset)
        self.play_line(name, label, emitter=emitter, position=position, at_frame=at_frame)
        return label

    def prepare_line(self, text: str, preset: str = "neutral") -> tuple[str, dict]:
        """Render a character line into the bank (slow on a cache miss: keep it off the render thread).
        The line is kept while it plays and within the voice budget (``voice.lines``); play it with
        ``play_line``, which tells the budget when it may be dropped."""
        from ..voice.say import prepare_line

        return prepare_line(self.engine, text, preset)

    def play_line(
        self,
        name: str,
        label: dict,
        emitter: str | None = None,
        position: Sequence[float] | None = None,
        at_frame: int | None = None,
    ) -> None:
        """Play a prepared line on the scene's voice bus (its ducking rules lower the ambience),
        from ``emitter``'s place or ``position`` (2D when neither is given). Runs on the render
        thread in the daemon: it only tells the line store when the voice starts and ends."""
        from ..voice.lines import existing_store

        store = existing_store(self.engine)
        start = max(self.engine.frame, at_frame or 0)
        try:
            if emitter is not None and emitter not in self.scene.emitters:
                raise _unknown("emitter", emitter, list(self.scene.emitters))
            pos = _vec3("position", position) if position is not None else None
            frames = self.engine.bank.info(name).frames
            self._post(("say", name, emitter, pos, label), at_frame)
        except Exception:
            if store is not None:
                store.played(name, start, 0)  # it will not play: the line may go
            raise
        if store is not None:
            store.played(name, start, frames)

    def stinger(self, name: str, at_frame: int | None = None) -> None:
        """Play a music stinger, quantised to its beat or bar."""
        music = self.scene.music
        if music is None:
            raise RuntimeErrorMsg("this scene has no music, so no stingers")
        if name not in music.stingers:
            raise _unknown("stinger", name, list(music.stingers))
        self._post(("stinger", name), at_frame)

    def prepare(self, scene: SceneDef) -> None:
        """Do a scene's slow work now, in the caller's thread: decode its assets, open its morph
        models and warm up its generators and models (compiled-code caches, first onnxruntime runs),
        so nothing of the kind happens on the render thread when a layer first starts."""
        self._load_assets(scene)
        streamed = sum(isinstance(ly.source, (MorphSource, GeneratorSource)) for _, ly in scene.all_layers())
        if streamed:
            # loops hold one stream each; one-shot hits overlap, so keep a few spare
            self.engine.reserve_streams(2 * streamed + 8, channels=2)
        for _, layer in scene.all_layers():
            src = layer.source
            if isinstance(src, MorphSource) and src.model is not None and src.model not in self._morph_models:
                try:
                    from ..ml.morph import MorphModel, MorphStream

                    model = MorphModel(src.model)
                    MorphStream(model, self.sr, seed=0).render(2048, 0.5)
                    self._morph_models[src.model] = model
                except Exception as exc:  # reported again when the layer plays; the scene loads
                    self.events.append(("error", {"layer": layer.uid, "message": f"morph model: {exc}"}))
            elif isinstance(src, GeneratorSource) and src.name not in self._warm:
                try:
                    from ..generators import create_generator

                    gen = create_generator(src.name, sample_rate=self.sr, seed=0)
                    if getattr(gen, "oneshot", False) and hasattr(gen, "trigger"):
                        gen.trigger()
                    gen.render(self.engine.block)
                    self._warm.add(src.name)
                except Exception as exc:
                    self.events.append(("error", {"layer": layer.uid, "message": f"generator: {exc}"}))

    def reload(self, scene: SceneDef) -> None:
        """Swap in a new, already validated definition at the next block (hot reload).

        The slow part (``prepare``) runs here, in the caller's thread; the swap itself is queued."""
        self.prepare(scene)
        self._post(("reload", scene), None)

    def describe(self) -> dict:
        s = self.scene
        return {
            "name": s.name,
            "scene": s.name,  # the same, under the key the first daemon version used
            "parameters": {
                p.name: {"min": p.min, "max": p.max, "default": p.default} for p in s.parameters.values()
            },
            "states": {g.name: list(g.values) for g in s.states.values()},
            "switches": {g.name: list(g.values) for g in s.switches.values()},
            "events": sorted(s.events),
            "snapshots": sorted(s.snapshots),
            "emitters": sorted(s.emitters),
        }

    def telemetry(self) -> dict:
        layers = {}
        for em in self.emitters.values():
            for li in em.layers.values():
                # a layer held by set_weight is listed even when held silent (weight 0 stops it)
                if li.active or li.handle is not None or li.weight_source == "override":
                    layers[li.layer.uid] = {
                        "gain_db": li.sent.get("gain_db"),
                        "weight": li.weight,
                        "source": li.weight_source,
                    }
        return {
            "frame": self.frame,
            "params": {k: v for k, v in self.env.items() if k in self.scene.parameters},
            "states": {k: self.env[k] for k in self.scene.states},
            "layers": layers,
            "instances": len(self.instances),
            "snapshots": {k: round(v, 4) for k, v in self.snapshot_amount.items() if v > 0},
            "music": self._music.status() if self._music else None,
        }

    # ================================================================ render side
    def update(self, n: int) -> None:
        """Advance the scene to cover engine frames [frame, frame + n) (call before ``engine.render``)."""
        self.frame = self.engine.frame
        end = self.frame + n
        self._drain(end)
        self._glide_params(n)
        ld = self.scene.listener
        if not self._game_listener and (ld.path is not None or ld.follows is not None):
            self._scene_listener()
        self._tick_director()
        self._collect_engine_events()
        self._caption(self.frame)
        self._update_snapshots(n)
        for em in self.emitters.values():
            self._update_emitter(em, end)
        for inst in list(self.instances.values()):
            self._update_instance(inst)
        if self._music is not None:
            self._music.update(self.frame, end)
        self._voice_changes.flush(self.engine)
        self._dirty = False

    def after_render(self) -> None:
        """The engine rendered the block: caption the voices whose first sample it held, so a driver
        that publishes after rendering sends them with that block (``update`` catches them otherwise)."""
        self._caption(self.engine.frame)

    def _caption(self, frame: int) -> None:
        for rec in self.captioner.update(self.engine, frame):
            self.events.append(("caption", rec))

    # ---------------------------------------------------------------- commands
    def _post(self, cmd: tuple, at_frame: int | None) -> None:
        if at_frame is not None:
            if not isinstance(at_frame, int) or at_frame < 0:
                raise RuntimeErrorMsg(f"at_frame={at_frame!r}: must be a non-negative integer frame")
            self._cmds.append(("@", at_frame, cmd))
        else:
            self._cmds.append(cmd)

    def _drain(self, end: int) -> None:
        while self._cmds:
            cmd = self._cmds.popleft()
            if cmd[0] == "@":
                if cmd[1] >= end:
                    heapq.heappush(self._future, (cmd[1], next(self._seq), cmd[2]))
                    continue
                self._apply(cmd[2], cmd[1])
            else:
                self._apply(cmd, None)
        while self._future and self._future[0][0] < end:
            at, _, cmd = heapq.heappop(self._future)
            self._apply(cmd, at)

    def _apply(self, cmd: tuple, at: int | None) -> None:
        self.counters["commands"] += 1
        kind = cmd[0]
        try:
            if kind == "param":
                self.targets[cmd[1]] = cmd[2]
                p = self.scene.parameters.get(cmd[1])
                if p is not None and p.seek <= 0:
                    self.env[cmd[1]] = cmd[2]
                    self._dirty = True
            elif kind == "state":
                if self.env.get(cmd[1]) != cmd[2]:
                    self.env[cmd[1]] = cmd[2]
                    self._dirty = True
            elif kind == "switch":
                _, group, value, obj = cmd
                if obj is not None and obj in self.emitters:
                    self.emitters[obj].switches[group] = value
                else:
                    self.env[group] = value
                self._dirty = True
            elif kind == "trigger":
                self._start_instance(*cmd[1:], at=at)
            elif kind == "stop":
                self._stop_instance(cmd[1], cmd[2], at)
            elif kind == "listener":
                _, p, f, v = cmd
                self.listener = GameObject(p, f, v)
                self._game_listener = True
            elif kind == "object":
                _, name, p, f, v = cmd
                old = self.objects.get(name) or GameObject()
                self.objects[name] = GameObject(p, f or old.forward, v or old.velocity)
            elif kind == "objects":
                objects = self.objects
                for name, (p, f, v) in cmd[1].items():
                    old = objects.get(name)
                    if old is None:
                        if len(objects) >= MAX_OBJECTS:
                            self.counters["objects_refused"] += 1
                            continue
                        old = GameObject()
                    objects[name] = GameObject(
                        tuple(p), tuple(f) if f else old.forward, tuple(v) if v else old.velocity
                    )
            elif kind == "snapshot":
                self.snapshot_on[cmd[1]] = cmd[2]
            elif kind == "say":
                _, name, emitter, pos, label = cmd
                if emitter is not None and emitter in self.emitters:
                    pos = self.emitters[emitter].position
                bus = "voice" if "voice" in self.scene.buses else "master"
                self.engine.play(name, bus=bus, position=pos, start_frame=at)
                self.events.append(
                    ("say", {**label, "bus": bus, "frame": at if at is not None else self.frame})
                )
                self._subtitle(label, emitter, pos, at)
            elif kind == "stinger":
                if self._music is not None:
                    self._music.queue_stinger(cmd[1], self.frame if at is None else at)
            elif kind == "player_gains":
                self._player_gain_db = cmd[1]
                self._apply_bus_mix()
            elif kind == "override":
                if cmd[2] is None:
                    self.overrides.pop(cmd[1], None)
                else:
                    self.overrides[cmd[1]] = cmd[2]
                    if self.on_override is not None:
                        self.on_override(cmd[1], cmd[2], dict(self.env))
                self._dirty = True
            elif kind == "reload":
                self._reload(cmd[1])
        except SoundscapeError as exc:  # a late failure (e.g. an asset vanished): report, keep playing
            self.counters["errors"] += 1
            self.events.append(("error", {"command": kind, "message": str(exc)}))

    def attach_director(self, director: LayerDirector | None) -> None:
        """Hand flagged layers to ``director`` (None: back to the scene's rules and curves)."""
        self.director = director
        self.director_weights = {}
        self._next_director_frame = self.frame
        self._dirty = True
        label = director.label if director is not None else {"model": None, "fallback": "rules"}
        self.events.append(("director", {"status": "attached" if director else "rules", **label}))

    def _scene_director(self) -> None:
        """Load the scene's director model; a missing/corrupt/mismatched one leaves the rules playing."""
        d = self.scene.director
        if d is None or d.model is None:
            if self.director is not None:
                self.attach_director(None)
            return
        from ..errors import ModelError

        try:
            from ..ml.director import load_director

            constraints = {
                uid: {"min": c.min, "max": c.max, "lock": c.lock} for uid, c in d.constraints.items()
            }
            director = load_director(self.scene, constraints=constraints, smoothing=d.smoothing)
        except (ModelError, ImportError, OSError) as exc:
            self.events.append(("error", {"director": str(d.model), "message": f"{exc}; playing the rules"}))
            self.attach_director(None)
            return
        self.attach_director(director)

    def _tick_director(self) -> None:
        d = self.director
        if d is None or self.frame < self._next_director_frame:
            return
        self._next_director_frame = self.frame + max(1, int(self.sr / max(d.rate_hz, 1e-3)))
        try:
            weights = d.evaluate(self.env)
        except Exception as exc:  # a model failing at run time: fall back to the rules, keep playing
            self.events.append(("error", {"director": d.label, "message": f"director failed: {exc}"}))
            self.attach_director(None)
            return
        clean = {}
        for uid, w in weights.items():
            w = float(w)
            clean[uid] = min(max(w, 0.0), 1.0) if math.isfinite(w) else 0.0
        if clean != self.director_weights:
            self.director_weights = clean
            self.director_inputs = dict(self.env)
            self._dirty = True
        tel = d.telemetry() if hasattr(d, "telemetry") else {"weights": clean, **d.label}
        if "inputs" not in tel and self.scene.director is not None:
            tel = {**tel, "inputs": {k: self.env.get(k) for k in self.scene.director.inputs}}
        self.events.append(("director_tick", {**tel, "weights": clean}))

    # ---------------------------------------------------------------- parameters, snapshots
    def _glide_params(self, n: int) -> None:
        dt = n / self.sr
        for name, target in self.targets.items():
            cur = self.env.get(name, target)
            if cur == target:
                continue
            p = self.scene.parameters.get(name)
            step = (p.seek if p else 0.0) * dt
            if step <= 0 or abs(target - cur) <= step:
                self.env[name] = target
            else:
                self.env[name] = cur + math.copysign(step, target - cur)
            self._dirty = True

    def _update_snapshots(self, n: int) -> None:
        changed = False
        for snap in self.scene.snapshots.values():
            on = (
                snap.when.evaluate(self.env)
                if snap.when is not None
                else self.snapshot_on.get(snap.name, False)
            )
            cur = self.snapshot_amount.get(snap.name, 0.0)
            tgt = 1.0 if on else 0.0
            if cur == tgt:
                continue
            t = snap.blend_in if on else snap.blend_out
            step = 1.0 if t <= 0 else n / (t * self.sr)
            cur = min(tgt, cur + step) if on else max(tgt, cur - step)
            self.snapshot_amount[snap.name] = cur
            changed = True
        if changed:
            self._apply_bus_mix()

    def _apply_bus_mix(self) -> None:
        """Each bus's own settings with every active snapshot applied, scaled by how far it has
        blended in (0..1).

        Gains are relative (FMOD's blending snapshots, Wwise's relative state properties): a
        snapshot's ``gain_db`` adds to the bus's own, so "music 9 dB down" stays 9 dB down whatever
        the music bus's own level, and two active snapshots add up. Filter cutoffs and reverb
        amounts are absolute settings: blended from the bus's own value (log-Hz for cutoffs) toward
        the snapshot's; when several active snapshots set one, the higher ``priority`` wins.
        """
        for name, base in self._bus_base.items():
            gain = base.gain_db
            lp = base.lowpass_hz
            hp = base.highpass_hz
            wet = base.reverb.wet if base.reverb else None
            room = base.reverb.room_size if base.reverb else None
            fx_layers = []
            for snap in sorted(self.scene.snapshots.values(), key=lambda s: s.priority):
                a = self.snapshot_amount.get(snap.name, 0.0)
                ov = snap.buses.get(name)
                if a <= 0 or ov is None:
                    continue
                fx_layers.append((a, ov.effects))
                if ov.gain_db is not None:
                    gain += a * ov.gain_db
                if ov.lowpass_hz is not None:
                    lp = _log_blend(lp or 0.49 * self.sr, ov.lowpass_hz, a)
                if ov.highpass_hz is not None:
                    hp = _log_blend(hp or 10.0, ov.highpass_hz, a)
                if ov.reverb_wet is not None and wet is not None:
                    wet += a * (ov.reverb_wet - wet)
                if ov.reverb_room_size is not None and room is not None:
                    room += a * (ov.reverb_room_size - room)
            reverb = None
            if base.reverb is not None:
                r = base.reverb
                reverb = ReverbSpec(room_size=room, damping=r.damping, wet=wet, dry=r.dry, width=r.width)
            lp = None if lp is not None and lp >= 0.49 * self.sr else lp
            hp = None if hp is not None and hp <= 10.0 else hp
            gain += self._player_gain_db.get(name, 0.0)  # the player's fader (accessibility profile)
            gain = min(max(gain, _BUS_GAIN.lo), _BUS_GAIN.hi)  # the engine's bus range; snapshots stack
            effects = blend_chain(base.effects, fx_layers) if base.effects else None
            self.engine.set_bus(
                name, gain_db=gain, lowpass_hz=lp, highpass_hz=hp, reverb=reverb, effects=effects
            )

    # ---------------------------------------------------------------- emitters and layers
    def _new_emitter(self, em: EmitterDef) -> EmitterInstance:
        inst = EmitterInstance(em, {ly.id: LayerInstance(ly) for ly in em.layers}, born=self.frame)
        inst.switches = dict(em.switches)
        return inst

    def _scene_listener(self) -> None:
        """Place the listener where the scene says (fixed, on a path, or following an object)."""
        ld = self.scene.listener
        static = ld.path is None and ld.follows is None
        if self._game_listener or (static and getattr(self, "_listener_placed", False)):
            return
        pos, vel = ld.position, (0.0, 0.0, 0.0)
        if ld.follows is not None:
            obj = self.objects.get(ld.follows)
            if obj is None:
                return
            pos, vel = obj.position, obj.velocity
            fwd = obj.forward
        elif ld.path is not None:
            pos = ld.path.position_at((self.frame - self._listener_born) / self.sr)
            fwd = ld.forward
        else:
            fwd = ld.forward
        self._listener_placed = True
        up = (0.0, 1.0, 0.0) if abs(fwd[1]) < 0.99 * math.sqrt(sum(c * c for c in fwd)) else (0.0, 0.0, 1.0)
        try:
            self.engine.set_listener(pos, fwd, up, vel)
        except EngineError as exc:
            self.events.append(("error", {"listener": "scene", "message": str(exc)}))
            return
        self.listener = GameObject(pos, fwd, vel)

    def _emitter_pose(self, em: EmitterInstance) -> None:
        d = em.emitter
        if d.follows is not None:
            obj = self.objects.get(d.follows)
            if obj is not None:
                em.position, em.velocity = obj.position, obj.velocity
            elif em.position is None and d.position is not None:
                em.position = d.position  # the authored fallback until the game sends the object
        elif d.path is not None:
            t = (self.frame - em.born) / self.sr
            em.position = d.path.position_at(t)
        else:
            em.position = d.position

    def _layer_env(self, em: EmitterInstance) -> Mapping[str, Any]:
        if not em.switches:
            return self.env
        return {**self.env, **em.switches}

    def _update_emitter(self, em: EmitterInstance, end: int) -> None:
        old_pos = em.position
        self._emitter_pose(em)
        moved = em.position != old_pos
        env = self._layer_env(em)
        # Following an object the game has not sent yet (and no authored fallback): stay silent
        # rather than play at the origin.
        waiting = em.emitter.follows is not None and em.position is None
        for li in em.layers.values():
            layer = li.layer
            active = layer.active(env) and not waiting
            self._update_weight(li)
            if active and li.weight <= 0.0:
                active = False
            if layer.mode == "loop":
                if active and li.handle is None:
                    li.handle = self._play_layer(
                        li, em.emitter, em.position, em.velocity, env, loop=True, fade_in=layer.fade_in
                    )
                elif not active and li.handle is not None:
                    self.engine.stop(li.handle, release=layer.fade_out)
                    li.handle = None
                    li.generator = None
                    li.sent = {}
                elif li.handle is not None and (self._dirty or moved):
                    self._refresh_or_move(li, em.emitter, em.position, em.velocity, env)
            elif layer.mode == "oneshot":
                if active and not li.active:
                    h = self._play_layer(
                        li, em.emitter, em.position, em.velocity, env, loop=False, fade_in=0.0
                    )
                    self._oneshot_owner.pop(li.handle, None)  # type: ignore[arg-type]
                    li.handle = h
                    if h is not None:
                        self._oneshot_owner[h] = li
                elif li.handle is not None and (self._dirty or moved):
                    # a long one-shot follows its curves like a loop until it ends
                    self._refresh_or_move(li, em.emitter, em.position, em.velocity, env)
            elif layer.mode == "scatter":
                if active and li.next_frame < 0:
                    li.next_frame = self.frame + self._scatter_gap(layer)
                while active and li.next_frame < end:
                    pos = em.position
                    if pos is not None and any(layer.jitter):
                        j = self.rng.uniform(-1.0, 1.0, 3) * np.array(layer.jitter)
                        pos = (pos[0] + j[0], pos[1] + j[1], pos[2] + j[2])
                    self._play_layer(
                        li,
                        em.emitter,
                        pos,
                        em.velocity,
                        env,
                        loop=False,
                        fade_in=0.0,
                        start_frame=li.next_frame,
                    )
                    li.next_frame += self._scatter_gap(layer)
                if not active:
                    li.next_frame = -1
            li.active = active

    def _update_weight(self, li: LayerInstance) -> None:
        """The layer's weight: a live override, else the director's (flagged layers), else 1."""
        layer = li.layer
        weight = self.overrides.get(layer.uid)
        if weight is not None:
            li.weight, li.weight_source = weight, "override"
        elif layer.director and layer.uid in self.director_weights:
            li.weight, li.weight_source = self.director_weights[layer.uid], "director"
        elif li.weight_source != "rule":
            li.weight, li.weight_source = 1.0, "rule"

    def _scatter_gap(self, layer: LayerDef) -> int:
        a, b = layer.interval or (1.0, 1.0)
        return max(1, int(self.rng.uniform(a, b) * self.sr))

    def _pick(self, li: LayerInstance) -> tuple[SampleSource, float, float]:
        """Choose the sample for one play: (source, extra gain dB, extra semitones)."""
        src = li.layer.source
        if isinstance(src, SampleSource):
            return src, 0.0, 0.0
        state = li.container
        if isinstance(src, RandomSource):
            items = list(range(len(src.items)))
            banned = set(state.recent)
            allowed = [i for i in items if i not in banned] or items
            w = np.array([src.items[i].weight for i in allowed], dtype=np.float64)
            k = allowed[int(self.rng.choice(len(allowed), p=w / w.sum()))]
            state.recent.append(k)
            while len(state.recent) > src.no_repeat:
                state.recent.popleft()
            gj = self.rng.uniform(-1, 1) * src.gain_jitter_db
            pj = self.rng.uniform(-1, 1) * src.pitch_jitter
            return src.items[k].source, gj, pj
        if isinstance(src, SequenceSource):
            n = len(src.items)
            k = min(state.seq_index, n - 1)
            state.seq_index = (k + 1) % n if src.loop else min(k + 1, n - 1)  # no loop: stays on the last
            return src.items[k], 0.0, 0.0
        raise SceneError(
            f"layer '{li.layer.uid}': source type {type(src).__name__} is not playable yet by this runtime"
        )

    def _settings(
        self,
        layer: LayerDef,
        owner_gain_db: float,
        env: Mapping[str, Any],
        weight: float,
        pitch_st: float = 0.0,
    ) -> dict[str, Any]:
        """The engine settings a layer's voice plays with now; ``pitch_st`` adds what its play picked
        (random pitch jitter) before the pitch is clamped to the engine's range."""
        gain = (layer.gain.evaluate(env) or 0.0) + owner_gain_db
        if weight < 1.0:
            gain += 20.0 * math.log10(max(weight, 1e-4))
        out: dict[str, Any] = {
            "gain_db": max(min(gain, 24.0), MIN_GAIN_DB) if gain > MIN_GAIN_DB else -120.0,
            "pitch": semitones_to_ratio((layer.pitch.evaluate(env) or 0.0) + pitch_st),
        }
        out["lowpass_hz"] = _cut(layer.lowpass, env, self.sr)
        out["highpass_hz"] = _cut(layer.highpass, env, self.sr)
        out["sends"] = dict(layer.sends)  # constants, but a hot reload may change them
        return out

    def _play_layer(
        self, li: LayerInstance, owner: EmitterDef | EventDef, *args: Any, **kwargs: Any
    ) -> int | None:
        """Start a layer's voice (``_play_voice``); a captioned one is handed to the captioner."""
        h = self._play_voice(li, owner, *args, **kwargs)
        if h is not None and (cap := caption_of(li.layer, owner)) is not None:
            start = kwargs.get("start_frame")
            self.captioner.track(h, cap, self.frame if start is None else max(start, self.frame))
        return h

    def _play_voice(
        self,
        li: LayerInstance,
        owner: EmitterDef | EventDef,
        pos: tuple[float, float, float] | None,
        vel: tuple[float, float, float],
        env: Mapping[str, Any],
        *,
        loop: bool,
        fade_in: float,
        start_frame: int | None = None,
        bus: str | None = None,
    ) -> int | None:
        if isinstance(li.layer.source, MorphSource):
            return self._play_morph(
                li, owner, pos, vel, env, fade_in=fade_in, start_frame=start_frame, bus=bus
            )
        if isinstance(li.layer.source, GeneratorSource):
            return self._play_generator(
                li, owner, pos, vel, env, loop=loop, fade_in=fade_in, start_frame=start_frame, bus=bus
            )
        try:
            src, gj, pj = self._pick(li)
        except SceneError as exc:
            self.events.append(("error", {"layer": li.layer.uid, "message": str(exc)}))
            return None
        key = self._sample_key(src)
        norm = self._normalise_db(li.layer, bus or owner.bus, key)
        li.norm_db = norm
        li.pick_db, li.pick_st = src.gain_db + gj + norm, pj
        s = self._settings(li.layer, owner.gain_db + li.pick_db, env, li.weight, pj)
        spatial = pos is not None
        att = owner.attenuation
        offset = 0.0
        if loop and li.layer.random_start:
            info = self.engine.bank.info(self._sample_key(src))
            offset = float(self.rng.uniform(0, info.frames / self.sr))
        h = self.engine.play(
            self._sample_key(src),
            bus=bus or owner.bus,
            gain_db=s["gain_db"],
            pitch=s["pitch"],
            loop=loop,
            offset=offset,
            start_frame=start_frame,
            fade_in=fade_in,
            lowpass_hz=s["lowpass_hz"],
            highpass_hz=s["highpass_hz"],
            sends=s["sends"],
            priority=li.layer.priority,
            position=pos if spatial else None,
            velocity=vel,
            min_distance=att.min_distance,
            max_distance=att.max_distance,
            rolloff=att.engine_rolloff(),
            doppler=owner.doppler,
            binaural=owner.binaural,
        )
        li.sent = s
        return h

    def _morph_position(self, src: MorphSource, env: Mapping[str, Any]) -> float:
        p = self.scene.parameters.get(src.param) if src.param else None
        if p is None or p.max <= p.min:
            return 0.5
        return (float(env.get(src.param, p.default)) - p.min) / (p.max - p.min)

    def _play_morph(
        self,
        li: LayerInstance,
        owner: EmitterDef | EventDef,
        pos: tuple[float, float, float] | None,
        vel: tuple[float, float, float],
        env: Mapping[str, Any],
        *,
        fade_in: float,
        start_frame: int | None,
        bus: str | None,
    ) -> int | None:
        """A neural texture: the morph decoder streamed into a voice, its position following the parameter."""
        src = li.layer.source
        assert isinstance(src, MorphSource)
        if src.model is None:
            self.events.append(("error", {"layer": li.layer.uid, "message": "morph layer has no model yet"}))
            return None
        try:
            from ..ml.morph import MorphStream

            model = self._morph_models.get(src.model, src.model)  # opened by prepare() when it could be
            stream = _MorphFeed(MorphStream(model, self.sr, seed=int(self.rng.integers(0, 2**31 - 1))))
        except Exception as exc:  # missing/corrupt model: report, the rest of the scene plays on
            self.events.append(("error", {"layer": li.layer.uid, "message": f"morph model: {exc}"}))
            return None
        stream.position = self._morph_position(src, env)
        h = self._stream_layer(li, owner, stream, pos, vel, env, fade_in, start_frame, bus)
        li.generator = stream
        label = stream.label
        self.events.append(("generated", {"layer": li.layer.uid, "morph": str(src.model.name), **label}))
        return h

    def _stream_layer(
        self,
        li: LayerInstance,
        owner: EmitterDef | EventDef,
        source: Any,
        pos: tuple[float, float, float] | None,
        vel: tuple[float, float, float],
        env: Mapping[str, Any],
        fade_in: float,
        start_frame: int | None,
        bus: str | None,
    ) -> int:
        """Start a streaming voice for a rendered source (generator, morph) with the layer's settings."""
        li.pick_db = li.pick_st = 0.0
        s = self._settings(li.layer, owner.gain_db, env, li.weight)
        att = owner.attenuation
        li.sent = s
        return self.engine.play_stream(
            source,
            bus=bus or owner.bus,
            gain_db=s["gain_db"],
            start_frame=start_frame,
            fade_in=fade_in,
            lowpass_hz=s["lowpass_hz"],
            highpass_hz=s["highpass_hz"],
            sends=s["sends"],
            priority=li.layer.priority,
            position=pos,
            velocity=vel,
            min_distance=att.min_distance,
            max_distance=att.max_distance,
            rolloff=att.engine_rolloff(),
            binaural=owner.binaural,
        )

    def _generator_params(self, src: GeneratorSource, env: Mapping[str, Any]) -> dict[str, Any]:
        return {k: (v.evaluate(env) if isinstance(v, ValueDef) else v) for k, v in src.params.items()}

    def _play_generator(
        self,
        li: LayerInstance,
        owner: EmitterDef | EventDef,
        pos: tuple[float, float, float] | None,
        vel: tuple[float, float, float],
        env: Mapping[str, Any],
        *,
        loop: bool,
        fade_in: float,
        start_frame: int | None,
        bus: str | None,
    ) -> int | None:
        """A procedural layer: a generator instance streamed into a voice (one per hit for one-shots)."""
        from ..generators import create_generator

        src = li.layer.source
        assert isinstance(src, GeneratorSource)
        li.variations += 1
        seed = int(self.rng.integers(0, 2**31 - 1))
        try:
            gen = create_generator(
                src.name,
                sample_rate=self.sr,
                seed=seed,
                params=self._generator_params(src, env),
                variation=li.variations,
            )
        except SoundscapeError as exc:
            self.events.append(("error", {"layer": li.layer.uid, "message": str(exc)}))
            return None
        if getattr(gen, "oneshot", False) and hasattr(gen, "trigger"):
            gen.trigger()
        h = self._stream_layer(li, owner, gen, pos, vel, env, fade_in, start_frame, bus)
        if loop:
            li.generator = gen
        meta = {"layer": li.layer.uid, "generator": src.name, "seed": seed, "variation": li.variations}
        self.events.append(("generated", meta))
        return h

    def _refresh_or_move(
        self,
        li: LayerInstance,
        owner: EmitterDef | EventDef,
        pos: tuple[float, float, float] | None,
        vel: tuple[float, float, float],
        env: Mapping[str, Any],
    ) -> None:
        """A tick where only the owner moved (nothing set ``_dirty``: no parameter, state, weight,
        override or reload changed) leaves the layer's settings as last sent: the voice gets its new
        pose alone, without re-evaluating its curves (the common case when thousands of sources move)."""
        if self.pose_fast_path and not self._dirty and pos is not None and li.sent and li.handle is not None:
            self._voice_changes.add_pose(li.handle, pos, vel)
        else:
            self._refresh_voice(li, owner, pos, vel, env)

    def _refresh_voice(
        self,
        li: LayerInstance,
        owner: EmitterDef | EventDef,
        pos: tuple[float, float, float] | None,
        vel: tuple[float, float, float],
        env: Mapping[str, Any],
        pose: bool = True,
    ) -> None:
        """Bring a playing voice to the layer's current settings (curves, weight) and, with ``pose``,
        its owner's position; the voice keeps what its play picked (file gain, random jitter)."""
        s = self._settings(li.layer, owner.gain_db + li.pick_db, env, li.weight, li.pick_st)
        if li.generator is not None and isinstance(li.layer.source, MorphSource):
            li.generator.position = self._morph_position(li.layer.source, env)
        if li.generator is not None and isinstance(li.layer.source, GeneratorSource):
            try:
                li.generator.set_params(self._generator_params(li.layer.source, env))
            except SoundscapeError as exc:
                self.events.append(("error", {"layer": li.layer.uid, "message": str(exc)}))
        change: dict[str, Any] = {}
        sends, old_sends = s.pop("sends"), li.sent.get("sends") or {}
        if sends != old_sends:  # a send the layer no longer has goes silent (the engine keeps its slot)
            change["sends"] = {**{bus: MIN_SEND_DB for bus in old_sends if bus not in sends}, **sends}
        for k, v in s.items():
            old = li.sent.get(k)
            if old is None or v is None:
                if old != v:
                    change[k] = v
            elif abs(v - old) > SETTLE * max(1.0, abs(old)):
                change[k] = v
        if pos is not None and pose:
            change["position"] = pos
            change["velocity"] = vel
        if isinstance(li.layer.source, (GeneratorSource, MorphSource)):
            change.pop("pitch", None)  # a stream plays at rate 1; generators have their own pitch
        if change and li.handle is not None:
            self._voice_changes.add(self.engine, li.handle, change)  # sent in bulk at the tick's end
            li.sent.update({k: v for k, v in change.items() if k in s})
            li.sent["sends"] = sends

    # ---------------------------------------------------------------- events
    def _subtitle(self, label: Mapping[str, Any], emitter: str | None, pos: Any, at: int | None) -> None:
        """A spoken line's subtitle on the `caption` topic (when its label carries the text): the
        speaker is the emitter it comes from, else the voice preset."""
        text = label.get("text")
        if text:
            speaker = emitter or str(label.get("preset") or "voice")
            frame = at if at is not None else self.frame
            rec = self.captioner.subtitle(text, speaker, pos, self.engine.listener, frame, dict(label))
            self.events.append(("caption", rec))

    def _start_instance(
        self, iid: int, ev: EventDef, pos: Any, local: dict, obj: str | None, at: int | None
    ) -> None:
        env = self._instance_env(ev, local)
        follows = obj or ev.follows
        vel = (0.0, 0.0, 0.0)
        if follows is not None:
            o = self.objects.get(follows)
            pos, vel = (o.position, o.velocity) if o else (pos, vel)
        elif ev.emitter is not None:
            em = self.emitters.get(ev.emitter)
            pos = em.position if em else pos
        elif isinstance(ev.position, tuple):
            pos = ev.position
        elif ev.position is None:
            pos = None
        live = [i for i in self.instances.values() if i.event.name == ev.name]
        if len(live) >= ev.max_instances:  # steal the oldest, like FMOD's max instances / steal oldest
            self._stop_instance(live[0].iid, True, at)
        inst = EventInstance(iid, ev, env, pos, follows, start_frame=at if at is not None else self.frame)
        inst.local, inst.velocity = local, vel
        switch_value = env.get(ev.switch) if ev.switch else None
        for layer in ev.layers_for(switch_value):
            if not layer.active(env):
                continue
            li = LayerInstance(layer, container=self._event_container(layer))
            self._update_weight(li)
            if li.weight <= 0.0:
                continue
            inst.layers[layer.id] = li
            h = self._play_layer(
                li,
                ev,
                pos,
                vel,
                env,
                loop=layer.mode == "loop",
                fade_in=layer.fade_in if layer.mode == "loop" else 0.0,
                start_frame=at,
            )
            if h is not None:
                li.handle = h
                inst.handles.add(h)
                self._handle_owner[h] = iid
        self.instances[iid] = inst
        self.events.append(("instance_started", {"id": iid, "event": ev.name, "frame": inst.start_frame}))
        if not inst.handles:
            self._end_instance(iid)

    def _instance_env(self, ev: EventDef, local: Mapping[str, Any]) -> dict[str, Any]:
        """What an instance's curves read: the game's parameters, its own ones over them, defaults."""
        env = {**self.env, **local}
        for p in ev.parameters.values():
            env.setdefault(p.name, p.default)
        return env

    def _event_container(self, layer: LayerDef) -> ContainerState:
        state = self._event_containers.get(layer.uid)
        if state is None:
            state = self._event_containers[layer.uid] = ContainerState()
        return state

    def _update_instance(self, inst: EventInstance) -> None:
        """A playing instance follows its object (or emitter), the game's parameters and live
        weights, like an emitter's layers do: its curves are not frozen at the trigger."""
        if self.frame <= inst.start_frame:
            return  # its voices start in this block: a change now would reach the engine before them
        moved = False
        if inst.follows is not None:
            o = self.objects.get(inst.follows)
            if o is not None and o.position != inst.position:
                inst.position, inst.velocity, moved = o.position, o.velocity, True
        elif inst.event.emitter is not None:
            em = self.emitters.get(inst.event.emitter)
            if em is not None and em.position is not None and em.position != inst.position:
                inst.position, inst.velocity, moved = em.position, em.velocity, True
        synced = inst.synced
        inst.synced = True
        if not (self._dirty or moved or not synced):
            return
        if synced and not self._dirty and self.pose_fast_path:  # only its object moved: pose alone
            for li in inst.layers.values():
                if li.handle is not None and li.handle in inst.handles and li.sent:
                    self._voice_changes.add_pose(li.handle, inst.position, inst.velocity)
            return
        inst.env = self._instance_env(inst.event, inst.local)
        for li in inst.layers.values():
            if li.handle is not None and li.handle in inst.handles:
                self._update_weight(li)
                self._refresh_voice(li, inst.event, inst.position, inst.velocity, inst.env, pose=moved)

    def _stop_instance(self, iid: int, release: bool, at: int | None) -> None:
        inst = self.instances.get(iid)
        if inst is None:
            return
        for li in inst.layers.values():
            if li.handle is not None and li.handle in inst.handles:
                rel = li.layer.fade_out if release else 0.005  # 5 ms even for "no release": never a hard cut
                self.engine.stop(li.handle, release=rel, at_frame=at)

    def _end_instance(self, iid: int) -> None:
        inst = self.instances.pop(iid, None)
        self._known_iids.discard(iid)
        if inst is not None:
            self.events.append(("instance_ended", {"id": iid, "event": inst.event.name, "frame": self.frame}))

    def _collect_engine_events(self) -> None:
        ev = self.engine.events
        while ev:
            kind, handle, _frame = ev.popleft()
            if kind != "ended":
                continue
            li = self._oneshot_owner.pop(handle, None)
            if li is not None and li.handle == handle:
                li.handle = None
                li.sent = {}
            iid = self._handle_owner.pop(handle, None)
            if iid is None:
                continue
            inst = self.instances.get(iid)
            if inst is None:
                continue
            inst.handles.discard(handle)
            if not inst.handles:
                self._end_instance(iid)

    # ---------------------------------------------------------------- setup and reload
    def _setup_buses(self, scene: SceneDef) -> None:
        for b in scene.bus_order():
            spec = _bus_spec(b)
            if b.name == "master":
                self.engine.set_bus(
                    "master",
                    gain_db=b.gain_db,
                    lowpass_hz=b.lowpass_hz,
                    highpass_hz=b.highpass_hz,
                    effects=b.effects,
                )
            elif b.name in self._bus_base or b.name in self.engine._bus_names:
                self.engine.set_bus(
                    b.name,
                    gain_db=b.gain_db,
                    lowpass_hz=b.lowpass_hz,
                    highpass_hz=b.highpass_hz,
                    muted=False,
                    reverb=spec.reverb,
                    effects=b.effects,
                )
            else:
                self.engine.add_bus(spec)
            self._bus_base[b.name] = b
        master = scene.buses.get("master")
        self.engine.set_loudness_target(master.loudness_lufs if master is not None else None)
        for b in scene.buses.values():
            for d in b.ducking:
                key = (d.by, b.name)
                if key not in getattr(self, "_ducks", set()):
                    self.engine.add_duck(
                        DuckSpec(
                            source=d.by,
                            target=b.name,
                            amount_db=d.amount_db,
                            threshold_db=d.threshold_db,
                            attack=d.attack,
                            release=d.release,
                        )
                    )
                    self._ducks = getattr(self, "_ducks", set()) | {key}

    def _sample_key(self, src: SampleSource) -> str:
        return self._keys[src.file]

    def _normalise_db(self, layer: LayerDef, bus: str, key: str) -> float:
        """Automatic mixing: gain that brings this asset to its bus's loudness target (0 if none)."""
        bdef = self.scene.buses.get(bus)
        if bdef is None or bdef.loudness_lufs is None or not layer.normalize:
            return 0.0
        lufs = self._asset_lufs.get(key, -math.inf)
        if not math.isfinite(lufs):
            return 0.0
        return max(-24.0, min(24.0, bdef.loudness_lufs - lufs))

    def _load_assets(self, scene: SceneDef) -> None:
        """Decode every asset once (keyed by path and modification time, so an edited file reloads)."""
        from .spec import AUDIO_EXTENSIONS

        keys = getattr(self, "_keys", {})
        for f in scene.asset_files():
            if f.suffix.lower() not in AUDIO_EXTENSIONS:
                continue  # models and other non-audio files are loaded by their own users
            try:
                key = f"{f}@{os.stat(f).st_mtime_ns}"
            except OSError as exc:
                raise SceneError(f"{f}: cannot read asset ({exc.strerror})") from None
            if key not in self.engine.bank:
                self.engine.bank.load(key, f)
            keys[f] = key
            if key not in self._asset_lufs:
                self._asset_lufs[key] = _asset_loudness(self.engine.bank.array(key), self.sr)
        self._keys = keys

    def _reload(self, new: SceneDef) -> None:
        """Swap definitions; matching layers keep playing and glide, others fade out or in."""
        self._load_assets(new)
        old = self.scene
        self.scene = new
        self._setup_buses(new)
        for name in self._bus_base.keys() - set(new.buses) - {"master"}:
            self.engine.set_bus(name, muted=True)
            del self._bus_base[name]
        # parameters: keep the game's values where the name survives, clamped to the new range
        env = new.default_env()
        for k, v in self.env.items():
            if k in new.parameters:
                env[k] = new.parameters[k].clamp(v)
            elif (k in new.states and v in new.states[k].values) or (
                k in new.switches and v in new.switches[k].values
            ):
                env[k] = v
        self.env = env
        self.targets = {
            k: new.parameters[k].clamp(self.targets.get(k, p.default)) for k, p in new.parameters.items()
        }
        for name in list(self.emitters):
            if name not in new.emitters:
                for li in self.emitters[name].layers.values():
                    if li.handle is not None:
                        self.engine.stop(li.handle, release=li.layer.fade_out)
                del self.emitters[name]
        for name, em_def in new.emitters.items():
            em = self.emitters.get(name)
            if em is None:
                self.emitters[name] = self._new_emitter(em_def)
                continue
            em.emitter = em_def
            old_layers = em.layers
            em.layers = {}
            for ly in em_def.layers:
                li = old_layers.pop(ly.id, None)
                if li is None:
                    em.layers[ly.id] = LayerInstance(ly)
                    continue
                same_source = li.layer.source == ly.source and li.layer.mode == ly.mode
                if not same_source and li.handle is not None:
                    self.engine.stop(li.handle, release=li.layer.fade_out)
                    li.handle = None
                    li.sent = {}
                if li.layer.source != ly.source:
                    li.container = ContainerState()  # a changed container starts again
                li.layer = ly
                em.layers[ly.id] = li
            for li in old_layers.values():
                if li.handle is not None:
                    self.engine.stop(li.handle, release=li.layer.fade_out)
        # event containers: a layer whose source is unchanged goes on where it was
        kept = {ly.uid: ly.source for ev in new.events.values() for ly in ev.layers}
        was = {ly.uid: ly.source for ev in old.events.values() for ly in ev.layers}
        self._event_containers = {
            uid: state
            for uid, state in self._event_containers.items()
            if uid in kept and kept[uid] == was.get(uid)
        }
        # snapshots: forget removed ones, and lay the active ones over the buses' new settings
        for table in (self.snapshot_on, self.snapshot_amount):
            for name in [k for k in table if k not in new.snapshots]:
                del table[name]
        if any(a > 0 for a in self.snapshot_amount.values()):
            self._apply_bus_mix()
        if new.music is not None:
            if self._music is None or old.music != new.music:
                keep = self._music
                self._music = _MusicPlayer(self, new, previous=keep)
        elif self._music is not None:
            self._music.stop_all()
            self._music = None
        self._dirty = True
        self._listener_placed = False
        self._scene_listener()
        self._scene_director()
        self.counters["reloads"] += 1
        self.events.append(("reloaded", {"scene": new.name, "frame": self.frame}))


class _MusicPlayer:
    """Interactive music on a beat grid: segments switch on the next beat or bar, to the sample."""

    def __init__(self, rt: SceneRuntime, scene: SceneDef, previous: _MusicPlayer | None = None) -> None:
        self.rt = rt
        self.music = scene.music
        assert self.music is not None
        self.sr = rt.sr
        self.origin = previous.origin if previous else -1
        self.current: str | None = previous.current if previous else None
        self.handle: int | None = previous.handle if previous else None
        self.gain_db: float | None = previous.gain_db if previous else None  # what the voice was told
        self.started = previous.started if previous else -1  # the playing segment's first frame
        self.pending: tuple[str, int] | None = None
        self.stingers_due: list[tuple[int, str]] = []
        self.stinger_was: dict[str, bool] = {}
        self.next_beat = previous.next_beat if previous else -1
        self.beat_index = previous.beat_index if previous else 0
        if self.current is not None and self.current not in self.music.segments:
            self.stop_all()
            self.current = None

    def status(self) -> dict:
        return {
            "segment": self.current,
            "pending": self.pending[0] if self.pending else None,
            "beat": self.beat_index,
        }

    def queue_stinger(self, name: str, now: int) -> None:
        st = self.music.stingers[name]
        origin = self.origin if self.origin >= 0 else now
        at = self.music.next_boundary_frame(now, origin, st.at, self.sr)
        self.stingers_due.append((at, name))

    def _play_stingers(self, start: int, end: int) -> None:
        rt = self.rt
        for st in self.music.stingers.values():
            if st.when is None:
                continue
            now = bool(st.when.evaluate(rt.env))
            if now and not self.stinger_was.get(st.name, False):
                self.queue_stinger(st.name, start)
            self.stinger_was[st.name] = now
        due = [x for x in self.stingers_due if x[0] < end]
        if not due:
            return
        self.stingers_due = [x for x in self.stingers_due if x[0] >= end]
        for at, name in due:
            self._play_stinger(name, max(at, start))
            rt.events.append(("stinger", {"stinger": name, "frame": max(at, start)}))

    def _play_stinger(self, name: str, frame: int) -> None:
        st = self.music.stingers[name]
        self.rt.engine.play(
            self.rt._sample_key(st.source),
            bus=self.music.bus,
            gain_db=st.gain_db + st.source.gain_db,
            start_frame=frame,
        )

    def stop_all(self) -> None:
        if self.handle is not None:
            self.rt.engine.stop(self.handle, release=0.05)
            self.handle = None

    def _wanted(self) -> str:
        m = self.music
        for seg in m.segments.values():
            if seg.when is not None and seg.when.evaluate(self.rt.env):
                return seg.name
        return self.current or m.start

    def _segment_gain(self, seg: SegmentDef) -> float:
        return (seg.gain.evaluate(self.rt.env) or 0.0) + seg.source.gain_db

    def _play(self, seg: SegmentDef, frame: int, fade_in: float) -> None:
        rt = self.rt
        self.gain_db = self._segment_gain(seg)
        self.started = frame
        self.handle = rt.engine.play(
            rt._sample_key(seg.source),
            bus=self.music.bus,
            gain_db=self.gain_db,
            loop=seg.loop,
            start_frame=frame,
            fade_in=fade_in,
        )

    def _follow_gain(self, start: int) -> None:
        """The playing segment's ``gain`` curve follows its parameters (not frozen at its start)."""
        seg = self.music.segments.get(self.current) if self.current else None
        if seg is None or self.handle is None:
            return
        gain = self._segment_gain(seg)
        if self.gain_db is None or abs(gain - self.gain_db) > SETTLE:
            # at the block after the voice's start, so the change never reaches the engine before it
            self.rt.engine.set_voice(self.handle, gain_db=gain, at_frame=max(start, self.started + 1))
            self.gain_db = gain

    def update(self, start: int, end: int) -> None:
        m = self.music
        rt = self.rt
        if self.current is None:
            self.origin = start
            self.current = self._wanted()
            self._play(m.segments[self.current], start, 0.0)
            self.next_beat = start
            rt.events.append(("music_segment", {"segment": self.current, "frame": start}))
        # beat / bar callbacks for grid points inside this block
        spb = m.seconds_per_beat * self.sr
        while self.next_beat < end:
            bar, beat = divmod(self.beat_index, m.beats_per_bar)
            rt.events.append(("beat", {"beat": beat + 1, "bar": bar + 1, "frame": self.next_beat}))
            if beat == 0:
                rt.events.append(("bar", {"bar": bar + 1, "frame": self.next_beat}))
            self.beat_index += 1
            self.next_beat = self.origin + round(self.beat_index * spb)
        self._play_stingers(start, end)
        if rt._dirty:
            self._follow_gain(start)
        want = self._wanted()
        if self.pending is None and want != self.current:
            tr = m.transition(self.current, want)
            at = m.next_boundary_frame(start, self.origin, tr.at, self.sr)
            self.pending = (want, at)
        if self.pending is not None and self.pending[1] < end:
            name, at = self.pending
            tr = m.transition(self.current, name)
            if self.handle is not None:
                rt.engine.stop(self.handle, release=tr.fade_out, at_frame=at)
            self._play(m.segments[name], at, tr.fade_in)
            if tr.stinger and tr.stinger in m.stingers:
                self._play_stinger(tr.stinger, at)
            rt.events.append(("music_segment", {"segment": name, "frame": at}))
            self.current = name
            self.pending = None


class _MorphFeed:
    """Adapts a MorphStream (``render(frames, position)``) to the engine's stream interface."""

    channels = 2

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.position = 0.5
        meta = getattr(getattr(stream, "model", None), "meta", {}) or {}
        self.label = {"model": meta.get("name", "morph"), "version": meta.get("version", 0)}

    def render(self, frames: int) -> np.ndarray:
        return self.stream.render(frames, self.position)


def _asset_loudness(x: np.ndarray, sr: int) -> float:
    """Integrated loudness (LUFS) of an asset, measured once at load for automatic mixing."""
    from ..engine.dsp.loudness import integrated_loudness

    try:
        return float(integrated_loudness(x, sr))
    except Exception:  # too short to gate, silent ...: no normalisation for this asset
        return -math.inf


def _log_blend(a: float, b: float, t: float) -> float:
    return math.exp(math.log(a) + t * (math.log(b) - math.log(a)))


def _cut(v: ValueDef | None, env: Mapping[str, Any], sr: int) -> float | None:
    if v is None:
        return None
    hz = v.evaluate(env)
    if hz is None:
        return None
    return min(max(float(hz), 10.0), 0.49 * sr)


def _bus_spec(b: BusDef) -> BusSpec:
    reverb = None
    if b.reverb is not None:
        r = b.reverb
        reverb = ReverbSpec(room_size=r.room_size, damping=r.damping, wet=r.wet, dry=r.dry, width=r.width)
    return BusSpec(
        b.name,
        parent=b.parent,
        gain_db=b.gain_db,
        lowpass_hz=b.lowpass_hz,
        highpass_hz=b.highpass_hz,
        reverb=reverb,
        effects=b.effects,
    )
