"""Parametric equaliser: up to 8 RBJ biquad bands in series (peak, shelves, low/high-pass).

Each band's frequency, gain and Q glide over 50 ms: the parameters ramp once per block and the
band's coefficients ramp linearly per sample between the block's two ends (stable: see
``dsp/filters.py``). The band's kind is not glided (changing it switches at once).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..dsp.filters import BIQUAD_KINDS, biquad_cascade_into, rbj_coeffs_into
from ..specs import CUTOFF_HZ, Bounds
from .base import Effect, EffectType, Group, Param
from .filters import NYQUIST_GUARD, Q_BOUNDS

BAND_KINDS = ("peak", "lowshelf", "highshelf", "lowpass", "highpass")
MAX_BANDS = 8
BAND_GAIN_DB = Bounds(-24.0, 24.0, "dB")
BAND_PARAMS = 4  # kind, freq_hz, gain_db, q: the order of the group's params below


@njit(cache=True, nogil=True)
def eq_coeffs_into(vec, first, bands, codes, sr, out):
    """Coefficients (bands, 5) of every band from parameter vector ``vec`` (bands start at ``first``)."""
    for k in range(bands):
        o = first + k * BAND_PARAMS
        kind = codes[int(vec[o])]
        hz = min(vec[o + 1], NYQUIST_GUARD * sr)
        rbj_coeffs_into(kind, hz, vec[o + 3], vec[o + 2], sr, out[k])


class Equalizer(Effect):
    """The bands of ``spec`` in series."""

    def _prepare(self) -> None:
        self.bands = len(self.spec.values["bands"])
        self.codes = np.array([BIQUAD_KINDS.index(k) for k in BAND_KINDS], dtype=np.int64)
        self.cf = np.zeros((MAX_BANDS, 5), dtype=np.float64)
        self.ct = np.zeros((MAX_BANDS, 5), dtype=np.float64)
        self.state = np.zeros((MAX_BANDS, 2, 2), dtype=np.float64)
        eq_coeffs_into(self.params.value, 0, self.bands, self.codes, self.sr, self.ct)
        self.cf[:] = self.ct

    def process(self, x: np.ndarray) -> None:
        p = self.params
        if p.advance(x.shape[0]):
            eq_coeffs_into(p.start, 0, self.bands, self.codes, self.sr, self.cf)
            eq_coeffs_into(p.value, 0, self.bands, self.codes, self.sr, self.ct)
            biquad_cascade_into(x, self.cf, self.ct, self.state, self.bands)
            self.cf[:] = self.ct
        else:
            biquad_cascade_into(x, self.ct, self.ct, self.state, self.bands)

    def _reset(self) -> None:
        self.state[:] = 0.0
        self.cf[:] = self.ct


EQ = EffectType(
    "eq",
    "Parametric equaliser: RBJ cookbook bands in series.",
    (),
    Equalizer,
    group=Group(
        "bands",
        f"the bands, applied in order (1 to {MAX_BANDS})",
        (
            Param("kind", "band shape", choices=BAND_KINDS, default="peak", ramp=0.0),
            Param("freq_hz", "centre (peak) or corner frequency in Hz", CUTOFF_HZ, 1000.0, ramp=0.05),
            Param("gain_db", "boost (+) or cut (-) in dB (peak and shelves)", BAND_GAIN_DB, 0.0, ramp=0.05),
            Param(
                "q", "bandwidth of a peak, slope of a shelf, resonance of a pass", Q_BOUNDS, 0.707, ramp=0.05
            ),
        ),
        max_items=MAX_BANDS,
        min_items=1,
    ),
)
DEFINITIONS = (EQ,)
