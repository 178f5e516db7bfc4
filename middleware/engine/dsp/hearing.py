"""Hearing-profile kernels: a per-ear compensation EQ, a loudness-keeping mono fold, a loudness-range
compressor. One job each; the effect instance that strings them together for the master chain is
``middleware/accessibility/compensation.py``.

Conventions follow the other kernels (``dsp/__init__.py``): float32 ``(frames, 2)`` blocks processed in
place, float64 state owned by the caller, every changing value ramped per sample so that a profile switched
live cannot click, design and validation in Python, never inside the compiled loops.

**Compensation EQ.** One RBJ peaking biquad (``filters.biquad_coeffs``) per audiogram frequency, per ear.
Neighbouring peaks overlap, so their gains are not the wanted band gains: :func:`design_peak_eq` solves
for the gains that make the *cascade's* response hit the targets at the centre frequencies (a Newton
iteration on the interaction matrix, evaluated exactly with :func:`cascade_response_db`), which lands
within 0.01 dB of the targets for octave-spaced bands. Peaks, unlike shelves, return to 0 dB below the
lowest and above the highest band, so nothing is boosted where no threshold was measured.
:func:`eq_cascade_block` differs from ``filters.biquad_block_into`` only in taking different coefficients
per channel (left ear, right ear) and a whole cascade in one compiled call.

**Mono fold.** ``m = (L + R) / 2`` on both channels loses loudness whenever L and R differ (uncorrelated
content: -3 LU). :func:`mono_block` tracks the BS.1770 K-weighted energy of the input and of the fold
(K-weighting is linear, so the fold's K-weighted signal is the fold of the K-weighted channels) and applies
``sqrt(E_in / E_mono)``, clamped to ``0 .. MONO_MAX_GAIN_DB`` (anti-phase content would ask for infinity).

**Loudness-range compressor.** :func:`range_compressor_block` keeps the short-term loudness inside a
window ``lra_lu`` wide around the programme's own (slowly tracked, gated) level: above the window the excess
is divided by ``ratio``, below it quiet passages are raised by at most ``max_boost_db`` (near-silence,
``BOOST_FLOOR_LU`` under the programme, is left alone so noise floors are not pumped up). The output's
EBU Tech 3342 loudness range therefore approaches the window width.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ...errors import EngineError
from .filters import biquad_block_into, biquad_coeffs

EQ_Q = 1.4
"""Q of each band's peaking filter: about one octave wide, matching octave-spaced audiogram bands."""
EQ_FIT_ITERATIONS = 8
EQ_MAX_BAND_FREQ = 0.45
"""Bands at or above this fraction of the sample rate are left out (the bilinear warp squeezes them)."""

MONO_MAX_GAIN_DB = 6.0
MONO_TAU_S = 1.0
"""Smoothing of the energies the mono fold's loudness gain is computed from."""

DETECTOR_TAU_S = 0.4  # the compressor's level detector (BS.1770's momentary window)
CENTER_TAU_S = 60.0  # memory of the programme's own level (the window's centre)
ATTACK_TAU_S = 0.1
RELEASE_TAU_S = 0.8
ABS_GATE_LUFS = -70.0
REL_GATE_LU = -20.0  # as in EBU Tech 3342's LRA
BOOST_FLOOR_LU = 30.0
BOOST_FADE_LU = 10.0

# range compressor parameter vector (one float64 array so a mode switch is one reference swap)
P_WIDTH, P_RATIO, P_BOOST, P_DET, P_CENTER, P_ATTACK, P_RELEASE, P_WARM = range(8)
N_PARAMS = 8
# range compressor state
S_DET, S_CENTER, S_GAIN_DB, S_SEEN, S_GATED = range(5)


# --- compensation EQ -----------------------------------------------------------------------------------


def cascade_response_db(coeffs: np.ndarray, freqs: np.ndarray, sr: float) -> np.ndarray:
    """Magnitude (dB) of a cascade of ``[b0, b1, b2, a1, a2]`` rows at ``freqs`` (Hz), evaluated exactly."""
    c = np.atleast_2d(np.asarray(coeffs, dtype=np.float64))
    z1 = np.exp(-2j * np.pi * np.asarray(freqs, dtype=np.float64) / sr)
    z2 = z1 * z1
    h = np.ones_like(z1)
    for b0, b1, b2, a1, a2 in c:
        h *= (b0 + b1 * z1 + b2 * z2) / (1.0 + a1 * z1 + a2 * z2)
    return 20.0 * np.log10(np.abs(h))


def _peaks(freqs: np.ndarray, gains_db: np.ndarray, q: float, sr: float) -> np.ndarray:
    return np.array(
        [biquad_coeffs("peak", float(f), q, float(g), sr) for f, g in zip(freqs, gains_db, strict=True)]
    )


def design_peak_eq(freqs, gains_db, sr: float, q: float = EQ_Q) -> np.ndarray:
    """Peaking biquads at ``freqs`` whose cascade has ``gains_db`` at those frequencies; ``(len, 5)``.

    Bands at or above ``EQ_MAX_BAND_FREQ * sr`` get identity-gain peaks (0 dB), so the array shape
    never depends on the sample rate.
    """
    f = np.asarray(freqs, dtype=np.float64)
    target = np.asarray(gains_db, dtype=np.float64)
    if f.shape != target.shape or f.ndim != 1:
        raise EngineError(f"hearing EQ: {f.size} frequencies but {target.size} gains")
    if not np.all(np.isfinite(target)) or np.any(np.abs(target) > 60.0):
        raise EngineError(f"hearing EQ gains={target.tolist()}: must be finite and within -60..60 dB")
    usable = f < EQ_MAX_BAND_FREQ * sr
    g = np.where(usable, target, 0.0)
    fu = np.where(usable, f, 0.25 * sr)  # a placeholder centre for unused slots (their gain stays 0)
    if not np.any(g != 0.0):
        return _peaks(fu, g, q, sr)
    # The cascade's dB response is nearly linear in each band's dB gain: column j of ``jac`` is the
    # response of band j alone at 1 dB. Iterating ``g += jac^-1 (target - response(g))`` removes what the
    # linear model misses.
    jac = np.eye(f.size)
    for j in np.flatnonzero(usable):
        unit = np.zeros(f.size)
        unit[j] = 1.0
        jac[usable, j] = cascade_response_db(_peaks(fu, unit, q, sr), fu, sr)[usable]
    for _ in range(EQ_FIT_ITERATIONS):
        resp = cascade_response_db(_peaks(fu, g, q, sr), fu, sr)
        err = np.where(usable, target - resp, 0.0)
        if np.max(np.abs(err)) < 1e-4:
            break
        g = np.clip(g + np.linalg.solve(jac, err), -60.0, 60.0)
    return _peaks(fu, g, q, sr)


@njit(cache=True, nogil=True)
def lerp_into(out, a, b, t):
    """``out = a + (b - a) * t`` elementwise over same-shaped float64 arrays, no temporaries."""
    fa = a.ravel()
    fb = b.ravel()
    fo = out.ravel()
    for i in range(fo.size):
        fo[i] = fa[i] + (fb[i] - fa[i]) * t


@njit(cache=True, nogil=True)
def eq_cascade_block(x, c_from, c_to, state):
    """Per-ear cascade of TDF-II biquads over ``x`` (frames, 2) float32, in place.

    ``c_from``/``c_to`` are ``(2 ears, bands, 5)`` float64 ``[b0, b1, b2, a1, a2]``, ramped per sample as
    in ``filters.biquad_block_into`` (sample ``i`` uses ``from + (to - from) * (i + 1) / n``); ``state``
    is ``(2, bands, 2)`` float64. Channel 0 takes ear 0's coefficients, channel 1 ear 1's.
    """
    n = x.shape[0]
    if n == 0:
        return
    nb = c_from.shape[1]
    inv_n = 1.0 / n
    for ch in range(2):
        for b in range(nb):
            d0 = c_to[ch, b, 0] - c_from[ch, b, 0]
            d1 = c_to[ch, b, 1] - c_from[ch, b, 1]
            d2 = c_to[ch, b, 2] - c_from[ch, b, 2]
            d3 = c_to[ch, b, 3] - c_from[ch, b, 3]
            d4 = c_to[ch, b, 4] - c_from[ch, b, 4]
            s1 = state[ch, b, 0]
            s2 = state[ch, b, 1]
            for i in range(n):
                t = (i + 1) * inv_n
                b0 = c_from[ch, b, 0] + d0 * t
                b1 = c_from[ch, b, 1] + d1 * t
                b2 = c_from[ch, b, 2] + d2 * t
                a1 = c_from[ch, b, 3] + d3 * t
                a2 = c_from[ch, b, 4] + d4 * t
                xv = np.float64(x[i, ch])
                if math.isnan(xv):
                    xv = 0.0
                y = b0 * xv + s1
                if abs(y) < 1e-30:  # denormal flush, per sample so block splits cannot change the output
                    y = 0.0
                s1 = b1 * xv - a1 * y + s2
                s2 = b2 * xv - a2 * y
                x[i, ch] = y
            state[ch, b, 0] = s1
            state[ch, b, 1] = s2


# --- shared: K-weighted side chain ----------------------------------------------------------------------


def k_weight_into(x: np.ndarray, out: np.ndarray, kcoeffs: np.ndarray, kstate: np.ndarray) -> None:
    """BS.1770 K-weighting of ``x`` into ``out`` (same shape) with ``loudness.k_weighting_coeffs``'s two
    stages and a caller-owned ``(2, 2, 2)`` state; the engine's own biquad kernel does the work."""
    biquad_block_into(x, out, kcoeffs[0], kcoeffs[0], kstate[0])
    biquad_block_into(out, out, kcoeffs[1], kcoeffs[1], kstate[1])


# --- mono fold ------------------------------------------------------------------------------------------


def mono_state() -> np.ndarray:
    """``[E_in, E_mono, gain, started]`` of :func:`mono_block`."""
    return np.array([0.0, 0.0, 1.0, 0.0])


@njit(cache=True, nogil=True)
def mono_block(x, k, w_from, w_to, state, coeff, max_gain):
    """Fold ``x`` toward mono in place, keeping its K-weighted loudness.

    ``k`` is the K-weighted input (same frames); ``w`` (0 = stereo, 1 = mono) ramps per sample from
    ``w_from`` to ``w_to``; ``coeff`` is the one-pole coefficient of the energy trackers; ``max_gain``
    linear. Output per channel: ``(1 - w) * x + w * g * (L + R) / 2``.
    """
    n = x.shape[0]
    if n == 0:
        return
    e_in = state[0]
    e_mo = state[1]
    g = state[2]
    started = state[3] > 0.0
    dw = w_to - w_from
    inv_n = 1.0 / n
    gate = 10.0 ** ((ABS_GATE_LUFS + 0.691) / 10.0)
    for i in range(n):
        kl = np.float64(k[i, 0])
        kr = np.float64(k[i, 1])
        if math.isnan(kl) or math.isnan(kr):
            kl = 0.0
            kr = 0.0
        p_in = kl * kl + kr * kr
        km = 0.5 * (kl + kr)
        p_mo = 2.0 * km * km
        if not started:
            e_in = p_in
            e_mo = p_mo
            started = True
        else:
            e_in += coeff * (p_in - e_in)
            e_mo += coeff * (p_mo - e_mo)
        if e_in > gate:  # below the absolute gate, hold the last gain (silence says nothing)
            if e_mo * max_gain * max_gain <= e_in:
                g = max_gain
            else:
                g = math.sqrt(e_in / e_mo)
                if g < 1.0:
                    g = 1.0
        w = w_from + dw * ((i + 1) * inv_n)
        xl = np.float64(x[i, 0])
        xr = np.float64(x[i, 1])
        m = 0.5 * (xl + xr) * g
        x[i, 0] = (1.0 - w) * xl + w * m
        x[i, 1] = (1.0 - w) * xr + w * m
    state[0] = e_in
    state[1] = e_mo
    state[2] = g
    state[3] = 1.0


# --- loudness-range compressor --------------------------------------------------------------------------


def range_params(lra_lu: float | None, ratio: float, max_boost_db: float, sr: float) -> np.ndarray:
    """Parameter vector of :func:`range_compressor_block`; ``lra_lu=None`` is a pass-through (ratio 1)."""
    if not (math.isfinite(sr) and sr > 0):
        raise EngineError(f"sample rate={sr}: must be a finite number > 0")
    p = np.zeros(N_PARAMS)
    if lra_lu is None:
        p[P_WIDTH], p[P_RATIO], p[P_BOOST] = 1e9, 1.0, 0.0
    else:
        if not (math.isfinite(lra_lu) and lra_lu > 0 and math.isfinite(ratio) and ratio >= 1.0):
            raise EngineError(f"range compressor lra={lra_lu} LU, ratio={ratio}: need lra > 0 and ratio >= 1")
        if not (math.isfinite(max_boost_db) and 0.0 <= max_boost_db <= 24.0):
            raise EngineError(f"range compressor max_boost_db={max_boost_db}: must be within 0..24 dB")
        p[P_WIDTH], p[P_RATIO], p[P_BOOST] = lra_lu, ratio, max_boost_db
    for idx, tau in (
        (P_DET, DETECTOR_TAU_S),
        (P_CENTER, CENTER_TAU_S),
        (P_ATTACK, ATTACK_TAU_S),
        (P_RELEASE, RELEASE_TAU_S),
    ):
        p[idx] = 1.0 - math.exp(-1.0 / (tau * sr))
    p[P_WARM] = round(DETECTOR_TAU_S * sr)
    return p


def range_state() -> np.ndarray:
    """``[detector energy, centre energy, gain dB, frames seen, frames gated in]`` of
    :func:`range_compressor_block`."""
    return np.zeros(5)


@njit(cache=True, nogil=True)
def range_target_db(level, center_level, width, ratio, max_boost):
    """Static curve: gain (dB) for a detected ``level`` given the programme level (both LUFS)."""
    d = level - center_level
    half = 0.5 * width
    slope = 1.0 - 1.0 / ratio
    if d > half:
        return -(d - half) * slope
    if d < -half:
        boost = min((-half - d) * slope, max_boost)
        if d < -BOOST_FLOOR_LU:  # near-silence: fade the boost out instead of lifting the noise floor
            boost *= max(0.0, 1.0 - (-BOOST_FLOOR_LU - d) / BOOST_FADE_LU)
        return boost
    return 0.0


@njit(cache=True, nogil=True)
def range_compressor_block(x, k, params, state):
    """Compress ``x`` in place toward the loudness window in ``params`` (see module doc); stereo-linked.

    ``k`` is ``x``'s K-weighted copy (the detector's input).
    """
    n = x.shape[0]
    det = state[S_DET]
    cen = state[S_CENTER]
    gdb = state[S_GAIN_DB]
    seen = state[S_SEEN]
    gated = state[S_GATED]
    width = params[P_WIDTH]
    ratio = params[P_RATIO]
    boost = params[P_BOOST]
    a_det = params[P_DET]
    a_cen = params[P_CENTER]
    a_att = params[P_ATTACK]
    a_rel = params[P_RELEASE]
    warm = params[P_WARM]
    for i in range(n):
        kl = np.float64(k[i, 0])
        kr = np.float64(k[i, 1])
        p = kl * kl + kr * kr
        if not (p <= 1e30):  # NaN or absurd: ignore the sample rather than poison the state
            p = det
        det += a_det * (p - det)
        seen += 1.0
        target = 0.0
        if det > 0.0 and seen >= warm:
            level = -0.691 + 10.0 * math.log10(det)
            if level > ABS_GATE_LUFS:
                if cen <= 0.0 or level > -0.691 + 10.0 * math.log10(cen) + REL_GATE_LU:
                    # running mean of the gated level (BS.1770's integrated loudness) until CENTER_TAU_S
                    # worth of audio has passed it, then an exponential memory of that length
                    gated += 1.0
                    cen += max(a_cen, 1.0 / gated) * (det - cen)
                target = range_target_db(level, -0.691 + 10.0 * math.log10(cen), width, ratio, boost)
        gdb += (a_att if target < gdb else a_rel) * (target - gdb)
        if abs(gdb) < 1e-6:  # a 1e-6 dB step is inaudible; snapping lets the compressor switch off
            gdb = 0.0
        g = 10.0 ** (gdb / 20.0)
        x[i, 0] = np.float64(x[i, 0]) * g
        x[i, 1] = np.float64(x[i, 1]) * g
    state[S_DET] = det
    state[S_CENTER] = cen
    state[S_GAIN_DB] = gdb
    state[S_SEEN] = seen
    state[S_GATED] = gated


_WARM = False


def warm_up() -> None:
    """Run every kernel here once per process, so numba loads (or compiles) them now, from the thread that
    prepares the effect, not on the render thread the first time a player turns a setting on."""
    global _WARM
    if _WARM:
        return
    x = np.zeros((4, 2), dtype=np.float32)
    k = np.zeros((4, 2), dtype=np.float32)
    c = np.zeros((2, 1, 5))
    c[:, :, 0] = 1.0
    lerp_into(c, c, c, 1.0)
    k_weight_into(x, k, np.ascontiguousarray(c[:, 0]), np.zeros((2, 2, 2)))
    eq_cascade_block(x, c, c, np.zeros((2, 1, 2)))
    mono_block(x, k, 0.0, 1.0, mono_state(), 0.5, 2.0)
    range_compressor_block(x, k, range_params(2.0, 10.0, 12.0, 48000.0), range_state())
    _WARM = True
