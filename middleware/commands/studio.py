"""``soundscape studio [SCENE.yaml]``: the live mix in the browser (see docs/studio.md).

With a scene, it starts a daemon on it (every ``soundscape serve`` option applies) and the studio
beside it; ``soundscape serve SCENE.yaml --studio`` does the same. With ``--connect`` it opens a
studio onto a daemon that is already running (the scene file is then optional: it feeds the
scene panel and hot reload). Either way it prints a local URL with a random token and opens it
when a graphical browser is available.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

NAME = "studio"
HELP = "open the studio: the live mix in the browser (sliders, layer weights, meters, 3D view, teach)"
DESCRIPTION = (
    "Start a daemon on SCENE.yaml (or attach to one with --connect) and serve the studio page on "
    "loopback, behind a random token printed in the URL. The page talks to the daemon through the "
    "public protocol and telemetry only. Needs the 'studio' extra (aiohttp)."
)


def add_studio_options(parser: argparse.ArgumentParser) -> None:
    """``soundscape serve``'s studio options (``soundscape studio`` inherits them with serve's)."""
    parser.add_argument(
        "--studio", action="store_true", help="also serve the studio page (see `soundscape studio`)"
    )
    parser.add_argument(
        "--studio-host",
        default="127.0.0.1",
        help="address the studio page listens on (default %(default)s: this machine only)",
    )
    parser.add_argument(
        "--studio-port", type=int, default=0, help="port of the studio page (default: a free one)"
    )
    parser.add_argument("--no-browser", action="store_true", help="print the studio URL, do not open it")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from . import serve

    serve.add_arguments(parser)  # the daemon's options, and the studio's (--studio-host, ...)
    parser.add_argument(
        "--connect",
        metavar="ENDPOINT",
        help="attach to a running daemon's command socket (e.g. tcp://127.0.0.1:5570) instead of "
        "starting one; its telemetry is --pub",
    )


def run(args: argparse.Namespace) -> int:
    from ..studio import require_aiohttp

    require_aiohttp()
    if args.connect:
        return _attach(args)
    if args.scene is None and not args.recording:
        from ._common import UsageError

        raise UsageError("studio: give a SCENE.yaml, or --connect ENDPOINT to open a running daemon")
    from . import serve

    args.studio = True
    return serve.run(args)


def _attach(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C / SIGTERM (or the parent daemon is gone), then end within seconds.

    The signals only set a flag (installed before anything starts), so no KeyboardInterrupt can
    land between start-up and the loop and skip the clean-up; and a thread still stuck after the
    clean-up (a socket to a daemon that died) cannot hold the exit: the process leaves anyway.
    """
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    studio = start_studio(args, args.connect, args.pub, args.scene)
    parent = os.getppid()
    try:
        # `serve --studio` runs this as its child: end with the daemon even if it was killed
        while not stop.wait(0.5) and os.getppid() == parent:
            pass
    finally:
        studio.stop()
        studio.link.close()
        sys.stdout.flush()
        sys.stderr.flush()
        if any(t.is_alive() for t in threading.enumerate() if t is not threading.current_thread()):
            os._exit(0)
    return 0


def start_studio(args: argparse.Namespace, bind: str, pub: str, scene: str | None) -> Any:
    """Link to the daemon at ``bind``/``pub``, serve the page, print (and maybe open) the URL."""
    from ..studio import security
    from ..studio.link import DaemonLink
    from ..studio.server import Studio

    link = DaemonLink(bind, pub).start()
    studio = Studio(link, scene, host=args.studio_host, port=args.studio_port)
    try:
        url = studio.start()
    except OSError as exc:
        link.close()
        from ..errors import DeviceError

        raise DeviceError(f"studio: cannot listen on {args.studio_host}:{args.studio_port}: {exc}") from exc
    if getattr(args, "json", False):
        print(json.dumps({"studio": url}), flush=True)
    else:
        print(f"soundscape studio: open {url}", flush=True)
    if not security.is_loopback(args.studio_host):
        print(
            f"soundscape studio: warning: listening on {args.studio_host}: anyone on this network who "
            "has the URL can steer the mix",
            file=sys.stderr,
        )
    if not args.no_browser:
        _open_browser(url)
    return studio


def with_studio(args: argparse.Namespace, ready: Callable[[Any, dict], None]) -> Callable[[Any, dict], None]:
    """Wrap ``serve``'s on-ready callback: print its line, then start the studio on that daemon.

    The studio runs as a child process (``soundscape studio --connect``), not in the daemon's
    network process: its web server, JSON encoding and telemetry link then never compete with
    the daemon's message loop for the GIL. It is one more client, like any game.
    """
    from ..studio import require_aiohttp

    require_aiohttp()  # say so before the daemon starts, not from the child afterwards
    if args.curve_secret:
        from ..errors import ProtocolError

        raise ProtocolError("--studio with --curve-secret: the studio cannot join a CURVE daemon yet")

    def on_ready(server: Any, info: dict) -> None:
        ready(server, info)
        cmd = [sys.executable, "-m", "middleware.cli", "studio", "--connect", server.bind_endpoint,
               "--pub", server.pub_endpoint, "--studio-host", args.studio_host,
               "--studio-port", str(args.studio_port)]  # fmt: skip
        cmd += [args.scene] if args.scene else []
        cmd += ["--no-browser"] if args.no_browser else []
        cmd += ["--json"] if args.json else []
        child = subprocess.Popen(cmd)  # shares stdout: its URL line follows the daemon's

        def close() -> None:
            child.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=5)

        atexit.register(close)

    return on_ready


def _open_browser(url: str) -> None:
    """Open ``url`` in a graphical browser if there is one (never a text browser in this terminal)."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return
    import webbrowser

    def go() -> None:
        time.sleep(0.2)
        with contextlib.suppress(webbrowser.Error):
            webbrowser.open(url, new=2)

    threading.Thread(target=go, name="studio-browser", daemon=True).start()
