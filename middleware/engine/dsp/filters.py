"""Biquad and one-pole filters with click-free coefficient ramps.

Every kernel is a pure function of (input block, coefficients, caller-owned state): the state array is
updated in place, so a signal processed in one call or in many smaller blocks gives the same output. Blocks
are float32 ``(frames, 2)``; arithmetic and state are float64 so long feedback paths do not drift.

Coefficient ramps are linear *per sample*: sample ``i`` (0-based) of an ``n``-frame block uses
``c_from + (c_to - c_from) * (i + 1) / n``, so the last sample of the block uses exactly ``c_to`` and a ramp
split into two half-blocks (``from -> mid``, ``mid -> to``) matches the one-block ramp. Linear interpolation
of (a1, a2) between two stable biquads stays stable because the stability triangle
``|a2| < 1, |a1| < 1 + a2`` is convex.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ...errors import EngineError

BIQUAD_KINDS = ("lowpass", "highpass", "bandpass", "notch", "peak", "lowshelf", "highshelf")


def biquad_coeffs(kind: str, freq: float, q: float, gain_db: float, sr: float) -> np.ndarray:
    """RBJ Audio-EQ-Cookbook biquad, normalised so a0 = 1.

    Returns float64 ``[b0, b1, b2, a1, a2]`` for the difference equation
    ``y[n] = b0 x[n] + b1 x[n-1] + b2 x[n-2] - a1 y[n-1] - a2 y[n-2]``, i.e. scipy's
    ``lfilter([b0, b1, b2], [1, a1, a2], x)``. ``bandpass`` is the constant 0 dB peak gain variant.
    ``gain_db`` is used by ``peak``, ``lowshelf`` and ``highshelf`` only; the shelves take ``q`` as their
    slope-defining Q (cookbook ``alpha = sin(w0) / (2 Q)``). Validation happens here, at the API edge,
    never in the render kernels.
    """
    if kind not in BIQUAD_KINDS:
        raise EngineError(f"filter kind={kind!r}: must be one of {', '.join(BIQUAD_KINDS)}")
    if not (math.isfinite(sr) and sr > 0):
        raise EngineError(f"sample rate={sr}: must be a finite number > 0")
    if not (math.isfinite(freq) and 0.0 < freq < sr / 2):
        raise EngineError(f"filter freq={freq}: must be within (0, {sr / 2}) Hz (exclusive) at sr={sr}")
    if not (math.isfinite(q) and q > 0):
        raise EngineError(f"filter q={q}: must be a finite number > 0")
    if not math.isfinite(gain_db) or abs(gain_db) > 120.0:
        raise EngineError(f"filter gain_db={gain_db}: must be within -120..120 dB")

    out = np.empty(5, dtype=np.float64)
    rbj_coeffs_into(BIQUAD_KINDS.index(kind), freq, q, gain_db, sr, out)
    return out


@njit(cache=True, nogil=True)
def rbj_coeffs_into(kind, freq, q, gain_db, sr, out):
    """The cookbook formulas behind :func:`biquad_coeffs` (``kind`` = index in ``BIQUAD_KINDS``), unchecked.

    Compiled so effects can recompute coefficients on the audio path without allocating; callers
    keep ``0 < freq < sr / 2`` and ``q > 0``.
    """
    w0 = 2.0 * math.pi * freq / sr
    cw = math.cos(w0)
    sw = math.sin(w0)
    alpha = sw / (2.0 * q)
    big_a = 10.0 ** (gain_db / 40.0)
    if kind == 0:  # lowpass
        b0, b1, b2 = (1 - cw) / 2, 1 - cw, (1 - cw) / 2
        a0, a1, a2 = 1 + alpha, -2 * cw, 1 - alpha
    elif kind == 1:  # highpass
        b0, b1, b2 = (1 + cw) / 2, -(1 + cw), (1 + cw) / 2
        a0, a1, a2 = 1 + alpha, -2 * cw, 1 - alpha
    elif kind == 2:  # bandpass (0 dB peak)
        b0, b1, b2 = alpha, 0.0, -alpha
        a0, a1, a2 = 1 + alpha, -2 * cw, 1 - alpha
    elif kind == 3:  # notch
        b0, b1, b2 = 1.0, -2 * cw, 1.0
        a0, a1, a2 = 1 + alpha, -2 * cw, 1 - alpha
    elif kind == 4:  # peak
        b0, b1, b2 = 1 + alpha * big_a, -2 * cw, 1 - alpha * big_a
        a0, a1, a2 = 1 + alpha / big_a, -2 * cw, 1 - alpha / big_a
    elif kind == 5:  # lowshelf
        sq = 2 * math.sqrt(big_a) * alpha
        b0 = big_a * ((big_a + 1) - (big_a - 1) * cw + sq)
        b1 = 2 * big_a * ((big_a - 1) - (big_a + 1) * cw)
        b2 = big_a * ((big_a + 1) - (big_a - 1) * cw - sq)
        a0 = (big_a + 1) + (big_a - 1) * cw + sq
        a1 = -2 * ((big_a - 1) + (big_a + 1) * cw)
        a2 = (big_a + 1) + (big_a - 1) * cw - sq
    else:  # highshelf
        sq = 2 * math.sqrt(big_a) * alpha
        b0 = big_a * ((big_a + 1) + (big_a - 1) * cw + sq)
        b1 = -2 * big_a * ((big_a - 1) + (big_a + 1) * cw)
        b2 = big_a * ((big_a + 1) + (big_a - 1) * cw - sq)
        a0 = (big_a + 1) - (big_a - 1) * cw + sq
        a1 = 2 * ((big_a - 1) - (big_a + 1) * cw)
        a2 = (big_a + 1) - (big_a - 1) * cw - sq
    out[0] = b0 / a0
    out[1] = b1 / a0
    out[2] = b2 / a0
    out[3] = a1 / a0
    out[4] = a2 / a0


def biquad_identity() -> np.ndarray:
    """Pass-through coefficients for a switched-off filter slot (ramping to or from it is click-free)."""
    return np.array([1.0, 0.0, 0.0, 0.0, 0.0], dtype=np.float64)


def biquad_state() -> np.ndarray:
    """Fresh state for :func:`biquad_block`: ``state[ch] = (s1, s2)`` of transposed direct form II."""
    return np.zeros((2, 2), dtype=np.float64)


@njit(cache=True, nogil=True)
def biquad_block_into(x, out, coeffs_from, coeffs_to, state):
    """Stereo TDF-II biquad writing into ``out`` (may be ``x`` itself for in-place use).

    Per sample, with coefficients c = [b0, b1, b2, a1, a2] ramped as described in the module docstring::

        y    = b0 * x + s1
        s1'  = b1 * x - a1 * y + s2
        s2'  = b2 * x - a2 * y
    """
    n = x.shape[0]
    if n == 0:
        return
    inv_n = 1.0 / n
    d0 = coeffs_to[0] - coeffs_from[0]
    d1 = coeffs_to[1] - coeffs_from[1]
    d2 = coeffs_to[2] - coeffs_from[2]
    d3 = coeffs_to[3] - coeffs_from[3]
    d4 = coeffs_to[4] - coeffs_from[4]
    ramp = d0 != 0.0 or d1 != 0.0 or d2 != 0.0 or d3 != 0.0 or d4 != 0.0
    b0 = coeffs_from[0]
    b1 = coeffs_from[1]
    b2 = coeffs_from[2]
    a1 = coeffs_from[3]
    a2 = coeffs_from[4]
    if not ramp:
        b0 = coeffs_to[0]
        b1 = coeffs_to[1]
        b2 = coeffs_to[2]
        a1 = coeffs_to[3]
        a2 = coeffs_to[4]
    s1l = state[0, 0]
    s2l = state[0, 1]
    s1r = state[1, 0]
    s2r = state[1, 1]
    for i in range(n):
        if ramp:
            t = (i + 1) * inv_n
            b0 = coeffs_from[0] + d0 * t
            b1 = coeffs_from[1] + d1 * t
            b2 = coeffs_from[2] + d2 * t
            a1 = coeffs_from[3] + d3 * t
            a2 = coeffs_from[4] + d4 * t
        xl = np.float64(x[i, 0])
        xr = np.float64(x[i, 1])
        if math.isnan(xl):  # one bad sample must not poison the recursion forever
            xl = 0.0
        if math.isnan(xr):
            xr = 0.0
        yl = b0 * xl + s1l
        yr = b0 * xr + s1r
        # Flush denormals per sample (not per block, so block splitting cannot change the output): a
        # decaying tail would otherwise slow every later block.
        if abs(yl) < 1e-30:
            yl = 0.0
        if abs(yr) < 1e-30:
            yr = 0.0
        s1l = b1 * xl - a1 * yl + s2l
        s1r = b1 * xr - a1 * yr + s2r
        s2l = b2 * xl - a2 * yl
        s2r = b2 * xr - a2 * yr
        out[i, 0] = yl
        out[i, 1] = yr
    state[0, 0] = s1l
    state[0, 1] = s2l
    state[1, 0] = s1r
    state[1, 1] = s2r


@njit(cache=True, nogil=True)
def biquad_block(x, coeffs_from, coeffs_to, state):
    """Stereo biquad over a float32 ``(frames, 2)`` block; returns a new float32 block.

    With ``coeffs_from == coeffs_to`` this equals ``scipy.signal.lfilter(b, [1, a1, a2], x, axis=0)``
    (with ``zi`` carried between calls). ``state`` is ``(2, 2)`` float64, updated in place.
    """
    out = np.empty((x.shape[0], 2), dtype=np.float32)
    biquad_block_into(x, out, coeffs_from, coeffs_to, state)
    return out


@njit(cache=True, nogil=True)
def biquad_cascade_into(x, coeffs_from, coeffs_to, state, bands):
    """``bands`` biquads in series over ``x`` in place: row ``k`` of ``coeffs_from``/``coeffs_to`` (B, 5)
    ramps as in :func:`biquad_block_into`, ``state`` (B, 2, 2). Band by band over the whole block, so
    one band gives exactly what :func:`biquad_block_into` gives.
    """
    for k in range(bands):
        biquad_block_into(x, x, coeffs_from[k], coeffs_to[k], state[k])


def one_pole_lowpass_coeff(fc: float, sr: float) -> float:
    """Smoothing coefficient ``a = 1 - exp(-2 pi fc / sr)`` of :func:`one_pole_block`.

    This is the impulse-invariant one-pole: its step response reaches 1 - 1/e after ``sr / (2 pi fc)``
    samples. ``fc <= 0`` gives 0 (frozen output); very high ``fc`` approaches 1 (pass-through).
    """
    if not (math.isfinite(fc) and math.isfinite(sr) and sr > 0):
        raise EngineError(f"one-pole fc={fc}, sr={sr}: both must be finite and sr > 0")
    if fc <= 0.0:
        return 0.0
    return 1.0 - math.exp(-2.0 * math.pi * fc / sr)


def one_pole_state() -> np.ndarray:
    """Fresh state for the one-pole kernels: the low-pass output ``y[n-1]`` per channel, shape (2,)."""
    return np.zeros(2, dtype=np.float64)


@njit(cache=True, nogil=True)
def one_pole_block_into(x, out, a_from, a_to, state, highpass):
    """Shared one-pole kernel; ``highpass`` selects ``x - lowpass(x)``. ``out`` may be ``x``.

    Per sample, with ``a`` ramped linearly like the biquad coefficients::

        lp[n] = lp[n-1] + a * (x[n] - lp[n-1])       (scipy: b = [a], a = [1, a - 1])
        hp[n] = x[n] - lp[n]                          (scipy: b = [1 - a, a - 1], a = [1, a - 1])
    """
    n = x.shape[0]
    if n == 0:
        return
    inv_n = 1.0 / n
    da = a_to - a_from
    yl = state[0]
    yr = state[1]
    a = a_to
    for i in range(n):
        if da != 0.0:
            a = a_from + da * ((i + 1) * inv_n)
        xl = np.float64(x[i, 0])
        xr = np.float64(x[i, 1])
        if math.isnan(xl):  # one bad sample must not poison the recursion forever
            xl = 0.0
        if math.isnan(xr):
            xr = 0.0
        yl += a * (xl - yl)
        yr += a * (xr - yr)
        if abs(yl) < 1e-30:  # denormal flush, per sample so block splits cannot change the output
            yl = 0.0
        if abs(yr) < 1e-30:
            yr = 0.0
        if highpass:
            out[i, 0] = xl - yl
            out[i, 1] = xr - yr
        else:
            out[i, 0] = yl
            out[i, 1] = yr
    state[0] = yl
    state[1] = yr


@njit(cache=True, nogil=True)
def one_pole_block(x, a_from, a_to, state):
    """One-pole low-pass ``y += a (x - y)`` over a stereo block; returns a new float32 block."""
    out = np.empty((x.shape[0], 2), dtype=np.float32)
    one_pole_block_into(x, out, a_from, a_to, state, False)
    return out


@njit(cache=True, nogil=True)
def one_pole_highpass_block(x, a_from, a_to, state):
    """One-pole high-pass ``x - lowpass(x)`` (the low-pass memory is the state); returns a new block."""
    out = np.empty((x.shape[0], 2), dtype=np.float32)
    one_pole_block_into(x, out, a_from, a_to, state, True)
    return out
