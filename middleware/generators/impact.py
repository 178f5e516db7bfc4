"""Impact: modal synthesis of a struck object.

Physically informed: a struck solid rings in its normal modes. The material sets the mode-frequency
ratios (free-free bar for metal, plate-like for glass, dense and irregular for stone) and the
damping, which follows a Rayleigh law 1/T60 = a + b f^2 (wood and plastic lose high modes fast,
metal and glass ring). Size scales frequencies inversely (a bigger object of the same shape rings
lower) and lengthens decays. Where it is struck sets mode amplitudes (sin(pi k x) of the strike
point x), and a short contact-noise burst models the hardness of the hit. Each variation draws a
new strike point, small mode detunings and contact, so no two hits are identical.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import OneShot, ParamSpec, RandStream, make_grains

MATERIALS = ("wood", "metal", "glass", "stone", "plastic")

# ratios, fundamental at size 0.5 (Hz), T60 of the fundamental (s), Rayleigh b (s^-1 Hz^-2), contact noise
_MAT = {
    "wood": (np.array([1.0, 2.57, 4.64, 6.98, 9.55]), 380.0, 0.15, 1.2e-6, 0.5),
    "metal": (np.array([1.0, 2.756, 5.404, 8.933, 13.345, 19.93]), 700.0, 1.6, 4e-8, 0.25),
    "glass": (np.array([1.0, 2.32, 4.25, 6.63, 9.38]), 1700.0, 0.9, 8e-8, 0.2),
    "stone": (np.array([1.0, 1.83, 2.94, 4.13, 5.62, 7.3]), 650.0, 0.06, 2e-6, 0.9),
    "plastic": (np.array([1.0, 2.21, 3.79, 5.91]), 950.0, 0.05, 1.5e-6, 0.6),
}


class Impact(OneShot):
    """One hit on an object of ``material`` and ``size``."""

    NAME = "impact"
    PARAMS: ClassVar[dict[str, ParamSpec]] = {
        "material": ParamSpec.categorical(MATERIALS, "wood", "what is struck"),
        "size": ParamSpec(0.0, 1.0, 0.5, "norm", "0 small (high, short) .. 1 large (low, long)"),
    }

    def _hit(self, u: RandStream) -> tuple[np.ndarray, np.ndarray]:
        sr = float(self.sample_rate)
        ratios, f_mid, t60_1, b, contact = _MAT[self._values["material"]]
        size = float(self._values["size"])
        m = ratios.shape[0]
        a = u.take(2 * m + 6)
        scale = 4.0 ** (1.0 - 2.0 * size)  # size 0 -> 4x higher, size 1 -> 4x lower
        f1 = f_mid * scale * (1.0 + 0.04 * (a[0] - 0.5))
        freqs = f1 * ratios * (1.0 + 0.03 * (a[1 : m + 1] - 0.5))
        x = 0.1 + 0.35 * a[m + 1]  # strike point along the object
        shape = np.abs(np.sin(np.pi * np.arange(1, m + 1) * x)) + 0.1
        hardness = 0.5 + a[m + 2]
        amps = shape / np.arange(1, m + 1) ** (1.2 / hardness) * np.exp(0.4 * (a[m + 3 : 2 * m + 3] - 0.5))
        length_scale = 0.6 + 0.8 * size
        alpha = 1.0 / (t60_1 * length_scale) - b * f1**2
        t60 = 1.0 / np.maximum(alpha + b * freqs**2, 0.2)
        ok = freqs < 0.45 * sr
        tones = make_grains(
            int(ok.sum()),
            sr,
            amp=0.3 * amps[ok] / amps.max(),
            pan=0.0,
            tone=1.0,
            freq=freqs[ok],
            tone_t60=t60[ok],
            attack=0.0004 / hardness,
        )
        noise = make_grains(
            1,
            sr,
            amp=0.4 * contact * (0.7 + 0.6 * a[2 * m + 3]),
            noise=1.0,
            noise_t60=0.004 + 0.01 * size,
            noise_fc=min(3000.0 * scale * hardness, 0.4 * sr),
            noise_q=0.7,
            noise_lp=0.5,
            noise_bp=0.8,
            noise_off=float(np.floor(a[2 * m + 4] * 65536)),
        )
        rows = np.concatenate([tones, noise])
        return np.zeros(rows.shape[0], dtype=np.int64), rows
