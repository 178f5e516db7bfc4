"""The live side of a scene: instances of the definitions, driving the engine at control rate.

``SceneRuntime`` is what plays (FMOD's EventInstance, SoLoud's AudioSourceInstance): parameter
values gliding at their seek speed, the current states and switches, game objects, emitters whose
layers start, glide and fade as conditions and curves say, event instances the game fires, the
music grid, snapshots blending in and out.

It is a coordinator: it checks game input, queues commands and, once per block, applies them and
runs its parts in order. Each part has one job:

- ``rt.scheduler.CommandScheduler``: the queue of commands, each applied on its frame;
- ``mixer.Mixer``: buses, ducking, snapshots and the player's per-bus gains;
- ``emitters.Emitters``: the listener's and emitters' placement, which emitter layers play;
- ``instances.Instances``: event instances from trigger to their last voice;
- ``voices.LayerVoices``: starting and refreshing a layer's voice, through its source type
  (``sources/``: one module per type: sample, random, sequence, generator, morph);
- ``music.MusicPlayer``, ``assets.Assets``, ``director_host.DirectorHost``, ``lines.Lines``.

Threading: the game-facing methods (``set_param``, ``trigger`` ...) validate in the caller's thread,
raising a :class:`SoundscapeError` with a clear message, then queue a command; ``update(n)`` runs in
the render loop right before each engine block, drains the queue and turns the scene's state into
engine commands. So the network thread and the render thread never share a lock, and a command
carrying a frame lands on that frame.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from ..config import MAX_INSTANCES, MAX_OBJECTS  # declared once: the daemon refuses beyond them first
from ..engine import Engine
from ..errors import EngineError, SoundscapeError
from ..rt.scheduler import CommandScheduler
from ..rt.worker import Worker
from ..transport.protocol import MAX_NAME_LEN
from .assets import Assets
from .captions import Captioner
from .director_host import DirectorHost, LayerDirector
from .emitters import Emitters
from .instances import Instances
from .lines import Lines
from .mixer import Mixer
from .model import SceneDef
from .music import MusicPlayer
from .objects import ObjectTable
from .state import (
    EmitterInstance,
    EventInstance,
    GameObject,
    LayerInstance,
    RuntimeErrorMsg,
    game_number,
    game_vec3,
    unknown,
)
from .voice_changes import VoiceChanges
from .voices import LayerVoices

__all__ = [
    "EmitterInstance",
    "EventInstance",
    "GameObject",
    "LayerDirector",
    "LayerInstance",
    "RuntimeErrorMsg",
    "SceneRuntime",
]


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
        self.voice_changes = VoiceChanges()  # this tick's voice refreshes, sent as one bulk call
        self.dirty = True  # something the curves read changed this tick (else only poses are sent)
        self._commands = CommandScheduler()
        self._iids = itertools.count(1)
        self.objects = ObjectTable(MAX_OBJECTS)  # reads as {name: GameObject}; rows of arrays inside
        self.listener = GameObject(scene.listener.position, scene.listener.forward)
        self.targets: dict[str, float] = {p.name: p.default for p in scene.parameters.values()}
        self.env: dict[str, Any] = scene.default_env()
        self.overrides: dict[str, float] = {}  # layer uid -> weight set live (teach mode, tools)
        self.on_override: Callable[[str, float, dict], None] | None = None  # teach mode recording
        self.background: Worker | None = None
        """Real time only (the daemon sets it): the thread that builds streams and runs the director
        for the render path (``rt/worker.py``). None: that work runs inline (offline, reproducible)."""
        self._prepared: SceneDef | None = None  # the scene ``prepare`` ran for last
        self.counters = {"commands": 0, "errors": 0, "reloads": 0, "objects_refused": 0}
        self.music: MusicPlayer | None = None
        self.assets = Assets(engine)
        self.mixer = Mixer(engine)
        self.director_host = DirectorHost(self)
        self.voices = LayerVoices(self)
        self._emitters = Emitters(self)
        self._instances = Instances(self)
        self._lines = Lines(self, self._post)
        # the parts' live tables, under the names the game-facing API has always had
        self.emitters: dict[str, EmitterInstance] = self._emitters.items
        self.instances: dict[int, EventInstance] = self._instances.items
        self.snapshot_on: dict[str, bool] = self.mixer.snapshot_on
        self.snapshot_amount: dict[str, float] = self.mixer.snapshot_amount
        self.mixer.setup(scene)
        self.prepare(scene)
        for em in scene.emitters.values():
            self.emitters[em.name] = self._emitters.new(em)
        if scene.music is not None:
            self.music = MusicPlayer(self, scene)
        self._emitters.place_listener()
        self.director_host.load_scene_director()

    # the director's state lives in its host; these are what tools and tests read
    @property
    def director(self) -> LayerDirector | None:
        return self.director_host.director

    @property
    def director_weights(self) -> dict[str, float]:
        return self.director_host.weights

    @property
    def director_inputs(self) -> Mapping[str, Any]:
        return self.director_host.inputs

    # ================================================================ game-facing API
    def set_param(self, name: str, value: Any, at_frame: int | None = None) -> None:
        p = self.scene.parameters.get(name)
        if p is None:
            raise unknown("parameter", name, list(self.scene.parameters))
        v = game_number(f"parameter '{name}'", value)
        if not p.min <= v <= p.max:
            raise RuntimeErrorMsg(f"parameter '{name}'={v}: must be within {p.min}..{p.max}")
        self._post(("param", name, v), at_frame)

    def set_state(self, group: str, value: str, at_frame: int | None = None) -> None:
        g = self.scene.states.get(group)
        if g is None:
            raise unknown("state group", group, list(self.scene.states))
        if value not in g.values:
            raise unknown(f"value of state '{group}'", value, list(g.values))
        self._post(("state", group, value), at_frame)

    def set_switch(
        self, group: str, value: str, object: str | None = None, at_frame: int | None = None
    ) -> None:
        g = self.scene.switches.get(group)
        if g is None:
            raise unknown("switch group", group, list(self.scene.switches))
        if value not in g.values:
            raise unknown(f"value of switch '{group}'", value, list(g.values))
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
            raise unknown("event", event, list(self.scene.events))
        pos = game_vec3("position", position) if position is not None else None
        local: dict[str, Any] = {}
        for k, v in (params or {}).items():
            pdef = ev.parameters.get(k) or self.scene.parameters.get(k)
            if pdef is None:
                raise unknown(
                    f"parameter of event '{event}'", k, list(ev.parameters) + list(self.scene.parameters)
                )
            f = game_number(f"parameter '{k}'", v)
            if not pdef.min <= f <= pdef.max:
                raise RuntimeErrorMsg(f"parameter '{k}'={f}: must be within {pdef.min}..{pdef.max}")
            local[k] = f
        for k, v in (switches or {}).items():
            g = self.scene.switches.get(k)
            if g is None:
                raise unknown("switch group", k, list(self.scene.switches))
            if v not in g.values:
                raise unknown(f"value of switch '{k}'", v, list(g.values))
            local[k] = v
        if len(self._instances.known) >= MAX_INSTANCES:
            raise RuntimeErrorMsg(f"too many live event instances (cap {MAX_INSTANCES}); stop some first")
        iid = next(self._iids)
        self._instances.known.add(iid)
        self._post(("trigger", iid, ev, pos, local, object), at_frame)
        return iid

    def stop(self, iid: int, release: bool = True, at_frame: int | None = None) -> None:
        if not isinstance(iid, int) or iid not in self._instances.known:
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
            game_vec3(n, x)
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
        p = game_vec3("position", position)
        f = game_vec3("forward", forward) if forward is not None else None
        v = game_vec3("velocity", velocity) if velocity is not None else None
        if self._no_room_for(name):
            raise RuntimeErrorMsg(f"too many game objects (cap {MAX_OBJECTS})")
        self._post(("object", name, p, f, v), at_frame)

    def set_objects_arrays(
        self,
        objects: Sequence[str] | np.ndarray,
        positions: Any,
        forwards: Any = None,
        velocities: Any = None,
    ) -> None:
        """Many untimed object transforms in one step, as arrays: the bulk form of ``set_object``.

        ``objects`` names n objects, or gives their rows (an integer array from :meth:`object_rows`,
        called on the thread that calls ``update``, as the daemon's render path does); ``positions``
        has shape (n, 3); ``forwards`` and ``velocities``, when given, too (a row of NaN keeps that
        object's value, as an omitted field does). Checked at once (shapes, finite numbers, names,
        the object cap) and applied at the next block in one numpy step; emitters and instances
        following the objects move with them, and the voices whose object moved get their poses in
        the tick's one ``Engine.set_voices`` call.
        """
        rows = None
        if isinstance(objects, np.ndarray) and objects.dtype.kind in "iu":
            if objects.ndim != 1 or (
                objects.size and not 0 <= objects.min() <= objects.max() < len(self.objects.names)
            ):
                raise RuntimeErrorMsg("objects: rows must be a 1-D array of rows given by object_rows()")
            rows, n = objects.astype(np.int64, copy=False), objects.shape[0]
        else:
            names = list(objects)
            for i, name in enumerate(names):
                if not isinstance(name, str) or not name or len(name) > MAX_NAME_LEN:
                    raise RuntimeErrorMsg(
                        f"objects[{i}]: object name {name!r}: must be a non-empty string of at most "
                        f"{MAX_NAME_LEN} characters"
                    )
            new = {nm for nm in names if nm not in self.objects.slot}
            if len(self.objects.names) + len(new) > MAX_OBJECTS:
                raise RuntimeErrorMsg(f"too many game objects (cap {MAX_OBJECTS})")
            n = len(names)
        arrays = [_rows3("positions", positions, n, keep=False)]
        for label, a in (("forwards", forwards), ("velocities", velocities)):
            arrays.append(None if a is None else _rows3(label, a, n, keep=True))
        self._commands.post(("objects_arrays", names if rows is None else rows, *arrays))

    def object_rows(self, names: Sequence[str]) -> np.ndarray:
        """The object table's rows of ``names`` (reserved when new; -1 beyond the cap): for callers
        that name their objects once and then send rows (``set_objects_arrays``). Call it from the
        thread that calls ``update``."""
        return self.objects.rows(names)

    def instance_voice_count(self) -> int:
        """Voices the live event instances play (for views that list a few and count the rest)."""
        return self._instances.voice_count()

    def instance_position(self, inst: EventInstance) -> Any:
        """Where an event instance is now (the studio's view): one following an object is where the
        object is (the bulk path moves its voices without rewriting the instance's record)."""
        return self._instances.position(inst)

    def set_objects_validated(self, updates: dict[str, tuple]) -> None:
        """Many untimed object transforms at once: ``{name: (position, forward | None, velocity | None)}``.

        For callers that validated every field already (the daemon's network process checks names,
        vector lengths and finiteness): one queue entry instead of one checked call per object, which
        is what lets the audio side absorb 100k updates per second inside its per-block budget. The
        object cap still applies (objects beyond it are counted in ``objects_refused``).
        """
        self._commands.post(("objects", updates))

    def snapshot(self, name: str, on: bool, at_frame: int | None = None) -> None:
        if name not in self.scene.snapshots:
            raise unknown("snapshot", name, list(self.scene.snapshots))
        self._post(("snapshot", name, bool(on)), at_frame)

    def set_player_gains(self, gain_db: Mapping[str, float]) -> None:
        """Set the player's volume offsets per bus (``accessibility.mix.player_mix``'s ``bus_gain_db``);
        buses not named go back to 0 dB."""
        gains = {}
        for bus, db in gain_db.items():
            if bus not in self.scene.buses:
                raise unknown("bus", bus, list(self.scene.buses))
            gains[bus] = game_number(f"player gain of bus {bus}", db)
        self._post(("player_gains", MappingProxyType(gains)), None)

    def override(self, layer_uid: str, weight: float | None, at_frame: int | None = None) -> None:
        """Set a layer's weight live (0..1), or None to hand it back to its rules/director
        (protocol ``set_weight``; at ``at_frame`` when given)."""
        known = [layer.uid for _, layer in self.scene.all_layers()]
        if layer_uid not in known:
            raise unknown("layer", layer_uid, known)
        if weight is not None:
            w = game_number("weight", weight)
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
        label = {**label, "text": text}  # the subtitle's text, as the daemon's lines carry it
        self.play_line(name, label, emitter=emitter, position=position, at_frame=at_frame)
        return label

    def prepare_line(self, text: str, preset: str = "neutral") -> tuple[str, dict]:
        """Render a character line into the bank (slow on a cache miss: keep it off the render thread).
        The line is kept while it plays and within the voice budget (``voice.lines``); play it with
        ``play_line``, which tells the budget when it may be dropped."""
        return self._lines.prepare(text, preset)

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
        self._lines.play(name, label, emitter=emitter, position=position, at_frame=at_frame)

    def stinger(self, name: str, at_frame: int | None = None) -> None:
        """Play a music stinger, quantised to its beat or bar."""
        music = self.scene.music
        if music is None:
            raise RuntimeErrorMsg("this scene has no music, so no stingers")
        if name not in music.stingers:
            raise unknown("stinger", name, list(music.stingers))
        self._post(("stinger", name), at_frame)

    def prepare(self, scene: SceneDef) -> None:
        """Do a scene's slow work now, in the caller's thread: decode its assets, open its morph
        models and warm up its generators and models (compiled-code caches, first onnxruntime runs),
        so nothing of the kind happens on the render thread when a layer first starts."""
        self._prepared = scene
        self.assets.load(scene)
        streamed = sum(self.voices.sources.streamed(ly) for _, ly in scene.all_layers())
        if streamed:
            # loops hold one stream each; one-shot hits overlap, so keep a few spare
            self.engine.reserve_streams(2 * streamed + 8, channels=2)
        self.voices.sources.prepare(scene)
        self.director_host.prepare(scene)

    def reload(self, scene: SceneDef) -> None:
        """Swap in a new, already validated definition at the next block (hot reload).

        The slow part (``prepare``) runs here, in the caller's thread, unless it ran for this very
        definition already (the daemon prepares on its main thread, then swaps on the render path);
        the swap itself is queued."""
        if scene is not self._prepared:
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
            "switches": {k: self.env[k] for k in self.scene.switches},  # global values (not per object)
            "layers": layers,
            "instances": len(self.instances),
            "snapshots": {k: round(v, 4) for k, v in self.snapshot_amount.items() if v > 0},
            "music": self.music.status() if self.music else None,
        }

    # ================================================================ render side
    def update(self, n: int) -> None:
        """Advance the scene to cover engine frames [frame, frame + n) (call before ``engine.render``)."""
        self.frame = self.engine.frame
        end = self.frame + n
        self._commands.drain(end, self._apply)
        self._glide_params(n)
        if self._emitters.listener_moves():
            self._emitters.place_listener()
        self.director_host.tick()
        self._collect_engine_events()
        self._caption(self.frame)
        self.mixer.update_snapshots(self.scene, self.env, n)
        moved = self.objects.take_moved()  # the rows that moved since the last tick
        self._emitters.update(end)
        self._instances.update(moved)
        if self.music is not None:
            self.music.update(self.frame, end)
        self.voice_changes.flush(self.engine)
        self.dirty = False

    def after_render(self) -> None:
        """The engine rendered the block: caption the voices whose first sample it held, so a driver
        that publishes after rendering sends them with that block (``update`` catches them otherwise)."""
        self._caption(self.engine.frame)

    def attach_director(self, director: LayerDirector | None) -> None:
        """Hand flagged layers to ``director`` (None: back to the scene's rules and curves)."""
        self.director_host.attach(director)

    def _caption(self, frame: int) -> None:
        for rec in self.captioner.update(self.engine, frame):
            self.events.append(("caption", rec))

    def _glide_params(self, n: int) -> None:
        """Move each parameter toward the game's value at its ``seek`` speed (units per second)."""
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
            self.dirty = True

    def _collect_engine_events(self) -> None:
        """Voices the engine ended: one-shot emitter layers and event instances let go of them."""
        ev = self.engine.events
        while ev:
            kind, handle, _frame = ev.popleft()
            if kind == "ended":
                self._emitters.ended(handle)
                self._instances.ended(handle)

    # ================================================================ commands
    # Every game command is a tuple (kind, ...) queued by the API above and applied here, on the render
    # thread, by the handler ``_APPLY[kind]`` (at the end of this module).
    def _post(self, cmd: tuple, at_frame: int | None) -> None:
        if at_frame is not None and (not isinstance(at_frame, int) or at_frame < 0):
            raise RuntimeErrorMsg(f"at_frame={at_frame!r}: must be a non-negative integer frame")
        self._commands.post(cmd, at_frame)

    def _apply(self, cmd: tuple, at: int | None) -> None:
        self.counters["commands"] += 1
        kind = cmd[0]
        try:
            _APPLY[kind](self, at, *cmd[1:])
        except SoundscapeError as exc:  # a late failure (e.g. an asset vanished): report, keep playing
            self.counters["errors"] += 1
            self.events.append(("error", {"command": kind, "message": str(exc)}))

    def _on_param(self, at: int | None, name: str, value: float) -> None:
        self.targets[name] = value
        p = self.scene.parameters.get(name)
        if p is not None and p.seek <= 0:
            self.env[name] = value
            self.dirty = True

    def _on_state(self, at: int | None, group: str, value: str) -> None:
        if self.env.get(group) != value:
            self.env[group] = value
            self.dirty = True

    def _on_switch(self, at: int | None, group: str, value: str, obj: str | None) -> None:
        if obj is not None and obj in self.emitters:
            self.emitters[obj].switches[group] = value
        else:
            self.env[group] = value
        self.dirty = True

    def _on_trigger(self, at: int | None, iid: int, ev: Any, pos: Any, local: dict, obj: str | None) -> None:
        self._instances.start(iid, ev, pos, local, obj, at)

    def _on_stop(self, at: int | None, iid: int, release: bool) -> None:
        self._instances.stop(iid, release, at)

    def _on_listener(self, at: int | None, p: Any, f: Any, v: Any) -> None:
        self._emitters.game_sent_listener(GameObject(p, f, v))

    def _no_room_for(self, name: str) -> bool:
        """A new object name beyond the cap (rows reserved for followers count)."""
        return name not in self.objects.slot and len(self.objects.names) >= MAX_OBJECTS

    def _on_object(self, at: int | None, name: str, p: Any, f: Any, v: Any) -> None:
        if self._no_room_for(name) or not self.objects.set(name, p, f, v):
            self.counters["objects_refused"] += 1

    def _on_objects(self, at: int | None, updates: dict[str, tuple]) -> None:
        put = self.objects.set
        for name, (p, f, v) in updates.items():
            if self._no_room_for(name) or not put(name, p, f or None, v or None):
                self.counters["objects_refused"] += 1

    def _on_objects_arrays(self, at: int | None, objects: Any, p: Any, f: Any, v: Any) -> None:
        rows = objects if isinstance(objects, np.ndarray) else self.objects.rows(objects)
        ok = rows >= 0
        if not ok.all():  # beyond the cap (reserved rows took the room since the check): counted
            self.counters["objects_refused"] += int((~ok).sum())
            rows, p = rows[ok], p[ok]
            f = None if f is None else f[ok]
            v = None if v is None else v[ok]
        self.objects.set_rows(rows, p, f, v)

    def _on_snapshot(self, at: int | None, name: str, on: bool) -> None:
        self.snapshot_on[name] = on

    def _on_say(self, at: int | None, name: str, emitter: str | None, pos: Any, label: dict) -> None:
        self._lines.apply(name, emitter, pos, label, at)

    def _on_stinger(self, at: int | None, name: str) -> None:
        if self.music is not None:
            self.music.queue_stinger(name, self.frame if at is None else at)

    def _on_player_gains(self, at: int | None, gains: Mapping[str, float]) -> None:
        self.mixer.set_player_gains(self.scene, gains)

    def _on_override(self, at: int | None, uid: str, weight: float | None) -> None:
        if weight is None:
            self.overrides.pop(uid, None)
        else:
            self.overrides[uid] = weight
            if self.on_override is not None:
                self.on_override(uid, weight, dict(self.env))
        self.dirty = True

    def _on_reload(self, at: int | None, new: SceneDef) -> None:
        """Swap definitions; matching layers keep playing and glide, others fade out or in."""
        self.assets.load(new)  # prepared already when it came through ``reload``: no file is touched
        self.assets.swapped(new)  # files the new scene does not use may leave the bank once unplayed
        old = self.scene
        self.scene = new
        self.mixer.reload_buses(new)
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
        self._emitters.reload(new)
        self._instances.reload(new)
        # containers (sequence position, no-repeat history): a layer whose source is unchanged goes on
        self.voices.sources.reload(old, new)
        self.mixer.reload_snapshots(new)
        if new.music is not None:
            if self.music is None or old.music != new.music:
                self.music = MusicPlayer(self, new, previous=self.music)
        elif self.music is not None:
            self.music.stop_all()
            self.music = None
        self.dirty = True
        self._emitters.place_listener()
        self.director_host.load_scene_director()
        self.counters["reloads"] += 1
        self.events.append(("reloaded", {"scene": new.name, "frame": self.frame}))


def _rows3(label: str, value: Any, n: int, keep: bool) -> np.ndarray:
    """An (n, 3) float64 array of finite numbers from the game (``keep``: a row of NaN means "not
    given"), else a :class:`RuntimeErrorMsg` naming the field and the first bad row."""
    try:
        a = np.array(value, dtype=np.float64)  # a copy: the caller may reuse its buffer
    except (TypeError, ValueError):
        raise RuntimeErrorMsg(f"{label}: must be an array of shape ({n}, 3) of numbers") from None
    if a.shape != (n, 3):
        raise RuntimeErrorMsg(f"{label}: must have shape ({n}, 3), got {a.shape}")
    good = np.isfinite(a).all(axis=1)
    if keep:
        good |= np.isnan(a).all(axis=1)
    if not good.all():
        i = int(np.argmin(good))
        raise RuntimeErrorMsg(f"{label}[{i}]={a[i].tolist()}: must be finite numbers")
    return a


# command kind -> its handler on the render thread (where each game message lands in the runtime)
_APPLY: Mapping[str, Callable[..., None]] = MappingProxyType(
    {
        "param": SceneRuntime._on_param,
        "state": SceneRuntime._on_state,
        "switch": SceneRuntime._on_switch,
        "trigger": SceneRuntime._on_trigger,
        "stop": SceneRuntime._on_stop,
        "listener": SceneRuntime._on_listener,
        "object": SceneRuntime._on_object,
        "objects": SceneRuntime._on_objects,
        "objects_arrays": SceneRuntime._on_objects_arrays,
        "snapshot": SceneRuntime._on_snapshot,
        "say": SceneRuntime._on_say,
        "stinger": SceneRuntime._on_stinger,
        "player_gains": SceneRuntime._on_player_gains,
        "override": SceneRuntime._on_override,
        "reload": SceneRuntime._on_reload,
    }
)
