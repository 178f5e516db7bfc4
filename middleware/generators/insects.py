"""Insects: chirping crickets by night, a cicada buzz by day.

Physically informed: a cricket stridulates, each wing closure giving a pure tone pulse at its
file's tooth rate (carrier 3.5-5.5 kHz), grouped in chirps of 3-5 pulses at about 30 pulses/s;
each individual repeats its chirp at a steady personal period. Crickets sing from dusk to dawn.
Cicadas buzz by day: a band of noise around 4-7 kHz amplitude-modulated at the tymbal rate
(about 100-200 Hz), swelling slowly. ``density`` sets how many individuals sing.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from . import _kernels as K
from .base import Generator, GrainPool, ParamSpec, make_grains


def cricket_activity(hour: np.ndarray) -> np.ndarray:
    """1 at night, 0 in the middle of the day, with ramps around dusk (19-21 h) and dawn (5-7 h)."""
    dusk = 1.0 / (1.0 + np.exp(-(hour - 20.0) * 2.5))
    dawn = 1.0 / (1.0 + np.exp((hour - 6.0) * 2.5))
    return np.clip(dusk + dawn, 0.0, 1.0)


def cicada_activity(hour: np.ndarray) -> np.ndarray:
    """Peaks in the hot middle of the day."""
    return np.exp(-0.5 * ((hour - 14.0) / 2.5) ** 2)


class Insects(Generator):
    """Insect bed: ``density`` and ``time_of_day`` (hours)."""

    NAME = "insects"
    PARAMS: ClassVar[dict[str, ParamSpec]] = {
        "density": ParamSpec(0.0, 1.0, 0.5, "norm", "0 none .. 1 a loud field of insects"),
        "time_of_day": ParamSpec(0.0, 24.0, 22.0, "h", "local hour; crickets at night, cicadas by day"),
    }
    CRICKETS = 8
    GAIN = 3.0

    def _setup(self) -> None:
        sr = self.sample_rate
        self._noise = self._stream("normal")
        self._swell = self._stream("normal")
        self._jit = self._stream()
        self._pool = GrainPool(128, self._next_seed())
        v = self._stream().take(self.CRICKETS * 6).reshape(self.CRICKETS, 6)
        self._carrier = 3500.0 + 2000.0 * v[:, 0]
        self._pulses = 3 + np.floor(v[:, 1] * 3).astype(int)
        self._pulse_rate = 25.0 + 15.0 * v[:, 2]
        self._period = 0.45 + 0.7 * v[:, 3]
        self._pan = v[:, 4] * 1.8 - 0.9
        self._amp = 0.05 * (0.4 + 0.6 * v[:, 5])
        self._next = np.round(v[:, 3] * self._period * sr).astype(np.int64)  # staggered starts
        self._st_buzz = np.zeros((2, 2))
        self._st_swell = np.zeros(1)
        self._as = 1.0 - math.exp(-2.0 * math.pi * 0.08 / sr)
        self._snorm = math.sqrt((2.0 - self._as) / self._as)

    def _render(self, n: int, ctrl: np.ndarray) -> np.ndarray:
        sr = float(self.sample_rate)
        dens = ctrl[:, self.col("density")]
        hour = ctrl[:, self.col("time_of_day")]
        end = self.frame + n
        # Chirps in global time order (ties by individual), so draws never depend on the split.
        while True:
            who = int(np.argmin(self._next))
            t = int(self._next[who])
            if t >= end:
                break
            i = t - self.frame
            gate = float(np.clip(dens[i] * self.CRICKETS * cricket_activity(hour[i : i + 1])[0] - who, 0, 1))
            j = self._jit.take(2)
            if gate > 0.0:
                self._chirp(t, who, gate, j[1], sr)
            self._next[who] = t + round(self._period[who] * (0.95 + 0.1 * j[0]) * sr)
        # Cicada buzz: band noise, tymbal AM at 140 Hz, slow random swell.
        x = self._noise.take(2 * n).reshape(n, 2)
        sw = K.onepole_lp(self._swell.take(n).reshape(n, 1), self._as, self._st_swell)[:, 0] * self._snorm
        level = 0.05 * dens * cicada_activity(hour) * np.clip(1.0 + 0.4 * sw, 0.2, 2.0)
        buzz = K.svf_noise(x, np.full(n, 5200.0), 1.0 / 3.0, level, sr, self._st_buzz, 1)
        t_abs = (self.frame + np.arange(n)) / sr
        buzz *= (0.5 + 0.5 * np.sin(2.0 * math.pi * 140.0 * t_abs))[:, None] ** 2
        self._pool.render(buzz, self.frame)
        return buzz

    def _chirp(self, t: int, who: int, gate: float, u: float, sr: float) -> None:
        p = int(self._pulses[who])
        k = np.arange(p)
        onsets = t + np.round(k / self._pulse_rate[who] * sr).astype(np.int64)
        dur = 0.6 / self._pulse_rate[who]
        rows = make_grains(
            p,
            sr,
            amp=self._amp[who] * gate * (0.9 + 0.2 * u),
            pan=self._pan[who],
            tone=1.0,
            freq=self._carrier[who],
            glide=math.exp(math.log(0.97) / (dur * sr)),
            attack=0.002,
            tone_t60=dur * 2.0,
            length=dur,
        )
        self._pool.schedule(onsets, rows)
