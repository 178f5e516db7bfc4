"""Control-rate targets: turn each voice's parameters and 3D pose into this block's ramp ends.

Runs once per block for all voices in one compiled call: gain and equal-power pan, distance
attenuation, listener-relative azimuth, Doppler, binaural delays and head-shadow coefficients, and
the one-pole filter coefficients. The voice kernel then ramps from the previous block's values to
these, so every change is click-free.
"""

from __future__ import annotations

import math

from numba import njit

from .dsp.pan import ROLLOFF_TABLE, distance_gain_code, equal_power_pan
from .dsp.spatial import DOPPLER_MAX, DOPPLER_MIN, SPEED_OF_SOUND, binaural_params
from .voices import (
    BIN,
    BL_A1,
    BL_B0,
    BL_B1,
    BR_A1,
    BR_B0,
    BR_B1,
    CH,
    DIRTY,
    DL1,
    DR1,
    FREE,
    GL1,
    GR1,
    HPA0,
    HPA1,
    HPM1,
    LPA1,
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
    RATE1,
    SND0,
    SPATIAL,
    ST,
)

ROLLOFF_CUSTOM = ROLLOFF_TABLE
MAX_TABLE_POINTS = 16


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
            yu = dx * ux + dy * uy + dz * uz
            zf = dx * fx + dy * fy + dz * fz
            if d > 1e-9:
                az = math.atan2(xr, zf)
                el = math.atan2(yu, math.sqrt(xr * xr + zf * zf))
            else:
                az = 0.0
                el = 0.0
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
                dl, dr, cl, cr = binaural_params(az, el, sr)
                F[v, DL1] = dl
                F[v, DR1] = dr
                F[v, BL_B0] = cl[0]
                F[v, BL_B1] = cl[1]
                F[v, BL_A1] = cl[2]
                F[v, BR_B0] = cr[0]
                F[v, BR_B1] = cr[1]
                F[v, BR_A1] = cr[2]
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
