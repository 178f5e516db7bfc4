"""Equal-power panning and distance attenuation curves.

The scalar functions are numba-compiled so the voice kernel can call them per voice; the array versions
serve control-rate code (one call for all voices). Curve validation (``make_rolloff``) happens where the
curve enters the engine, never in the kernels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numba import njit

from ...errors import EngineError

ROLLOFF_INVERSE = 0
ROLLOFF_LINEAR = 1
ROLLOFF_TABLE = 2


@njit(cache=True, nogil=True)
def equal_power_pan(pan):
    """Gains ``(left, right)`` for ``pan`` in [-1, 1]: ``theta = (pan + 1) pi / 4``, L = cos, R = sin.

    Centre gives cos(pi/4) = 0.7071 on both sides, so L^2 + R^2 = 1 everywhere: a source panned across
    the field keeps its power. Values outside [-1, 1] (and NaN, as 0) are clamped.
    """
    if math.isnan(pan):
        pan = 0.0
    if pan < -1.0:
        pan = -1.0
    elif pan > 1.0:
        pan = 1.0
    theta = (pan + 1.0) * (math.pi / 4.0)
    return math.cos(theta), math.sin(theta)


def equal_power_pan_array(pan: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`equal_power_pan`; returns float64 arrays ``(left, right)`` shaped like ``pan``."""
    p = np.nan_to_num(np.asarray(pan, dtype=np.float64), nan=0.0)
    theta = (np.clip(p, -1.0, 1.0) + 1.0) * (np.pi / 4.0)
    return np.cos(theta), np.sin(theta)


@njit(cache=True, nogil=True)
def distance_gain_inverse(d, min_d, max_d):
    """OpenAL "inverse distance clamped" with rolloff 1: ``min_d / clamp(d, min_d, max_d)``.

    Full gain inside ``min_d``; beyond ``max_d`` the gain holds at ``min_d / max_d``.
    """
    if d < min_d:
        d = min_d
    if d > max_d:
        d = max_d
    return min_d / d


@njit(cache=True, nogil=True)
def distance_gain_linear(d, min_d, max_d):
    """OpenAL "linear distance clamped", rolloff 1: ``1 - (d - min) / (max - min)``, clamped to [0, 1]."""
    if d <= min_d:
        return 1.0
    if d >= max_d:
        return 0.0
    return 1.0 - (d - min_d) / (max_d - min_d)


@njit(cache=True, nogil=True)
def distance_gain_table(d, table_d, table_db):
    """Piecewise-linear custom curve: interpolate ``gain_db`` over distance, hold the end values outside.

    ``table_d`` must be strictly increasing (``make_rolloff`` checks). Gains at or below -120 dB are
    treated as silence (exactly 0).
    """
    n = table_d.shape[0]
    if d <= table_d[0]:
        db = table_db[0]
    elif d >= table_d[n - 1]:
        db = table_db[n - 1]
    else:
        k = 1
        while table_d[k] < d:
            k += 1
        t = (d - table_d[k - 1]) / (table_d[k] - table_d[k - 1])
        db = table_db[k - 1] + t * (table_db[k] - table_db[k - 1])
    if db <= -120.0:
        return 0.0
    return 10.0 ** (db / 20.0)


@njit(cache=True, nogil=True)
def distance_gain_code(d, min_d, max_d, code, table_d, table_db):
    """Dispatch on a curve code (ROLLOFF_INVERSE / _LINEAR / _TABLE) so one kernel handles all voices."""
    if code == ROLLOFF_INVERSE:
        return distance_gain_inverse(d, min_d, max_d)
    if code == ROLLOFF_LINEAR:
        return distance_gain_linear(d, min_d, max_d)
    return distance_gain_table(d, table_d, table_db)


def make_rolloff(
    curve: str | Sequence[Sequence[float]], min_d: float, max_d: float
) -> tuple[int, np.ndarray, np.ndarray]:
    """Validate a rolloff spec and return ``(code, table_d, table_db)`` for :func:`distance_gain_code`.

    ``curve`` is ``"inverse"``, ``"linear"`` or a list of ``[distance, gain_db]`` points with strictly
    increasing, non-negative distances. For the named curves the tables are 1-element dummies.
    """
    if not (math.isfinite(min_d) and min_d > 0):
        raise EngineError(f"min_distance={min_d}: must be a finite number > 0")
    if not (math.isfinite(max_d) and max_d > min_d):
        raise EngineError(f"max_distance={max_d}: must be finite and > min_distance ({min_d})")
    dummy = np.zeros(1, dtype=np.float64)
    if isinstance(curve, str):
        if curve == "inverse":
            return ROLLOFF_INVERSE, dummy, dummy.copy()
        if curve == "linear":
            return ROLLOFF_LINEAR, dummy, dummy.copy()
        raise EngineError(f"rolloff={curve!r}: must be 'inverse', 'linear' or a list of [distance, gain_db]")
    try:
        pts = np.asarray(curve, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise EngineError(f"rolloff={curve!r}: must be a list of [distance, gain_db] pairs") from exc
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] < 1:
        raise EngineError(f"rolloff shape {pts.shape}: must be a non-empty list of [distance, gain_db] pairs")
    if not np.all(np.isfinite(pts)):
        raise EngineError("rolloff table: every distance and gain_db must be finite")
    if np.any(pts[:, 0] < 0) or np.any(np.diff(pts[:, 0]) <= 0):
        raise EngineError(f"rolloff distances {pts[:, 0].tolist()}: must be >= 0 and strictly increasing")
    if np.any(pts[:, 1] > 24.0):
        raise EngineError(f"rolloff gains {pts[:, 1].tolist()}: must be <= 24 dB")
    return ROLLOFF_TABLE, np.ascontiguousarray(pts[:, 0]), np.ascontiguousarray(pts[:, 1])


@njit(cache=True, nogil=True)
def _distance_gain_many(d, min_d, max_d, code, table_d, table_db):
    out = np.empty(d.shape[0], dtype=np.float64)
    for i in range(d.shape[0]):
        out[i] = distance_gain_code(d[i], min_d, max_d, code, table_d, table_db)
    return out


def distance_gain(
    d: float | np.ndarray, min_d: float, max_d: float, curve: str | Sequence[Sequence[float]] = "inverse"
) -> float | np.ndarray:
    """Linear gain for distance(s) ``d`` under ``curve`` (see :func:`make_rolloff`); array in, array out."""
    code, td, tdb = make_rolloff(curve, float(min_d), float(max_d))
    arr = np.asarray(d, dtype=np.float64)
    out = _distance_gain_many(
        np.ascontiguousarray(arr.reshape(-1)), float(min_d), float(max_d), code, td, tdb
    )
    if arr.ndim == 0:
        return float(out[0])
    return out.reshape(arr.shape)
