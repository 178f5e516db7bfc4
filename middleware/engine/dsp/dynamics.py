"""Level detection and ducking curves, so the engine can make "voice ducks ambience" rules.

The envelope follower is a one-pole with separate attack and release coefficients::

    v   = max(|xL|, |xR|)            (peak mode)   or   (xL^2 + xR^2) / 2   (RMS mode, mean square)
    env += (attack if v > env else release) * (v - env)

Its state is the envelope itself (a (1,) float64 array), so the level does not depend on block size. The
kernel returns the level at the end of the block in dB (peak: 20 log10 env; RMS: 10 log10 of the mean
square), floored at ``FLOOR_DB``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ...errors import EngineError

FLOOR_DB = -120.0


def time_coeff(seconds: float, sr: float) -> float:
    """One-pole coefficient reaching 1 - 1/e of a step after ``seconds``; 0 s means instant (1.0)."""
    if not (math.isfinite(seconds) and seconds >= 0.0):
        raise EngineError(f"time constant={seconds} s: must be a finite number >= 0")
    if not (math.isfinite(sr) and sr > 0):
        raise EngineError(f"sample rate={sr}: must be a finite number > 0")
    if seconds == 0.0:
        return 1.0
    return 1.0 - math.exp(-1.0 / (seconds * sr))


def envelope_state() -> np.ndarray:
    """Fresh follower state (silence)."""
    return np.zeros(1, dtype=np.float64)


@njit(cache=True, nogil=True)
def envelope_block(x, attack, release, state, rms):
    """Follow the level of stereo block ``x``; returns the end-of-block level in dB (see module doc)."""
    env = state[0]
    for i in range(x.shape[0]):
        a = np.float64(x[i, 0])
        b = np.float64(x[i, 1])
        v = 0.5 * (a * a + b * b) if rms else max(abs(a), abs(b))
        if not (v <= 1e30):  # NaN or absurd input: ignore the sample rather than poison the state
            continue
        c = attack if v > env else release
        env += c * (v - env)
        if env < 1e-30:
            env = 0.0
    state[0] = env
    if env <= 0.0:
        return FLOOR_DB
    db = 10.0 * math.log10(env) if rms else 20.0 * math.log10(env)
    return max(db, FLOOR_DB)


@njit(cache=True, nogil=True)
def duck_gain_db(level_db, threshold_db, amount_db, knee_db=6.0):
    """Attenuation (dB, same sign as ``amount_db``) to apply to a ducked bus for a source ``level_db``.

    0 dB while the source is more than ``knee_db / 2`` below the threshold, the full ``amount_db`` when it
    is more than ``knee_db / 2`` above, and a smoothstep (zero slope at both ends) inside the knee, so a
    source hovering around the threshold does not make the target flutter. ``knee_db = 0`` is a hard
    switch at the threshold.
    """
    if knee_db <= 0.0:
        return amount_db if level_db >= threshold_db else 0.0
    t = (level_db - threshold_db + 0.5 * knee_db) / knee_db
    if t <= 0.0:
        return 0.0
    if t >= 1.0:
        return amount_db
    return amount_db * t * t * (3.0 - 2.0 * t)
