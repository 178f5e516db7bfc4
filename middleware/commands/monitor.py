"""``soundscape monitor``: watch a running daemon live, like a profiler in the terminal."""

from __future__ import annotations

import argparse

from ..config import TELEMETRY_ENDPOINT
from ._common import UsageError, interactive_terminal

NAME = "monitor"
HELP = "live terminal view of a daemon: parameters, states, layers and their weights, voices, CPU, errors"
DESCRIPTION = (
    "Subscribe to a daemon's telemetry socket and redraw 20 times a second: parameters and states, "
    "active layers with their weight and where it came from (rule, curve, director MODEL, OVERRIDE), "
    "music segment and beat, voices real/virtual, CPU load of the audio path, underruns, LUFS per bus "
    "(when published), events per second and recent errors. q or Ctrl-C quits, p pauses the screen. "
    "Without a terminal (or with --plain) it prints a snapshot every --interval seconds."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--connect",
        default=TELEMETRY_ENDPOINT,
        metavar="ENDPOINT",
        help="the daemon's telemetry (PUB) socket (default %(default)s)",
    )
    parser.add_argument("--plain", action="store_true", help="print snapshots instead of a full screen")
    parser.add_argument(
        "--interval", type=float, default=1.0, help="--plain: seconds between snapshots (default 1)"
    )
    parser.add_argument("--duration", type=float, help="quit after this many seconds (default: run until q)")


def run(args: argparse.Namespace) -> int:
    from ..client import Subscriber
    from ..errors import ProtocolError
    from ..monitor.app import run_plain, run_tui

    if not args.connect.startswith(("tcp://", "ipc://", "inproc://")):
        raise ProtocolError(
            f"--connect={args.connect!r}: must be a ZeroMQ endpoint like tcp://127.0.0.1:5571"
        )
    if args.interval <= 0:
        raise UsageError(f"--interval={args.interval}: must be > 0 seconds")
    if args.duration is not None and args.duration <= 0:
        raise UsageError(f"--duration={args.duration}: must be > 0 seconds")
    with Subscriber(args.connect, topics=("",)) as sub:
        if args.plain or not interactive_terminal():
            return run_plain(sub, args.connect, args.interval, args.duration)
        return run_tui(sub, args.connect, args.duration)
