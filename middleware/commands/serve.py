"""``soundscape serve SCENE.yaml``: run the daemon a game talks to over ZeroMQ."""

from __future__ import annotations

import argparse
import json
import sys

from ..config import DaemonOptions
from ._common import add_profile_option

_D = DaemonOptions()  # every flag's default is the daemon's own, declared once in config

NAME = "serve"
HELP = "run the daemon: load a scene, listen for game messages (ZeroMQ), play audio"
DESCRIPTION = (
    "Load SCENE.yaml, open a ROUTER socket for commands (--bind) and a PUB socket for telemetry "
    "(--pub), start audio, and print where it listens. Stops cleanly on Ctrl-C / SIGTERM (fade out, "
    "close the device). Binds to loopback unless told otherwise; use --curve-secret and --allow-keys "
    "to encrypt and authenticate clients on a LAN. The protocol is in docs/protocol.md."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "scene", nargs="?", metavar="SCENE.yaml", help="scene to play (omit with --recording)"
    )
    parser.add_argument("--bind", default=_D.bind, help="command socket (default %(default)s)")
    parser.add_argument("--pub", default=_D.pub, help="telemetry socket (default %(default)s)")
    parser.add_argument("--device", help="playback device name (substring match)")
    parser.add_argument("--backend", help="miniaudio backend, e.g. 'null' for no sound (default: auto)")
    parser.add_argument(
        "--block", type=int, default=_D.block, help="engine block in frames (default %(default)s)"
    )
    parser.add_argument(
        "--lookahead",
        type=int,
        default=_D.lookahead_blocks,
        help="blocks rendered ahead of the device callback; 0 renders inside the callback, for the lowest "
        "latency (default %(default)s; 2-4 give slack on a loaded machine, at 5.3 ms per block)",
    )
    parser.add_argument("--period", type=int, help="device period in frames (default: the sink's)")
    parser.add_argument(
        "--null-min-lookahead",
        type=float,
        metavar="S",
        help="ring mode (--lookahead >= 1) on the NULL backend: raise the lookahead to this many seconds "
        "(default: the sink's 0.02, covering the NULL device's 10-20 ms bursts); 0 keeps --lookahead",
    )
    parser.add_argument(
        "--schedule-latency",
        type=float,
        default=_D.schedule_latency,
        metavar="S",
        help="offset added when a client's game clock is anchored, seconds (default %(default)s)",
    )
    parser.add_argument(
        "--max-instances",
        type=int,
        default=_D.max_instances,
        help="live event instances at most (default and upper bound: the runtime's %(default)s)",
    )
    parser.add_argument(
        "--max-scheduled",
        type=int,
        default=_D.max_scheduled,
        help="pending timestamped commands per client at most (default %(default)s)",
    )
    parser.add_argument(
        "--max-message-bytes",
        type=int,
        default=_D.max_message_bytes,
        help="ZMQ_MAXMSGSIZE (default %(default)s)",
    )
    parser.add_argument(
        "--voice-budget",
        type=float,
        metavar="MIB",
        help="memory for spoken lines (`say`) in MiB; lines no voice plays are dropped, least recently "
        "used first, to make room (default 128)",
    )
    parser.add_argument(
        "--curve-secret", metavar="FILE", help="server certificate (zmq.auth) with secret key"
    )
    parser.add_argument("--allow-keys", metavar="DIR", help="folder of allowed client public certificates")
    parser.add_argument(
        "--recording",
        action="store_true",
        help="serve the built-in recording scene (beeps on trigger; for tests and client conformance)",
    )
    parser.add_argument(
        "--record", metavar="FILE", help="with --recording: append every decoded call as JSON"
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=_D.nice,
        help="CPU priority the audio process asks for when allowed (default %(default)s; 0 = unchanged)",
    )
    parser.add_argument(
        "--meters",
        default=_D.meters,
        help="buses whose loudness (momentary/short-term LUFS) is published on topic 'loudness': "
        "'master' (default), a comma list, 'all' or 'none'",
    )
    parser.add_argument(
        "--world",
        metavar="ENDPOINT",
        help="subscribe to a game server's PUB feed of world events (e.g. tcp://10.0.0.2:5580): topic "
        "'world' carries protocol messages, 'world_state' the full state a late daemon catches up from; "
        "this daemon's own clients then send only their listener",
    )
    parser.add_argument(
        "--world-server-key",
        metavar="FILE",
        help="encrypt the world feed with CURVE: the game server's public certificate (zmq.auth); this "
        "daemon authenticates with --world-client-key, or else its own --curve-secret",
    )
    parser.add_argument(
        "--world-client-key",
        metavar="FILE",
        help="this daemon's certificate (with secret key) for the world feed",
    )
    add_profile_option(parser, "applied from the first block")
    parser.add_argument("--seed", type=int, default=_D.seed)
    parser.add_argument("--json", action="store_true", help="print the startup line as JSON (for scripts)")
    from .studio import add_studio_options  # --studio and the studio page's options

    add_studio_options(parser)


def _voice_budget(mib: float | None) -> dict:
    """The audio process's option for --voice-budget, checked now (not when the audio starts)."""
    if mib is None:
        return {}
    from ..voice.limits import MIB, VoiceLimits

    return {"voice_budget_bytes": VoiceLimits(budget_bytes=int(mib * MIB)).budget_bytes}


def _profile(path: str | None) -> dict:
    """The audio process's option for --profile: the file checked now (errors name file:line:col),
    handed over as the plain mapping ``profile_from_dict`` reads back."""
    if path is None:
        return {}
    from ..accessibility.profile import load_profile

    return {"profile": load_profile(path).to_dict()}


def run(args: argparse.Namespace) -> int:
    from ..daemon import run_daemon
    from ..errors import SceneError

    if args.scene is None and not args.recording:
        raise SceneError("serve: give a SCENE.yaml (or --recording for the built-in test scene)")
    opts = DaemonOptions(
        scene=None if args.recording else args.scene,
        bind=args.bind,
        pub=args.pub,
        device=args.device,
        backend=args.backend,
        block=args.block,
        lookahead_blocks=args.lookahead,
        period_frames=args.period,
        null_min_lookahead=args.null_min_lookahead,
        nice=args.nice,
        meters=args.meters,
        seed=args.seed,
        schedule_latency=args.schedule_latency,
        max_instances=args.max_instances,
        max_scheduled=args.max_scheduled,
        max_message_bytes=args.max_message_bytes,
        curve_secret=args.curve_secret,
        allow_keys=args.allow_keys,
        record=args.record,
        world=args.world,
        world_server_key=args.world_server_key,
        world_client_key=args.world_client_key,
        extra={**_voice_budget(args.voice_budget), **_profile(args.profile)},
    )

    def ready(server, info) -> None:
        scene = info["scene"].get("name") or info["scene"].get("scene", "")
        if args.json:
            line = {
                "bind": server.bind_endpoint,
                "pub": server.pub_endpoint,
                "scene": scene,
                "backend": info["backend"],
                "pid": info["pid"],
            }
            print(json.dumps(line), flush=True)
        else:
            curve = " (CURVE)" if args.curve_secret else ""
            print(
                f"soundscape: serving scene {scene!r}{curve}: commands on {server.bind_endpoint}, "
                f"telemetry on {server.pub_endpoint}, audio on {info['backend']} "
                f"({info['sample_rate']} Hz, block {info['block']}). Ctrl-C to stop.",
                flush=True,
            )

    if getattr(args, "studio", False):  # the studio page beside the daemon (docs/studio.md)
        from .studio import with_studio

        ready = with_studio(args, ready)
    final = run_daemon(opts, on_ready=ready)
    under = final.get("underruns", "?")
    print(f"soundscape: stopped after {final.get('frame', 0)} frames, {under} underruns", file=sys.stderr)
    return 0
