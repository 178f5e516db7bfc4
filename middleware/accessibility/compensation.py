"""The hearing-profile effect for the master chain, and the same processing for offline renders.

:class:`HearingCompensation` follows the engine's effect lifecycle (JUCE-like): ``prepare(sample_rate,
block)`` allocates everything, ``process(block)`` works in place and allocates nothing, ``reset()`` forgets
history, and ``set_profile(profile)`` may be called from any other thread: it designs the filters there and
hands them over with one reference assignment, and the audio side ramps to them over ``RAMP_S`` (per-sample
coefficient, mono-fold and gain ramps), so switching a profile live does not click.

Signal path (stereo in, stereo out, no latency)::

    mono fold (optional, loudness kept) -> per-ear compensation EQ -> loudness-range compressor
    -> [the master's look-ahead limiter, which the host chain runs after this effect]

The mono fold comes first so that with one earbud each output channel still gets its own ear's EQ.
:func:`apply_profile` runs the same effect over a whole signal and then the engine's ``Limiter`` (as the
master chain would), so an offline render never leaves [-1, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..engine.dsp.hearing import (
    MONO_MAX_GAIN_DB,
    MONO_TAU_S,
    design_peak_eq,
    eq_cascade_block,
    k_weight_into,
    lerp_into,
    mono_block,
    mono_state,
    range_compressor_block,
    range_params,
    range_state,
    warm_up,
)
from ..engine.dsp.limiter import Limiter
from ..engine.dsp.loudness import k_weighting_coeffs
from ..engine.ramp import Ramp
from ..errors import EngineError
from .prescription import AUDIOGRAM_HZ, prescribe
from .profile import EARS, HearingProfile

_EQ, _MONO = 0, 1  # the effect's Ramp values
RAMP_S = 0.1
"""Time over which a new profile's EQ and mono fold take over (100 ms: measured in the tests, a 30 dB
EQ change ramped this fast leaves high-frequency residue 63 dB under the signal; a hard cut, 8 dB under)."""


@dataclass(frozen=True)
class Design:
    """Everything ``process`` needs from a profile, computed off the audio thread."""

    gains_db: np.ndarray  # (2 ears, bands) prescribed insertion gains
    coeffs: np.ndarray  # (2 ears, bands, 5)
    eq_on: bool
    mono: bool
    range_params: np.ndarray
    range_on: bool


def band_gains(profile: HearingProfile) -> np.ndarray:
    """Prescribed gains (dB) per ear at ``AUDIOGRAM_HZ``; zeros when the profile has no audiogram."""
    if profile.audiogram is None:
        return np.zeros((len(EARS), len(AUDIOGRAM_HZ)))
    return np.array(
        [
            prescribe(profile.prescription, profile.audiogram[ear], AUDIOGRAM_HZ, profile.max_gain_db)
            for ear in EARS
        ]
    )


def design(profile: HearingProfile, sample_rate: float) -> Design:
    """Turn a profile into filter coefficients and compressor parameters for ``sample_rate``."""
    gains = band_gains(profile)
    coeffs = np.stack([design_peak_eq(AUDIOGRAM_HZ, gains[e], sample_rate) for e in range(len(EARS))])
    mode = profile.dynamics
    return Design(
        gains_db=gains,
        coeffs=np.ascontiguousarray(coeffs),
        eq_on=bool(np.any(gains != 0.0)),
        mono=profile.mono,
        range_params=range_params(mode.lra_lu, mode.ratio, mode.max_boost_db, sample_rate),
        range_on=mode.lra_lu is not None,
    )


class HearingCompensation:
    """Master-chain effect applying a :class:`HearingProfile` (see module doc for the lifecycle)."""

    latency_frames = 0

    def __init__(self, profile: HearingProfile | None = None) -> None:
        self.profile = profile if profile is not None else HearingProfile()
        self.sample_rate = 0.0
        self.block = 0
        self._pending: Design | None = None
        self._applied: Design | None = None

    # -- control side -----------------------------------------------------------------------------------

    def prepare(self, sample_rate: float, block: int) -> None:
        """Allocate for blocks of at most ``block`` frames at ``sample_rate``; the profile applies at once."""
        if not (math.isfinite(sample_rate) and sample_rate >= 8000):
            raise EngineError(f"hearing compensation sample_rate={sample_rate}: must be >= 8000 Hz")
        if not (isinstance(block, int) and block > 0):
            raise EngineError(f"hearing compensation block={block!r}: must be an integer > 0")
        self.sample_rate = float(sample_rate)
        self.block = block
        self._kcoeffs = k_weighting_coeffs(sample_rate)
        self._kside = np.zeros((block, 2), dtype=np.float32)
        warm_up()
        self._mono_coeff = 1.0 - math.exp(-1.0 / (MONO_TAU_S * sample_rate))
        self._mono_max = 10.0 ** (MONO_MAX_GAIN_DB / 20.0)
        d = design(self.profile, sample_rate)
        nb = d.coeffs.shape[1]
        # EQ: coefficients interpolated from _c_start (where the last switch began) to _c_target by the
        # ramp's _EQ value (0 -> 1); mono: the fold's weight (0 stereo, 1 mono).
        self._ramp = Ramp(np.array([1.0, 1.0 if d.mono else 0.0]), np.array([RAMP_S, RAMP_S]), sample_rate)
        self._ramp.advance(0)  # loads its compiled kernel here, not on the render thread
        self._c_start = d.coeffs.copy()
        self._c_target = d.coeffs.copy()
        self._c_from = d.coeffs.copy()
        self._c_to = d.coeffs.copy()
        self._eq_state = np.zeros((2, nb, 2))
        self._k_mono = np.zeros((2, 2, 2))
        self._k_range = np.zeros((2, 2, 2))
        self._mono_state = mono_state()
        self._range_state = range_state()
        self._range_params = d.range_params.copy()
        self._applied = d
        self._pending = d
        self._eq_on = d.eq_on
        self._range_on = d.range_on

    def set_profile(self, profile: HearingProfile) -> None:
        """Switch to ``profile`` (any thread): designs here, the audio side ramps to it over ``RAMP_S``."""
        self.profile = profile
        if self.sample_rate:
            self._pending = design(profile, self.sample_rate)  # one reference assignment hands it over

    def reset(self) -> None:
        """Forget filter memories, level trackers and gains, and end glides on their targets (a new
        render, or after a discontinuity). In place: safe on the audio thread."""
        self._eq_state[:] = 0.0
        self._k_mono[:] = 0.0
        self._k_range[:] = 0.0
        self._mono_state[:] = mono_state()
        self._range_state[:] = 0.0
        self._ramp.settle()

    @property
    def gains_db(self) -> np.ndarray:
        """The prescribed band gains (dB) now being applied, ``(2 ears, len(AUDIOGRAM_HZ))``."""
        return self._applied.gains_db if self._applied is not None else band_gains(self.profile)

    # -- audio side -------------------------------------------------------------------------------------

    def _take_pending(self) -> None:
        d = self._pending
        if d is self._applied or d is None:
            return
        self._applied = d
        # restart the EQ glide from the coefficients in use right now (mid-glide too)
        lerp_into(self._c_start, self._c_start, self._c_target, self._ramp.value[_EQ])
        self._c_target[:] = d.coeffs
        self._ramp.jump(_EQ, 0.0)
        self._ramp.set(_EQ, 1.0)
        self._ramp.set(_MONO, 1.0 if d.mono else 0.0)
        self._eq_on = self._eq_on or d.eq_on
        self._range_params[:] = d.range_params
        self._range_on = self._range_on or d.range_on

    def process(self, x: np.ndarray) -> None:
        """Process ``x`` (frames <= block, 2) float32 in place. No allocation, no I/O, no locks."""
        n = x.shape[0]
        if n == 0:
            return
        self._take_pending()
        d = self._applied
        ramp = self._ramp
        moving = ramp.advance(n)
        w0, w1 = ramp.start[_MONO], ramp.value[_MONO]
        if w0 > 0.0 or w1 > 0.0:  # mono fold, its weight gliding 0 <-> 1 over RAMP_S
            ks = self._kside[:n]
            k_weight_into(x, ks, self._kcoeffs, self._k_mono)
            mono_block(x, ks, w0, w1, self._mono_state, self._mono_coeff, self._mono_max)
            if w1 == 0.0:
                self._mono_state[3] = 0.0  # folded back to stereo: the trackers restart next time
        if self._eq_on:  # compensation EQ, coefficients gliding from where they were to the new design
            if moving and ramp.start[_EQ] != ramp.value[_EQ]:
                lerp_into(self._c_from, self._c_start, self._c_target, ramp.start[_EQ])
                lerp_into(self._c_to, self._c_start, self._c_target, ramp.value[_EQ])
                eq_cascade_block(x, self._c_from, self._c_to, self._eq_state)
            else:
                eq_cascade_block(x, self._c_target, self._c_target, self._eq_state)
                # a flat design (no audiogram) is an identity once its memory has died away: skip it then
                if not d.eq_on and self._eq_state.max() < 1e-9 and self._eq_state.min() > -1e-9:
                    self._eq_on = False
                    self._eq_state[:] = 0.0
        if self._range_on:  # loudness-range compressor; its own gain smoothing makes mode switches smooth
            ks = self._kside[:n]
            k_weight_into(x, ks, self._kcoeffs, self._k_range)
            range_compressor_block(x, ks, self._range_params, self._range_state)
            if not d.range_on and self._range_state[2] == 0.0:
                self._range_on = False
                self._range_state[:] = 0.0  # next time it starts afresh


def apply_profile(
    x: np.ndarray, sr: int, profile: HearingProfile, block: int = 256, limit: bool = True
) -> np.ndarray:
    """Offline: ``x`` ((n,) or (n, 2)) through :class:`HearingCompensation` and, with ``limit``, the
    engine's master ``Limiter`` (its latency removed), as the master chain would render it. float32 (n, 2).
    """
    a = np.asarray(x, dtype=np.float32)
    if a.ndim == 1:
        a = np.repeat(a[:, None], 2, axis=1)
    if a.ndim != 2 or a.shape[1] != 2:
        raise EngineError(f"apply_profile: audio shape={a.shape}; expected (frames,) or (frames, 2)")
    y = np.ascontiguousarray(a).copy()
    fx = HearingCompensation(profile)
    fx.prepare(sr, block)
    for i in range(0, y.shape[0], block):
        fx.process(y[i : i + block])
    if not limit:
        return y
    lim = Limiter(sr)
    lat = lim.latency_frames
    padded = np.concatenate([y, np.zeros((lat, 2), dtype=np.float32)])
    out = np.empty_like(padded)
    for i in range(0, padded.shape[0], block):
        lim.process_into(padded[i : i + block], out[i : i + block])
    return out[lat:]
