"""Sound captions: what a deaf or hard-of-hearing player reads when a captioned sound becomes audible.

A layer, emitter or event may carry ``caption:`` text and an ``importance`` (scene format). The
runtime hands every voice it starts for a captioned layer to a ``Captioner`` (``track``) and calls
``update`` once per block; ``update`` reads the engine's voice table (state, target gain with
distance attenuation, position) and the engine's listener, and returns caption records for the
``caption`` telemetry topic. Spoken lines (``say``) become subtitles through ``subtitle``.

Why from the voice table, not from the scene: a caption must say what the player would hear, so a
voice the engine made virtual (over the voice limit) or one attenuated below ``AUDIBLE_DB`` gets no
caption, and it gets one later if it becomes audible (the listener walks up to it). The voice's
targets are computed when the engine renders the block it starts in, so it is judged right after
that block is rendered (``SceneRuntime.after_render``, which the daemon calls before publishing the
block's telemetry: the caption leaves before its first sample leaves the device callback), or at the
latest in the next block's ``update`` (drivers that do not call ``after_render``).

Direction convention (the same as the binaural model's azimuth in ``engine/targets.py``): OpenGL
axes, azimuth in degrees in the listener's horizontal plane, 0 straight ahead, positive to the
right, negative to the left, +-180 behind; elevation positive up. Non-spatial (2D) sounds have
``direction`` and ``distance`` null.

Repeats are merged and the rate is limited (``CaptionRules``): the same text within ``merge_s`` of
its last caption is not published again but counted, and the count goes out as one caption
(``count``) when the window closes; across all texts a token bucket passes ``rate_per_s`` captions
(burst ``burst``), and ``critical`` captions always pass.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from ..engine.voices import AUD, FREE, HANDLE, P_X, PLAYING, SPATIAL, ST, START
from .model import IMPORTANCE, EmitterDef, EventDef, LayerDef

AUDIBLE_DB = -60.0
"""A voice whose target gain (distance attenuation included) is below this many dB gets no caption."""


@dataclass(frozen=True)
class CaptionRules:
    """The captioner's limits, declared once (docs/accessibility.md quotes them)."""

    audible_db: float = AUDIBLE_DB
    merge_s: float = 2.0  # the same text again within this many seconds merges into one caption
    rate_per_s: float = 4.0  # captions per second across all texts (critical ones always pass)
    burst: int = 8


@dataclass(frozen=True)
class CaptionDef:
    """The caption a voice carries: its text, importance and the layer it came from."""

    text: str
    importance: str
    layer: str  # layer uid ("emitter.layer" or "event.layer")


def caption_of(layer: LayerDef, owner: EmitterDef | EventDef) -> CaptionDef | None:
    """A layer's own caption, else its emitter's or event's, else None."""
    if layer.caption is not None:
        return CaptionDef(layer.caption, layer.importance, layer.uid)
    if owner.caption is not None:
        return CaptionDef(owner.caption, owner.importance, layer.uid)
    return None


def direction_to(
    source: tuple[float, float, float] | Any, listener: Any
) -> tuple[float, float, float] | None:
    """(azimuth deg, elevation deg, distance m) of ``source`` from ``listener`` (float[12]: position,
    forward, up, velocity; forward and up unit and orthogonal, as the engine keeps them); None at 0 m."""
    dx, dy, dz = (float(source[i]) - float(listener[i]) for i in range(3))
    fx, fy, fz, ux, uy, uz = (float(listener[i]) for i in range(3, 9))
    rx, ry, rz = fy * uz - fz * uy, fz * ux - fx * uz, fx * uy - fy * ux  # right = forward x up
    d = math.sqrt(dx * dx + dy * dy + dz * dz)
    if d <= 1e-9:
        return None
    xr = dx * rx + dy * ry + dz * rz
    zf = dx * fx + dy * fy + dz * fz
    yu = dx * ux + dy * uy + dz * uz
    return math.degrees(math.atan2(xr, zf)), math.degrees(math.atan2(yu, math.hypot(xr, zf))), d


@dataclass
class _Tracked:
    caption: CaptionDef
    start: int  # engine frame its first sample is due: before it, the engine may not know the voice yet
    audible: bool = False
    slot: int = -1  # its row in the engine's voice table, once known (checked by handle every block)


@dataclass
class _Window:
    last_frame: int
    pending: dict | None = None
    count: int = 0


@dataclass
class Captioner:
    """Voices with captions, and which of them were audible last block (see the module docstring)."""

    sample_rate: int
    rules: CaptionRules = CaptionRules()
    voices: dict[int, _Tracked] = field(default_factory=dict)
    windows: dict[str, _Window] = field(default_factory=dict)
    frame: int = -1  # the last block captioned (the daemon asks twice: after rendering, then in update)
    tokens: float = -1.0
    token_frame: int = 0
    counters: dict[str, int] = field(
        default_factory=lambda: {"captions": 0, "captions_merged": 0, "captions_dropped": 0}
    )

    def track(self, handle: int, caption: CaptionDef, start: int) -> None:
        """Follow a voice just started (due at engine frame ``start``) for a captioned layer."""
        self.voices[handle] = _Tracked(caption, start)

    def update(self, engine: Any, frame: int) -> list[dict]:
        """Caption records for voices that became audible since the last block, and merged repeats
        whose window closed. ``frame`` is where the engine stands: the voices due before it were
        rendered (their gains are in the voice table). Call it once the engine rendered a block, or
        before it renders the next one; a second call at the same frame returns nothing."""
        out: list[dict] = []
        if frame == self.frame:
            return out  # this block was captioned already
        self.frame = frame
        self._flush(frame, out)  # first: a repeat after its window closed opens a new one
        if self.voices:
            I, F, P = engine.voices.I, engine.voices.F, engine.voices.P
            gone = []
            for handle, tr in self.voices.items():
                slot = tr.slot
                if slot < 0 or I[slot, HANDLE] != handle:  # not seen yet, or its slot was reused
                    info = engine.voice_info(handle)
                    if info is None:
                        if tr.start < frame:  # its block was rendered: it ended (or never got a voice)
                            gone.append(handle)
                        continue
                    slot = tr.slot = info["slot"]
                elif I[slot, ST] == FREE:  # it ended, its slot not reused yet
                    gone.append(handle)
                    continue
                if I[slot, START] >= frame:
                    continue  # not rendered yet: its targets (and its first sample) come with this block
                aud = float(F[slot, AUD])
                level = 20.0 * math.log10(aud) if aud > 0.0 else -math.inf
                audible = int(I[slot, ST]) == PLAYING and level >= self.rules.audible_db
                if audible and not tr.audible:
                    pos = P[slot, P_X : P_X + 3] if int(I[slot, SPATIAL]) == 1 else None
                    start = int(I[slot, START])  # its first sample's frame
                    rec = self._record(tr.caption.text, tr.caption.importance, pos, engine.listener, start)
                    rec.update(layer=tr.caption.layer, loudness_db=round(level, 2), synthetic=False)
                    self._offer(rec, frame, out)
                tr.audible = audible
            for handle in gone:
                del self.voices[handle]
        return out

    def subtitle(
        self,
        text: str,
        speaker: str,
        position: Any,
        listener: Any,
        frame: int,
        label: dict | None = None,
    ) -> dict:
        """A spoken line's subtitle: always published (speech is never merged or rate-limited away)."""
        rec = self._record(text, "high", position, listener, frame)
        rec.update(speaker=speaker, synthetic=bool((label or {}).get("synthetic", True)), subtitle=True)
        if label is not None:
            rec.update(preset=label.get("preset"), duration_s=label.get("duration_s"))
        self.counters["captions"] += 1
        return rec

    # ------------------------------------------------------------------------------------------
    def _record(self, text: str, importance: str, pos: Any, listener: Any, frame: int) -> dict:
        where = direction_to(pos, listener) if pos is not None else None
        return {
            "text": text,
            "importance": importance,
            "direction": round(where[0], 2) if where else None,
            "elevation": round(where[1], 2) if where else None,
            "distance": round(where[2], 3) if where else (0.0 if pos is not None else None),
            "frame": frame,
            "count": 1,
            "t_ns": time.perf_counter_ns(),  # when it was made (CLOCK_MONOTONIC on Linux), as instance_out
        }

    def _offer(self, rec: dict, frame: int, out: list[dict]) -> None:
        """Publish now, or count into the open window of the same text."""
        win = self.windows.get(rec["text"])
        if win is not None and frame - win.last_frame < self.rules.merge_s * self.sample_rate:
            win.count += 1
            win.pending = rec
            self.counters["captions_merged"] += 1
            return
        if self._admit(rec["importance"], frame):
            self.windows[rec["text"]] = _Window(frame)
            out.append(rec)
            self.counters["captions"] += 1
        else:
            self.counters["captions_dropped"] += 1

    def _flush(self, frame: int, out: list[dict]) -> None:
        """Windows that closed: their merged repeats go out as one caption with their count."""
        window = self.rules.merge_s * self.sample_rate
        closed = [t for t, w in self.windows.items() if frame - w.last_frame >= window]
        for text in closed:
            win = self.windows.pop(text)
            if win.pending is None:
                continue
            rec = {**win.pending, "count": win.count, "t_ns": time.perf_counter_ns()}  # where the latest was
            if self._admit(rec["importance"], frame):
                self.windows[text] = _Window(frame)
                out.append(rec)
                self.counters["captions"] += 1
            else:
                self.counters["captions_dropped"] += win.count

    def _admit(self, importance: str, frame: int) -> bool:
        """Token bucket across all captions; critical ones always pass (and spend a token if any)."""
        r = self.rules
        if self.tokens < 0.0:
            self.tokens, self.token_frame = float(r.burst), frame
        self.tokens = min(
            float(r.burst), self.tokens + (frame - self.token_frame) * r.rate_per_s / self.sample_rate
        )
        self.token_frame = frame
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return importance == IMPORTANCE[-1]


__all__ = [
    "AUDIBLE_DB",
    "CaptionDef",
    "CaptionRules",
    "Captioner",
    "caption_of",
    "direction_to",
]
