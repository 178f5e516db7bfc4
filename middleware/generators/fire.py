"""Fire: a brown-noise roar that breathes, a gas hiss, and Poisson crackles in small clusters.

Physically informed: turbulent combustion gives a low-frequency roar (brown-ish spectrum) whose
level follows flame size and flickers at a few hertz; crackles are tiny explosions of steam and
sap pockets, a Poisson process whose events are sub-millisecond to few-millisecond broadband
bursts, often followed by a few smaller ones as the pocket splits.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from numba import njit

from ._kernels import G_FIELDS, set_grain, svf_step, tan_pi
from .base import Generator, GrainPool, ParamSpec

CHILDREN = 4  # at most this many smaller pops follow a crackle
ATTRS = 6  # uniforms per pop


@njit(cache=True, nogil=True)
def fire_block(
    ctrl: np.ndarray,
    white: np.ndarray,
    flick_in: np.ndarray,
    ev_u: np.ndarray,
    sr: float,
    af: float,
    fnorm: float,
    fst: np.ndarray,
    brown: np.ndarray,
    st: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Roar (low-passed brown noise), hiss (band-pass ~5 kHz), both breathing with a 3 Hz flicker,
    and crackle onsets; ctrl = [size, crackle]."""
    n = ctrl.shape[0]
    out = np.empty((n, 2))
    hits = np.empty(n, dtype=np.int64)
    m = 0
    k1 = 1.0 / 0.7
    k2 = 1.0 / 0.8
    for i in range(n):
        size = ctrl[i, 0]
        fst[0] += af * (flick_in[i] - fst[0])
        breathe = min(max(1.0 + 0.35 * fst[0] * fnorm, 0.2), 2.0)
        g1 = tan_pi((120.0 + 500.0 * size) / sr)
        g2 = tan_pi((4500.0 + 1500.0 * size) / sr)
        for ch in range(2):
            x = white[i, ch]
            brown[ch] = 0.995 * brown[ch] + x
            _, roar = svf_step(st, 0, ch, 0.1 * brown[ch], g1, k1)
            hiss, _ = svf_step(st, 1, ch, x, g2, k2)
            out[i, ch] = size * breathe * (0.5 * roar + 0.012 * k2 * hiss)
        rate = ctrl[i, 1] * (4.0 + 60.0 * size) * min(max(breathe, 0.5), 1.5)
        if ev_u[i] < rate / sr:
            hits[m] = i
            m += 1
    return out, hits[:m]


@njit(cache=True, nogil=True)
def fire_crackles(
    hits: np.ndarray, a: np.ndarray, ctrl: np.ndarray, frame: int, sr: float
) -> tuple[np.ndarray, np.ndarray]:
    """A crackle and its 0..CHILDREN smaller follow-up pops (2-32 ms apart) per hit."""
    c = CHILDREN + 1
    m = hits.shape[0]
    f = np.empty((m * c, G_FIELDS))
    onset = np.empty(m * c, dtype=np.int64)
    e = 0
    for j in range(m):
        i = hits[j]
        u = a[j * c * ATTRS : (j + 1) * c * ATTRS]
        count = int(u[5] * (CHILDREN + 1))
        pan = (u[4] * 2.0 - 1.0) * 0.8
        t = 0.0
        for k in range(count + 1):
            v = u[k * ATTRS : (k + 1) * ATTRS]
            if k > 0:
                t += 0.002 + 0.03 * v[0]
            amp = 0.12 * math.exp((v[1] - 0.5) * 3.0) * 0.55**k * (0.5 + ctrl[i, 0])
            set_grain(
                f,
                e,
                sr,
                amp,
                pan,
                1000.0,
                1.0,
                0.0,
                0.1,
                1.0,
                0.0008 + 0.006 * v[3] ** 2,
                1200.0 * math.exp(v[2] * math.log(7.0)),
                0.9,
                0.0,
                1.0,
                math.floor(v[4] * 65536.0),
                0.0,
            )
            onset[e] = frame + i + round(t * sr)
            e += 1
    return onset[:e], f[:e]


class Fire(Generator):
    """Campfire to blaze: ``size`` (roar level and crackle rate) and ``crackle`` (crackle density)."""

    NAME = "fire"
    PARAMS: ClassVar[dict[str, ParamSpec]] = {
        "size": ParamSpec(0.0, 1.0, 0.5, "norm", "0 candle-sized .. 1 bonfire; roar level and depth"),
        "crackle": ParamSpec(0.0, 1.0, 0.5, "norm", "how often wood pops (0 none .. 1 very crackly)"),
    }
    GAIN = 0.4

    def _setup(self) -> None:
        self._noise = self._stream("white")
        self._flick = self._stream("normal")
        self._events = self._stream()
        self._attrs = self._stream()
        self._pool = GrainPool(128, self._next_seed())
        self._brown = np.zeros(2)
        self._st = np.zeros((2, 2, 2))
        self._fst = np.zeros(1)
        self._af = 1.0 - math.exp(-2.0 * math.pi * 3.0 / self.sample_rate)
        self._fnorm = math.sqrt((2.0 - self._af) / self._af)

    def _render(self, n: int, ctrl: np.ndarray) -> np.ndarray:
        sr = float(self.sample_rate)
        white = self._noise.take(2 * n).reshape(n, 2)
        out, hits = fire_block(
            ctrl,
            white,
            self._flick.take(n),
            self._events.take(n),
            sr,
            self._af,
            self._fnorm,
            self._fst,
            self._brown,
            self._st,
        )
        if hits.shape[0]:
            a = self._attrs.take(hits.shape[0] * (CHILDREN + 1) * ATTRS)
            onset, fields = fire_crackles(hits, a, ctrl, self.frame, sr)
            self._pool.schedule(onset, fields)  # follow-up pops may fall in later blocks
        self._pool.render(out, self.frame)
        return out
