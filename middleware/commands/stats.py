"""``soundscape stats``: print a running daemon's live state."""

from __future__ import annotations

import argparse
import json
import time

from ..config import COMMAND_ENDPOINT

NAME = "stats"
HELP = "print a running daemon's live counters (audio, network, scene)"
DESCRIPTION = (
    "Ask a running daemon for its counters and print them: frames played, underruns, callback timing, "
    "voices, CPU load of the audio path, messages received/invalid/coalesced/dropped, live instances, "
    "and the scene runtime's telemetry. --watch S repeats every S seconds; --json prints raw JSON."
)

_AUDIO_KEYS = (
    ("frame", "frames rendered"),
    ("render_mode", "render mode (callback / ring)"),
    ("underruns", "underruns"),
    ("late_callbacks", "late callbacks (> one period)"),
    ("callback_interval_p99_ms", "callback interval p99 (ms)"),
    ("callback_interval_max_ms", "callback interval max (ms)"),
    ("render_ms_p99", "render p99 (ms)"),
    ("cpu_load", "audio CPU load (render/block)"),
    ("voices_real", "voices real"),
    ("voices_virtual", "voices virtual"),
    ("late", "timestamped msgs late"),
    ("drain_deferred", "blocks that hit the command budget"),
    ("rejected", "commands rejected"),
)
_NET_KEYS = (
    ("received", "messages received"),
    ("invalid", "invalid"),
    ("coalesced", "coalesced"),
    ("dropped_to_audio", "dropped (audio behind)"),
    ("clients", "clients"),
    ("instances_live", "instances live"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--connect", default=COMMAND_ENDPOINT, help="daemon command socket (default %(default)s)"
    )
    parser.add_argument("--json", action="store_true", help="print the raw stats map as JSON")
    parser.add_argument("--watch", type=float, metavar="S", help="repeat every S seconds until Ctrl-C")
    parser.add_argument("--timeout", type=float, default=3.0)


def _value(v: object) -> str:
    """One cell: floats with 2 decimals, maps as 'k v, k v', lists comma-separated."""
    if isinstance(v, bool) or v is None:
        return "-" if v is None else str(v).lower()
    if isinstance(v, float):
        return f"{v:.2f}"
    if isinstance(v, dict):
        return ", ".join(f"{k} {_value(x)}" for k, x in v.items()) or "-"
    if isinstance(v, (list, tuple)):
        return ", ".join(_value(x) for x in v) or "-"
    return str(v)


def _num(v: object, spec: str) -> str:
    return format(v, spec) if isinstance(v, int | float) and not isinstance(v, bool) else "-"


def format_scene(scene: dict) -> list[str]:
    """The scene runtime's telemetry as lines: a row per field, then a table of the active layers
    (weight, where it came from, gain, and the left/right gain of its voice when it has one).
    Sources read as in ``soundscape monitor``: rule, curve, MODEL (the director), OVERRIDE."""
    from ..monitor.view import SOURCE_TAG
    from ..scene.inspect import summary as inspect_summary

    lines = [f"scene at frame {scene['frame']}" if "frame" in scene else "scene"]
    labels = {"params": "parameters"}
    for key, value in scene.items():
        if key in ("frame", "layers", "voices"):
            continue
        if key == "world" and isinstance(value, dict):  # the studio's 3D view: counts, not the lists
            value = inspect_summary(value)
        if key == "music" and isinstance(value, dict):
            pend = f" -> {value['pending']}" if value.get("pending") else ""
            value = f"segment {value.get('segment') or '-'}{pend}, beat {_value(value.get('beat'))}"
        lines.append(f"  {labels.get(key, key):<12} {_value(value)}")
    layers, voices = scene.get("layers") or {}, scene.get("voices") or {}
    if layers:
        width = max(len("layer"), *(len(uid) for uid in layers))
        lines.append(f"  {'layer':<{width}}  weight  source     gain dB    left   right")
        for uid, row in sorted(layers.items()):
            v = voices.get(uid, {})
            cells = [
                _num(row.get("weight"), ".2f"),
                SOURCE_TAG.get(row.get("source"), str(row.get("source") or "-")),
                _num(row.get("gain_db"), ".1f"),
                _num(v.get("gain_left"), ".3f"),
                _num(v.get("gain_right"), ".3f"),
            ]
            lines.append(
                f"  {uid:<{width}}  {cells[0]:>6}  {cells[1]:<9}  {cells[2]:>7}  {cells[3]:>6}  {cells[4]:>6}"
            )
    return lines


def format_stats(stats: dict) -> str:
    """The stats reply as aligned 'label value' lines, then the scene (``format_scene``)."""
    audio, net = stats.get("audio", {}), stats.get("net", {})
    rows = [(label, audio[key]) for key, label in _AUDIO_KEYS if key in audio]
    rows += [(label, net[key]) for key, label in _NET_KEYS if key in net]
    width = max((len(label) for label, _ in rows), default=0)
    lines = [
        f"{label:<{width}}  {value:.3f}" if isinstance(value, float) else f"{label:<{width}}  {value}"
        for label, value in rows
    ]
    scene = stats.get("scene") or {}
    if scene:
        lines += ["", *format_scene(scene)]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ..errors import ProtocolError
    from ..transport.client import Client

    with Client(args.connect, timeout=args.timeout) as client:
        while True:
            try:
                stats = client.stats()
            except TimeoutError as exc:
                raise ProtocolError(f"{exc} (is `soundscape serve` running there?)", code="busy") from None
            print(json.dumps(stats, indent=2, default=str) if args.json else format_stats(stats), flush=True)
            if not args.watch:
                return 0
            time.sleep(args.watch)
            print()
