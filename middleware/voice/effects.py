"""Character effects applied to a rendered line (mono float32 in, mono float32 out).

Each effect is a pure function ``(x, sr, **params) -> y``; presets list them by name with parameters
(:data:`EFFECTS`), so a preset is data, not code. Filters reuse the engine's numba biquad kernel; the
reverb is the engine's Freeverb. No per-sample Python loops.
"""

from __future__ import annotations

import numpy as np

from ..engine.dsp.filters import biquad_block, biquad_coeffs
from ..engine.dsp.reverb import Reverb
from ..errors import EngineError


def _biquad(x: np.ndarray, kind: str, freq: float, q: float, sr: int, gain_db: float = 0.0) -> np.ndarray:
    c = biquad_coeffs(kind, freq, q, gain_db, sr)
    x2 = np.ascontiguousarray(np.repeat(x[:, None], 2, axis=1), dtype=np.float32)
    return biquad_block(x2, c, c, np.zeros((2, 2)))[:, 0]


def ring_mod(x: np.ndarray, sr: int, freq: float = 40.0, mix: float = 1.0) -> np.ndarray:
    """Multiply by a sine carrier: every partial f becomes f +- freq (the classic robot voice)."""
    t = np.arange(x.size) / sr
    return ((1.0 - mix) * x + mix * x * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def band_pass(x: np.ndarray, sr: int, low: float = 300.0, high: float = 3400.0) -> np.ndarray:
    """Telephone/radio band: two 2nd-order high-passes at ``low`` and two low-passes at ``high``."""
    y = x
    for _ in range(2):
        y = _biquad(y, "highpass", low, 0.707, sr)
        y = _biquad(y, "lowpass", min(high, 0.45 * sr), 0.707, sr)
    return y.astype(np.float32)


def distort(x: np.ndarray, sr: int, drive: float = 4.0) -> np.ndarray:
    """tanh soft clipping, level-compensated so a quiet signal keeps its level."""
    peak = float(np.max(np.abs(x))) or 1.0
    return (np.tanh(drive * x / peak) * peak / np.tanh(drive)).astype(np.float32)


def noise_bed(x: np.ndarray, sr: int, level_db: float = -38.0, seed: int = 7) -> np.ndarray:
    """Add a steady hiss (radio static) at ``level_db`` relative to the line's peak."""
    rng = np.random.default_rng(seed)
    peak = float(np.max(np.abs(x))) or 1.0
    return (x + rng.standard_normal(x.size) * peak * 10 ** (level_db / 20)).astype(np.float32)


def _fractional_delay(x: np.ndarray, delay_samples: np.ndarray) -> np.ndarray:
    idx = np.arange(x.size) - delay_samples
    return np.interp(idx, np.arange(x.size), x, left=0.0, right=0.0)


def chorus(
    x: np.ndarray, sr: int, voices: int = 3, depth_ms: float = 6.0, rate_hz: float = 0.6, mix: float = 0.5
) -> np.ndarray:
    """Several copies with slowly modulated delays (10-20 ms): a thicker, unstable, uncanny voice."""
    t = np.arange(x.size) / sr
    wet = np.zeros(x.size)
    for v in range(voices):
        base = (12.0 + 4.0 * v) * 1e-3 * sr
        mod = depth_ms * 1e-3 * sr * 0.5 * (1 + np.sin(2 * np.pi * rate_hz * (1 + 0.3 * v) * t + v))
        wet += _fractional_delay(x.astype(np.float64), base + mod)
    wet /= voices
    return ((1.0 - mix) * x + mix * wet).astype(np.float32)


def reverb(
    x: np.ndarray,
    sr: int,
    room_size: float = 0.85,
    damping: float = 0.4,
    wet: float = 0.45,
    tail_s: float = 1.5,
    duck_db: float = 0.0,
) -> np.ndarray:
    """The engine's Freeverb (mono in, mono out), with ``tail_s`` of silence appended for the tail.

    ``duck_db`` > 0 lowers the wet signal by up to that much while the dry voice is loud (its envelope,
    10 ms attack, 150 ms release), so the reverb fills the pauses and the tail without smearing the
    syllables over each other: the "far away" stays, the words stay intelligible (a dialogue mixer's
    ducked reverb)."""
    pad = np.concatenate([x, np.zeros(int(tail_s * sr), dtype=np.float32)])
    stereo = np.ascontiguousarray(np.repeat(pad[:, None], 2, axis=1), dtype=np.float32)
    dry = 1.0 - 0.5 * wet
    if duck_db <= 0.0:
        rv = Reverb(sr, room_size=room_size, damping=damping, wet=wet, dry=dry)
        return rv.process(stereo).mean(axis=1).astype(np.float32)
    rv = Reverb(sr, room_size=room_size, damping=damping, wet=wet, dry=0.0)
    tail = rv.process(stereo).mean(axis=1).astype(np.float64)
    env = _envelope(np.abs(pad.astype(np.float64)), sr, attack_s=0.01, release_s=0.15)
    level = env / (float(env.max()) or 1.0)
    gain = 10 ** (-duck_db * np.clip(level * 4.0, 0.0, 1.0) / 20)  # full duck from -12 dB below peak
    return (dry * pad + gain * tail).astype(np.float32)


def _envelope(a: np.ndarray, sr: int, attack_s: float, release_s: float) -> np.ndarray:
    """Peak envelope of ``a`` (>= 0), one value per 5 ms block held over the block: rises toward a
    block's peak with ``attack_s``, falls with ``release_s`` (a Python step per block, not per sample:
    a line of 10 s is 2000 steps)."""
    hop = max(1, int(0.005 * sr))
    n = -(-a.size // hop)
    blocks = np.pad(a, (0, n * hop - a.size)).reshape(n, hop).max(axis=1)
    fall = np.exp(-hop / (release_s * sr))
    rise = 1.0 - np.exp(-hop / (attack_s * sr))
    out = np.empty(n)
    e = 0.0
    for i, v in enumerate(blocks):  # one step per 5 ms block, not per sample
        e = e + rise * (v - e) if v > e else max(v, e * fall)
        out[i] = e
    return np.repeat(out, hop)[: a.size]


def tremolo(x: np.ndarray, sr: int, rate_hz: float = 5.0, depth: float = 0.4) -> np.ndarray:
    """Amplitude modulation (a wavering, unsteady voice; at 25-40 Hz a growl)."""
    t = np.arange(x.size) / sr
    return (x * (1.0 - depth * 0.5 * (1 + np.sin(2 * np.pi * rate_hz * t)))).astype(np.float32)


def low_shelf(x: np.ndarray, sr: int, freq: float = 250.0, gain_db: float = 6.0) -> np.ndarray:
    """Body: lift (or cut) the low end."""
    return _biquad(x, "lowshelf", freq, 0.707, sr, gain_db).astype(np.float32)


EFFECTS = {
    "ring_mod": ring_mod,
    "band_pass": band_pass,
    "distort": distort,
    "noise_bed": noise_bed,
    "chorus": chorus,
    "reverb": reverb,
    "tremolo": tremolo,
    "low_shelf": low_shelf,
}


def apply_chain(x: np.ndarray, sr: int, chain: tuple[tuple[str, dict], ...]) -> np.ndarray:
    """Run ``(name, params)`` effects in order."""
    y = np.asarray(x, dtype=np.float32)
    for name, params in chain:
        fn = EFFECTS.get(name)
        if fn is None:
            raise EngineError(f"voice effect={name!r}: must be one of {', '.join(EFFECTS)}")
        y = fn(y, sr, **params)
    return y
