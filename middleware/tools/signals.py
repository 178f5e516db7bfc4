"""Synthetic test material for the restoration and loudness tools: clean signals and known damage.

The project makes its own audio (no downloaded corpora): a speech-like signal (glottal pulses through
moving formant resonators, syllable-rate envelope with pauses) and a music-like one (plucked harmonic
notes), plus the three kinds of damage the restorer removes, each returned separately so a test or a
benchmark can compute SNR against the known clean signal. Deterministic for a given seed.
"""

from __future__ import annotations

import numpy as np

from ..engine.dsp.filters import biquad_block, biquad_coeffs


def _resonate(x: np.ndarray, freq: float, bw: float, sr: int) -> np.ndarray:
    q = max(freq / bw, 0.3)
    c = biquad_coeffs("bandpass", freq, q, 0.0, sr)
    st = np.zeros((2, 2))
    x2 = np.ascontiguousarray(np.repeat(x[:, None], 2, axis=1), dtype=np.float32)
    return biquad_block(x2, c, c, st)[:, 0].astype(np.float64)


def speech_like(seconds: float = 3.0, sr: int = 48000, seed: int = 0, level: float = 0.3) -> np.ndarray:
    """Mono float32: voiced syllables (f0 100-160 Hz, three formants drifting between vowels) at ~4 Hz
    with short pauses, the structure noise suppressors are built for."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    f0 = 130 + 25 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6)) + 10 * np.sin(2 * np.pi * 3.1 * t)
    phase = np.cumsum(f0 / sr)
    pulses = (np.diff(np.floor(phase), prepend=0.0) > 0).astype(np.float64)
    # one vowel per syllable, formant sets from /a/ /i/ /u/ /e/ /o/
    vowels = [(730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480), (570, 840, 2410)]
    syl = 0.25
    n_syl = int(np.ceil(seconds / syl))
    choice = rng.integers(0, len(vowels), n_syl)
    out = np.zeros(n)
    seg = int(syl * sr)
    for k in range(3):
        targets = np.array([vowels[c][k] for c in choice], dtype=np.float64)
        # piecewise filtering with the syllable's formant, crossfaded by the envelope below
        band = np.zeros(n)
        for s in range(n_syl):
            a, b = s * seg, min(n, (s + 1) * seg + seg // 4)
            if a >= n:
                break
            y = _resonate(pulses[a:b], targets[s], 60 + 40 * k, sr)
            w = np.hanning(2 * (b - a))[b - a :] ** 0.3 if s else np.ones(b - a)
            band[a:b] += y * w
        out += band * (1.0, 0.6, 0.3)[k]
    env_phase = (t % syl) / syl
    env = np.sin(np.pi * np.clip(env_phase / 0.8, 0, 1)) ** 0.7
    pause = rng.random(n_syl) < 0.2
    env *= np.repeat(~pause, seg)[:n]
    out *= env
    out += 0.02 * _resonate(rng.standard_normal(n), 4000, 2000, sr) * env  # fricative breath
    out *= level / (np.max(np.abs(out)) + 1e-12)
    return out.astype(np.float32)


def music_like(seconds: float = 3.0, sr: int = 48000, seed: int = 0, level: float = 0.3) -> np.ndarray:
    """Mono float32: plucked harmonic notes (decaying partials, 1/k amplitudes) from a pentatonic scale."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    out = np.zeros(n)
    scale = 220.0 * 2 ** (np.array([0, 2, 4, 7, 9, 12, 14]) / 12)
    t_note = 0.0
    while t_note < seconds:
        dur = rng.choice([0.25, 0.5, 0.75])
        a = int(t_note * sr)
        m = min(n - a, int((dur + 0.8) * sr))
        tt = np.arange(m) / sr
        f = rng.choice(scale)
        note = np.zeros(m)
        for k in range(1, 9):
            if k * f > sr / 2 - 1000:
                break
            note += np.sin(2 * np.pi * k * f * tt + rng.uniform(0, 6)) * np.exp(-tt * (2 + 1.5 * k)) / k
        attack = np.minimum(1.0, tt / 0.004)
        out[a : a + m] += note * attack
        t_note += dur
    out *= level / (np.max(np.abs(out)) + 1e-12)
    return out.astype(np.float32)


def white_noise(n: int, level_db: float, seed: int = 1) -> np.ndarray:
    """Gaussian noise with RMS ``level_db`` dBFS."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(n) * 10 ** (level_db / 20)).astype(np.float32)


def pink_noise(n: int, level_db: float, seed: int = 1) -> np.ndarray:
    """1/f noise (spectral shaping of white noise) with RMS ``level_db`` dBFS."""
    rng = np.random.default_rng(seed)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spec.size)
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    x = np.fft.irfft(spec, n)
    x *= 10 ** (level_db / 20) / (np.sqrt(np.mean(x**2)) + 1e-12)
    return x.astype(np.float32)


def hum(n: int, sr: int, mains: float = 50.0, level_db: float = -30.0, harmonics: int = 5) -> np.ndarray:
    """Mains hum: fundamental plus odd-heavy harmonics, RMS ``level_db`` dBFS."""
    t = np.arange(n) / sr
    x = np.zeros(n)
    for h in range(1, harmonics + 1):
        x += (1.0 / h if h % 2 else 0.5 / h) * np.sin(2 * np.pi * mains * h * t + 0.3 * h)
    x *= 10 ** (level_db / 20) / np.sqrt(np.mean(x**2))
    return x.astype(np.float32)


def clicks(
    n: int, sr: int, per_second: float = 8.0, amp: float = 0.5, seed: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Impulsive clicks (1-8 samples, random sign and decay) and their start indices."""
    rng = np.random.default_rng(seed)
    k = max(1, int(per_second * n / sr))
    starts = np.sort(rng.choice(np.arange(sr // 20, n - sr // 20), size=k, replace=False))
    x = np.zeros(n)
    for s in starts:
        w = int(rng.integers(1, 9))
        shape = rng.choice([-1, 1]) * amp * rng.uniform(0.5, 1.0) * np.exp(-np.arange(w) / max(w / 3, 1))
        x[s : s + w] += shape * np.where(np.arange(w) % 2, -0.6, 1.0)
    return x.astype(np.float32), starts


def snr_db(clean: np.ndarray, test: np.ndarray) -> float:
    """Global SNR of ``test`` against the known ``clean`` signal, dB."""
    c = np.asarray(clean, np.float64).reshape(-1)
    e = np.asarray(test, np.float64).reshape(-1) - c
    return float(10 * np.log10(np.sum(c**2) / max(np.sum(e**2), 1e-20)))


def segmental_snr_db(clean: np.ndarray, test: np.ndarray, sr: int, frame_s: float = 0.02) -> float:
    """Mean per-frame SNR (frames of 20 ms, each clamped to [-10, 35] dB) over frames where the clean
    signal is within 40 dB of its loudest frame; the usual speech-enhancement measure, which does
    not let loud passages hide damage in quiet ones."""
    c = np.asarray(clean, np.float64).reshape(-1)
    e = np.asarray(test, np.float64).reshape(-1) - c
    m = int(frame_s * sr)
    k = c.size // m
    ce = np.sum(c[: k * m].reshape(k, m) ** 2, axis=1)
    ee = np.sum(e[: k * m].reshape(k, m) ** 2, axis=1)
    active = ce > ce.max() * 1e-4
    seg = 10 * np.log10(ce[active] / np.maximum(ee[active], 1e-20))
    return float(np.mean(np.clip(seg, -10, 35)))
