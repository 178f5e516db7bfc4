"""Rain: a Poisson process of drop impacts over a diffuse hiss.

Physically informed: drops arrive as a Poisson process whose rate follows rain intensity; drop
diameters follow the Marshall-Palmer exponential distribution with mean ``drop_size``; impact
energy grows with diameter (mass ~ D^3, terminal speed ~ sqrt(D)). Each impact is a short burst
shaped by the surface: a damped noise thud on ground, a crisp band-pass tick on leaves, a ringing
mode on a roof, and on water a click followed (for most drops) by a Minnaert bubble whose pitch
f = 3.26 / r rises as it decays. Far-away drops merge into the filtered-noise bed.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from . import _kernels as K
from .base import Generator, GrainPool, ParamSpec, make_grains

SURFACES = ("ground", "water", "leaves", "roof")
_BED_FC = {"ground": 2500.0, "water": 6000.0, "leaves": 4500.0, "roof": 3500.0}


class Rain(Generator):
    """Rain: ``intensity`` (drop rate and hiss), ``drop_size`` (mean diameter) and ``surface``."""

    NAME = "rain"
    PARAMS: ClassVar[dict[str, ParamSpec]] = {
        "intensity": ParamSpec(0.0, 1.0, 0.5, "norm", "0 dry .. 1 downpour (up to ~2500 nearby drops/s)"),
        "drop_size": ParamSpec(0.5, 5.0, 2.0, "mm", "mean drop diameter (Marshall-Palmer distribution)"),
        "surface": ParamSpec.categorical(SURFACES, "ground", "what the drops hit"),
    }
    MAX_RATE = 2500.0
    GAIN = 1.8

    def _setup(self) -> None:
        self._noise = self._stream("normal")
        self._events = self._stream()
        self._attrs = self._stream()
        self._pool = GrainPool(256, self._next_seed())
        self._st_bed = np.zeros((2, 2))
        self._bed_fc = _BED_FC[self._values["surface"]]

    def _on_params(self, changed: dict[str, Any]) -> None:
        if "surface" in changed:
            self._bed_fc = _BED_FC[changed["surface"]]

    def _render(self, n: int, ctrl: np.ndarray) -> np.ndarray:
        sr = float(self.sample_rate)
        inten = ctrl[:, self.col("intensity")]
        dmean = ctrl[:, self.col("drop_size")]
        x = self._noise.take(2 * n).reshape(n, 2)
        bed = K.svf_noise(x, np.full(n, self._bed_fc), 1.0 / 0.6, 0.05 * inten**0.8, sr, self._st_bed, 0)
        rate = self.MAX_RATE * inten**1.5
        hits = np.flatnonzero(self._events.take(n) < rate / sr)
        m = hits.shape[0]
        if m:
            a = self._attrs.take(m * 8).reshape(m, 8)
            d = np.clip(-dmean[hits] * np.log1p(-a[:, 0]), 0.3, 5.0)  # exponential diameters, mm
            energy = (d / 2.0) ** 1.75
            amp = 0.06 * energy * np.exp(1.6 * (a[:, 1] - 0.5))  # distance spread
            pan = a[:, 2] * 2.0 - 1.0
            off = self._pool.noise_offsets(a[:, 3])
            fields = self._drops(self._values["surface"], m, d, amp, pan, off, a, sr)
            onset = np.repeat(self.frame + hits, fields.shape[0] // m)
            self._pool.schedule(onset, fields)
        self._pool.render(bed, self.frame)
        return bed

    @staticmethod
    def _drops(
        surface: str,
        m: int,
        d: np.ndarray,
        amp: np.ndarray,
        pan: np.ndarray,
        off: np.ndarray,
        a: np.ndarray,
        sr: float,
    ) -> np.ndarray:
        """Grain rows for ``m`` drops; water gives two rows per drop (click, bubble), interleaved."""
        if surface == "ground":
            return make_grains(
                m,
                sr,
                amp=amp,
                pan=pan,
                noise=1.0,
                noise_t60=0.006 + 0.01 * a[:, 4],
                noise_fc=700.0 + 2500.0 / d,
                noise_q=0.7,
                noise_lp=0.6,
                noise_bp=0.6,
                noise_off=off,
                tone=0.3,
                freq=180.0 + 200.0 * a[:, 5],
                tone_t60=0.015,
            )
        if surface == "leaves":
            return make_grains(
                m,
                sr,
                amp=amp,
                pan=pan,
                noise=1.0,
                noise_t60=0.004 + 0.008 * a[:, 4],
                noise_fc=2500.0 + 3500.0 * a[:, 5],
                noise_q=1.6,
                noise_off=off,
                tone=0.35,
                freq=900.0 + 2200.0 * a[:, 6],
                tone_t60=0.02,
            )
        if surface == "roof":
            return make_grains(
                m,
                sr,
                amp=0.8 * amp,
                pan=pan,
                noise=0.6,
                noise_t60=0.003,
                noise_fc=5000.0,
                noise_q=0.8,
                noise_off=off,
                tone=0.7,
                freq=1400.0 + 3600.0 * a[:, 4],
                tone_t60=0.05 + 0.1 * a[:, 5],
            )
        # water: a click, then a Minnaert bubble of radius 0.1..0.35 D/2 for ~70 % of drops
        click = make_grains(
            m,
            sr,
            amp=0.5 * amp,
            pan=pan,
            noise=1.0,
            noise_t60=0.002,
            noise_fc=6000.0,
            noise_q=0.7,
            noise_off=off,
        )
        r = (d / 2.0) * (0.1 + 0.25 * a[:, 4]) * 1e-3
        f = np.minimum(3.26 / r, 0.42 * sr)
        q = 10.0 + 20.0 * a[:, 5]
        t60 = 6.91 * q / (math.pi * f)
        glide = np.exp(math.log(1.3) / (t60 * sr))
        has = (a[:, 6] < 0.7).astype(float)
        bubble = make_grains(
            m,
            sr,
            amp=0.8 * amp * has,
            pan=pan,
            freq=f,
            glide=glide,
            tone=1.0,
            tone_t60=t60,
            attack=0.0003,
        )
        out = np.empty((2 * m, bubble.shape[1]))
        out[0::2] = click
        out[1::2] = bubble
        return out
