"""Control-rate targets: turn each voice's parameters and 3D pose into this block's ramp ends.

Runs once per block for all voices in one compiled call: gain and equal-power pan, distance
attenuation, listener-relative azimuth, Doppler, binaural delays and head-shadow coefficients, and
the one-pole filter coefficients. The voice kernel then ramps from the previous block's values to
these, so every change is click-free.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .dsp.pan import ROLLOFF_TABLE, distance_gain_code, equal_power_pan
from .dsp.spatial import DOPPLER_MAX, DOPPLER_MIN, SPEED_OF_SOUND, binaural_params_into
from .specs import MAX_ROLLOFF_POINTS
from .voices import (
    AUD,
    BIN,
    BL_B0,
    BR_B0,
    CH,
    DIRTY,
    DL1,
    DR1,
    ENV,
    FREE,
    GL0,
    GL1,
    GR0,
    GR1,
    HPA0,
    HPA1,
    HPM1,
    HPSL,
    HPSR,
    LPA1,
    LPSL,
    LPSR,
    MAX_SENDS,
    P_DOPPLER,
    P_GAIN,
    P_HP,
    P_LP,
    P_MAXD,
    P_MIND,
    P_PAN,
    P_PITCH,
    P_ROLLOFF,
    P_SENDG,
    P_TABLE,
    P_VX,
    P_VY,
    P_VZ,
    P_X,
    P_Y,
    P_Z,
    PLAYING,
    PRIO,
    RATE1,
    SND0,
    SPATIAL,
    ST,
    VIRTUAL,
)

ROLLOFF_CUSTOM = ROLLOFF_TABLE
MAX_TABLE_POINTS = MAX_ROLLOFF_POINTS


@njit(cache=True, nogil=True, inline="always")
def one_pole_coeff(fc: float, sr: float) -> float:
    """Coefficient of y += a * (x - y) for a -3 dB-ish cutoff fc (a = 1 - exp(-2 pi fc / sr))."""
    if fc <= 0.0 or fc >= 0.5 * sr:
        return 1.0
    return 1.0 - math.exp(-2.0 * math.pi * fc / sr)


@njit(cache=True, nogil=True, inline="always")
def _table_gain(d, min_d, max_d, mode, tables, t):
    """Distance gain with custom tables stored NaN-padded in one (T, points, 2) array."""
    k = 1
    while k < tables.shape[1] and not math.isnan(tables[t, k, 0]):
        k += 1
    return distance_gain_code(d, min_d, max_d, mode, tables[t, :k, 0], tables[t, :k, 1])


@njit(cache=True, nogil=True)
def compute_targets(I, F, P, listener, tables, sr, listener_moved):
    """Write GL1/GR1/RATE1/LPA1/HPA1/sends (and binaural fields) for every changed voice.

    Only voices flagged ``DIRTY`` (new, or changed by an API call) and, when the listener moved,
    3D voices are recomputed: the others keep last block's targets.

    ``listener`` is float64[12]: position(3), forward(3), up(3), velocity(3); forward and up are
    unit length and orthogonal (the engine normalises them when they are set).
    """
    lx, ly, lz = listener[0], listener[1], listener[2]
    fx, fy, fz = listener[3], listener[4], listener[5]
    ux, uy, uz = listener[6], listener[7], listener[8]
    # right = forward x up (OpenGL: forward -Z, up +Y -> right +X)
    rx = fy * uz - fz * uy
    ry = fz * ux - fx * uz
    rz = fx * uy - fy * ux
    for v in range(I.shape[0]):
        if I[v, ST] == FREE:
            continue
        if I[v, DIRTY] == 0 and not (listener_moved and I[v, SPATIAL] == 1):
            continue  # nothing changed: last block's targets still hold
        I[v, DIRTY] = 0
        gain = P[v, P_GAIN]
        pan = P[v, P_PAN]
        rate = P[v, P_PITCH]
        if I[v, SPATIAL] == 1:
            dx = P[v, P_X] - lx
            dy = P[v, P_Y] - ly
            dz = P[v, P_Z] - lz
            d = math.sqrt(dx * dx + dy * dy + dz * dz)
            gain *= _table_gain(
                d, P[v, P_MIND], P[v, P_MAXD], int(P[v, P_ROLLOFF]), tables, int(P[v, P_TABLE])
            )
            xr = dx * rx + dy * ry + dz * rz
            # Conventions (pan = x / distance, Doppler formula) as documented in dsp/spatial.py.
            pan = xr / d if d > 1e-9 else 0.0
            amount = P[v, P_DOPPLER]
            if amount > 0.0 and d > 1e-9:
                inv = 1.0 / d
                # u points from the listener to the source.
                vl = (listener[9] * dx + listener[10] * dy + listener[11] * dz) * inv
                vs = (P[v, P_VX] * dx + P[v, P_VY] * dy + P[v, P_VZ] * dz) * inv
                num = SPEED_OF_SOUND + amount * vl
                den = SPEED_OF_SOUND + amount * vs
                if den <= 0.0:
                    ratio = DOPPLER_MAX
                elif num <= 0.0:
                    ratio = DOPPLER_MIN
                else:
                    ratio = min(max(num / den, DOPPLER_MIN), DOPPLER_MAX)
                rate *= ratio
            if I[v, BIN] == 1:
                az = 0.0
                el = 0.0
                if d > 1e-9:  # angles only for binaural voices: two atan2 per voice add up at scale
                    yu = dx * ux + dy * uy + dz * uz
                    zf = dx * fx + dy * fy + dz * fz
                    az = math.atan2(xr, zf)
                    el = math.atan2(yu, math.sqrt(xr * xr + zf * zf))
                dl, dr = binaural_params_into(
                    az, el, sr, F[v, BL_B0 : BL_B0 + 3], F[v, BR_B0 : BR_B0 + 3]
                )  # coefficient fields are (b0, b1, a1) in order, so views receive them in place
                F[v, DL1] = dl
                F[v, DR1] = dr
                pan = 0.0
        if I[v, BIN] == 1:
            gl = gain
            gr = gain
        elif I[v, CH] == 2 and I[v, SPATIAL] == 0:
            # Stereo source: pan is a balance that keeps the centre at unity.
            pl, pr = equal_power_pan(pan)
            gl = gain * min(1.0, pl * math.sqrt(2.0))
            gr = gain * min(1.0, pr * math.sqrt(2.0))
        else:
            pl, pr = equal_power_pan(pan)
            gl = gain * pl
            gr = gain * pr
        F[v, GL1] = gl
        F[v, GR1] = gr
        F[v, AUD] = max(gl, gr)
        F[v, RATE1] = rate
        F[v, LPA1] = one_pole_coeff(P[v, P_LP], sr)
        hp = P[v, P_HP]
        if hp > 0.0:
            F[v, HPA1] = one_pole_coeff(hp, sr)
            F[v, HPM1] = 1.0
        else:  # off: keep the coefficient, fade the filtered path out
            F[v, HPA1] = F[v, HPA0]
            F[v, HPM1] = 0.0
        for s in range(MAX_SENDS):
            F[v, SND0 + 2 * s + 1] = P[v, P_SENDG + s]


@njit(cache=True, nogil=True)
def pack_field(values, col, a, lo, hi, open_lo, open_hi, db):
    """Check one set_voices field ``a`` (n, w) and copy it into ``values[:, col:col + w]``.

    Every entry must be finite and within [lo, hi] (``open_lo``/``open_hi`` exclude the bound);
    ``db`` converts decibels to the linear gain the parameter table holds, with the same
    ``10 ** (dB / 20)`` as ``db_to_gain``. Returns the first bad row, or -1 when all are good.
    One compiled pass instead of several numpy reductions: validating is then cheaper than the
    game's own work of computing the values.
    """
    for i in range(a.shape[0]):
        for k in range(a.shape[1]):
            x = a[i, k]
            if not math.isfinite(x) or x < lo or x > hi or (open_lo and x == lo) or (open_hi and x == hi):
                return i
            values[i, col + k] = 10.0 ** (x / 20.0) if db else x
    return -1


@njit(cache=True, nogil=True)
def apply_params(I, P, live_handles, live_slots, handles, cols, values):
    """Write ``values[i, k]`` into ``P[slot of handles[i], cols[k]]`` and flag those voices ``DIRTY``.

    The bulk counterpart of one ``set_voice`` per handle (same fields, same targets next block).
    ``live_handles`` is sorted and ``live_slots`` the slot of each (the engine's handle index);
    a handle not found there, or whose slot has been freed, is stale and skipped. Returns the
    number of stale handles. Repeated handles: the last row wins, as with repeated calls.
    """
    stale = 0
    m = live_handles.shape[0]
    j = 0
    prev = -1
    for i in range(handles.shape[0]):
        h = handles[i]
        if h >= prev:  # ascending handles (the usual order: creation order) walk the index forwards:
            while j < m and live_handles[j] < h:  # linear in handles + voices, no cache-missing search
                j += 1
        else:
            j = np.searchsorted(live_handles, h)
        prev = h
        if j >= m or live_handles[j] != h:
            stale += 1
            continue
        s = live_slots[j]
        if I[s, ST] == FREE:
            stale += 1
            continue
        for k in range(cols.shape[0]):
            P[s, cols[k]] = values[i, k]
        I[s, DIRTY] = 1
    return stale


@njit(cache=True, nogil=True, inline="always")
def _louder(pa, aa, pb, ab):
    """Ranking order: higher priority first, then higher audibility."""
    return pa > pb or (pa == pb and aa > ab)


@njit(cache=True, nogil=True)
def settle_virtual(I, going):
    """After a block: the voices that faded out in it (still playing) become virtual; returns how
    many voices are virtual now (one compiled pass, no numpy temporaries per block)."""
    for j in range(going.shape[0]):
        v = going[j]
        if I[v, ST] == PLAYING:
            I[v, ST] = VIRTUAL
    n = 0
    for v in range(I.shape[0]):
        if I[v, ST] == VIRTUAL:
            n += 1
    return n


@njit(cache=True, nogil=True)
def rank_voices(I, F, limit, keep_bonus, work, aud, going):
    """Keep the ``limit`` most audible voices real, the rest virtual; O(voices) per block.

    Audibility is (priority, then ``AUD`` x envelope), ``AUD`` being the target gain with distance
    attenuation that ``compute_targets`` wrote. A real voice counts ``keep_bonus`` times louder so
    near-equal voices do not swap every block. Selection is a three-way quickselect (linear on
    average, also with many equal keys), not a sort.

    A virtual voice that ranks in comes back now: its gains ramp from 0 over this block and its
    filters restart from rest (``GL1`` holds its true target, see below). A real voice that ranks
    out fades to 0 over this block (``GL1 = 0``) and is flagged ``DIRTY`` so the next block's
    targets restore ``GL1`` while it is virtual. Its slot is written to ``going``; the engine marks
    it ``VIRTUAL`` after rendering (``settle_virtual``). ``work``, ``going`` (int64) and ``aud``
    (float64) are scratch of at least
    ``I.shape[0]``. Returns ``(n_going, n_coming)``.
    """
    prio = going  # scratch until the selection is done: priorities side by side, not row by row
    m = 0
    for v in range(I.shape[0]):
        st = I[v, ST]
        if st == FREE:
            continue
        work[m] = v
        prio[m] = I[v, PRIO]
        a = F[v, AUD] * max(F[v, ENV], 1e-3)
        aud[m] = a * keep_bonus if st == PLAYING else a
        m += 1
    k = limit if limit < m else m
    # Three-way quickselect: afterwards work[:k] are the k loudest (ties broken arbitrarily).
    lo = 0
    hi = m - 1
    while lo < hi and k < m:
        mid = (lo + hi) // 2
        pp = prio[mid]
        pa = aud[mid]
        lt = lo
        i = lo
        gt = hi
        while i <= gt:
            ci = prio[i]
            if _louder(ci, aud[i], pp, pa):
                work[lt], work[i] = work[i], work[lt]
                aud[lt], aud[i] = aud[i], aud[lt]
                prio[lt], prio[i] = prio[i], prio[lt]
                lt += 1
                i += 1
            elif _louder(pp, pa, ci, aud[i]):
                work[gt], work[i] = work[i], work[gt]
                aud[gt], aud[i] = aud[i], aud[gt]
                prio[gt], prio[i] = prio[i], prio[gt]
                gt -= 1
            else:
                i += 1
        if k - 1 < lt:
            hi = lt - 1
        elif k - 1 > gt:
            lo = gt + 1
        else:
            break
    n_coming = 0
    for j in range(k):
        v = work[j]
        if I[v, ST] == VIRTUAL:
            I[v, ST] = PLAYING
            F[v, GL0] = 0.0  # fade back in over this block from silence
            F[v, GR0] = 0.0
            F[v, LPSL] = 0.0
            F[v, LPSR] = 0.0
            F[v, HPSL] = 0.0
            F[v, HPSR] = 0.0
            n_coming += 1
    n_going = 0
    for j in range(k, m):
        v = work[j]
        if I[v, ST] == PLAYING:
            F[v, GL1] = 0.0
            F[v, GR1] = 0.0
            I[v, DIRTY] = 1
            going[n_going] = v
            n_going += 1
    return n_going, n_coming
