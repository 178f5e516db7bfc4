"""Water (stream, brook, river): Minnaert bubbles over a rushing bed.

Physically informed (after van den Doel, "Physically based models for liquid sounds", 2005): the
sound of running water is dominated by air bubbles entrained in the flow. A bubble of radius r
rings at the Minnaert frequency f = 3.26 / r (Hz, r in metres), with damping that grows with
frequency, and its pitch rises as it nears the surface. More flow means more bubbles and a louder
low-frequency rush.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from . import _kernels as K
from .base import Generator, GrainPool, ParamSpec, make_grains


class Water(Generator):
    """Running water: ``flow`` 0 (trickle) .. 1 (torrent)."""

    NAME = "water"
    PARAMS: ClassVar[dict[str, ParamSpec]] = {
        "flow": ParamSpec(0.0, 1.0, 0.5, "norm", "0 trickle .. 1 torrent; bubble rate and rush level"),
    }
    R_MIN = 0.6e-3
    GAIN = 0.5
    R_MAX = 8e-3

    def _setup(self) -> None:
        self._noise = self._stream("normal")
        self._events = self._stream()
        self._attrs = self._stream()
        self._pool = GrainPool(192, self._next_seed())
        self._brown = np.zeros(2)
        self._st_low = np.zeros((2, 2))
        self._st_rush = np.zeros((2, 2))

    def _render(self, n: int, ctrl: np.ndarray) -> np.ndarray:
        sr = float(self.sample_rate)
        flow = ctrl[:, self.col("flow")]
        x = self._noise.take(2 * n).reshape(n, 2)
        brown = K.leaky_integrate(x, 0.997, self._brown) * 0.05
        low = K.svf_noise(brown, 250.0 + 700.0 * flow, 1.0 / 0.7, 0.5 * flow, sr, self._st_low, 0)
        rush = K.svf_noise(x, 1200.0 + 1500.0 * flow, 1.0 / 0.5, 0.03 * flow**1.5, sr, self._st_rush, 1)
        out = low + rush
        rate = 20.0 + 900.0 * flow**1.3
        hits = np.flatnonzero(self._events.take(n) < rate / sr)
        m = hits.shape[0]
        if m:
            a = self._attrs.take(m * 5).reshape(m, 5)
            # Radius distribution ~ r^-2 between R_MIN and R_MAX (many small bubbles, few big).
            inv = 1.0 / self.R_MIN - a[:, 0] * (1.0 / self.R_MIN - 1.0 / self.R_MAX)
            r = 1.0 / inv
            f = 3.26 / r
            q = 12.0 + 25.0 * a[:, 1]
            t60 = 6.91 * q / (math.pi * f)
            rise = 1.0 + 0.1 + 0.6 * a[:, 2] * flow[hits]
            glide = np.exp(np.log(rise) / (t60 * sr))
            amp = 0.12 * np.sqrt(r / 2e-3) * np.exp(1.2 * (a[:, 3] - 0.5))
            fields = make_grains(
                m,
                sr,
                amp=amp,
                pan=a[:, 4] * 1.6 - 0.8,
                freq=f,
                glide=glide,
                tone=1.0,
                tone_t60=t60,
                attack=0.0005,
            )
            self._pool.schedule(self.frame + hits, fields)
        self._pool.render(out, self.frame)
        return out
