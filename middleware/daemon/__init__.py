"""The soundscape daemon: a network process (this one) and an audio process (spawned).

``run_daemon`` starts the audio process, waits until it plays, serves the ROUTER/PUB sockets in
the calling thread until SIGINT/SIGTERM (or ``stop``), then asks the audio process to fade out,
close the device and report its final counters. See docs/protocol.md for why two processes.

Neither process outlives the other: if the audio process dies, the network process stops with a
``DeviceError`` (``soundscape serve`` exits with status 2); if the network process fails, the audio
process is told to stop, then terminated, then killed, before ``run_daemon`` raises; and an audio
process whose parent has died stops by itself (it checks every 10 ms and also asks the kernel for a
SIGTERM when the parent goes).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq

from .. import __version__
from ..config import MAX_INSTANCES, DaemonOptions
from ..errors import DeviceError, ProtocolError, SceneError, SoundscapeError
from ..transport.server import Server
from .audio import audio_main


def _load_cert(option: str, path: str, need_secret: bool) -> tuple[bytes, bytes | None]:
    import zmq.auth

    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise ProtocolError(f"{option}={path!r}: cannot read a certificate ({exc})") from exc
    if need_secret and not secret:
        raise ProtocolError(f"{option}={path!r}: the file has no secret key")
    return public, secret


def _curve(opts: DaemonOptions) -> tuple[tuple[bytes, bytes] | None, Any]:
    if opts.curve_secret is None:
        if opts.allow_keys is not None:
            raise ProtocolError("--allow-keys needs --curve-secret (the server's own key pair)")
        return None, None
    from zmq.auth.thread import ThreadAuthenticator

    if opts.allow_keys is None or not Path(opts.allow_keys).is_dir():
        raise ProtocolError(f"--allow-keys={opts.allow_keys!r}: must be a folder of allowed public key files")
    public, secret = _load_cert("--curve-secret", opts.curve_secret, need_secret=True)
    return (public, secret), ThreadAuthenticator


def _world_curve(opts: DaemonOptions) -> tuple[bytes, bytes, bytes] | None:
    """CURVE keys for the world SUB socket: (game server's public key, our public, our secret)."""
    if opts.world_server_key is None:
        if opts.world_client_key is not None:
            raise ProtocolError("--world-client-key needs --world-server-key (the game server's public key)")
        return None
    if opts.world is None:
        raise ProtocolError("--world-server-key needs --world (the game server's feed)")
    server_public, _ = _load_cert("--world-server-key", opts.world_server_key, need_secret=False)
    own = opts.world_client_key or opts.curve_secret
    if own is None:
        raise ProtocolError(
            "--world-server-key needs this daemon's key pair: --world-client-key FILE (or --curve-secret)"
        )
    option = "--world-client-key" if opts.world_client_key else "--curve-secret"
    public, secret = _load_cert(option, own, need_secret=True)
    return server_public, public, secret


def run_daemon(
    opts: DaemonOptions,
    on_ready: Callable[[Server, dict[str, Any]], None] | None = None,
    install_signals: bool = True,
) -> dict[str, Any]:
    """Run until SIGINT/SIGTERM; return the audio process's final counters."""
    if opts.scene is not None and not Path(opts.scene).is_file():
        raise SceneError(f"scene={opts.scene!r}: no such file")
    if not 1 <= opts.max_instances <= MAX_INSTANCES:
        raise ProtocolError(
            f"--max-instances={opts.max_instances}: must be within 1..{MAX_INSTANCES} "
            "(the scene runtime's cap)"
        )
    curve_secret, authenticator_cls = _curve(opts)
    world_curve = _world_curve(opts)
    tmp = tempfile.mkdtemp(prefix="soundscape-")
    link_out = f"ipc://{tmp}/control"
    link_in = f"ipc://{tmp}/back"
    ctx = zmq.Context()
    auth = None
    if authenticator_cls is not None:
        auth = authenticator_cls(ctx)
        auth.start()
        auth.configure_curve(domain="soundscape", location=str(Path(opts.allow_keys).resolve()))
    scene_root = Path(opts.scene).resolve().parent if opts.scene else None
    try:
        server = Server(
            ctx,
            bind=opts.bind,
            pub=opts.pub,
            link_out=link_out,
            link_in=link_in,
            scene_root=scene_root,
            max_message_bytes=opts.max_message_bytes,
            curve_secret=curve_secret,
            max_instances=opts.max_instances,
            daemon_version=__version__,
            world=opts.world,
            world_curve=world_curve,
            schedule_latency=opts.schedule_latency,
            max_schedule_ahead=opts.max_schedule_ahead,
            max_scheduled=opts.max_scheduled,
        )
    except zmq.ZMQError as exc:
        ctx.destroy(linger=0)
        raise DeviceError(f"cannot listen on {opts.bind} / {opts.pub}: {exc.strerror}") from exc
    audio_opts = {
        "scene": str(Path(opts.scene).resolve()) if opts.scene else None,
        "control_addr": link_out,
        "back_addr": link_in,
        "device": opts.device,
        "backend": opts.backend,
        "block": opts.block,
        "lookahead_blocks": opts.lookahead_blocks,
        "period_frames": opts.period_frames,
        "sample_rate": opts.sample_rate,
        "seed": opts.seed,
        "schedule_latency": opts.schedule_latency,
        "max_schedule_ahead": opts.max_schedule_ahead,
        "max_scheduled": opts.max_scheduled,
        "record": opts.record,
        "fade_out": opts.fade_out,
        "null_min_lookahead": opts.null_min_lookahead,
        "nice": opts.nice,
        "meters": opts.meters,
        **opts.extra,
    }
    proc = multiprocessing.get_context("spawn").Process(
        target=audio_main, args=(audio_opts,), name="soundscape-audio", daemon=True
    )
    stop_flag = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop_flag.set()
        server.stop()

    old = {}
    if install_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, on_signal)
    final: dict[str, Any] = {}
    shut = False
    try:
        proc.start()
        ready = server.wait_ready(120.0)
        if "failed" in ready:
            f = ready["failed"]
            detail = "".join("\n  " + e for e in f.get("errors", []))
            if f.get("type") == "SceneError":
                raise SceneError(f"{f['message']}{detail}", f.get("errors"))
            raise SoundscapeError(f"audio process failed to start: {f['type']}: {f['message']}{detail}")
        if on_ready is not None:
            on_ready(server, ready)
        server.watch = proc.is_alive
        if not stop_flag.is_set():
            try:
                server.run()
            except Exception as exc:  # the loop guards itself; this is a last resort with a status
                traceback.print_exc(file=sys.stderr)
                server.failure = f"the network process failed: {type(exc).__name__}: {exc}"
        if server.failure:
            raise DeviceError(f"{server.failure} (exit code {proc.exitcode}); see the messages above")
        server.send_shutdown()
        shut = True
        final = server.wait_bye(5.0 + opts.fade_out) or {}
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        _stop_audio(proc, server, shut, opts.fade_out)
        server.close()
        if auth is not None:
            auth.stop()
        ctx.destroy(linger=0)
        for name in ("control", "back"):
            with contextlib.suppress(OSError):
                os.unlink(f"{tmp}/{name}")
        with contextlib.suppress(OSError):
            os.rmdir(tmp)
        sys.stderr.flush()
    return final


def _stop_audio(proc: Any, server: Server, shut: bool, fade_out: float) -> None:
    """Make sure the audio process is gone: asked (shutdown), then SIGTERM, then SIGKILL.

    A network process that stops for any reason must not leave its audio process playing, nor wait
    for it forever (multiprocessing joins its children at exit)."""
    if proc.pid is None:  # never started
        return
    if not shut and proc.is_alive():
        with contextlib.suppress(Exception):
            server.send_shutdown()
            server.wait_bye(2.0 + fade_out)
    proc.join(timeout=5.0)
    if proc.is_alive():
        proc.terminate()  # the audio process stops (with its fade) on SIGTERM
        proc.join(timeout=3.0)
    if proc.is_alive():
        proc.kill()
        proc.join(timeout=3.0)


__all__ = ["DaemonOptions", "run_daemon"]
