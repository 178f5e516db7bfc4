"""Low-pass and high-pass (RBJ biquads, Butterworth Q by default): a bus's ``lowpass_hz``/``highpass_hz``.

The cutoff's ramp time is 0: a change glides the coefficients over the next block (linear per
sample, see ``dsp/filters.py``), as the buses always did. A cutoff of null (vector value 0) is off:
the identity coefficients, and the filter is skipped once it has ramped there.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..dsp.filters import BIQUAD_KINDS, biquad_block_into, rbj_coeffs_into
from ..specs import CUTOFF_HZ, Bounds
from .base import Effect, EffectType, Param

BUTTERWORTH_Q = 1.0 / math.sqrt(2.0)
Q_BOUNDS = Bounds(0.1, 18.0)
NYQUIST_GUARD = 0.49  # cutoffs above this fraction of the sample rate are pulled down to it


@njit(cache=True, nogil=True)
def cutoff_coeffs_into(kind, hz, q, sr, out):
    """Coefficients of a ``kind`` filter at ``hz`` (0: off, the identity)."""
    if hz <= 0.0:
        out[0] = 1.0
        out[1] = 0.0
        out[2] = 0.0
        out[3] = 0.0
        out[4] = 0.0
    else:
        rbj_coeffs_into(kind, min(hz, NYQUIST_GUARD * sr), q, 0.0, sr, out)


@njit(cache=True, nogil=True, inline="always")
def _identity(c):
    return c[0] == 1.0 and c[1] == 0.0 and c[2] == 0.0 and c[3] == 0.0 and c[4] == 0.0


@njit(cache=True, nogil=True)
def cutoff_filter_block(x, kind, start, value, moved, sr, cf, ct, state):
    """One block of the filter in place; returns whether it must run next block (not the identity)."""
    if moved:
        cutoff_coeffs_into(kind, start[0], start[1], sr, cf)
        cutoff_coeffs_into(kind, value[0], value[1], sr, ct)
    if _identity(cf) and _identity(ct):
        return False
    biquad_block_into(x, x, cf, ct, state)
    for i in range(5):
        cf[i] = ct[i]
    return not _identity(ct)


class CutoffFilter(Effect):
    """A 12 dB/octave low- or high-pass; ``kind`` is the RBJ kind."""

    kind = "lowpass"

    def _prepare(self) -> None:
        self._code = BIQUAD_KINDS.index(self.kind)
        self.cf = np.empty(5, dtype=np.float64)
        self.ct = np.empty(5, dtype=np.float64)
        self.state = np.zeros((2, 2), dtype=np.float64)
        p = self.params
        cutoff_coeffs_into(self._code, p.value[0], p.value[1], self.sr, self.ct)
        self.cf[:] = self.ct
        self.active = True

    def update(self, spec) -> None:  # type: ignore[no-untyped-def]
        super().update(spec)
        self.active = True

    def process(self, x: np.ndarray) -> None:
        if not self.active:  # off and settled (``update`` wakes it): skip even the ramp
            return
        p = self.params
        moved = p.advance(x.shape[0])
        self.active = cutoff_filter_block(
            x, self._code, p.start, p.value, moved, self.sr, self.cf, self.ct, self.state
        )

    def _reset(self) -> None:
        self.state[:] = 0.0
        self.cf[:] = self.ct


class LowPass(CutoffFilter):
    kind = "lowpass"


class HighPass(CutoffFilter):
    kind = "highpass"


def _params(what: str) -> tuple[Param, ...]:
    return (
        Param("cutoff_hz", f"{what} cutoff in Hz (null = off)", CUTOFF_HZ, None, ramp=0.0, optional=True),
        Param("q", "resonance (0.707 = Butterworth, no peak)", Q_BOUNDS, BUTTERWORTH_Q, ramp=0.0),
    )


LOWPASS = EffectType("lowpass", "12 dB/octave low-pass filter.", _params("low-pass"), LowPass)
HIGHPASS = EffectType("highpass", "12 dB/octave high-pass filter.", _params("high-pass"), HighPass)
DEFINITIONS = (LOWPASS, HIGHPASS)
