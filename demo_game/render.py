"""Render a recorded session offline (same scene, same events, same engine) and measure it.

Why offline and not a capture of the daemon: the daemon offers no capture of its output, and a
real-time capture on a loaded machine would depend on scheduling jitter, while an offline render of
the recorded events file is bit-identical for a seed (``middleware.offline``'s contract), runs
faster than real time and goes through the very same ``ScenePlayer`` render path the daemon's audio
process uses. It also lets us sample the runtime's telemetry every few milliseconds for the picture.

:func:`render_session` writes the WAV and returns a :class:`Trace` (parameters, states, layer
weights and their source, music segment, head yaw, all on one time grid); :func:`segment_report`
measures each scripted situation: band energies of the mix, mean layer weights, left/right balance.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

TRACE_EVERY_BLOCKS = 4  # ~21 ms at 256 frames / 48 kHz
BANDS = {  # Hz: what each band shows in the demo
    "sub_40_160": (40.0, 160.0),  # cave drone, heartbeat, music bass
    "low_160_600": (160.0, 600.0),
    "mid_600_2k": (600.0, 2000.0),  # voice, crowd, footsteps
    "high_2k_8k": (2000.0, 8000.0),  # rain, downpour, fountain, fire crackle
}


@dataclass
class Trace:
    """Telemetry sampled during the offline render, one row per ``TRACE_EVERY_BLOCKS`` blocks."""

    t: list[float] = field(default_factory=list)
    params: dict[str, list[float]] = field(default_factory=dict)
    states: dict[str, list[str]] = field(default_factory=dict)
    layers: dict[str, list[float]] = field(default_factory=dict)  # effective weight (0 when inactive)
    sources: dict[str, str] = field(default_factory=dict)  # layer -> rule | director | override
    music: list[str] = field(default_factory=list)
    yaw: list[float] = field(default_factory=list)  # listener yaw, degrees (0 north, 90 east)
    head: list[tuple[float, float]] = field(default_factory=list)  # listener (x, z), metres
    director: dict[str, Any] = field(default_factory=dict)  # model label, or why none
    captions: list[dict[str, Any]] = field(default_factory=list)  # `caption` records, with their time t
    profile: dict[str, Any] = field(default_factory=dict)  # the player profile applied: label, file, fields

    def to_json(self) -> dict[str, Any]:
        return {
            "t": self.t,
            "params": self.params,
            "states": self.states,
            "layers": self.layers,
            "sources": self.sources,
            "music": self.music,
            "yaw": self.yaw,
            "head": self.head,
            "director": self.director,
            "captions": self.captions,
            "profile": self.profile,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Trace:
        d = dict(d)
        d["head"] = [tuple(h) for h in d.get("head", [])]
        return cls(**d)


def _yaw(forward: Any) -> float:
    fx, _, fz = forward
    return math.degrees(math.atan2(fx, -fz)) % 360.0


def render_session(
    scene: str | Path,
    events: str | Path,
    seconds: float,
    wav_out: str | Path,
    seed: int = 0,
    use_director: bool = True,
    profile: str | Path | None = None,
) -> tuple[dict[str, Any], Trace]:
    """Render ``events`` on ``scene`` for ``seconds`` to ``wav_out``; returns (summary, trace).
    ``profile`` (a player profile file) applies from the first block, as ``serve --profile`` does
    for the live daemon; ``profile`` lines in the events file switch it later, as live."""
    from middleware import __version__
    from middleware.config import EngineConfig
    from middleware.control.apply import apply_request
    from middleware.errors import ModelError, SoundscapeError
    from middleware.offline import load_timeline
    from middleware.player import ScenePlayer
    from middleware.sinks.wav import WavSink

    config = EngineConfig(sample_rate=48000, block=256, seed=seed)
    player = ScenePlayer(scene, config, seed=seed)
    rt = player.runtime
    trace = Trace()
    if not use_director:
        rt.attach_director(None)
        trace.director = {"status": "rules", "why": "disabled"}
    elif getattr(rt, "director", None) is not None:  # the runtime loaded the scene's model itself
        trace.director = {"status": "model", **rt.director.label}
    else:
        try:
            from middleware.ml.director import load_director

            director = load_director(player.scene)
            if director is not None:
                rt.attach_director(director)
                trace.director = {"status": "model", **director.label}
            else:
                trace.director = {"status": "rules", "why": "the scene names no director model"}
        except (ImportError, ModelError) as exc:
            trace.director = {"status": "rules", "why": str(exc)}
    from .profiles import label

    trace.profile = {"label": label(None)}
    if profile is not None:
        from middleware.accessibility.host import apply_player_profile, profile_note
        from middleware.accessibility.profile import load_profile

        hp = load_profile(profile)
        apply_player_profile(player.engine, rt, hp)
        trace.profile = {"label": label(hp, profile), "file": Path(profile).name, **profile_note(hp)}
    sr, block = config.sample_rate, config.block
    timeline = load_timeline(events, sr)
    total = round(seconds * sr)
    buf = np.zeros((block, 2), dtype=np.float32)
    k = 0
    nblock = 0
    peak = 0.0
    yaw = 90.0
    head = (0.0, 0.0)
    layer_names = [layer.uid for _, layer in player.scene.all_layers() if "." in layer.uid]
    emitter_layers = {uid for uid in layer_names if uid.split(".")[0] in player.scene.emitters}
    for uid in sorted(emitter_layers):
        trace.layers[uid] = []
    for name in player.scene.parameters:
        trace.params[name] = []
    for name in player.scene.states:
        trace.states[name] = []
    errors: list[str] = []
    meta = {
        "software": f"soundscape-middleware {__version__}",
        "scene": player.scene.name,
        "seed": seed,
        "mode": "demo autoplay, offline render of the recorded session",
        "generated_by": ["director model" if trace.director.get("status") == "model" else "rules"],
    }
    if profile is not None:
        meta["profile"] = {k: v for k, v in trace.profile.items() if k != "label"}
    Path(wav_out).parent.mkdir(parents=True, exist_ok=True)
    with WavSink(wav_out, sr, 2, subtype="float32", metadata=meta) as sink:
        while player.frame < total:
            n = min(block, total - player.frame)
            end = player.frame + n
            while k < len(timeline) and timeline[k].frame < end:
                tr = timeline[k]
                if tr.request.name == "listener":
                    yaw = _yaw(tr.request.fields["forward"])
                    pos = tr.request.fields["position"]
                    head = (float(pos[0]), float(pos[2]))
                try:
                    apply_request(rt, tr.request, at_frame=max(tr.frame, player.frame))
                except SoundscapeError as exc:
                    errors.append(f"events line {tr.line}: {exc}")
                k += 1
            player.render_into(buf[:n])
            _captions(trace, rt, sr)
            peak = max(peak, float(np.max(np.abs(buf[:n]))))
            sink.write(buf[:n])
            if nblock % TRACE_EVERY_BLOCKS == 0:
                _sample(trace, rt, player.frame / sr, yaw, head)
            nblock += 1
    summary = {
        "frames": total,
        "seconds": total / sr,
        "sample_rate": sr,
        "peak": peak,
        "path": str(wav_out),
        "events_applied": k,
        "errors": errors,
        "engine": {
            key: v
            for key, v in player.engine.stats().items()
            if isinstance(v, (int, float)) and key in ("voices_started", "render_ms_p99", "cpu_load")
        },
        "director": trace.director,
        "profile": trace.profile.get("label"),
    }
    return summary, trace


def _captions(trace: Trace, rt: Any, sr: int) -> None:
    """Keep the runtime's `caption` records (the daemon would publish them); the rest of its
    telemetry is not needed here, and draining it keeps its bounded queue from dropping captions."""
    events = rt.events
    while events:
        topic, payload = events.popleft()
        if topic == "caption":
            trace.captions.append({**payload, "t": round(payload["frame"] / sr, 3)})


def _sample(trace: Trace, rt: Any, t: float, yaw: float, head: tuple[float, float]) -> None:
    tel = rt.telemetry()
    trace.t.append(round(t, 4))
    for name, col in trace.params.items():
        col.append(round(float(tel["params"].get(name, math.nan)), 4))
    for name, col in trace.states.items():
        col.append(str(tel["states"].get(name, "")))
    live = tel["layers"]
    for uid, col in trace.layers.items():
        info = live.get(uid)
        w = 0.0 if info is None else float(info.get("weight", 1.0))
        col.append(round(w, 4))
        if info is not None and info.get("source") and trace.sources.get(uid) != "director":
            trace.sources[uid] = info["source"]
    for uid in getattr(rt, "director_weights", {}) or {}:
        trace.sources[uid] = "director"
    music = tel.get("music") or {}
    trace.music.append(str(music.get("segment") or ""))
    trace.yaw.append(round(yaw, 2))
    trace.head.append((round(head[0], 3), round(head[1], 3)))


# ------------------------------------------------------------------------------------- analysis
def band_db(x: np.ndarray, sr: int, lo: float, hi: float, q: float = 50.0, frame: int = 2048) -> float:
    """Level (dB re full scale) of ``x`` (mono) in [lo, hi) Hz: the ``q`` percentile over 43 ms frames.

    The median (q=50) describes the situation's steady bed (rain, drone, music, a voice) and ignores
    short transients such as footsteps and drips; q=95 shows the hits (sword clangs, heartbeats).
    """
    if x.size < frame:
        return -200.0
    n = x.size // frame
    w = np.hanning(frame)
    frames = x[: n * frame].reshape(n, frame) * w
    spec = np.abs(np.fft.rfft(frames, axis=1)) ** 2 * (2.0 / (np.sum(w**2) * frame))
    f = np.fft.rfftfreq(frame, 1.0 / sr)
    p = spec[:, (f >= lo) & (f < hi)].sum(axis=1)
    m = float(np.percentile(p, q))
    return 10.0 * math.log10(m) if m > 0 else -200.0


def balance_db(stereo: np.ndarray, sr: int, hop_s: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Left/right balance per ``hop_s`` window: 20 log10(rms L / rms R) (positive = louder left)."""
    hop = max(1, int(hop_s * sr))
    n = stereo.shape[0] // hop
    if n == 0:
        return np.zeros(0), np.zeros(0)
    frames = stereo[: n * hop].reshape(n, hop, 2).astype(np.float64)
    rms = np.sqrt(np.mean(frames**2, axis=1)) + 1e-9
    t = (np.arange(n) + 0.5) * hop / sr
    return t, 20.0 * np.log10(rms[:, 0] / rms[:, 1])


def segment_report(
    audio: np.ndarray, sr: int, trace: Trace, segments: list[tuple[str, float, float]], settle: float = 0.35
) -> list[dict[str, Any]]:
    """Per scripted segment: band energies (dB), mean layer weights, L/R balance, states, music.

    The first ``settle`` fraction of each segment is skipped (fades and glides are still moving),
    so the numbers describe the situation itself rather than the transition into it.
    """
    t = np.asarray(trace.t)
    out = []
    for name, a, b in segments:
        s = a + settle * (b - a)
        i0, i1 = int(s * sr), int(b * sr)
        seg = audio[i0:i1]
        mono = seg.mean(axis=1) if seg.size else np.zeros(0)
        rows = (t >= s) & (t < b)
        layers = {uid: round(float(np.mean(np.asarray(v)[rows])), 3) for uid, v in trace.layers.items()}
        states = {
            g: max(set(np.asarray(v)[rows].tolist()), key=np.asarray(v)[rows].tolist().count)
            for g, v in trace.states.items()
            if rows.any()
        }
        music = np.asarray(trace.music)[rows].tolist()
        _, bal = balance_db(seg, sr)
        out.append(
            {
                "segment": name,
                "start": round(a, 3),
                "end": round(b, 3),
                "bands_db": {k: round(band_db(mono, sr, lo, hi), 2) for k, (lo, hi) in BANDS.items()},
                "bands_p95_db": {
                    k: round(band_db(mono, sr, lo, hi, q=95.0), 2) for k, (lo, hi) in BANDS.items()
                },
                "rms_db": round(10 * math.log10(float(np.mean(mono**2)) + 1e-20), 2),
                "peak": round(float(np.max(np.abs(seg))) if seg.size else 0.0, 4),
                "layers": layers,
                "states": states,
                "params": {
                    k: round(float(np.mean(np.asarray(v)[rows])), 3)
                    for k, v in trace.params.items()
                    if rows.any()
                },
                "music": sorted(set(music)),
                "balance_db": {
                    "min": round(float(bal.min()), 2) if bal.size else 0.0,
                    "max": round(float(bal.max()), 2) if bal.size else 0.0,
                },
            }
        )
    return out


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Read our own float32/int16 WAVs with miniaudio (a runtime dependency; no scipy here)."""
    import miniaudio

    info = miniaudio.get_file_info(str(path))
    dec = miniaudio.decode_file(
        str(path),
        output_format=miniaudio.SampleFormat.FLOAT32,
        nchannels=info.nchannels,
        sample_rate=info.sample_rate,  # decode_file would resample to 44.1 kHz otherwise
    )
    x = np.frombuffer(dec.samples, dtype=np.float32).reshape(-1, dec.nchannels)
    return x, info.sample_rate


def write_json(path: str | Path, data: Any) -> None:
    Path(path).write_text(json.dumps(data, indent=1), encoding="utf-8")
