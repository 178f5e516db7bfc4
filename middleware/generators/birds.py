"""Birds: songs of a few resident individuals, busiest in the dawn chorus.

Physically informed (ethology more than physics): songbird activity peaks around sunrise (the dawn
chorus), stays moderate through the day, has a smaller dusk peak and nearly stops at night. Each
bird is an individual with its own voice: a pitch range (2-7 kHz), a syllable type (rising or
falling sweep, trill with fast frequency modulation), syllable count and tempo, and a fixed
position. Songs start as a Poisson process whose rate is density x activity(time_of_day); a song
schedules its syllables ahead as gliding, vibrato-capable tone grains.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from numba import njit

from .base import Generator, GrainPool, ParamSpec, make_grains


@njit(cache=True, nogil=True)
def _circ_gauss(h: float, centre: float, width: float) -> float:
    d = abs(h - centre)
    d = min(d, 24.0 - d)
    return math.exp(-0.5 * (d / width) ** 2)


@njit(cache=True, nogil=True)
def bird_activity(hour: float) -> float:
    """Relative song activity over the day: dawn chorus 1.0, day ~0.3, dusk 0.5, night ~0.02."""
    day = 1.0 / (1.0 + math.exp(-(hour - 7.0) * 2.0)) / (1.0 + math.exp((hour - 19.0) * 2.0))
    return max(_circ_gauss(hour, 6.0, 1.2), 0.5 * _circ_gauss(hour, 19.5, 1.0), 0.3 * day, 0.02)


@njit(cache=True, nogil=True)
def song_onsets(ctrl: np.ndarray, u: np.ndarray, sr: float, max_rate: float) -> np.ndarray:
    """Offsets where a song starts: Poisson, rate = max_rate x density x activity(hour)."""
    n = ctrl.shape[0]
    hits = np.empty(n, dtype=np.int64)
    m = 0
    for i in range(n):
        if u[i] < max_rate * ctrl[i, 0] * bird_activity(ctrl[i, 1]) / sr:
            hits[m] = i
            m += 1
    return hits[:m]


class Birds(Generator):
    """Bird song bed: ``density`` (how many, how often) and ``time_of_day`` (hours, 0..24)."""

    NAME = "birds"
    PARAMS: ClassVar[dict[str, ParamSpec]] = {
        "density": ParamSpec(0.0, 1.0, 0.5, "norm", "0 silent .. 1 crowded chorus"),
        "time_of_day": ParamSpec(0.0, 24.0, 7.0, "h", "local hour; dawn chorus peaks near 6"),
    }
    BIRDS = 7
    GAIN = 5.0
    MAX_SONG_RATE = 6.0

    def _setup(self) -> None:
        self._events = self._stream()
        self._attrs = self._stream()
        self._pool = GrainPool(128, self._next_seed())
        v = self._stream().take(self.BIRDS * 8).reshape(self.BIRDS, 8)
        self._voice = v  # per individual: pitch, kind, syllables, tempo, pan, distance, sweep, vibrato

    def _render(self, n: int, ctrl: np.ndarray) -> np.ndarray:
        sr = float(self.sample_rate)
        hits = song_onsets(ctrl, self._events.take(n), sr, self.MAX_SONG_RATE)
        for i in hits:
            a = self._attrs.take(16)
            self._song(self.frame + int(i), a, sr, float(ctrl[i, 0]))
        out = np.zeros((n, 2))
        self._pool.render(out, self.frame)
        return out

    def _song(self, start: int, a: np.ndarray, sr: float, density: float) -> None:
        # More density means more of the resident birds take part.
        who = int(a[0] * max(1.0, round(self.BIRDS * (0.3 + 0.7 * density))))
        v = self._voice[who]
        base = 2000.0 * 3.0 ** v[0]
        kind = int(v[1] * 3)  # 0 rising sweep, 1 falling sweep, 2 trill
        count = 3 + int(v[2] * 7 * (0.7 + 0.6 * a[1]))
        syl = 0.04 + 0.09 * v[3] if kind != 2 else 0.02 + 0.02 * v[3]
        gap = syl * (0.4 + 0.6 * v[6])
        amp = 0.12 * (0.35 + 0.65 * v[5]) * math.exp(0.3 * (a[2] - 0.5))
        k = np.arange(count)
        jit = 1.0 + 0.05 * (np.cos(k * 2.7 + a[3] * 6.0))
        freqs = base * jit * (1.0 + 0.15 * (a[4] - 0.5))
        ratio = {0: 1.0 + 0.5 * v[6], 1: 1.0 / (1.0 + 0.6 * v[6]), 2: 1.0}[kind]
        glide = math.exp(math.log(ratio) / (syl * sr))
        onsets = start + np.round(k * (syl + gap) * sr).astype(np.int64)
        rows = make_grains(
            count,
            sr,
            amp=amp * (1.0 - 0.3 * k / count),
            pan=v[4] * 1.6 - 0.8,
            tone=1.0,
            freq=freqs,
            glide=glide,
            vib_rate=80.0 + 120.0 * v[7] if kind == 2 else 25.0 * v[7],
            vib_depth=0.12 if kind == 2 else 0.02,
            attack=syl * 0.35,
            tone_t60=syl * 1.2,
            length=syl,
        )
        self._pool.schedule(onsets, rows)
