"""Wind: decorrelated noise through a band-pass whose centre and level follow speed, with gusts.

Physically informed: air flowing past edges sheds vortices at a Strouhal frequency proportional to
the flow speed, so the spectral centroid rises with speed, and aeroacoustic power grows steeply
with speed. Gusts are a slow random process (a one-pole low-pass of white noise, about 0.2 Hz)
that modulates the effective speed; a narrow resonance an octave above the band adds the whistle
that appears in strong wind.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from . import _kernels as K
from .base import Generator, ParamSpec


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
        self._noise = self._stream("normal")
        self._gust = self._stream("normal")
        self._gust_st = np.zeros(1)
        self._a = 1.0 - math.exp(-2.0 * math.pi * self.GUST_HZ / self.sample_rate)
        # One-pole low-passed unit white noise has variance a / (2 - a); rescale to unit.
        self._gnorm = math.sqrt((2.0 - self._a) / self._a)
        self._st_band = np.zeros((2, 2))
        self._st_whistle = np.zeros((2, 2))
        self._st_rumble = np.zeros((2, 2))

    def _render(self, n: int, ctrl: np.ndarray) -> np.ndarray:
        sr = float(self.sample_rate)
        speed = ctrl[:, self.col("speed")]
        gust_amt = ctrl[:, self.col("gustiness")]
        g = K.onepole_lp(self._gust.take(n).reshape(n, 1), self._a, self._gust_st)[:, 0] * self._gnorm
        s = np.clip(speed * (1.0 + 0.6 * gust_amt * g), 0.0, 1.3)
        x = self._noise.take(2 * n).reshape(n, 2)
        fc = 120.0 + 2400.0 * s**1.5
        level = 0.35 * s
        band = K.svf_noise(x, fc, 1.0 / 0.9, level, sr, self._st_band, 1)
        whistle = K.svf_noise(x, 2.0 * fc + 300.0, 1.0 / 14.0, 0.5 * level * s * s, sr, self._st_whistle, 1)
        rumble = K.svf_noise(
            x[:, ::-1].copy(), 60.0 + 120.0 * s, 1.0 / 0.7, 0.6 * level, sr, self._st_rumble, 0
        )
        return band + whistle + rumble
