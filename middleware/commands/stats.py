"""``soundscape stats``: print a running daemon's live state."""

from __future__ import annotations

import argparse
import json
import time

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
        "--connect", default="tcp://127.0.0.1:5570", help="daemon command socket (default %(default)s)"
    )
    parser.add_argument("--json", action="store_true", help="print the raw stats map as JSON")
    parser.add_argument("--watch", type=float, metavar="S", help="repeat every S seconds until Ctrl-C")
    parser.add_argument("--timeout", type=float, default=3.0)


def format_stats(stats: dict) -> str:
    lines = []
    audio, net = stats.get("audio", {}), stats.get("net", {})
    for key, label in _AUDIO_KEYS:
        if key in audio:
            value = audio[key]
            lines.append(f"{label:32s} {value:.3f}" if isinstance(value, float) else f"{label:32s} {value}")
    for key, label in _NET_KEYS:
        if key in net:
            lines.append(f"{label:32s} {net[key]}")
    scene = stats.get("scene") or {}
    if scene:
        lines.append("scene: " + json.dumps(scene, default=str)[:400])
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
