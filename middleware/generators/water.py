"""Water (stream, brook, river): Minnaert bubbles over a rushing bed.

Physically informed (after van den Doel, "Physically based models for liquid sounds", 2005): the
sound of running water is dominated by air bubbles entrained in the flow. A bubble of radius r
rings at the Minnaert frequency f = 3.26 / r (Hz, r in metres), with a Q of 10-40, and its pitch
rises as it nears the surface. More flow means more bubbles and a louder low-frequency rush.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from numba import njit

from ._kernels import G_FIELDS, set_grain, svf_step, tan_pi
from .base import Generator, GrainPool, ParamSpec

R_MIN = 0.6e-3
R_MAX = 8e-3
ATTRS = 5


@njit(cache=True, nogil=True)
def water_block(
    ctrl: np.ndarray, white: np.ndarray, ev_u: np.ndarray, sr: float, brown: np.ndarray, st: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Low rush (low-passed brown noise), broadband rush, and bubble onsets; ctrl = [flow]."""
    n = ctrl.shape[0]
    out = np.empty((n, 2))
    hits = np.empty(n, dtype=np.int64)
    m = 0
    k1 = 1.0 / 0.7
    k2 = 1.0 / 0.5
    for i in range(n):
        flow = ctrl[i, 0]
        g1 = tan_pi((250.0 + 700.0 * flow) / sr)
        g2 = tan_pi((1200.0 + 1500.0 * flow) / sr)
        for ch in range(2):
            x = white[i, ch]
            brown[ch] = 0.997 * brown[ch] + x
            _, low = svf_step(st, 0, ch, 0.05 * brown[ch], g1, k1)
            rush, _ = svf_step(st, 1, ch, x, g2, k2)
            out[i, ch] = 0.5 * flow * low + 0.03 * flow * math.sqrt(flow) * k2 * rush
        if ev_u[i] < (20.0 + 900.0 * flow**1.3) / sr:
            hits[m] = i
            m += 1
    return out, hits[:m]


@njit(cache=True, nogil=True)
def water_bubbles(
    hits: np.ndarray, a: np.ndarray, ctrl: np.ndarray, frame: int, sr: float
) -> tuple[np.ndarray, np.ndarray]:
    """One Minnaert bubble per hit: radius ~ r^-2 between R_MIN and R_MAX (many small, few big)."""
    m = hits.shape[0]
    f = np.empty((m, G_FIELDS))
    onset = np.empty(m, dtype=np.int64)
    for j in range(m):
        i = hits[j]
        u = a[j * ATTRS : (j + 1) * ATTRS]
        r = 1.0 / (1.0 / R_MIN - u[0] * (1.0 / R_MIN - 1.0 / R_MAX))
        fb = 3.26 / r
        t60 = 6.91 * (12.0 + 25.0 * u[1]) / (math.pi * fb)
        rise = 1.1 + 0.6 * u[2] * ctrl[i, 0]
        glide = math.exp(math.log(rise) / (t60 * sr))
        amp = 0.12 * math.sqrt(r / 2e-3) * math.exp(1.2 * (u[3] - 0.5))
        # cut near -36 dB: in a stream of hundreds of bubbles per second the tails are masked
        set_grain(
            f,
            j,
            sr,
            amp,
            u[4] * 1.6 - 0.8,
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
            0.0005,
            0.6,
        )
        onset[j] = frame + i
    return onset, f


class Water(Generator):
    """Running water: ``flow`` 0 (trickle) .. 1 (torrent)."""

    NAME = "water"
    PARAMS: ClassVar[dict[str, ParamSpec]] = {
        "flow": ParamSpec(0.0, 1.0, 0.5, "norm", "0 trickle .. 1 torrent; bubble rate and rush level"),
    }
    GAIN = 0.5

    def _setup(self) -> None:
        self._noise = self._stream("white")
        self._events = self._stream()
        self._attrs = self._stream()
        self._pool = GrainPool(192, self._next_seed())
        self._brown = np.zeros(2)
        self._st = np.zeros((2, 2, 2))

    def _render(self, n: int, ctrl: np.ndarray) -> np.ndarray:
        sr = float(self.sample_rate)
        white = self._noise.take(2 * n).reshape(n, 2)
        out, hits = water_block(ctrl, white, self._events.take(n), sr, self._brown, self._st)
        if hits.shape[0]:
            onset, fields = water_bubbles(hits, self._attrs.take(hits.shape[0] * ATTRS), ctrl, self.frame, sr)
            self._pool.render(out, self.frame, onset, fields)
        else:
            self._pool.render(out, self.frame)
        return out
