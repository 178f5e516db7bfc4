"""Feedback delay (echo): ``out = (1 - mix) x + mix w``, ``w[n] = d[n - D]``, ``d[n] = x[n] + feedback w[n]``.

An impulse therefore gives ``1 - mix`` at 0 and ``mix * feedback^(k-1)`` at ``k D`` (k >= 1), with
``D = time * sr`` samples. The delay time glides over 50 ms (the read point moves, with linear
interpolation between samples, so a change bends the pitch briefly instead of clicking); the line
holds ``MAX_TIME`` seconds, allocated in ``prepare``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..specs import Bounds
from .base import Effect, EffectType, Param

MAX_TIME = 2.0
P_TIME, P_FEEDBACK, P_MIX = range(3)


@njit(cache=True, nogil=True)
def delay_block(x, start, value, moved, sr, line, pos):
    """One block in place; ``line`` (L, 2) float64 circular buffer, ``pos[0]`` its write index."""
    n = x.shape[0]
    size = line.shape[0]
    w = pos[0]
    d = value[P_TIME] * sr
    fb = value[P_FEEDBACK]
    mix = value[P_MIX]
    inv_n = 1.0 / n if n > 0 else 0.0
    for i in range(n):
        if moved:
            t = (i + 1) * inv_n
            d = (start[P_TIME] + (value[P_TIME] - start[P_TIME]) * t) * sr
            fb = start[P_FEEDBACK] + (value[P_FEEDBACK] - start[P_FEEDBACK]) * t
            mix = start[P_MIX] + (value[P_MIX] - start[P_MIX]) * t
        whole = math.floor(d)
        frac = d - whole
        r0 = w - int(whole)
        if r0 < 0:
            r0 += size
        r1 = r0 - 1
        if r1 < 0:
            r1 += size
        xl = np.float64(x[i, 0])
        xr = np.float64(x[i, 1])
        if math.isnan(xl):  # a NaN would circulate in the loop forever
            xl = 0.0
        if math.isnan(xr):
            xr = 0.0
        wl = line[r0, 0] * (1.0 - frac) + line[r1, 0] * frac
        wr = line[r0, 1] * (1.0 - frac) + line[r1, 1] * frac
        sl = xl + fb * wl
        sr_ = xr + fb * wr
        if abs(sl) < 1e-30:
            sl = 0.0
        if abs(sr_) < 1e-30:
            sr_ = 0.0
        line[w, 0] = sl
        line[w, 1] = sr_
        x[i, 0] = (1.0 - mix) * xl + mix * wl
        x[i, 1] = (1.0 - mix) * xr + mix * wr
        w += 1
        if w == size:
            w = 0
    pos[0] = w


class Delay(Effect):
    def _prepare(self) -> None:
        self.line = np.zeros((math.ceil(MAX_TIME * self.sr) + 2, 2), dtype=np.float64)
        self.pos = np.zeros(1, dtype=np.int64)

    def process(self, x: np.ndarray) -> None:
        p = self.params
        moved = p.advance(x.shape[0])
        delay_block(x, p.start, p.value, moved, self.sr, self.line, self.pos)

    def _reset(self) -> None:
        self.line[:] = 0.0
        self.pos[:] = 0


DELAY = EffectType(
    "delay",
    "Feedback delay (echo).",
    (
        Param("time", "seconds between echoes", Bounds(0.001, MAX_TIME, "s"), 0.25, 0.05),
        Param(
            "feedback",
            "level of each echo relative to the one before (0..0.95)",
            Bounds(0.0, 0.95),
            0.4,
            0.02,
        ),
        Param("mix", "0 = dry only, 1 = echoes only", Bounds(0.0, 1.0), 0.3, 0.02),
    ),
    Delay,
)
DEFINITIONS = (DELAY,)
