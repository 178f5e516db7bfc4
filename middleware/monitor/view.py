"""The monitor's screen as plain lines: a pure function of the state, the size and the clock.

Kept apart from the terminal so a test can read exactly what a person would see, and so the same
screen works in any terminal (ANSI only for the cursor and optional colour, added by the app).
"""

from __future__ import annotations

import math
import time

from .state import MonitorState

SOURCE_TAG = {"director": "MODEL", "override": "OVERRIDE", "rule": "rule", "curve": "curve"}


def _bar(x: float, width: int = 10) -> str:
    if not math.isfinite(x):
        return "?" * width
    n = round(min(max(x, 0.0), 1.0) * width)
    return "#" * n + "." * (width - n)


def _fmt(x: object, spec: str = ".2f", none: str = "-") -> str:
    if isinstance(x, (int, float)) and math.isfinite(x):
        return format(x, spec)
    return none


def render_lines(
    st: MonitorState,
    width: int = 100,
    height: int = 40,
    now: float | None = None,
    endpoint: str = "",
    paused: bool = False,
) -> list[str]:
    """The screen, top to bottom, each line at most ``width`` characters."""
    now = time.monotonic() if now is None else now
    a = st.audio
    live = (
        "LIVE" if st.connected(now) else ("waiting for telemetry" if st.messages == 0 else "NO DATA (stale)")
    )
    lines = [
        f"soundscape monitor  {endpoint}  [{live}]{'  PAUSED' if paused else ''}   "
        f"telemetry {st.telemetry_rate.per_second(now):.0f} msg/s   q quits, p pauses",
        "",
        f"AUDIO     backend {a.get('backend', '-')}   "
        f"CPU load {_fmt(100 * a['cpu_load'] if 'cpu_load' in a else None, '.0f')}%"
        f"   render p99 {_fmt(a.get('render_ms_p99'), '.1f')} ms   callback p99 "
        f"{_fmt(a.get('callback_interval_p99_ms'), '.1f')} ms",
        f"          underruns {a.get('underruns', '-')}   callbacks {a.get('callbacks', '-')}   "
        f"ring {a.get('ring_fill', '-')}/{a.get('ring_target_frames', '-')} frames   "
        f"late {a.get('late', '-')}   rejected {a.get('rejected', '-')}",
        f"VOICES    real {a.get('voices_real', '-')}   virtual {a.get('voices_virtual', '-')}   "
        f"instances {st.instances}   events/s: triggers {st.triggers.per_second(now):.1f}   "
        f"commands {st.commands_per_s:.1f}",
    ]
    seg = st.music.get("segment") if st.music else None
    bar, beat = st.beat
    pulse = ""
    if st.beat_time >= 0 and beat:
        flash = now - st.beat_time < 0.15
        pulse = " ".join(("*" if flash else "o") if i + 1 == beat else "." for i in range(4))
    pend = st.music.get("pending") if st.music else None
    snaps = "  ".join(f"{k} {v:.2f}" for k, v in sorted(st.snapshots.items())) or "none"
    stinger = f"   stinger {st.stinger[0]} {now - st.stinger[1]:.1f}s ago" if st.stinger else ""
    lines.append(
        f"MUSIC     {seg or '-'}{f' -> {pend}' if pend else ''}   bar {bar or '-'} beat {beat or '-'}  "
        f"[{pulse or '       '}]{stinger}   snapshots: {snaps}"
    )
    d = st.director
    if d.get("model"):
        lines.append(
            f"DIRECTOR  model {d.get('model')} v{d.get('version', '?')} ({d.get('hash', '')})  "
            f"status {d.get('status', 'attached')}"
        )
    elif d:
        lines.append(
            f"DIRECTOR  {d.get('status', 'rules')} ({d.get('fallback') or d.get('why') or 'no model'})"
        )
    else:
        lines.append("DIRECTOR  no director telemetry (rules and curves)")
    if st.loudness:
        parts = []
        for bus, m in sorted(st.loudness.items(), key=lambda kv: (kv[0] != "master", kv[0])):
            part = f"{bus} M {_fmt(m.get('momentary'), '.1f')} S {_fmt(m.get('short_term'), '.1f')}"
            if "integrated" in m:
                part += f" I {_fmt(m.get('integrated'), '.1f')}"
            if "true_peak" in m:
                part += f" TP {_fmt(m.get('true_peak'), '.1f')} dBTP"
            parts.append(part)
        row = "LOUDNESS  "
        for part in parts:  # pack buses into as few lines as fit the width
            if len(row) > 10 and len(row) + len(part) + 3 > width:
                lines.append(row)
                row = " " * 10
            row += part + "   "
        lines.append(row.rstrip())
    else:
        lines.append("LOUDNESS  (no LUFS meters published: soundscape serve --meters master|all)")
    lines.append("")
    # parameters and states side by side
    left = ["PARAMETERS"] + [f"  {k:<14}{_fmt(v, '8.2f')}" for k, v in sorted(st.params.items())]
    right = ["STATES"] + [f"  {k:<12}{v}" for k, v in sorted(st.states.items())]
    for i in range(max(len(left), len(right))):
        lcol = left[i] if i < len(left) else ""
        rcol = right[i] if i < len(right) else ""
        lines.append(f"{lcol:<40}{rcol}")
    lines.append("")
    rows = st.layer_rows()
    lines.append(f"LAYERS ({len(rows)} active)   weight            source     gain")
    n_err = len(st.errors)
    room = max(1, height - len(lines) - (n_err + 2 if n_err else 1))
    for uid, w, src, g in rows[:room] if len(rows) <= room else rows[: room - 1]:
        lines.append(
            f"  {uid:<24}{_fmt(w, '.2f', '?'):>5} [{_bar(w)}]  {SOURCE_TAG.get(src, src):<9}"
            f"{_fmt(g, '6.1f', '     -')} dB"
        )
    if len(rows) > room:
        lines.append(f"  ... {len(rows) - room + 1} more layers (make the terminal taller)")
    if n_err:
        lines.append("")
        lines.append(f"ERRORS (last {n_err})")
        for t, code, where, text in list(st.errors)[-n_err:]:
            age = now - t
            lines.append(f"  {age:5.1f}s ago  {code:<12} {where:<14} {text}")
    return [ln[:width] for ln in lines[:height]]
