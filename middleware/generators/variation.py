"""Seeded variations of a recorded sample: pitch, spectral tilt and envelope perturbation.

What a sound designer does by hand to stop a repeated asset from sounding mechanical (the
"machine-gun effect"): nudge the pitch a little (varispeed, as game engines do, so duration moves
with it), tilt the spectrum brighter or darker with a first-order shelf, and reshape the envelope
with a smooth random gain curve plus a slightly faster or slower decay. Every perturbation is drawn
from PCG64 seeded by (seed, index), so variation k of a file is the same on every machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numba import njit

from ..errors import EngineError


@dataclass(frozen=True)
class VariationAmounts:
    """Largest perturbation of each kind (each draw is uniform within +-amount)."""

    pitch_cents: float = 100.0
    tilt_db: float = 4.0
    envelope_db: float = 3.0

    LIMITS: ClassVar[dict[str, float]] = {"pitch_cents": 1200.0, "tilt_db": 24.0, "envelope_db": 24.0}

    @classmethod
    def from_params(cls, params: dict[str, object]) -> VariationAmounts:
        """Build from ``{"pitch": cents, "tilt": dB, "envelope": dB}``; EngineError on bad input."""
        keys = {"pitch": "pitch_cents", "tilt": "tilt_db", "envelope": "envelope_db"}
        values: dict[str, float] = {}
        for k, v in params.items():
            if k not in keys:
                raise EngineError(f"sample variation: unknown parameter {k!r} (known: pitch, tilt, envelope)")
            field = keys[k]
            try:
                x = float(v)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                x = float("nan")
            hi = cls.LIMITS[field]
            if not (math.isfinite(x) and 0.0 <= x <= hi):
                raise EngineError(f"sample variation: {k}={v!r} is out of range 0..{hi:g}")
            values[field] = x
        return cls(**values)


@njit(cache=True, nogil=True)
def _onepole_lowpass(x: np.ndarray, a: float) -> np.ndarray:
    """y[i] = y[i-1] + a (x[i] - y[i-1]) per channel (the shelf's low band)."""
    n, c = x.shape
    y = np.empty_like(x)
    for ch in range(c):
        s = x[0, ch]
        for i in range(n):
            s += a * (x[i, ch] - s)
            y[i, ch] = s
    return y


def vary_sample(
    x: np.ndarray, sample_rate: int, seed: int, index: int, amounts: VariationAmounts | None = None
) -> tuple[np.ndarray, dict[str, float]]:
    """Variation ``index`` of ``x`` (frames, channels) float; returns (audio, what was drawn).

    The result keeps the source's peak level, so variations differ in colour, not loudness.
    """
    amounts = amounts or VariationAmounts()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.shape[0] < 2:
        raise EngineError(f"sample variation: the source has {x.shape[0]} frames; need at least 2")
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, index, 0x5EED])))
    scale = [amounts.pitch_cents, amounts.tilt_db, amounts.envelope_db]
    cents, tilt, decay_db = rng.uniform(-1.0, 1.0, 3) * scale
    points = rng.normal(0.0, amounts.envelope_db / 2.0, 6)
    # Pitch by varispeed: read the source at `ratio` samples per output sample.
    ratio = 2.0 ** (cents / 1200.0)
    n_out = max(2, int(x.shape[0] / ratio))
    t = np.arange(n_out) * ratio
    src = np.arange(x.shape[0])
    y = np.stack([np.interp(t, src, x[:, ch]) for ch in range(x.shape[1])], axis=1)
    # Spectral tilt: first-order high shelf at 1 kHz, gain `tilt` dB above it.
    a = 1.0 - math.exp(-2.0 * math.pi * 1000.0 / sample_rate)
    low = _onepole_lowpass(y, a)
    y = low + (y - low) * 10.0 ** (tilt / 20.0)
    # Envelope: smooth random gain curve through 6 points, and a decay up to envelope_db faster/slower.
    pos = np.linspace(0.0, 1.0, n_out)
    gain_db = np.interp(pos, np.linspace(0.0, 1.0, points.shape[0]), points) - decay_db * pos
    y *= (10.0 ** (gain_db / 20.0))[:, None]
    peak_in = float(np.abs(x).max())
    peak_out = float(np.abs(y).max())
    if peak_out > 0.0:
        y *= peak_in / peak_out
    info = {"pitch_cents": float(cents), "tilt_db": float(tilt), "decay_db": float(decay_db)}
    return y.astype(np.float32), info
