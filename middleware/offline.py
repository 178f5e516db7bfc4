"""Offline (non-real-time) rendering: a scene driven by a timeline of protocol messages, to WAV.

Like scsynth's NRT mode, the command stream is the score: each line of an events file is a message
the daemon would accept, plus ``t`` (seconds from the start of the render). Same scene, events and
seed give a bit-identical file, so renders serve as golden references for tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .config import EngineConfig
from .control.apply import apply_request
from .errors import ProtocolError, SoundscapeError
from .player import ScenePlayer
from .sinks.wav import WavSink
from .textdata import loads_json
from .transport import protocol as P


class TimelineError(SoundscapeError):
    """An events file line is not a valid message."""


@dataclass(frozen=True)
class TimedRequest:
    frame: int
    line: int
    request: P.Request


def load_timeline(path: str | Path, sample_rate: int) -> list[TimedRequest]:
    """Read a JSON-lines events file: ``{"t": seconds, "type": ..., ...fields}`` per line.

    ``v`` (protocol version) may be omitted. Every line is validated like a network message; errors
    name the file and line.
    """
    out: list[TimedRequest] = []
    p = Path(path)
    for lineno, text in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        text = text.strip()
        if not text or text.startswith("#"):
            continue
        try:
            raw = loads_json(text)
        except json.JSONDecodeError as exc:
            raise TimelineError(f"{p}:{lineno}: not JSON ({exc.msg} at column {exc.colno})") from None
        except ValueError as exc:  # nested too deeply
            raise TimelineError(f"{p}:{lineno}: {exc}") from None
        if not isinstance(raw, dict):
            raise TimelineError(f"{p}:{lineno}: each line must be a JSON object")
        t = raw.get("t")
        if not isinstance(t, (int, float)) or not np.isfinite(t) or t < 0:
            raise TimelineError(f"{p}:{lineno}: 't' must be a number of seconds >= 0, got {t!r}")
        raw.setdefault("v", P.PROTOCOL_VERSION)
        raw.pop("t")
        try:
            req = P.validate(raw)
        except ProtocolError as exc:
            raise TimelineError(f"{p}:{lineno}: {exc}") from None
        out.append(TimedRequest(round(float(t) * sample_rate), lineno, req))
    out.sort(key=lambda r: (r.frame, r.line))
    return out


def render_offline(
    player: ScenePlayer,
    timeline: list[TimedRequest],
    seconds: float,
    out_path: str | Path,
    subtype: str = "float32",
    extra_metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Render ``seconds`` of ``player`` to ``out_path`` while applying ``timeline``; returns a summary."""
    sr = player.config.sample_rate
    total = round(seconds * sr)
    block = player.config.block
    buf = np.zeros((block, 2), dtype=np.float32)
    k = 0
    peak = 0.0
    metadata = {
        "software": f"soundscape-middleware {__version__}",
        "scene": player.scene.name,
        "seed": player.config.seed,
        "generated_by": [],  # model-made or procedurally generated content is listed here
        **(extra_metadata or {}),
    }
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    with WavSink(out_path, sr, 2, subtype=subtype, metadata=metadata) as sink:
        while player.frame < total:
            n = min(block, total - player.frame)
            end = player.frame + n
            while k < len(timeline) and timeline[k].frame < end:
                tr = timeline[k]
                try:
                    apply_request(player.runtime, tr.request, at_frame=max(tr.frame, player.frame))
                except SoundscapeError as exc:
                    raise TimelineError(f"events line {tr.line}: {exc}") from None
                k += 1
            player.render_into(buf[:n])
            peak = max(peak, float(np.max(np.abs(buf[:n]))))
            sink.write(buf[:n])
    return {
        "frames": total,
        "seconds": total / sr,
        "peak": peak,
        "path": str(out_path),
        "events_applied": k,
        "engine": player.engine.stats(),
    }


def render_scene_file(
    scene: str | Path,
    events: str | Path | None,
    seconds: float,
    out: str | Path,
    seed: int = 0,
    block: int = 256,
    sample_rate: int = 48000,
    profile: str | Path | None = None,
) -> dict[str, Any]:
    """Convenience for the CLI and tests: load, render, write. With ``profile`` (a player profile
    file, docs/accessibility.md) the master chain hosts its hearing compensation and its volumes
    apply, as ``serve --profile`` does; the WAV's metadata names the profile applied."""
    player = ScenePlayer(scene, EngineConfig(sample_rate=sample_rate, block=block, seed=seed), seed=seed)
    timeline = load_timeline(events, sample_rate) if events else []
    extra = None
    if profile is not None:
        from .accessibility.host import apply_player_profile, profile_note
        from .accessibility.profile import load_profile

        hp = load_profile(profile)
        apply_player_profile(player.engine, player.runtime, hp)
        extra = {"profile": {"file": Path(profile).name, **profile_note(hp)}}
    return render_offline(player, timeline, seconds, out, extra_metadata=extra)
