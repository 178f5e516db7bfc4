"""Engine: the firing-frequency harmonic series of a four-stroke piston engine.

Physically informed: each cylinder fires once every two crankshaft revolutions, so the exhaust
pulses at f0 = rpm / 60 x cylinders / 2 (100 Hz for a four-cylinder at 3000 rpm) and the sound is a
harmonic series on f0. Under load the pressure pulses are sharper, so the spectrum is brighter:
the harmonic amplitudes fall as r**k with r rising with load. Combustion varies cycle to cycle
(random amplitude per firing), and broadband exhaust noise is modulated by the firing pulses.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from . import _kernels as K
from .base import Generator, ParamSpec


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
        self._noise = self._stream("normal")
        self._osc = np.array([0.0, 1.0])
        self._st_noise = np.zeros((1, 2))

    def fundamental(self, rpm: float | np.ndarray) -> float | np.ndarray:
        """Firing frequency in Hz for a given rpm."""
        return rpm / 60.0 * self.CYLINDERS / 2.0

    def _render(self, n: int, ctrl: np.ndarray) -> np.ndarray:
        sr = float(self.sample_rate)
        rpm = ctrl[:, self.col("rpm")]
        load = ctrl[:, self.col("load")]
        f0 = self.fundamental(rpm)
        bright = np.clip(0.5 + 0.4 * load + 0.04 * rpm / 9000.0, 0.0, 0.95)
        jitter = 1.0 + 0.12 * (1.0 - 0.5 * load) * self._jit.take(n)
        tone = K.engine_osc(f0, bright, jitter, sr, self._osc)
        nz = self._noise.take(n).reshape(n, 1)
        exhaust = K.svf_noise(
            nz, 400.0 + 2500.0 * load + 0.3 * rpm, 1.0 / 0.7, 0.08 + 0.15 * load, sr, self._st_noise, 0
        )[:, 0]
        y = (tone + exhaust * (1.0 + tone)) * 0.3 * (0.45 + 0.55 * load) * (0.6 + 0.4 * rpm / 9000.0)
        return np.repeat(y[:, None], 2, axis=1)
