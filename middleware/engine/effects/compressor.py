"""Compressor with an optional side-chain from another bus (FMOD's and Wwise's compressor); ducking
rules (``engine/ducking.py``) are compressors with the ``depth`` curve.

Feed-forward, log domain (Giannoulis, Massberg and Reiss, "Digital dynamic range compressor
design", JAES 2012). Per sample, with the level ``L`` of the key ``k`` (the side-chain bus, or the
effect's own input when there is none):

* detector ``peak``: ``L = 20 log10 max(|kL|, |kR|)``; ``rms``: ``L = 10 log10 m`` with ``m`` the
  mean square ``(kL^2 + kR^2) / 2`` averaged by a one-pole over ``RMS_SECONDS`` (a steady tone reads
  its RMS level, as a ducking threshold means);

* static curve ``ratio``, threshold ``T``, ratio ``R``, knee width ``W`` (dB)::

      L < T - W/2:        G = 0
      |L - T| <= W/2:     G = (1/R - 1) (L - T + W/2)^2 / (2 W)
      L > T + W/2:        G = (1/R - 1) (L - T)

  or static curve ``depth`` (a ducker, as FMOD's Ducker and Wwise's auto-ducking): ``G = depth``
  once ``L`` is more than ``W/2`` over ``T``, 0 when more than ``W/2`` under, a smoothstep between
  (``dsp.dynamics.duck_gain_db``), so "voice lowers ambience by 12 dB" is exactly 12 dB;

* the gain change is smoothed (``g`` <= 0 dB) with separate time constants::

      g = aA g + (1 - aA) G   while G < g (attack),   g = aR g + (1 - aR) G   otherwise,
      aA = exp(-1 / (attack sr)),   aR = exp(-1 / (release sr))

  so a step in ``G`` is 1 - 1/e of the way after ``attack`` (or ``release``) seconds;

* ``out = x * 10^((g + makeup) / 20)``.

The side-chain block is the key bus's signal after its effects and before its fader, wired in by
the bus graph (``key``). ``released``: the static curve is 0 whatever the key (a ducking rule that
was removed glides back to 0 dB with its release time).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..dsp.dynamics import duck_gain_db
from ..specs import DUCK_BOUNDS, Bounds
from .base import Effect, EffectType, Param

CURVES = ("ratio", "depth")
DETECTORS = ("peak", "rms")
RMS_SECONDS = 0.005  # the rms detector's averaging time: about one 256-frame block at 48 kHz
P_THRESHOLD, P_RATIO, P_KNEE, P_ATTACK, P_RELEASE, P_MAKEUP, P_CURVE, P_DEPTH, P_DETECTOR = range(9)


@njit(cache=True, nogil=True, inline="always")
def static_gain_db(level, threshold, ratio, knee):
    """The ratio curve's gain change in dB (<= 0) for a key ``level`` in dBFS."""
    over = level - threshold
    slope = 1.0 / ratio - 1.0
    if knee > 0.0 and abs(over) <= 0.5 * knee:
        t = over + 0.5 * knee
        return slope * t * t / (2.0 * knee)
    if over > 0.0:
        return slope * over
    return 0.0


@njit(cache=True, nogil=True)
def compressor_gain(key, n, start, value, moved, sr, state, released, g_out):
    """The smoothed gain change ``g`` (dB, <= 0, before makeup) for each of ``key``'s first ``n``
    frames into ``g_out``; ``state`` is ``[g, mean square]``. Returns the lowest ``g`` written."""
    g = state[0]
    ms = state[1]
    at = value[P_ATTACK]
    rt = value[P_RELEASE]
    a_att = math.exp(-1.0 / (at * sr)) if at > 0.0 else 0.0
    a_rel = math.exp(-1.0 / (rt * sr)) if rt > 0.0 else 0.0
    c_ms = 1.0 - math.exp(-1.0 / (RMS_SECONDS * sr))
    depth_curve = value[P_CURVE] > 0.5
    rms = value[P_DETECTOR] > 0.5
    thr = value[P_THRESHOLD]
    ratio = value[P_RATIO]
    knee = value[P_KNEE]
    depth = value[P_DEPTH]
    inv_n = 1.0 / n if n > 0 else 0.0
    lowest = 0.0
    for i in range(n):
        if moved:
            t = (i + 1) * inv_n
            thr = start[P_THRESHOLD] + (value[P_THRESHOLD] - start[P_THRESHOLD]) * t
            ratio = start[P_RATIO] + (value[P_RATIO] - start[P_RATIO]) * t
            knee = start[P_KNEE] + (value[P_KNEE] - start[P_KNEE]) * t
            depth = start[P_DEPTH] + (value[P_DEPTH] - start[P_DEPTH]) * t
        kl = np.float64(key[i, 0])
        kr = np.float64(key[i, 1])
        if rms:
            v = 0.5 * (kl * kl + kr * kr)
            if v <= 1e30:  # NaN or absurd: hold the detector rather than poison it
                ms += c_ms * (v - ms)
            level = 10.0 * math.log10(ms) if ms > 1e-20 else -200.0
        else:
            kl = abs(kl)
            kr = abs(kr)
            peak = kl if kl > kr else kr
            if not (peak <= 1e30):
                peak = 0.0
            level = 20.0 * math.log10(peak) if peak > 1e-10 else -200.0
        if released:
            want = 0.0
        elif depth_curve:
            want = duck_gain_db(level, thr, depth, knee)
        else:
            want = static_gain_db(level, thr, ratio, knee)
        g = a_att * g + (1.0 - a_att) * want if want < g else a_rel * g + (1.0 - a_rel) * want
        if g > -1e-9:
            g = 0.0  # settle exactly (and no denormal-sized tail)
        g_out[i] = g
        if g < lowest:
            lowest = g
    state[0] = g
    state[1] = ms if ms > 1e-30 else 0.0
    return lowest


@njit(cache=True, nogil=True)
def apply_gain_db(x, g, n, makeup0, makeup1):
    """``x[i] *= 10^((g[i] + makeup) / 20)`` for the first ``n`` frames, makeup ramped ``makeup0 ->
    makeup1`` across them."""
    inv_n = 1.0 / n if n > 0 else 0.0
    for i in range(n):
        gain = 10.0 ** ((g[i] + makeup0 + (makeup1 - makeup0) * (i + 1) * inv_n) / 20.0)
        x[i, 0] = x[i, 0] * gain
        x[i, 1] = x[i, 1] * gain


class Compressor(Effect):
    """The compressor's state is its smoothed gain change ``g`` (dB) and its rms detector's mean
    square; ``gain`` holds the last block's per-frame ``g``."""

    released = False

    def _prepare(self) -> None:
        self.state = np.zeros(2, dtype=np.float64)
        self.gain = np.zeros(self.block, dtype=np.float64)

    def gain_into(self, x: np.ndarray, n: int) -> float:
        """Advance the parameters one block and compute ``g`` for ``n`` frames into ``self.gain``
        from the key (``x`` when there is no side-chain); the lowest value (dB)."""
        p = self.params
        moved = p.advance(n)
        key = x if self.key is None else self.key
        return compressor_gain(key, n, p.start, p.value, moved, self.sr, self.state, self.released, self.gain)

    def process(self, x: np.ndarray) -> None:
        if x.shape[0] > self.block:  # longer than prepared for (offline use): block by block
            for s in range(0, x.shape[0], self.block):
                self.process(x[s : s + self.block])
            return
        n = x.shape[0]
        self.gain_into(x, n)
        p = self.params
        apply_gain_db(x, self.gain, n, p.start[P_MAKEUP], p.value[P_MAKEUP])

    @property
    def reduction_db(self) -> float:
        """Current gain change in dB (<= 0), for meters and tests."""
        return float(self.state[0])

    def _reset(self) -> None:
        self.state[:] = 0.0


COMPRESSOR = EffectType(
    "compressor",
    "Compressor; with `sidechain` another bus's level drives it (e.g. dialogue compresses music); "
    "with `curve: depth` it is a ducker (a fixed depth once the key passes the threshold).",
    (
        Param(
            "threshold_db",
            "level of the key in dBFS above which the gain is reduced",
            DUCK_BOUNDS["threshold_db"],
            -20.0,
            0.05,
        ),
        Param(
            "ratio",
            "input dB over the threshold per output dB (20 ~ a limiter; curve ratio)",
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
            DUCK_BOUNDS["attack"],
            0.01,
            0.0,
        ),
        Param("release", "seconds for it to go 63% of the way back up", DUCK_BOUNDS["release"], 0.15, 0.0),
        Param("makeup_db", "gain added after compression in dB", Bounds(0.0, 24.0, "dB"), 0.0, 0.05),
        Param(
            "curve",
            "ratio: the reduction grows with the overshoot; depth: a fixed depth_db once over (a ducker)",
            default="ratio",
            ramp=0.0,
            choices=CURVES,
        ),
        Param(
            "depth_db",
            "the gain change in dB once the key is over the threshold (curve depth)",
            DUCK_BOUNDS["amount_db"],
            -12.0,
            0.05,
        ),
        Param(
            "detector",
            "peak: the louder channel's sample peak; rms: the key's RMS level over ~5 ms",
            default="peak",
            ramp=0.0,
            choices=DETECTORS,
        ),
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
