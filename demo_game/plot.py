"""out/demo.png: what the game did above what the mix did, on one time axis.

Four panels sharing time: (1) the game's parameters and states with the scripted situations,
(2) the layer weights, the director model's output drawn bold and labelled as model output,
(3) a spectrogram of the mix, (4) the left/right balance of the mix against the head's yaw, with the
sound captions a deaf player would have been shown, at the bearing they came from.
Needs matplotlib (the ``plots`` extra); the demo skips the picture with a note when it is missing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .render import Trace, balance_db

AREA_COLOURS = {"forest": "#3b7d3b", "cave": "#6d5a48", "village": "#b5863c"}
WEATHER_COLOURS = {"clear": "#9fd3f5", "rain": "#5b8fc9", "storm": "#37406b"}
MUSIC_COLOURS = {"explore": "#cfe8cf", "combat": "#f3c27a", "boss": "#e0705c"}
FIGSIZE = (16.0, 12.5)  # inches
DPI = 90  # the PNG is FIGSIZE * DPI pixels (1440 x 1125)
PANELS = ("game", "layers", "spectrogram", "balance")  # top to bottom


@dataclass(frozen=True)
class Panel:
    """What one panel of the picture shows, so a reader of the PNG (the tests) can check it.

    ``box`` is where the panel's axes sit, in fractions of the figure ``(x0, y0, x1, y1)`` with the
    origin at the bottom left; ``images`` counts raster images (the spectrogram).
    """

    name: str
    ylabel: str
    title: str
    legend: tuple[str, ...]
    box: tuple[float, float, float, float]
    images: int


PARAM_STYLE = {
    "intensity": ("#1f77b4", "-"),
    "threat": ("#d62728", "-"),
    "health": ("#2ca02c", "-"),
    "time_of_day": ("#9467bd", "--"),
}


def _runs(values: list[str], t: np.ndarray) -> list[tuple[str, float, float]]:
    """Consecutive runs of equal values: (value, start, end)."""
    out = []
    if not values:
        return out
    start = 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[start]:
            end = t[i] if i < len(values) else t[-1]
            out.append((values[start], float(t[start]), float(end)))
            start = i
    return out


def plot_demo(
    path: str | Path,
    audio: np.ndarray,
    sr: int,
    trace: Trace,
    segments: list[tuple[str, float, float]],
    title: str = "",
    focus: tuple[str, float, float, float, float] | None = None,
    record: list[Panel] | None = None,
) -> Path:
    """Draw the picture; ``focus`` = (source name, x, z, t0, t1) adds, between t0 and t1, the balance
    that source alone would give for the head's yaw (on the left when the head faces past it).
    ``record``, if given, receives one :class:`Panel` per panel (top to bottom) as drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.asarray(trace.t)
    dur = audio.shape[0] / sr
    fig, axes = plt.subplots(
        len(PANELS), 1, figsize=FIGSIZE, sharex=True, gridspec_kw={"height_ratios": [1.25, 1.35, 1.25, 0.9]}
    )
    ax_p, ax_w, ax_s, ax_b = axes

    # ---- 1: the game: states as coloured bands, parameters as lines, segment names on top
    for name, a, b in _runs(trace.states.get("area", []), t):
        ax_p.axvspan(a, b, ymin=0.90, ymax=1.0, color=AREA_COLOURS.get(name, "#ccc"), lw=0)
        ax_p.text(
            (a + b) / 2, 1.075, name, ha="center", va="center", fontsize=8, color="white", weight="bold"
        )
    for name, a, b in _runs(trace.states.get("weather", []), t):
        ax_p.axvspan(a, b, ymin=0.80, ymax=0.895, color=WEATHER_COLOURS.get(name, "#ccc"), lw=0)
        ax_p.text((a + b) / 2, 0.975, name, ha="center", va="center", fontsize=7.5, color="white")
    for name, (colour, ls) in PARAM_STYLE.items():
        if name in trace.params:
            v = np.asarray(trace.params[name], dtype=float)
            label = name
            if name == "time_of_day":
                v = v / 24.0
                label = "time of day (hours / 24)"
            ax_p.plot(t, v, color=colour, ls=ls, lw=1.8, label=label)
    ax_p.set_ylim(-0.02, 1.12)
    ax_p.set_yticks([0, 0.5, 1.0])
    ax_p.set_ylabel("game\nparameters")
    ax_p.legend(loc="lower left", fontsize=8, ncol=4, framealpha=0.85)
    for i, (name, a, _) in enumerate(segments):
        for ax in axes:
            ax.axvline(a, color="k", lw=0.6, alpha=0.35)
        y = 1.16 + 0.085 * (i % 2)  # two staggered rows, so short segments' names do not collide
        ax_p.text(a + 0.1, y, name, fontsize=8.5, ha="left", va="bottom", clip_on=False)
    ax_p.text(1.005, 0.95, "area", transform=ax_p.transAxes, fontsize=7.5, va="center", ha="left")
    ax_p.text(1.005, 0.85, "weather", transform=ax_p.transAxes, fontsize=7.5, va="center", ha="left")

    # ---- 2: layer weights; the director's are model output
    for name, a, b in _runs(trace.music, t):
        if name:
            ax_w.axvspan(a, b, ymin=0.93, ymax=1.0, color=MUSIC_COLOURS.get(name, "#ddd"), lw=0)
            ax_w.text((a + b) / 2, 1.085, f"music: {name}", ha="center", va="center", fontsize=7.5)
    shown = [uid for uid, v in trace.layers.items() if max(v, default=0.0) > 0.0]
    model = [uid for uid in shown if trace.sources.get(uid) == "director"]
    rules = [uid for uid in shown if uid not in model]
    cmap = plt.get_cmap("tab20")
    for i, uid in enumerate(rules):
        v = np.asarray(trace.layers[uid]) * (0.92 - 0.035 * (i % 6))  # stagger so equal lines stay visible
        ax_w.step(t, v, where="post", color=cmap(i % 20), lw=1.0, alpha=0.8, label=uid)
    for j, uid in enumerate(model):
        colour = plt.get_cmap("Set1")(j % 9)
        ax_w.plot(t, trace.layers[uid], color=colour, lw=3.0, label=f"{uid}  [MODEL]")
    d = trace.director
    if d.get("status") == "model":
        tag = f"bold = director model output ({d.get('model')} v{d.get('version')}, {d.get('hash')})"
    else:
        tag = f"director: rules only ({d.get('why', 'no model')})"
    playing = profile_title(trace)
    ax_w.set_title(f"{tag}   |   {playing}", loc="right", fontsize=9)
    ax_w.set_ylim(-0.02, 1.12)
    ax_w.set_yticks([0, 0.5, 1.0])
    ax_w.set_ylabel("layer weights\n(0 = silent)")
    ax_w.legend(loc="center left", bbox_to_anchor=(1.002, 0.5), fontsize=7.2, framealpha=0.9)

    # ---- 3: spectrogram of the mix (mono sum), 0..12 kHz
    mono = audio.mean(axis=1).astype(np.float64)
    nfft = 2048
    ax_s.specgram(
        mono,
        NFFT=nfft,
        Fs=sr,
        noverlap=nfft // 2,
        cmap="magma",
        vmin=-130,
        vmax=-40,
        scale="dB",
        mode="psd",
    )
    ax_s.set_ylim(0, 12000)
    ax_s.set_yticks([0, 2000, 4000, 8000, 12000])
    ax_s.set_yticklabels(["0", "2k", "4k", "8k", "12k"])
    ax_s.set_ylabel("mix spectrogram\n(Hz)")

    # ---- 4: left/right balance against head yaw
    tb, bal = balance_db(audio, sr, 0.1)
    ax_b.axhline(0, color="k", lw=0.6)
    ax_b.plot(tb, np.clip(bal, -12, 12), color="#444", lw=1.2, label="L/R balance (dB, + = left)")
    if focus is not None and trace.head:
        name, fx, fz, f0, f1 = focus
        head = np.asarray(trace.head, dtype=float)
        phi = np.arctan2(fx - head[:, 0], -(fz - head[:, 1]))
        pred = 8.0 * np.sin(np.radians(np.asarray(trace.yaw)) - phi)
        pred[(t < f0) | (t > f1)] = np.nan
        ax_b.plot(t, pred, color="#1f77b4", ls="--", lw=1.6, label=f"expected from head yaw ({name})")
        ax_b.axvspan(f0, f1, color="#1f77b4", alpha=0.06, lw=0)
    ax_b.set_ylim(-12.5, 12.5)
    ax_b.set_ylabel("balance\n(dB)")
    ax_y = ax_b.twinx()
    yaw = np.asarray(trace.yaw, dtype=float)
    if yaw.size > 1:
        yaw[1:][np.abs(np.diff(yaw)) > 180.0] = np.nan  # break the line where it wraps 360 -> 0
    ax_y.plot(t, yaw, color="#ff7f0e", lw=1.2, alpha=0.9, label="head yaw (deg, 90 = east)")
    _draw_captions(ax_y, trace, t)
    ax_y.set_ylim(-10, 370)
    ax_y.set_yticks([0, 90, 180, 270, 360])
    ax_y.set_ylabel("head yaw (°)")
    h1, l1 = ax_b.get_legend_handles_labels()
    h2, l2 = ax_y.get_legend_handles_labels()
    ax_b.legend(h1 + h2, l1 + l2, loc="lower left", fontsize=8, ncol=3, framealpha=0.85)
    ax_b.set_xlabel("game time (s)")
    ax_b.set_xlim(0, dur)

    fig.suptitle(
        title or f"soundscape demo: the game (top) and what the mix did (below); {playing}", fontsize=13
    )
    fig.tight_layout(rect=(0, 0.01, 1, 0.975))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    if record is not None:
        for name, ax in zip(PANELS, axes, strict=True):
            legend = ax.get_legend()
            x0, y0, x1, y1 = ax.get_position().extents
            record.append(
                Panel(
                    name=name,
                    ylabel=ax.get_ylabel(),
                    title=ax.get_title(loc="right") or ax.get_title(),
                    legend=tuple(t.get_text() for t in legend.get_texts()) if legend else (),
                    box=(float(x0), float(y0), float(x1), float(y1)),
                    images=len(ax.get_images()),
                )
            )
    plt.close(fig)
    return Path(path)


def _draw_captions(ax: Any, trace: Trace, t: np.ndarray) -> None:
    """Each caption as a marker at its time and world bearing (head yaw + its direction, so its
    distance from the yaw line is the direction the player was shown), the text at its first
    appearance. Unlabelled: the panel's legend stays the balance and the yaw."""
    caps = [c for c in trace.captions if c.get("direction") is not None]
    if not caps or t.size == 0:
        return
    yaw = np.unwrap(np.radians(np.asarray(trace.yaw, dtype=float)))
    seen: set[str] = set()
    for c in caps:
        bearing = (math.degrees(float(np.interp(c["t"], t, yaw))) + float(c["direction"])) % 360.0
        strong = c.get("importance") in ("high", "critical")
        ax.plot(c["t"], bearing, marker="v" if strong else ".", ms=6 if strong else 4, color="#7a1fa2", ls="")
        if c["text"] not in seen:
            seen.add(c["text"])
            label = c["text"] if len(c["text"]) <= 28 else c["text"][:27] + "…"
            ax.annotate(
                f"[{label}] {float(c['direction']):+.0f}°",
                (c["t"], bearing),
                xytext=(3, 3),
                textcoords="offset points",
                fontsize=6.5,
                color="#7a1fa2",
            )


def profile_title(trace: Trace) -> str:
    """Which player profile the render played with, as the picture says it."""
    from .profiles import DESIGNED

    return f"player profile: {trace.profile.get('label') or DESIGNED}"


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


__all__: list[Any] = ["DPI", "FIGSIZE", "PANELS", "Panel", "have_matplotlib", "plot_demo", "profile_title"]
