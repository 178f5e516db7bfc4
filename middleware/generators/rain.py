"""Rain: a Poisson process of drop impacts over a diffuse hiss.

Physically informed: drops arrive as a Poisson process whose rate follows rain intensity; drop
diameters follow the Marshall-Palmer exponential distribution with mean ``drop_size``; impact
energy grows with diameter (mass ~ D^3, terminal speed ~ sqrt(D)). Each impact is a short burst
shaped by the surface: a damped noise thud on ground, a crisp band-pass tick on leaves, a ringing
mode on a roof, and on water a click followed (for most drops) by a Minnaert bubble whose pitch
f = 3.26 / r rises as it decays. Far-away drops merge into the filtered-noise bed.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from numba import njit

from ._kernels import G_FIELDS, set_grain, svf_step, tan_pi
from .base import Generator, GrainPool, ParamSpec

SURFACES = ("ground", "water", "leaves", "roof")
_BED_FC = {"ground": 2500.0, "water": 6000.0, "leaves": 4500.0, "roof": 3500.0}
ATTRS = 8  # uniforms drawn per drop


@njit(cache=True, nogil=True)
def rain_block(
    ctrl: np.ndarray,
    white: np.ndarray,
    ev_u: np.ndarray,
    sr: float,
    bed_fc: float,
    max_rate: float,
    st: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The hiss bed and the offsets of this block's drops; ctrl = [intensity, drop_size]."""
    n = ctrl.shape[0]
    out = np.empty((n, 2))
    hits = np.empty(n, dtype=np.int64)
    m = 0
    g = tan_pi(bed_fc / sr)
    k = 1.0 / 0.6
    for i in range(n):
        inten = ctrl[i, 0]
        level = 0.05 * inten**0.8
        for ch in range(2):
            _, lp = svf_step(st, 0, ch, white[i, ch], g, k)
            out[i, ch] = level * lp
        if ev_u[i] < max_rate * inten * math.sqrt(inten) / sr:
            hits[m] = i
            m += 1
    return out, hits[:m]


@njit(cache=True, nogil=True)
def rain_drops(
    hits: np.ndarray, a: np.ndarray, ctrl: np.ndarray, surface: int, frame: int, sr: float
) -> tuple[np.ndarray, np.ndarray]:
    """Grain rows for the drops at ``hits``; water drops give a click and a bubble (two rows)."""
    m = hits.shape[0]
    per = 2 if surface == 1 else 1
    f = np.empty((m * per, G_FIELDS))
    onset = np.empty(m * per, dtype=np.int64)
    for j in range(m):
        i = hits[j]
        u = a[j * ATTRS : (j + 1) * ATTRS]
        d = min(max(-ctrl[i, 1] * math.log1p(-u[0]), 0.3), 5.0)  # exponential diameters, mm
        amp = 0.06 * (d / 2.0) ** 1.75 * math.exp(1.6 * (u[1] - 0.5))  # energy, distance spread
        pan = u[2] * 2.0 - 1.0
        off = math.floor(u[3] * 65536.0)
        e = j * per
        onset[e] = frame + i
        if surface == 0:  # ground: damped low noise thud with a soft body
            set_grain(
                f,
                e,
                sr,
                amp,
                pan,
                180.0 + 200.0 * u[5],
                1.0,
                0.3,
                0.015,
                1.0,
                0.006 + 0.01 * u[4],
                700.0 + 2500.0 / d,
                0.7,
                0.6,
                0.6,
                off,
                0.0,
            )
        elif surface == 2:  # leaves: crisp band-passed tick plus a leaf resonance
            set_grain(
                f,
                e,
                sr,
                amp,
                pan,
                900.0 + 2200.0 * u[6],
                1.0,
                0.35,
                0.02,
                1.0,
                0.004 + 0.008 * u[4],
                2500.0 + 3500.0 * u[5],
                1.6,
                0.0,
                1.0,
                off,
                0.0,
            )
        elif surface == 3:  # roof: a ringing sheet mode over a click
            set_grain(
                f,
                e,
                sr,
                0.8 * amp,
                pan,
                1400.0 + 3600.0 * u[4],
                1.0,
                0.7,
                0.05 + 0.1 * u[5],
                0.6,
                0.003,
                5000.0,
                0.8,
                0.0,
                1.0,
                off,
                0.0,
            )
        else:  # water: click, then a Minnaert bubble of radius (0.1..0.35) D/2 for ~70 % of drops
            set_grain(
                f, e, sr, 0.5 * amp, pan, 1000.0, 1.0, 0.0, 0.1, 1.0, 0.002, 6000.0, 0.7, 0.0, 1.0, off, 0.0
            )
            r = (d / 2.0) * (0.1 + 0.25 * u[4]) * 1e-3
            fb = min(3.26 / r, 0.42 * sr)
            t60 = 6.91 * (10.0 + 20.0 * u[5]) / (math.pi * fb)
            glide = math.exp(math.log(1.3) / (t60 * sr))
            has = 1.0 if u[6] < 0.7 else 0.0
            set_grain(
                f,
                e + 1,
                sr,
                0.8 * amp * has,
                pan,
                fb,
                glide,
                1.0,
                t60,
                0.0,
                0.1,
                1000.0,
                0.7,
                0.0,
                1.0,
                0.0,
                0.0003,
            )
            onset[e + 1] = frame + i
    return onset, f


class Rain(Generator):
    """Rain: ``intensity`` (drop rate and hiss), ``drop_size`` (mean diameter) and ``surface``."""

    NAME = "rain"
    PARAMS: ClassVar[dict[str, ParamSpec]] = {
        "intensity": ParamSpec(0.0, 1.0, 0.5, "norm", "0 dry .. 1 downpour (up to ~2500 nearby drops/s)"),
        "drop_size": ParamSpec(0.5, 5.0, 2.0, "mm", "mean drop diameter (Marshall-Palmer distribution)"),
        "surface": ParamSpec.categorical(SURFACES, "ground", "what the drops hit"),
    }
    MAX_RATE = 2500.0
    GAIN = 1.8

    def _setup(self) -> None:
        self._noise = self._stream("white")
        self._events = self._stream()
        self._attrs = self._stream()
        self._pool = GrainPool(512, self._next_seed())  # a downpour on a roof keeps ~250 ringing
        self._st = np.zeros((1, 2, 2))
        self._on_params({"surface": self._values["surface"]})

    def _on_params(self, changed: dict[str, Any]) -> None:
        if "surface" in changed:
            self._bed_fc = _BED_FC[changed["surface"]]
            self._surface = SURFACES.index(changed["surface"])

    def _render(self, n: int, ctrl: np.ndarray) -> np.ndarray:
        sr = float(self.sample_rate)
        white = self._noise.take(2 * n).reshape(n, 2)
        out, hits = rain_block(ctrl, white, self._events.take(n), sr, self._bed_fc, self.MAX_RATE, self._st)
        if hits.shape[0]:
            a = self._attrs.take(hits.shape[0] * ATTRS)
            onset, fields = rain_drops(hits, a, ctrl, self._surface, self.frame, sr)
            self._pool.render(out, self.frame, onset, fields)
        else:
            self._pool.render(out, self.frame)
        return out
