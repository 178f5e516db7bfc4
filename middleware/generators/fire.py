"""Fire: a brown-noise roar that breathes, a gas hiss, and Poisson crackles in small clusters.

Physically informed: turbulent combustion gives a low-frequency roar (brown-ish spectrum) whose
level follows flame size and flickers at a few hertz; crackles are tiny explosions of steam and
sap pockets, a Poisson process whose events are sub-millisecond to few-millisecond broadband
bursts, often followed by a few smaller ones as the pocket splits.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from . import _kernels as K
from .base import Generator, GrainPool, ParamSpec, make_grains


class Fire(Generator):
    """Campfire to blaze: ``size`` (roar level and crackle rate) and ``crackle`` (crackle density)."""

    NAME = "fire"
    PARAMS: ClassVar[dict[str, ParamSpec]] = {
        "size": ParamSpec(0.0, 1.0, 0.5, "norm", "0 candle-sized .. 1 bonfire; roar level and depth"),
        "crackle": ParamSpec(0.0, 1.0, 0.5, "norm", "how often wood pops (0 none .. 1 very crackly)"),
    }
    CHILDREN = 4
    GAIN = 0.4

    def _setup(self) -> None:
        self._noise = self._stream("normal")
        self._flick = self._stream("normal")
        self._events = self._stream()
        self._attrs = self._stream()
        self._pool = GrainPool(128, self._next_seed())
        self._brown = np.zeros(2)
        self._st_roar = np.zeros((2, 2))
        self._st_hiss = np.zeros((2, 2))
        self._st_flick = np.zeros(1)
        self._af = 1.0 - math.exp(-2.0 * math.pi * 3.0 / self.sample_rate)
        self._fnorm = math.sqrt((2.0 - self._af) / self._af)

    def _render(self, n: int, ctrl: np.ndarray) -> np.ndarray:
        sr = float(self.sample_rate)
        size = ctrl[:, self.col("size")]
        crackle = ctrl[:, self.col("crackle")]
        x = self._noise.take(2 * n).reshape(n, 2)
        fl = K.onepole_lp(self._flick.take(n).reshape(n, 1), self._af, self._st_flick)[:, 0] * self._fnorm
        breathe = np.clip(1.0 + 0.35 * fl, 0.2, 2.0)
        brown = K.leaky_integrate(x, 0.995, self._brown) * 0.1
        roar = K.svf_noise(brown, 120.0 + 500.0 * size, 1.0 / 0.7, 0.5 * size * breathe, sr, self._st_roar, 0)
        hiss = K.svf_noise(x, 4500.0 + 1500.0 * size, 1.0 / 0.8, 0.012 * size * breathe, sr, self._st_hiss, 1)
        out = roar + hiss
        rate = crackle * (4.0 + 60.0 * size) * np.clip(breathe, 0.5, 1.5)
        hits = np.flatnonzero(self._events.take(n) < rate / sr)
        m = hits.shape[0]
        if m:
            c = self.CHILDREN + 1
            a = self._attrs.take(m * c * 6).reshape(m, c, 6)
            count = np.floor(a[:, 0, 5] * (self.CHILDREN + 1))  # children per crackle
            k = np.arange(c)[None, :]
            keep = (k == 0) | (k <= count[:, None])
            delay = np.where(k == 0, 0.0, (0.002 + 0.03 * a[:, :, 0]) * k)
            onset = (self.frame + hits[:, None] + np.round(delay * sr)).astype(np.int64)
            amp = 0.12 * np.exp((a[:, :, 1] - 0.5) * 3.0) * (0.55**k) * (0.5 + size[hits, None])
            fc = 1200.0 * np.exp(a[:, :, 2] * math.log(7.0))
            t60 = 0.0008 + 0.006 * a[:, :, 3] ** 2
            pan = (a[:, 0:1, 4] * 2.0 - 1.0) * 0.8 + 0.0 * k
            sel = keep.ravel()
            fields = make_grains(
                int(sel.sum()),
                sr,
                amp=amp.ravel()[sel],
                pan=pan.ravel()[sel],
                noise=1.0,
                noise_t60=t60.ravel()[sel],
                noise_fc=fc.ravel()[sel],
                noise_q=0.9,
                noise_off=self._pool.noise_offsets(a[:, :, 4].ravel()[sel]),
            )
            self._pool.schedule(onset.ravel()[sel], fields)
        self._pool.render(out, self.frame)
        return out
