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
from numba import njit

from ._kernels import svf_step, tan_pi
from .base import Generator, GrainPool, ParamSpec, make_grains


@njit(cache=True, nogil=True)
def cricket_activity(hour: float) -> float:
    """1 at night, 0 in the middle of the day, with ramps around dusk (19-21 h) and dawn (5-7 h)."""
    dusk = 1.0 / (1.0 + math.exp(-(hour - 20.0) * 2.5))
    dawn = 1.0 / (1.0 + math.exp((hour - 6.0) * 2.5))
    return min(dusk + dawn, 1.0)


@njit(cache=True, nogil=True)
def cicada_activity(hour: float) -> float:
    """Peaks in the hot middle of the day."""
    return math.exp(-0.5 * ((hour - 14.0) / 2.5) ** 2)


@njit(cache=True, nogil=True)
def cicada_block(
    ctrl: np.ndarray,
    white: np.ndarray,
    swell_in: np.ndarray,
    frame: int,
    sr: float,
    a: float,
    snorm: float,
    sst: np.ndarray,
    st: np.ndarray,
) -> np.ndarray:
    """Band noise at 5.2 kHz (Q 3), tymbal AM at 140 Hz, slow random swell; ctrl = [density, hour]."""
    n = ctrl.shape[0]
    out = np.empty((n, 2))
    g = tan_pi(5200.0 / sr)
    k = 1.0 / 3.0
    w = 2.0 * math.pi * 140.0 / sr
    isr = int(sr)
    for i in range(n):
        sst[0] += a * (swell_in[i] - sst[0])
        swell = min(max(1.0 + 0.4 * sst[0] * snorm, 0.2), 2.0)
        # exact integer phase: (t * 140 mod sr) / sr never loses precision however long it runs
        am = 0.5 + 0.5 * math.sin(w * (((frame + i) * 140) % isr) / 140.0)
        level = 0.05 * ctrl[i, 0] * cicada_activity(ctrl[i, 1]) * swell * am * am
        for ch in range(2):
            bp, _ = svf_step(st, 0, ch, white[i, ch], g, k)
            out[i, ch] = level * k * bp
    return out


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
        self._noise = self._stream("white")
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
        self._st = np.zeros((1, 2, 2))
        self._st_swell = np.zeros(1)
        self._as = 1.0 - math.exp(-2.0 * math.pi * 0.08 / sr)
        self._snorm = math.sqrt((2.0 - self._as) / self._as)

    def _render(self, n: int, ctrl: np.ndarray) -> np.ndarray:
        sr = float(self.sample_rate)
        end = self.frame + n
        # Chirps in global time order (ties by individual), so draws never depend on the split.
        while True:
            who = int(np.argmin(self._next))
            t = int(self._next[who])
            if t >= end:
                break
            i = t - self.frame
            gate = min(
                max(float(ctrl[i, 0]) * self.CRICKETS * cricket_activity(float(ctrl[i, 1])) - who, 0.0), 1.0
            )
            j = self._jit.take(2)
            if gate > 0.0:
                self._chirp(t, who, gate, j[1], sr)
            self._next[who] = t + round(self._period[who] * (0.95 + 0.1 * j[0]) * sr)
        # Cicada buzz: band noise, tymbal AM, slow random swell.
        white = self._noise.take(2 * n).reshape(n, 2)
        buzz = cicada_block(
            ctrl, white, self._swell.take(n), self.frame, sr, self._as, self._snorm, self._st_swell, self._st
        )
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
