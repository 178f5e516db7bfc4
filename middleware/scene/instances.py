"""Event instances: what a game ``trigger`` starts (FMOD's EventInstance), followed until its voices end.

An instance takes its place from the trigger, the object it follows or the event's emitter, plays the
layers its switch and conditions select, follows its object and the game's parameters while it plays,
and ends when the engine reports its last voice ended. At most ``max_instances`` of one event play:
a new one steals the oldest.

A tick costs nothing per instance whose nothing changed: with thousands alive (a swarm, a crowd),
only new instances and those following an emitter are visited one by one; instances following game
objects are registered by voice (voice handle -> object row) once their voices are up to date, and a
tick where only objects moved sends the poses of the voices whose object moved in one array step
(``ObjectTable.take_moved`` -> ``VoiceChanges.add_poses`` -> one ``Engine.set_voices``). A tick where
something the curves read changed (``rt.dirty``) refreshes every instance in full, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .model import EventDef, SceneDef
from .reload import ROUTE_CROSSFADE_S, play_routing
from .state import EventInstance, LayerInstance

if TYPE_CHECKING:
    from .runtime import SceneRuntime


class Instances:
    """The live event instances (``items``, by id) of one runtime."""

    def __init__(self, rt: SceneRuntime) -> None:
        self.rt = rt
        self.items: dict[int, EventInstance] = {}
        self._handle_owner: dict[int, int] = {}  # voice handle -> event instance id
        self.known: set[int] = set()  # ids handed to the game and not ended yet (queued ones too)
        self._by_event: dict[str, dict[int, EventInstance]] = {}  # event -> its live instances, oldest first
        self._fresh: dict[int, EventInstance] = {}  # started, not brought up to date yet
        self._on_emitter: dict[int, EventInstance] = {}  # following an emitter: looked at every tick
        self._follow: dict[int, int] = {}  # voice handle -> object row, for synced object followers
        self._follow_arrays: tuple[np.ndarray, np.ndarray] | None = None  # (handles, rows), rebuilt lazily

    def start(self, iid: int, ev: EventDef, pos: Any, local: dict, obj: str | None, at: int | None) -> None:
        rt = self.rt
        env = self._env(ev, local)
        follows = obj or ev.follows
        vel = (0.0, 0.0, 0.0)
        if follows is not None:
            o = rt.objects.get(follows)
            pos, vel = (o.position, o.velocity) if o else (pos, vel)
        elif ev.emitter is not None:
            em = rt.emitters.get(ev.emitter)
            pos = em.position if em else pos
        elif isinstance(ev.position, tuple):
            pos = ev.position
        elif ev.position is None:
            pos = None
        live = self._by_event.setdefault(ev.name, {})  # not counting stolen ones fading out
        if len(live) >= ev.max_instances:  # steal the oldest, like FMOD's max instances / steal oldest
            oldest = next(iter(live))
            del live[oldest]  # going: a second trigger in its release steals the next one, not it again
            self.stop(oldest, True, at)
        inst = EventInstance(iid, ev, env, pos, follows, start_frame=at if at is not None else rt.frame)
        inst.local, inst.velocity = local, vel
        switch_value = env.get(ev.switch) if ev.switch else None
        voices = rt.voices
        for layer in ev.layers_for(switch_value):
            if not layer.active(env):
                continue
            li = LayerInstance(layer)
            voices.update_weight(li)
            if li.weight <= 0.0:
                continue
            inst.layers[layer.id] = li
            h = voices.play(
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
        self.items[iid] = inst
        live[iid] = self._fresh[iid] = inst
        if follows is None and ev.emitter is not None:
            self._on_emitter[iid] = inst
        rt.events.append(("instance_started", {"id": iid, "event": ev.name, "frame": inst.start_frame}))
        if not inst.handles:
            self._end(iid)

    def _env(self, ev: EventDef, local: Mapping[str, Any]) -> dict[str, Any]:
        """What an instance's curves read: the game's parameters, its own ones over them, defaults."""
        env = {**self.rt.env, **local}
        for p in ev.parameters.values():
            env.setdefault(p.name, p.default)
        return env

    def update(self, moved: np.ndarray | None) -> None:
        """Bring instances up to date; ``moved`` is the object rows that moved this tick (a mask)."""
        rt = self.rt
        if rt.dirty or not rt.pose_fast_path:
            for inst in list(self.items.values()):
                self._update(inst)
            return
        if moved is not None and self._follow:
            self._move_followers(moved)
        for inst in list(self._fresh.values()):
            self._update(inst)
        for inst in list(self._on_emitter.values()):
            self._update(inst)

    def _move_followers(self, moved: np.ndarray) -> None:
        """Only objects moved: the poses of the voices following them, as arrays (one bulk change)."""
        if self._follow_arrays is None:
            n = len(self._follow)
            handles = np.fromiter(self._follow.keys(), dtype=np.int64, count=n)
            rows = np.fromiter(self._follow.values(), dtype=np.int64, count=n)
            self._follow_arrays = (handles, rows)
        handles, rows = self._follow_arrays
        sel = moved[rows]
        if not sel.any():
            return
        rows = rows[sel]
        objects = self.rt.objects
        self.rt.voice_changes.add_poses(handles[sel], objects.position[rows], objects.velocity[rows])

    def _register(self, inst: EventInstance) -> None:
        """An instance is up to date: from now on only what changes is looked at."""
        self._fresh.pop(inst.iid, None)
        if inst.follows is None:
            return
        row = self.rt.objects.row(inst.follows)  # reserved if the game has not sent the object yet
        if row < 0:  # the object table is full: this instance stays where it is
            return
        for li in inst.layers.values():
            if li.handle is not None and li.handle in inst.handles and li.sent:
                self._follow[li.handle] = row
                self._follow_arrays = None

    def voice_count(self) -> int:
        """Voices of live instances (each one until the engine says it ended)."""
        return len(self._handle_owner)

    def position(self, inst: EventInstance) -> Any:
        """Where an instance is now (one following an object is where the object is: the bulk path
        moves its voices without touching the record)."""
        if inst.follows is not None:
            o = self.rt.objects.get(inst.follows)
            if o is not None:
                return o.position
        return inst.position

    def _update(self, inst: EventInstance) -> None:
        """A playing instance follows its object (or emitter), the game's parameters and live
        weights, like an emitter's layers do: its curves are not frozen at the trigger."""
        rt = self.rt
        if rt.frame <= inst.start_frame:
            return  # its voices start in this block: a change now would reach the engine before them
        moved = False
        if inst.follows is not None:
            o = rt.objects.get(inst.follows)
            if o is not None and o.position != inst.position:
                inst.position, inst.velocity, moved = o.position, o.velocity, True
        elif inst.event.emitter is not None:
            em = rt.emitters.get(inst.event.emitter)
            if em is not None and em.position is not None and em.position != inst.position:
                inst.position, inst.velocity, moved = em.position, em.velocity, True
        synced = inst.synced
        inst.synced = True
        if not synced:
            self._register(inst)
        if not (rt.dirty or moved or not synced):
            return
        if synced and not rt.dirty and rt.pose_fast_path:  # only its object moved: pose alone
            for li in inst.layers.values():
                if li.handle is not None and li.handle in inst.handles and li.sent:
                    rt.voice_changes.add_pose(li.handle, inst.position, inst.velocity)
            return
        inst.env = self._env(inst.event, inst.local)
        voices = rt.voices
        for li in inst.layers.values():
            if li.handle is not None and li.handle in inst.handles:
                voices.update_weight(li)
                voices.refresh(li, inst.event, inst.position, inst.velocity, inst.env, pose=moved)

    # ---------------------------------------------------------------- hot reload
    def reload(self, new: SceneDef) -> None:
        """Playing instances take their event's new definition, as emitters' layers do: a layer
        that is still there follows its new curves (the tick after a reload refreshes every
        instance); a playing loop whose bus or 3D settings changed plays again on the new ones,
        crossfaded; a layer whose source or mode changed, or that is gone, fades out with its old
        ``fade_out``; a loop layer new in the event that the instance's switch selects fades in.
        New one-shot layers do not fire (they belong to the trigger's moment), and an instance
        keeps the place and object its trigger gave it. An instance whose event is gone fades out."""
        rt = self.rt
        for iid, inst in list(self.items.items()):
            ev = new.events.get(inst.event.name)
            if ev is None:
                self.stop(iid, True, None)
                continue
            old_ev, inst.event = inst.event, ev
            inst.env = self._env(ev, inst.local)
            wanted = {ly.id: ly for ly in ev.layers_for(inst.env.get(ev.switch) if ev.switch else None)}
            for lid, li in list(inst.layers.items()):
                ly = wanted.pop(lid, None)
                playing = li.handle is not None and li.handle in inst.handles
                if ly is None or ly.source != li.layer.source or ly.mode != li.layer.mode:
                    if playing:
                        rt.voices.stop(li, li.layer.fade_out)  # its handle ends the instance's wait
                    del inst.layers[lid]
                elif playing and ly.mode == "loop" and play_routing(old_ev, li.layer) != play_routing(ev, ly):
                    rt.voices.stop(li, ROUTE_CROSSFADE_S)
                    li.layer = ly
                    self._play(inst, li, ROUTE_CROSSFADE_S)
                else:
                    li.layer = ly
            known = {ly.id for ly in old_ev.layers}  # layers the instance left out at its trigger stay out
            for ly in wanted.values():
                if ly.id not in known and ly.mode == "loop" and ly.active(inst.env):
                    li = LayerInstance(ly)
                    rt.voices.update_weight(li)
                    if li.weight > 0.0:
                        inst.layers[ly.id] = li
                        self._play(inst, li, ly.fade_in)
            inst.synced = False  # looked at in full next tick (and its followed voices registered anew)
            self._fresh[iid] = inst

    def _play(self, inst: EventInstance, li: LayerInstance, fade_in: float) -> None:
        """Start one looping layer of a playing instance where the instance now is."""
        h = self.rt.voices.play(
            li, inst.event, self.position(inst), inst.velocity, inst.env, loop=True, fade_in=fade_in
        )
        if h is not None:
            li.handle = h
            inst.handles.add(h)
            self._handle_owner[h] = inst.iid

    def stop(self, iid: int, release: bool, at: int | None) -> None:
        inst = self.items.get(iid)
        if inst is None:
            return
        for li in inst.layers.values():
            if li.handle is not None and li.handle in inst.handles:
                rel = li.layer.fade_out if release else 0.005  # 5 ms even for "no release": never a hard cut
                self.rt.engine.stop(li.handle, release=rel, at_frame=at)

    def _end(self, iid: int) -> None:
        inst = self.items.pop(iid, None)
        self.known.discard(iid)
        self._fresh.pop(iid, None)
        self._on_emitter.pop(iid, None)
        if inst is not None:
            self._by_event.get(inst.event.name, {}).pop(iid, None)
            for li in inst.layers.values():
                if li.handle is not None and self._follow.pop(li.handle, None) is not None:
                    self._follow_arrays = None
            self.rt.events.append(
                ("instance_ended", {"id": iid, "event": inst.event.name, "frame": self.rt.frame})
            )

    def ended(self, handle: int) -> None:
        """A voice ended in the engine: its instance ends with its last voice."""
        iid = self._handle_owner.pop(handle, None)
        if self._follow.pop(handle, None) is not None:
            self._follow_arrays = None
        if iid is None:
            return
        inst = self.items.get(iid)
        if inst is None:
            return
        inst.handles.discard(handle)
        if not inst.handles:
            self._end(iid)
