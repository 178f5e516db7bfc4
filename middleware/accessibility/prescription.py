"""Published hearing-aid fitting prescriptions: an audiogram (dB HL) -> insertion gains (dB).

**NAL-R** (Byrne, D. & Dillon, H. 1986, "The National Acoustic Laboratories' (NAL) new procedure for
selecting the gain and frequency response of a hearing aid", *Ear and Hearing* 7(4):257-265)::

    H3FA  = (H500 + H1000 + H2000) / 3
    X     = 0.15 * H3FA
    IG_f  = X + 0.31 * H_f + k_f

with the published speech-equalising constants ``k_f`` (the insertion gain for 0 dB HL):

    ====== ==== ==== ===== ===== ===== ===== ===== =====
    f (Hz)  250  500  1000  1500  2000  3000  4000  6000
    k (dB)  -17   -8    +1    +1    -1    -2    -2    -2
    ====== ==== ==== ===== ===== ===== ===== ===== =====

Checked against two independent public implementations of the same paper: openMHA's
``gainrule_*`` ``NalRP`` helper (A. Leijon 2006, citing Byrne & Dillon 1986; ``gainZero``,
``gainFactor = 0.31``, ``gainFactorM = 0.15``) and the Auditory Modeling Toolbox's ``nalrp``. We implement
plain NAL-R, not the severe-loss "RP" corrections of Byrne, Parkinson & Newall (1991). NAL-R publishes
no constant at 8 kHz; like those implementations (which hold the last prescribed value beyond 6 kHz) we
use the 6 kHz constant there (``NALR_K_EXTENDED``), and say so in ``docs/accessibility.md``.

**Half-gain rule** (Lybarger; described e.g. by Berger 1993, *Am. J. Audiology* 2:17-18): the gain is
half the hearing threshold level at each frequency, ``IG_f = 0.5 * H_f``.

Both rules give linear (level-independent) gains. We clip them to ``0 .. cap`` dB: a negative
"insertion gain" (NAL-R's bass cut for near-normal thresholds) would only make the game quieter for a
player who hears it fine, and a gain above the cap (``MAX_GAIN_CAP_DB``) mostly raises noise and
feedback-like harshness while the limiter fights it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np

AUDIOGRAM_HZ: tuple[int, ...] = (250, 500, 1000, 2000, 4000, 8000)
"""Frequencies of the profile's audiogram (the standard octave audiometric frequencies)."""

MAX_GAIN_CAP_DB = 30.0
"""The hard ceiling on any prescribed gain; a profile may lower it (``max_gain_db``), never raise it."""

NALR_K_PUBLISHED: Mapping[int, float] = MappingProxyType(
    {250: -17.0, 500: -8.0, 1000: 1.0, 1500: 1.0, 2000: -1.0, 3000: -2.0, 4000: -2.0, 6000: -2.0}
)
"""Byrne & Dillon (1986) per-frequency constants k_f in dB."""

NALR_K_EXTENDED: Mapping[int, float] = MappingProxyType({**NALR_K_PUBLISHED, 8000: NALR_K_PUBLISHED[6000]})
"""The published constants plus 8 kHz, which holds the 6 kHz value (not published; see module doc)."""

NALR_SLOPE = 0.31  # times the threshold at the frequency itself
NALR_AVERAGE_SLOPE = 0.15  # times the 500/1k/2k average
NALR_AVERAGE_HZ = (500, 1000, 2000)
HALF_GAIN_SLOPE = 0.5


def _thresholds(freqs: Sequence[float], hl: Sequence[float]) -> dict[int, float]:
    f = [round(float(v)) for v in freqs]
    h = [float(v) for v in hl]
    if len(f) != len(h):
        raise ValueError(f"audiogram: {len(f)} frequencies but {len(h)} thresholds")
    return dict(zip(f, h, strict=True))


def nal_r(freqs: Sequence[float], hl: Sequence[float]) -> np.ndarray:
    """Raw NAL-R insertion gains (dB, unclipped) at ``freqs`` for thresholds ``hl`` (dB HL).

    ``freqs`` must include 500, 1000 and 2000 Hz (the three-frequency average) and every frequency must
    be one with a constant in ``NALR_K_EXTENDED``.
    """
    th = _thresholds(freqs, hl)
    missing = [f for f in NALR_AVERAGE_HZ if f not in th]
    if missing:
        raise ValueError(f"NAL-R needs thresholds at {NALR_AVERAGE_HZ} Hz; missing {missing}")
    unknown = [f for f in th if f not in NALR_K_EXTENDED]
    if unknown:
        raise ValueError(f"NAL-R has no constant at {unknown} Hz; it has {sorted(NALR_K_EXTENDED)}")
    h3fa = sum(th[f] for f in NALR_AVERAGE_HZ) / len(NALR_AVERAGE_HZ)
    x = NALR_AVERAGE_SLOPE * h3fa
    return np.array([x + NALR_SLOPE * th[f] + NALR_K_EXTENDED[f] for f in th], dtype=np.float64)


def half_gain(freqs: Sequence[float], hl: Sequence[float]) -> np.ndarray:
    """Raw half-gain-rule insertion gains (dB): half the threshold at each frequency."""
    th = _thresholds(freqs, hl)
    return np.array([HALF_GAIN_SLOPE * th[f] for f in th], dtype=np.float64)


RULES = MappingProxyType({"nal-r": nal_r, "half-gain": half_gain})
"""Prescription name (as written in a profile) -> raw gain function."""


def prescribe(
    rule: str, hl: Sequence[float], freqs: Sequence[float] = AUDIOGRAM_HZ, cap_db: float = MAX_GAIN_CAP_DB
) -> np.ndarray:
    """Insertion gains in dB at ``freqs`` by ``rule``, clipped to ``0 .. min(cap_db, MAX_GAIN_CAP_DB)``."""
    if rule not in RULES:
        raise ValueError(f"prescription {rule!r}: must be one of {', '.join(RULES)}")
    cap = min(float(cap_db), MAX_GAIN_CAP_DB)
    return np.clip(RULES[rule](freqs, hl), 0.0, cap)
