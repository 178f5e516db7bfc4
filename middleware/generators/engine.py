"""Engine: the firing-frequency harmonic series of a four-stroke piston engine.

Physically informed: each cylinder fires once every two crankshaft revolutions, so the exhaust
pulses at f0 = rpm / 60 x cylinders / 2 (100 Hz for a four-cylinder at 3000 rpm) and the sound is a
harmonic series on f0. Under load the pressure pulses are sharper, so the spectrum is brighter:
the harmonic amplitudes fall as r**k with r rising with load. Combustion varies cycle to cycle
(random amplitude per firing), and broadband exhaust noise is modulated by the firing pulses.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from numba import njit

from ._kernels import TWO_PI, svf_step, tan_pi
from .base import Generator, ParamSpec


@njit(cache=True, nogil=True)
def engine_block(
    ctrl: np.ndarray,
    jitter: np.ndarray,
    white: np.ndarray,
    sr: float,
    cyl: float,
    osc: np.ndarray,
    st: np.ndarray,
) -> np.ndarray:
    """Harmonic series r**k of the firing frequency (Moorer's closed form) plus pulse-modulated
    exhaust noise; ctrl = [rpm, load]; ``osc`` = [phase, cycle amplitude].

    sum_{k=1..N} r^k sin(k t) costs four sines per sample however many harmonics there are; N keeps
    the top harmonic under 0.45 sr. Each firing cycle takes a fresh amplitude (cycle-to-cycle
    combustion variability) from ``jitter``.
    """
    n = ctrl.shape[0]
    out = np.empty((n, 2))
    ph = osc[0]
    camp = osc[1]
    k = 1.0 / 0.7
    for i in range(n):
        rpm = ctrl[i, 0]
        load = ctrl[i, 1]
        f = rpm / 60.0 * cyl / 2.0
        r = min(max(0.5 + 0.4 * load + 0.04 * rpm / 9000.0, 0.0), 0.95)
        nh = max(int(0.45 * sr / f), 1)
        rn1 = r ** (nh + 1)
        num = r * math.sin(ph) - rn1 * math.sin((nh + 1) * ph) + rn1 * r * math.sin(nh * ph)
        den = 1.0 - 2.0 * r * math.cos(ph) + r * r
        tone = camp * num / den * (1.0 - r)
        ph += TWO_PI * f / sr
        if ph > TWO_PI:
            ph -= TWO_PI
            camp = 1.0 + 0.12 * (1.0 - 0.5 * load) * jitter[i]
        g = tan_pi(min(400.0 + 2500.0 * load + 0.3 * rpm, 0.45 * sr) / sr)
        _, lp = svf_step(st, 0, 0, white[i], g, k)
        exhaust = lp * (0.03 + 0.06 * load)
        y = (tone + exhaust * (1.0 + tone)) * 0.3 * (0.45 + 0.55 * load) * (0.6 + 0.4 * rpm / 9000.0)
        out[i, 0] = y
        out[i, 1] = y
    osc[0] = ph
    osc[1] = camp
    return out


class Engine(Generator):
    """Engine: ``rpm`` and ``load`` (0 coasting .. 1 full throttle)."""

    NAME = "engine"
    PARAMS: ClassVar[dict[str, ParamSpec]] = {
        "rpm": ParamSpec(500.0, 9000.0, 1500.0, "rpm", "crankshaft speed; f0 = rpm/60 * cylinders/2"),
        "load": ParamSpec(0.0, 1.0, 0.3, "norm", "throttle load; brightness and level"),
    }
    CYLINDERS = 4
    GAIN = 3.0
    SMOOTH_TIME = 0.08

    def _setup(self) -> None:
        self._jit = self._stream("normal")
        self._noise = self._stream("white")
        self._osc = np.array([0.0, 1.0])
        self._st = np.zeros((1, 2, 2))

    def fundamental(self, rpm: float | np.ndarray) -> float | np.ndarray:
        """Firing frequency in Hz for a given rpm."""
        return rpm / 60.0 * self.CYLINDERS / 2.0

    def _render(self, n: int, ctrl: np.ndarray) -> np.ndarray:
        return engine_block(
            ctrl,
            self._jit.take(n),
            self._noise.take(n),
            float(self.sample_rate),
            float(self.CYLINDERS),
            self._osc,
            self._st,
        )
