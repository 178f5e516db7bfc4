"""Footsteps and a single footstep: heel and toe transients shaped by the surface.

Physically informed: a step is two contacts, heel strike then toe (roll-off) 60-120 ms later and
weaker. What the foot hits decides the rest: the band and decay of the contact noise, how many
micro-impacts follow it (gravel stones shifting, snow crystals collapsing, grass blades brushing)
and whether something rings (wooden boards, metal plates with inharmonic plate/bar modes).
Weight scales energy and low-frequency thump. Steps fall on a phase accumulator driven by
``pace``, so they land exactly on the requested grid (plus at most 1.5 ms of human jitter).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from . import _kernels as K
from .base import Generator, GrainPool, OneShot, ParamSpec, RandStream, make_grains

SURFACES = ("grass", "gravel", "wood", "stone", "snow", "metal")
_BAR = np.array([1.0, 2.756, 5.404, 8.933])  # free-free bar mode ratios (metal plates and gratings)


def _strike(
    surface: str, strength: float, weight: float, u: RandStream, sr: float, hurry: float
) -> tuple[np.ndarray, np.ndarray]:
    """(offsets in frames, grain rows) of one foot contact on ``surface``.

    ``hurry`` (<= 1) shortens the spread of micro-impacts when steps come fast.
    """
    a = u.take(8)
    thump_amp = strength * (0.15 + 0.5 * weight)
    rows = []
    offs = []

    def grains(count: int, spread: float, **kw: object) -> None:
        g = u.take(count * 4).reshape(count, 4)
        t = np.sort(g[:, 0]) ** 1.5 * spread * hurry  # dense at the contact, thinning out
        offs.append(np.round(t * sr))
        rows.append(
            make_grains(
                count,
                sr,
                noise_off=np.floor(g[:, 1] * 65536),
                pan=(g[:, 2] - 0.5) * 0.3,
                **{k: (v(g) if callable(v) else v) for k, v in kw.items()},
            )
        )

    def single(**kw: object) -> None:
        offs.append(np.zeros(1))
        rows.append(make_grains(1, sr, noise_off=float(np.floor(a[7] * 65536)), **kw))

    nscale = 0.7 + 0.6 * weight
    if surface == "grass":
        single(
            amp=thump_amp * 0.6,
            noise=1.0,
            noise_t60=0.05,
            noise_fc=250.0,
            noise_q=0.7,
            noise_lp=1.0,
            noise_bp=0.0,
            attack=0.001,
        )
        # the sole meeting the blades: a soft but immediate brush at the contact
        single(amp=strength * 0.25, noise=1.0, noise_t60=0.02, noise_fc=5000.0, noise_q=0.8, attack=0.0005)
        grains(
            int(14 * nscale),
            0.12,
            amp=lambda g: strength * 0.12 * (0.5 + g[:, 3]),
            noise=1.0,
            noise_t60=lambda g: 0.01 + 0.02 * g[:, 3],
            noise_fc=lambda g: 4500.0 + 6000.0 * g[:, 3],
            noise_q=0.9,
            attack=0.003,
        )
    elif surface == "gravel":
        single(
            amp=thump_amp * 0.8,
            noise=1.0,
            noise_t60=0.03,
            noise_fc=400.0,
            noise_q=0.7,
            noise_lp=1.0,
            noise_bp=0.0,
            attack=0.001,
        )
        grains(
            int(30 * nscale),
            0.09,
            amp=lambda g: strength * 0.35 * (0.3 + g[:, 3]),
            noise=1.0,
            noise_t60=lambda g: 0.002 + 0.004 * g[:, 3],
            noise_fc=lambda g: 900.0 * 4.0 ** g[:, 3],
            noise_q=3.0,
            attack=0.0002,
        )
    elif surface == "wood":
        f1 = 110.0 + 60.0 * a[0]
        for ratio, amp in ((1.0, 0.6), (2.3 + 0.2 * a[1], 0.35), (4.1 + 0.3 * a[2], 0.2)):
            single(amp=strength * amp, tone=1.0, freq=f1 * ratio, tone_t60=0.12 + 0.05 * a[3], attack=0.0008)
        single(
            amp=strength * 0.5,
            noise=1.0,
            noise_t60=0.02,
            noise_fc=900.0 + 400.0 * a[4],
            noise_q=1.2,
            attack=0.0005,
        )
    elif surface == "stone":
        single(
            amp=strength * 1.1,
            noise=1.0,
            noise_t60=0.008 + 0.004 * a[0],
            noise_fc=3500.0 + 1500.0 * a[1],
            noise_q=1.0,
            attack=0.0002,
        )
        single(
            amp=thump_amp * 0.5,
            noise=1.0,
            noise_t60=0.015,
            noise_fc=180.0,
            noise_q=0.7,
            noise_lp=1.0,
            noise_bp=0.0,
            attack=0.001,
        )
    elif surface == "snow":
        single(
            amp=thump_amp * 0.5,
            noise=1.0,
            noise_t60=0.06,
            noise_fc=300.0,
            noise_q=0.7,
            noise_lp=1.0,
            noise_bp=0.0,
            attack=0.002,
        )
        grains(
            int(40 * nscale),
            0.16,
            amp=lambda g: strength * 0.22 * (0.4 + g[:, 3]),
            noise=1.0,
            noise_t60=lambda g: 0.005 + 0.01 * g[:, 3],
            noise_fc=lambda g: 600.0 + 1200.0 * g[:, 3],
            noise_q=1.8,
            attack=0.002,
        )
    elif surface == "metal":
        f1 = 380.0 + 200.0 * a[0]
        for k, ratio in enumerate(_BAR):
            single(
                amp=strength * 0.35 / (1.0 + 0.5 * k),
                tone=1.0,
                freq=f1 * ratio * (1.0 + 0.02 * (a[k + 1] - 0.5)),
                tone_t60=0.5 / (1.0 + 0.4 * k),
                attack=0.0003,
            )
        single(amp=strength * 0.6, noise=1.0, noise_t60=0.004, noise_fc=4500.0, noise_q=0.8, attack=0.0002)
    else:  # pragma: no cover - validated before
        raise ValueError(surface)
    return np.concatenate(offs), np.concatenate(rows)


def step_grains(
    surface: str, weight: float, u: RandStream, sr: float, pace: float = 1.8
) -> tuple[np.ndarray, np.ndarray]:
    """One whole step: heel strike, then the weaker toe contact later (sooner at a faster pace)."""
    a = u.take(3)
    hurry = min(1.0, 1.8 / pace)
    roll = 0.11 * math.sqrt(hurry)
    heel_gain = (0.6 + 0.6 * weight) * math.exp(0.25 * (a[0] - 0.5))
    h_off, h_rows = _strike(surface, heel_gain, weight, u, sr, hurry)
    t_off, t_rows = _strike(surface, heel_gain * (0.45 + 0.2 * a[1]), weight, u, sr, hurry)
    toe_at = round(roll * (0.85 + 0.3 * a[2]) * sr)
    return np.concatenate([h_off, t_off + toe_at]), np.concatenate([h_rows, t_rows])


class Footsteps(Generator):
    """A walker: ``surface``, ``pace`` (steps per second) and ``weight``."""

    NAME = "footsteps"
    PARAMS: ClassVar[dict[str, ParamSpec]] = {
        "surface": ParamSpec.categorical(SURFACES, "gravel", "ground material"),
        "pace": ParamSpec(0.3, 5.0, 1.8, "steps/s", "step rate; 1.8 is a stroll, 3 a run"),
        "weight": ParamSpec(0.0, 1.0, 0.5, "norm", "0 light .. 1 heavy; energy and low thump"),
    }
    JITTER_S = 0.0015
    GAIN = 2.5

    def _setup(self) -> None:
        self._pool = GrainPool(256, self._next_seed())
        self._u = self._stream()
        self._phase = np.array([1.0 - 1e-9])  # the first step falls on frame 0

    def _render(self, n: int, ctrl: np.ndarray) -> np.ndarray:
        sr = float(self.sample_rate)
        pace = ctrl[:, self.col("pace")]
        hits = K.phase_events(pace / sr, self._phase)
        for i in hits:
            p = float(pace[i])
            jitter = round(self._u.take(1)[0] * self.JITTER_S * sr)
            offs, rows = step_grains(
                self._values["surface"], float(ctrl[i, self.col("weight")]), self._u, sr, p
            )
            self._pool.schedule((self.frame + int(i) + jitter + offs).astype(np.int64), rows)
        out = np.zeros((n, 2))
        self._pool.render(out, self.frame)
        return out


class Footstep(OneShot):
    """One footstep (heel and toe) on ``surface``; every seed or variation sounds slightly different."""

    NAME = "footstep"
    PARAMS: ClassVar[dict[str, ParamSpec]] = {
        "surface": ParamSpec.categorical(SURFACES, "gravel", "ground material"),
        "weight": ParamSpec(0.0, 1.0, 0.5, "norm", "0 light .. 1 heavy"),
    }
    GAIN = 2.5

    def _hit(self, u: RandStream) -> tuple[np.ndarray, np.ndarray]:
        offs, rows = step_grains(self._values["surface"], float(self._values["weight"]), u, self.sample_rate)
        return offs.astype(np.int64), rows
