"""Wind: decorrelated noise through a band-pass whose centre and level follow speed, with gusts.

Physically informed: air flowing past edges sheds vortices at a Strouhal frequency proportional to
the flow speed, so the spectral centroid rises with speed, and aeroacoustic power grows steeply
with speed. Gusts are a slow random process (two one-pole low-passes of white noise at 0.2 Hz)
that modulates the effective speed; a narrow resonance an octave above the band adds the whistle
that appears in strong wind.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from numba import njit

from ._kernels import svf_step, tan_pi
from .base import Generator, ParamSpec


@njit(cache=True, nogil=True)
def wind_block(
    ctrl: np.ndarray,
    white: np.ndarray,
    gust_in: np.ndarray,
    sr: float,
    a: float,
    gnorm: float,
    gst: np.ndarray,
    st: np.ndarray,
) -> np.ndarray:
    """Gusts, band (Q 0.9), whistle (Q 14) and rumble (low-pass) in one pass; ctrl = [speed, gustiness]."""
    n = ctrl.shape[0]
    out = np.empty((n, 2))
    hi = 0.45 * sr
    k1 = 1.0 / 0.9
    k2 = 1.0 / 14.0
    k3 = 1.0 / 0.7
    for i in range(n):
        gst[0] += a * (gust_in[i] - gst[0])
        gst[1] += a * (gst[0] - gst[1])
        s = ctrl[i, 0] * (1.0 + 0.6 * ctrl[i, 1] * gst[1] * gnorm)
        s = min(max(s, 0.0), 1.3)
        fc = 120.0 + 2400.0 * s * math.sqrt(s)
        level = 0.35 * s
        g1 = tan_pi(min(fc, hi) / sr)
        g2 = tan_pi(min(2.0 * fc + 300.0, hi) / sr)
        g3 = tan_pi((60.0 + 120.0 * s) / sr)
        for ch in range(2):
            x = white[i, ch]
            band, _ = svf_step(st, 0, ch, x, g1, k1)
            whistle, _ = svf_step(st, 1, ch, x, g2, k2)
            _, rumble = svf_step(st, 2, ch, x, g3, k3)
            out[i, ch] = level * (k1 * band + 0.5 * s * s * k2 * whistle + 0.6 * rumble)
    return out


class Wind(Generator):
    """Wind bed: ``speed`` (0 calm .. 1 gale) and ``gustiness`` (0 steady .. 1 squally)."""

    NAME = "wind"
    PARAMS: ClassVar[dict[str, ParamSpec]] = {
        "speed": ParamSpec(0.0, 1.0, 0.4, "norm", "0 calm .. 1 gale (about 25 m/s); raises pitch and level"),
        "gustiness": ParamSpec(0.0, 1.0, 0.3, "norm", "depth of slow random speed fluctuations"),
    }
    GUST_HZ = 0.2
    GAIN = 2.0

    def _setup(self) -> None:
        self._noise = self._stream("white")
        self._gust = self._stream("normal")
        self._gust_st = np.zeros(2)
        self._a = 1.0 - math.exp(-2.0 * math.pi * self.GUST_HZ / self.sample_rate)
        # Two cascaded one-poles (smooth gusts, no sudden lulls). Their impulse response is
        # a^2 (n+1) b^n with b = 1 - a, so unit white noise comes out with variance
        # a^4 (1 + b^2) / (1 - b^2)^3; rescale to unit variance.
        b2 = (1.0 - self._a) ** 2
        self._gnorm = 1.0 / math.sqrt(self._a**4 * (1.0 + b2) / (1.0 - b2) ** 3)
        # broad band around the vortex-shedding frequency, a narrow whistle, a low rumble
        self._st = np.zeros((3, 2, 2))

    def _render(self, n: int, ctrl: np.ndarray) -> np.ndarray:
        white = self._noise.take(2 * n).reshape(n, 2)
        gust = self._gust.take(n)
        return wind_block(
            ctrl, white, gust, float(self.sample_rate), self._a, self._gnorm, self._gust_st, self._st
        )
