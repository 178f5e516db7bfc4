"""Running a session: a daemon to talk to, the game loop in real time or simulated time, the outputs.

``spawn_daemon`` starts ``soundscape serve`` as a child process on free loopback ports (ZeroMQ's
``*`` port) and reads the endpoints from its ``--json`` startup line, so several demos or tests can
run side by side. ``run_bot`` plays the autoplay script, paced by the wall clock when a daemon
listens (so it is heard) or as fast as possible when nobody listens (record-only runs).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .link import Link
from .script import SCRIPT, Bot, Segment, total_seconds
from .world import Game

TICK = 0.05  # seconds per game tick (20 Hz, like a game sending transforms every few frames)


@dataclass
class Daemon:
    """A ``soundscape serve`` child process and where it listens."""

    proc: subprocess.Popen
    bind: str
    pub: str
    backend: str
    stderr_lines: list[str] = field(default_factory=list)

    def stop(self, timeout: float = 10.0) -> str:
        """SIGINT (clean fade-out and shutdown); returns the daemon's last stderr line."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _kill_children(self.proc.pid)
                self.proc.kill()
                self.proc.wait(5)
        time.sleep(0.05)
        return self.stderr_lines[-1] if self.stderr_lines else ""


def spawn_daemon(
    scene: str | Path,
    backend: str | None = None,
    timeout: float = 120.0,
    extra: list[str] | None = None,
    launcher: list[str] | None = None,
) -> Daemon:
    """Start ``soundscape serve SCENE --json`` on free ports; return once it is serving.

    ``launcher`` replaces the command that runs the CLI (default ``python -m middleware.cli``,
    the same program as the ``soundscape`` script, found without relying on PATH).
    """
    from middleware.errors import DeviceError

    cmd = [
        *(launcher or [sys.executable, "-m", "middleware.cli"]),
        "serve",
        str(scene),
        "--bind",
        "tcp://127.0.0.1:*",
        "--pub",
        "tcp://127.0.0.1:*",
        "--json",
        *(["--backend", backend] if backend else []),
        *(extra or []),
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []

    def pump_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line.rstrip())
            del lines[:-200]

    threading.Thread(target=pump_stderr, daemon=True).start()
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    deadline = time.monotonic() + timeout
    while reader.is_alive() and time.monotonic() < deadline:
        reader.join(0.1)
        # a daemon that failed to start prints "soundscape serve: error: ..." or a traceback
        if proc.poll() is not None or any("error" in ln.lower() for ln in lines):
            reader.join(1.0)
            break
    if not got or not got[0].strip():
        _kill_children(proc.pid)
        with contextlib.suppress(Exception):
            proc.kill()
        time.sleep(0.2)
        detail = "\n  ".join(lines[-8:])
        raise DeviceError(f"the daemon did not start (waited up to {timeout:.0f} s):\n  {detail}")
    info = json.loads(got[0])
    # keep draining stdout so the child never blocks on a full pipe
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    return Daemon(proc, info["bind"], info["pub"], str(info.get("backend", "?")), lines)


def _kill_children(pid: int) -> None:
    """Kill what a failed daemon left behind (its audio process ignores SIGINT/SIGTERM by design)."""
    try:
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return
    for line in out.stdout.split():
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(line), signal.SIGKILL)


@dataclass
class BotRun:
    game: Game
    link: Link
    seconds: float
    wall_seconds: float
    segments: list[tuple[str, float, float]]
    late_ticks: int = 0


def run_bot(
    client: Any = None,
    scale: float = 1.0,
    realtime: bool = True,
    script: tuple[Segment, ...] = SCRIPT,
    on_tick: Callable[[Game, Bot], None] | None = None,
) -> BotRun:
    """Play the autoplay script; every message goes to ``client`` (if any) and into the timeline."""
    game_box: list[Game] = []
    link = Link(client, clock=lambda: game_box[0].clock if game_box else 0.0)
    game = Game(link)
    game_box.append(game)
    bot = Bot(game, scale, script)
    end = total_seconds(scale, script)
    t0 = time.monotonic()
    late = 0
    while game.clock < end - 1e-9:
        dt = min(TICK, end - game.clock)
        game.tick(dt, bot.controls())
        if on_tick is not None:
            on_tick(game, bot)
        if realtime:
            wait = t0 + game.clock - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            elif wait < -TICK:
                late += 1
    return BotRun(game, link, end, time.monotonic() - t0, bot.times, late)
