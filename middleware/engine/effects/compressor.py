"""Compressor with an optional side-chain from another bus (FMOD's and Wwise's compressor).

Feed-forward, log domain (Giannoulis, Massberg and Reiss, "Digital dynamic range compressor
design", JAES 2012). Per sample, with the level ``L = 20 log10 max(|kL|, |kR|)`` of the key ``k``
(the side-chain bus, or the effect's own input when there is none):

* static curve, threshold ``T``, ratio ``R``, knee width ``W`` (dB)::

      L < T - W/2:        G = 0
      |L - T| <= W/2:     G = (1/R - 1) (L - T + W/2)^2 / (2 W)
      L > T + W/2:        G = (1/R - 1) (L - T)

* the gain reduction is smoothed (``g`` <= 0 dB) with separate time constants::

      g = aA g + (1 - aA) G   while G < g (attack),   g = aR g + (1 - aR) G   otherwise,
      aA = exp(-1 / (attack sr)),   aR = exp(-1 / (release sr))

  so a step in ``G`` is 1 - 1/e of the way after ``attack`` (or ``release``) seconds;

* ``out = x * 10^((g + makeup) / 20)``.

The side-chain block is the key bus's signal after its effects and before its fader, wired in by
the bus graph (``key``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..specs import Bounds
from .base import Effect, EffectType, Param

P_THRESHOLD, P_RATIO, P_KNEE, P_ATTACK, P_RELEASE, P_MAKEUP = range(6)


@njit(cache=True, nogil=True, inline="always")
def static_gain_db(level, threshold, ratio, knee):
    """The static curve's gain change in dB (<= 0) for a key ``level`` in dBFS."""
    over = level - threshold
    slope = 1.0 / ratio - 1.0
    if knee > 0.0 and abs(over) <= 0.5 * knee:
        t = over + 0.5 * knee
        return slope * t * t / (2.0 * knee)
    if over > 0.0:
        return slope * over
    return 0.0


@njit(cache=True, nogil=True)
def compressor_block(x, key, start, value, moved, sr, state):
    """Compress stereo ``x`` in place driven by ``key`` (may be ``x``); ``state[0]`` is ``g`` in dB."""
    n = x.shape[0]
    g = state[0]
    at = value[P_ATTACK]
    rt = value[P_RELEASE]
    a_att = math.exp(-1.0 / (at * sr)) if at > 0.0 else 0.0
    a_rel = math.exp(-1.0 / (rt * sr)) if rt > 0.0 else 0.0
    thr = value[P_THRESHOLD]
    ratio = value[P_RATIO]
    knee = value[P_KNEE]
    makeup = value[P_MAKEUP]
    inv_n = 1.0 / n if n > 0 else 0.0
    for i in range(n):
        if moved:
            t = (i + 1) * inv_n
            thr = start[P_THRESHOLD] + (value[P_THRESHOLD] - start[P_THRESHOLD]) * t
            ratio = start[P_RATIO] + (value[P_RATIO] - start[P_RATIO]) * t
            knee = start[P_KNEE] + (value[P_KNEE] - start[P_KNEE]) * t
            makeup = start[P_MAKEUP] + (value[P_MAKEUP] - start[P_MAKEUP]) * t
        kl = abs(np.float64(key[i, 0]))
        kr = abs(np.float64(key[i, 1]))
        peak = kl if kl > kr else kr
        if not (peak <= 1e30):  # NaN or absurd: hold the gain rather than poison it
            peak = 0.0
        level = 20.0 * math.log10(peak) if peak > 1e-10 else -200.0
        want = static_gain_db(level, thr, ratio, knee)
        g = a_att * g + (1.0 - a_att) * want if want < g else a_rel * g + (1.0 - a_rel) * want
        if g > -1e-9:
            g = 0.0  # settle exactly (and no denormal-sized tail)
        gain = 10.0 ** ((g + makeup) / 20.0)
        x[i, 0] = x[i, 0] * gain
        x[i, 1] = x[i, 1] * gain
    state[0] = g


class Compressor(Effect):
    """The compressor's state is its smoothed gain reduction ``g`` (dB)."""

    def _prepare(self) -> None:
        self.state = np.zeros(1, dtype=np.float64)

    def process(self, x: np.ndarray) -> None:
        p = self.params
        n = x.shape[0]
        moved = p.advance(n)
        key = x if self.key is None else self.key[:n]
        compressor_block(x, key, p.start, p.value, moved, self.sr, self.state)

    @property
    def reduction_db(self) -> float:
        """Current gain reduction in dB (<= 0), for meters and tests."""
        return float(self.state[0])

    def _reset(self) -> None:
        self.state[:] = 0.0


COMPRESSOR = EffectType(
    "compressor",
    "Compressor; with `sidechain` another bus's level drives it (e.g. dialogue compresses music).",
    (
        Param(
            "threshold_db",
            "level in dBFS above which the gain is reduced",
            Bounds(-80.0, 0.0, "dBFS"),
            -20.0,
            0.05,
        ),
        Param(
            "ratio",
            "input dB over the threshold per output dB (20 ~ a limiter)",
            Bounds(1.0, 50.0),
            4.0,
            0.05,
        ),
        Param(
            "knee_db",
            "width in dB of the soft knee around the threshold (0 = hard)",
            Bounds(0.0, 24.0, "dB"),
            6.0,
            0.05,
        ),
        Param(
            "attack",
            "seconds for the gain reduction to go 63% of the way down",
            Bounds(0.0, 2.0, "s"),
            0.01,
            0.0,
        ),
        Param("release", "seconds for it to go 63% of the way back up", Bounds(0.0, 10.0, "s"), 0.15, 0.0),
        Param("makeup_db", "gain added after compression in dB", Bounds(0.0, 24.0, "dB"), 0.0, 0.05),
        Param(
            "sidechain",
            "bus whose level drives the compressor (null = this bus itself)",
            ref="bus",
            optional=True,
        ),
    ),
    Compressor,
)
DEFINITIONS = (COMPRESSOR,)
