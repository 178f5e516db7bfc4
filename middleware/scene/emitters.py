"""Where things are and which emitter layers play: the listener, emitters and their layers.

Each tick an emitter takes its pose (fixed, on a path, or following a game object), then each of its
layers starts, follows its curves or fades out as its condition and weight say: loops hold one voice,
one-shots fire on becoming active, scatter layers fire at random intervals around the emitter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import EngineError
from .model import EmitterDef, LayerDef, SceneDef
from .reload import ROUTE_CROSSFADE_S, play_routing
from .state import EmitterInstance, GameObject, LayerInstance

if TYPE_CHECKING:
    from .runtime import SceneRuntime


class Emitters:
    """The listener's placement and the emitters (``items``) of one runtime."""

    def __init__(self, rt: SceneRuntime) -> None:
        self.rt = rt
        self.items: dict[str, EmitterInstance] = {}
        self._oneshot_owner: dict[int, LayerInstance] = {}  # emitter one-shot voice -> its layer
        self.game_listener = False  # once the game sends a listener, the scene's default steps aside
        self._listener_placed = False
        self._listener_born = rt.frame

    # ---------------------------------------------------------------- listener
    def place_listener(self) -> None:
        """Place the listener where the scene says (fixed, on a path, or following an object)."""
        rt = self.rt
        ld = rt.scene.listener
        static = ld.path is None and ld.follows is None
        if self.game_listener or (static and self._listener_placed):
            return
        pos, vel = ld.position, (0.0, 0.0, 0.0)
        if ld.follows is not None:
            obj = rt.objects.get(ld.follows)
            if obj is None:
                return
            pos, vel = obj.position, obj.velocity
            fwd = obj.forward
        elif ld.path is not None:
            pos = ld.path.position_at((rt.frame - self._listener_born) / rt.sr)
            fwd = ld.forward
        else:
            fwd = ld.forward
        self._listener_placed = True
        up = (0.0, 1.0, 0.0) if abs(fwd[1]) < 0.99 * math.sqrt(sum(c * c for c in fwd)) else (0.0, 0.0, 1.0)
        try:
            rt.engine.set_listener(pos, fwd, up, vel)
        except EngineError as exc:
            rt.events.append(("error", {"listener": "scene", "message": str(exc)}))
            return
        rt.listener = GameObject(pos, fwd, vel)

    def listener_moves(self) -> bool:
        """Whether the scene's listener moves by itself (a path or an object) until the game sends one."""
        ld = self.rt.scene.listener
        return not self.game_listener and (ld.path is not None or ld.follows is not None)

    def game_sent_listener(self, listener: GameObject) -> None:
        self.rt.listener = listener
        self.game_listener = True

    # ---------------------------------------------------------------- emitters
    def new(self, em: EmitterDef) -> EmitterInstance:
        inst = EmitterInstance(em, {ly.id: LayerInstance(ly) for ly in em.layers}, born=self.rt.frame)
        inst.switches = dict(em.switches)
        return inst

    def update(self, end: int) -> None:
        for em in self.items.values():
            self._update(em, end)

    def _pose(self, em: EmitterInstance) -> None:
        rt = self.rt
        d = em.emitter
        if d.follows is not None:
            obj = rt.objects.get(d.follows)
            if obj is not None:
                em.position, em.velocity = obj.position, obj.velocity
            elif em.position is None and d.position is not None:
                em.position = d.position  # the authored fallback until the game sends the object
        elif d.path is not None:
            t = (rt.frame - em.born) / rt.sr
            em.position = d.path.position_at(t)
        else:
            em.position = d.position

    def _layer_env(self, em: EmitterInstance) -> Mapping[str, Any]:
        if not em.switches:
            return self.rt.env
        return {**self.rt.env, **em.switches}

    def _update(self, em: EmitterInstance, end: int) -> None:
        rt = self.rt
        voices = rt.voices
        old_pos = em.position
        self._pose(em)
        moved = em.position != old_pos
        env = self._layer_env(em)
        # Following an object the game has not sent yet (and no authored fallback): stay silent
        # rather than play at the origin.
        waiting = em.emitter.follows is not None and em.position is None
        for li in em.layers.values():
            layer = li.layer
            active = layer.active(env) and not waiting
            voices.update_weight(li)
            if active and li.weight <= 0.0:
                active = False
            if layer.mode == "loop":
                if active and li.handle is None:
                    li.handle = voices.play(
                        li, em.emitter, em.position, em.velocity, env, loop=True, fade_in=layer.fade_in
                    )
                elif not active and li.handle is not None:
                    voices.stop(li, layer.fade_out)
                elif li.handle is not None and (rt.dirty or moved):
                    voices.refresh_or_move(li, em.emitter, em.position, em.velocity, env)
            elif layer.mode == "oneshot":
                if active and not li.active:
                    h = voices.play(li, em.emitter, em.position, em.velocity, env, loop=False, fade_in=0.0)
                    self._oneshot_owner.pop(li.handle, None)  # type: ignore[arg-type]
                    li.handle = h
                    if h is not None:
                        self._oneshot_owner[h] = li
                elif li.handle is not None and (rt.dirty or moved):
                    # a long one-shot follows its curves like a loop until it ends
                    voices.refresh_or_move(li, em.emitter, em.position, em.velocity, env)
            elif layer.mode == "scatter":
                if active and li.next_frame < 0:
                    li.next_frame = rt.frame + self._scatter_gap(layer)
                while active and li.next_frame < end:
                    pos = em.position
                    if pos is not None and any(layer.jitter):
                        j = rt.rng.uniform(-1.0, 1.0, 3) * np.array(layer.jitter)
                        pos = (pos[0] + j[0], pos[1] + j[1], pos[2] + j[2])
                    voices.play(
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

    def _scatter_gap(self, layer: LayerDef) -> int:
        a, b = layer.interval or (1.0, 1.0)
        return max(1, int(self.rt.rng.uniform(a, b) * self.rt.sr))

    def ended(self, handle: int) -> None:
        """A voice ended in the engine: a one-shot layer that played it has no voice any more."""
        li = self._oneshot_owner.pop(handle, None)
        if li is not None and li.handle == handle:
            li.handle = None
            li.sent = {}

    # ---------------------------------------------------------------- hot reload
    def reload(self, new: SceneDef) -> None:
        """Swap definitions: matching layers keep playing (and glide to their new curves); a layer
        whose source or mode changed restarts; removed ones fade out."""
        rt = self.rt
        voices = rt.voices
        for name in list(self.items):
            if name not in new.emitters:
                for li in self.items[name].layers.values():
                    if li.handle is not None:
                        rt.engine.stop(li.handle, release=li.layer.fade_out)
                del self.items[name]
        for name, em_def in new.emitters.items():
            em = self.items.get(name)
            if em is None:
                self.items[name] = self.new(em_def)
                continue
            old_def, em.emitter = em.emitter, em_def
            old_layers = em.layers
            em.layers = {}
            for ly in em_def.layers:
                li = old_layers.pop(ly.id, None)
                if li is None:
                    em.layers[ly.id] = LayerInstance(ly)
                    continue
                same_source = li.layer.source == ly.source and li.layer.mode == ly.mode
                if not same_source and li.handle is not None:
                    voices.stop(li, li.layer.fade_out)
                elif ly.mode == "loop" and li.handle is not None:
                    self._reroute(em, li, ly, old_def)
                li.layer = ly
                em.layers[ly.id] = li
            for li in old_layers.values():
                if li.handle is not None:
                    rt.engine.stop(li.handle, release=li.layer.fade_out)
        self._listener_placed = False

    def _reroute(self, em: EmitterInstance, li: LayerInstance, ly: LayerDef, old_def: EmitterDef) -> None:
        """A playing loop whose bus or 3D settings the reload changed: the engine fixed those when
        the voice started, so it plays again on the new ones, crossfaded (else it stayed on the old
        bus, which the reload may have muted). A one-shot ends where it started."""
        if old_def.spatial == em.emitter.spatial and play_routing(old_def, li.layer) == play_routing(
            em.emitter, ly
        ):
            return
        voices = self.rt.voices
        voices.stop(li, ROUTE_CROSSFADE_S)
        li.layer = ly
        self._pose(em)  # a bed that became 3D needs its place now
        env = self._layer_env(em)
        li.handle = voices.play(
            li, em.emitter, em.position, em.velocity, env, loop=True, fade_in=ROUTE_CROSSFADE_S
        )
