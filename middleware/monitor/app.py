"""The monitor's terminal loop: subscribe, fold telemetry, redraw at 20 Hz, quit on q or Ctrl-C.

Plain ANSI (no curses): the alternate screen, cursor home, one write per frame with each line
cleared to its end, so a frame never flickers and any terminal (including tmux) shows it.
Keys are read in cbreak mode with ``select``, so the loop never blocks on the keyboard; the
terminal is restored on every exit path. Without a terminal (``--plain``, or stdout not a tty) it
prints one plain snapshot per ``--interval`` instead, for logs and scripts.
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from typing import Any

from .state import MonitorState
from .view import render_lines

REDRAW_HZ = 20.0
ALT_ON, ALT_OFF = "\x1b[?1049h", "\x1b[?1049l"
HIDE, SHOW = "\x1b[?25l", "\x1b[?25h"
HOME, CLEAR_EOL, CLEAR_DOWN = "\x1b[H", "\x1b[K", "\x1b[J"


def _pump(sub: Any, st: MonitorState, budget_s: float) -> None:
    """Fold every telemetry message that arrives within ``budget_s`` seconds, sleeping in ``poll``
    between them (never spinning: the monitor must not take CPU from the audio process it watches)."""
    deadline = time.monotonic() + budget_s
    while True:
        left = deadline - time.monotonic()
        got = sub.recv(max(left, 0.0))
        if got is None:
            return
        st.feed(*got)
        if left <= 0:
            # past the deadline: drain what is already queued without waiting, then stop
            for _ in range(10_000):  # bounded: a flood cannot keep the screen from redrawing
                more = sub.recv(0)
                if more is None:
                    break
                st.feed(*more)
            return


@contextlib.contextmanager
def _terminal() -> Any:
    """cbreak + no echo + alternate screen; always restored."""
    import termios
    import tty

    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        sys.stdout.write(ALT_ON + HIDE)
        sys.stdout.flush()
        yield fd
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)
        sys.stdout.write(SHOW + ALT_OFF)
        sys.stdout.flush()


def run_tui(sub: Any, endpoint: str, duration: float | None = None) -> int:
    """Full-screen monitor until q, Ctrl-C, SIGTERM or ``duration`` seconds."""
    st = MonitorState()
    stop = {"flag": False}

    def on_term(signum: int, frame: Any) -> None:
        stop["flag"] = True

    old_term = signal.signal(signal.SIGTERM, on_term)
    period = 1.0 / REDRAW_HZ
    t_end = None if duration is None else time.monotonic() + duration
    paused = False
    frozen: list[str] = []
    frames = 0
    try:
        with _terminal() as fd:
            while not stop["flag"] and (t_end is None or time.monotonic() < t_end):
                t0 = time.monotonic()
                _pump(sub, st, period * 0.8)
                r, _, _ = select.select([fd], [], [], 0)
                if r:
                    ch = os.read(fd, 32).decode(errors="ignore")
                    if "q" in ch or "Q" in ch or "\x03" in ch:
                        break
                    if "p" in ch or "P" in ch:
                        paused = not paused
                size = shutil.get_terminal_size((100, 40))
                if not paused or not frozen:
                    frozen = render_lines(st, size.columns, size.lines - 1, endpoint=endpoint, paused=paused)
                frames += 1
                frame = HOME + "".join(line + CLEAR_EOL + "\r\n" for line in frozen) + CLEAR_DOWN
                sys.stdout.write(frame)
                sys.stdout.flush()
                left = period - (time.monotonic() - t0)
                if left > 0:
                    time.sleep(left)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, old_term)
    return 0


def plain_ticks(interval: float, duration: float | None) -> Iterator[float]:
    """Seconds from the start at which ``run_plain`` prints: every ``interval``, and with a
    ``duration`` the last one exactly at its end, once: ceil(duration / interval) snapshots.

    Counted rather than compared with the clock, so a tick that is due a hair before the end can
    never add a snapshot of (almost) nothing."""
    if duration is None:
        k = 0
        while True:
            k += 1
            yield k * interval
    n = max(1, math.ceil(duration / interval - 1e-9))  # 1e-9: 3 * 0.1 must count as 0.3
    for k in range(1, n + 1):
        yield min(k * interval, duration)


def run_plain(sub: Any, endpoint: str, interval: float = 1.0, duration: float | None = None) -> int:
    """One plain-text snapshot per tick of ``plain_ticks`` (no terminal control)."""
    st = MonitorState()
    t0 = time.monotonic()
    try:
        for due in plain_ticks(interval, duration):
            _pump(sub, st, max(0.0, t0 + due - time.monotonic()))
            size = shutil.get_terminal_size((110, 60))
            print("\n".join(render_lines(st, size.columns, 200, endpoint=endpoint)), flush=True)
            print("-" * min(size.columns, 110), flush=True)
    except KeyboardInterrupt:
        pass
    return 0
