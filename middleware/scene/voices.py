"""Layer voices: start a layer's voice through its source type, and keep it on the layer's curves.

Emitters and event instances both play their layers through here. ``play`` asks the layer's source
type (``sources/``) to start a voice, which comes back through ``play_sample`` (a bank file) or
``play_stream`` (a rendered source); ``refresh`` sends a playing voice only the settings that moved,
collected into the tick's one bulk engine call (``rt.voice_changes``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import SceneError
from .captions import caption_of
from .model import LayerDef, SampleSource, ValueDef, semitones_to_ratio
from .sources import SourceSet
from .sources.base import Owner, Start
from .state import MIN_GAIN_DB, MIN_SEND_DB, SETTLE, LayerInstance, Vec3

if TYPE_CHECKING:
    from .runtime import SceneRuntime


class LayerVoices:
    """Plays and refreshes the layers of one runtime's emitters and event instances."""

    def __init__(self, rt: SceneRuntime) -> None:
        self.rt = rt
        self.sr = rt.sr
        self.sources = SourceSet(rt)

    def update_weight(self, li: LayerInstance) -> None:
        """The layer's weight: a live override, else the director's (flagged layers), else 1."""
        rt = self.rt
        layer = li.layer
        weight = rt.overrides.get(layer.uid)
        if weight is not None:
            li.weight, li.weight_source = weight, "override"
        elif layer.director and layer.uid in rt.director_weights:
            li.weight, li.weight_source = rt.director_weights[layer.uid], "director"
        elif li.weight_source != "rule":
            li.weight, li.weight_source = 1.0, "rule"

    def settings(
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

    # ---------------------------------------------------------------- starting
    def play(
        self,
        li: LayerInstance,
        owner: Owner,
        pos: Vec3 | None,
        vel: Vec3,
        env: Mapping[str, Any],
        *,
        loop: bool,
        fade_in: float,
        start_frame: int | None = None,
        bus: str | None = None,
    ) -> int | None:
        """Start a layer's voice through its source type; a captioned one is handed to the captioner."""
        rt = self.rt
        try:
            source = self.sources.of(li.layer)
        except SceneError as exc:
            rt.events.append(("error", {"layer": li.layer.uid, "message": str(exc)}))
            return None
        h = source.start(li, Start(owner, pos, vel, env, loop, fade_in, start_frame, bus))
        if h is not None and (cap := caption_of(li.layer, owner)) is not None:
            rt.captioner.track(h, cap, rt.frame if start_frame is None else max(start_frame, rt.frame))
        return h

    def play_sample(
        self, li: LayerInstance, src: SampleSource, gain_db: float, pitch_st: float, at: Start
    ) -> int:
        """Start a voice on a bank file with the layer's settings plus what this play picked
        (``gain_db``, ``pitch_st``), normalised to its bus's loudness target."""
        rt = self.rt
        owner, env, loop, bus = at.owner, at.env, at.loop, at.bus
        key = rt.assets.key(src)
        norm = rt.assets.normalise_db(rt.scene, li.layer, bus or owner.bus, key)
        li.norm_db = norm
        li.pick_db, li.pick_st = src.gain_db + gain_db + norm, pitch_st
        s = self.settings(li.layer, owner.gain_db + li.pick_db, env, li.weight, pitch_st)
        att = owner.attenuation
        offset = 0.0
        if loop and li.layer.random_start:
            info = rt.engine.bank.info(key)
            offset = float(rt.rng.uniform(0, info.frames / self.sr))
        h = rt.engine.play(
            key,
            bus=bus or owner.bus,
            gain_db=s["gain_db"],
            pitch=s["pitch"],
            loop=loop,
            offset=offset,
            start_frame=at.start_frame,
            fade_in=at.fade_in,
            lowpass_hz=s["lowpass_hz"],
            highpass_hz=s["highpass_hz"],
            sends=s["sends"],
            priority=li.layer.priority,
            position=at.pos,
            velocity=at.vel,
            min_distance=att.min_distance,
            max_distance=att.max_distance,
            rolloff=att.engine_rolloff(),
            doppler=owner.doppler,
            binaural=owner.binaural,
        )
        li.sent = s
        return h

    def play_stream(self, li: LayerInstance, source: Any, at: Start) -> int:
        """Start a streaming voice for a rendered source (generator, morph) with the layer's settings."""
        rt = self.rt
        owner = at.owner
        li.pick_db = li.pick_st = 0.0
        s = self.settings(li.layer, owner.gain_db, at.env, li.weight)
        att = owner.attenuation
        li.sent = s
        return rt.engine.play_stream(
            source,
            bus=at.bus or owner.bus,
            gain_db=s["gain_db"],
            start_frame=at.start_frame,
            fade_in=at.fade_in,
            lowpass_hz=s["lowpass_hz"],
            highpass_hz=s["highpass_hz"],
            sends=s["sends"],
            priority=li.layer.priority,
            position=at.pos,
            velocity=at.vel,
            min_distance=att.min_distance,
            max_distance=att.max_distance,
            rolloff=att.engine_rolloff(),
            binaural=owner.binaural,
        )

    # ---------------------------------------------------------------- playing and stopping
    def stop(self, li: LayerInstance, release: float) -> None:
        """Release the layer's voice and forget what it was told and streamed."""
        if li.handle is not None:
            self.rt.engine.stop(li.handle, release=release)
        li.handle = None
        li.sent = {}
        source = self.sources.get(li.layer)
        if source is not None:
            source.stop(li)

    def refresh_or_move(
        self, li: LayerInstance, owner: Owner, pos: Vec3 | None, vel: Vec3, env: Mapping[str, Any]
    ) -> None:
        """A tick where only the owner moved (nothing set ``rt.dirty``: no parameter, state, weight,
        override or reload changed) leaves the layer's settings as last sent: the voice gets its new
        pose alone, without re-evaluating its curves (the common case when thousands of sources move)."""
        rt = self.rt
        if rt.pose_fast_path and not rt.dirty and pos is not None and li.sent and li.handle is not None:
            rt.voice_changes.add_pose(li.handle, pos, vel)
        else:
            self.refresh(li, owner, pos, vel, env)

    def refresh(
        self,
        li: LayerInstance,
        owner: Owner,
        pos: Vec3 | None,
        vel: Vec3,
        env: Mapping[str, Any],
        pose: bool = True,
    ) -> None:
        """Bring a playing voice to the layer's current settings (curves, weight) and, with ``pose``,
        its owner's position; the voice keeps what its play picked (file gain, random jitter)."""
        rt = self.rt
        s = self.settings(li.layer, owner.gain_db + li.pick_db, env, li.weight, li.pick_st)
        source = self.sources.get(li.layer)
        if source is not None:
            source.refresh(li, env)
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
        if source is not None and source.streamed:
            change.pop("pitch", None)  # a stream plays at rate 1; generators have their own pitch
        if change and li.handle is not None:
            rt.voice_changes.add(rt.engine, li.handle, change)  # sent in bulk at the tick's end
            li.sent.update({k: v for k, v in change.items() if k in s})
            li.sent["sends"] = sends


def _cut(v: ValueDef | None, env: Mapping[str, Any], sr: int) -> float | None:
    if v is None:
        return None
    hz = v.evaluate(env)
    if hz is None:
        return None
    return min(max(float(hz), 10.0), 0.49 * sr)
