"""Make every shipped scene's sounds (scenes/<scene>/sounds/*.wav) on this machine, deterministically.

One catalogue (``ASSETS``) covers every scene in scenes/: forest, dungeon and town (numpy recipes,
below) and the demo (footsteps from the ``footstep`` generator and the villager's line from the
character-voice synthesiser, at the end of this file), so ``soundscape assets`` leaves every
shipped scene valid.

Why synthesised instead of shipped: the repository stays lean (no binary blobs), every asset's
origin and licence is obvious (all made by this file: MIT, like the rest of the project), and the
sounds are *designed for measurement*: each one occupies a known band or carries a known pitch, so
the example-scene tests can check the intended behaviour on the rendered audio (rain lives in
2-8 kHz, birds in 2-6 kHz, insects above 6.5 kHz, wind and streams below 2 kHz; each music segment
has a signature pitch and opens with a transient; the car engine has a strong 240 Hz partial).

All DSP is vectorised numpy (no per-sample Python loops): band-limited noise is shaped in the
frequency domain, which also makes every loop seamless (an inverse FFT is periodic in its length);
tones are additive sines; envelopes are closed-form. Loops hold a whole number of cycles of every
periodic component, and music segments are an exact number of bars at the scene's tempo.

    python -m middleware.tools.example_assets          # write missing files (all scenes)
    python -m middleware.tools.example_assets --force  # rewrite all
    soundscape assets                                  # the same, as a subcommand
"""

from __future__ import annotations

import argparse
import os
import wave
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SR = 48000
"""Sample rate of every asset (the engine's default rate, so nothing is resampled)."""

MUSIC_TEMPO = 100.0
"""Tempo of dungeon.yaml's music (BPM); a bar of 4/4 is 2.4 s = 115200 frames exactly."""
BEAT = round(60.0 / MUSIC_TEMPO * SR)
BAR = 4 * BEAT

SIGNATURE_HZ = {"explore": 440.0, "combat": 293.66, "boss": 185.0}
"""The pitch that identifies each dungeon music segment (the tests look for its onset)."""

CAR_PARTIAL_HZ = 240.0
"""The car engine's strongest partial (the Doppler test tracks it)."""

LICENCE = "MIT (synthesised by middleware/tools/example_assets.py)"

Synth = Callable[[np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class AssetSpec:
    """One file: where it goes, what it is (for docs), the function that makes it, and (for files
    made by a generator or the voice synthesiser) the provenance label stored in the WAV."""

    scene: str
    name: str
    description: str
    synth: Synth
    label: Callable[[], Mapping[str, object]] | None = None

    @property
    def relpath(self) -> str:
        return f"{self.scene}/sounds/{self.name}"

    def seed(self) -> int:
        """A fixed seed per file, so regenerating gives the same bytes on every machine."""
        return zlib.crc32(self.relpath.encode())


# ---------------------------------------------------------------------------------------------
# DSP building blocks (pure functions over numpy arrays)


def _t(n: int) -> np.ndarray:
    return np.arange(n) / SR


def band_noise(
    rng: np.random.Generator, n: int, lo: float, hi: float, channels: int = 1, tilt_db_oct: float = 0.0
) -> np.ndarray:
    """Noise with energy only between ``lo`` and ``hi`` Hz (smooth edges inside the band), RMS 1.

    Shaped in the frequency domain of an ``n``-point FFT, so the result is exactly periodic in
    ``n`` (a seamless loop) and exactly zero outside the band. ``tilt_db_oct`` slopes the spectrum.
    Returns (n,) for one channel, else (n, channels) with independent channels.
    """
    f = np.fft.rfftfreq(n, 1.0 / SR)
    lf = np.log2(np.maximum(f, 1e-3))
    a, b = np.log2(lo), np.log2(hi)
    edge = min(0.25, (b - a) / 4)
    up = np.clip((lf - a) / edge, 0.0, 1.0)
    down = np.clip((b - lf) / edge, 0.0, 1.0)
    mask = np.sin(0.5 * np.pi * up) ** 2 * np.sin(0.5 * np.pi * down) ** 2
    mask *= 2.0 ** (tilt_db_oct / 6.0 * (lf - a))
    spec = rng.standard_normal((channels, f.size)) + 1j * rng.standard_normal((channels, f.size))
    x = np.fft.irfft(spec * mask, n, axis=1)
    x /= np.sqrt(np.mean(x**2, axis=1, keepdims=True)) + 1e-12
    return x[0] if channels == 1 else x.T


def periodic_lfo(rng: np.random.Generator, n: int, cycles: tuple[int, ...], depth: float) -> np.ndarray:
    """A slow gain curve 1 +/- ``depth`` made of sines with whole ``cycles`` per ``n`` (loopable)."""
    ph = 2 * np.pi * np.arange(n) / n
    m = sum(np.sin(c * ph + rng.uniform(0, 2 * np.pi)) / (i + 1) for i, c in enumerate(cycles))
    m = m / (np.max(np.abs(m)) + 1e-12)
    return 1.0 + depth * m


def damped(freq: float, decay: float, n: int, phase: float = 0.0) -> np.ndarray:
    """A resonance ringing at ``freq`` Hz, falling by 1/e every ``decay`` s (drips, doors, impacts)."""
    t = _t(n)
    return np.exp(-t / decay) * np.sin(2 * np.pi * freq * t + phase)


def sweep(f0: float, f1: float, n: int, curve: float = 1.0) -> np.ndarray:
    """A sine gliding from ``f0`` to ``f1`` Hz over ``n`` frames (``curve`` > 1 glides late)."""
    u = np.linspace(0.0, 1.0, n, endpoint=False) ** curve
    freq = f0 + (f1 - f0) * u
    return np.sin(2 * np.pi * np.cumsum(freq) / SR)


def hann_env(n: int, attack: float = 0.5) -> np.ndarray:
    """A smooth bump: rises over ``attack`` of the length, falls over the rest."""
    k = max(1, int(n * attack))
    up = np.sin(0.5 * np.pi * np.arange(k) / k) ** 2
    down = np.cos(0.5 * np.pi * np.arange(n - k) / max(1, n - k)) ** 2
    return np.concatenate([up, down])


def place(out: np.ndarray, x: np.ndarray, at: int, gain: float = 1.0) -> None:
    """Add ``x`` into ``out`` starting at frame ``at`` (clipped at the end)."""
    m = min(x.shape[0], out.shape[0] - at)
    if m > 0:
        out[at : at + m] += gain * x[:m]


def place_wrapped(out: np.ndarray, x: np.ndarray, at: int, gain: float = 1.0) -> None:
    """Add ``x`` at ``at``, wrapping past the end to the start (events in a seamless loop)."""
    n = out.shape[0]
    idx = (at + np.arange(x.shape[0])) % n
    np.add.at(out, idx, gain * x)


def tail_fade(x: np.ndarray, seconds: float = 0.01) -> np.ndarray:
    """Fade the last ``seconds`` to zero so a one-shot never ends on a step."""
    k = min(x.shape[0], int(seconds * SR))
    x = x.copy()
    x[-k:] *= (
        np.cos(0.5 * np.pi * np.arange(k) / k)[:, None] ** 2
        if x.ndim == 2
        else (np.cos(0.5 * np.pi * np.arange(k) / k) ** 2)
    )
    return x


def normalise(x: np.ndarray, peak: float) -> np.ndarray:
    return x * (peak / (np.max(np.abs(x)) + 1e-12))


def note(
    freq: float, n: int, harmonics: tuple[float, ...] = (1.0,), attack: float = 0.005, decay: float = 1.0
) -> np.ndarray:
    """An additive tone: partials ``k * freq`` with the given amplitudes, a linear attack of
    ``attack`` s (0 = the very first sample is loud: a transient) and an exponential decay."""
    t = _t(n)
    x = sum(
        a * np.sin(2 * np.pi * freq * (k + 1) * t) for k, a in enumerate(harmonics) if freq * (k + 1) < 20000
    )
    env = np.exp(-t / decay)
    if attack > 0:
        env *= np.minimum(1.0, t / attack)
    return env * x


def kick(n: int, strength: float = 1.0) -> np.ndarray:
    """A kick drum: a 150 -> 45 Hz sine sweep with an instant attack, plus a 3 ms click."""
    t = _t(n)
    freq = 45.0 + 105.0 * np.exp(-t / 0.03)
    body = np.exp(-t / 0.18) * np.cos(2 * np.pi * np.cumsum(freq) / SR)  # cos: loud at sample 0
    click = np.exp(-t / 0.003) * np.cos(2 * np.pi * 2200.0 * t)
    return strength * (body + 0.4 * click)


# ---------------------------------------------------------------------------------------------
# Forest


def rain(rng: np.random.Generator, heavy: bool) -> np.ndarray:
    n = 4 * SR
    lo, hi = (600.0, 9000.0) if heavy else (2000.0, 8000.0)
    hiss = band_noise(rng, n, lo, hi, channels=2, tilt_db_oct=-1.5)
    drops = np.zeros((n, 2))
    count = 900 if heavy else 260
    for _ in range(count):
        d = damped(rng.uniform(2500, 7500), rng.uniform(0.002, 0.006), int(0.03 * SR), rng.uniform(0, 6.28))
        place_wrapped(drops[:, int(rng.integers(2))], d, int(rng.integers(n)), rng.uniform(0.3, 1.0))
    drops = drops / (np.sqrt(np.mean(drops**2)) + 1e-12)
    return normalise(hiss * (0.6 if heavy else 0.5) + drops * (0.4 if heavy else 0.5), 0.7)


def wind(rng: np.random.Generator) -> np.ndarray:
    n = 6 * SR
    x = band_noise(rng, n, 60.0, 900.0, channels=2, tilt_db_oct=-3.0)
    gust = periodic_lfo(rng, n, (1, 2, 3), 0.6)
    return normalise(x * gust[:, None], 0.7)


def stream(rng: np.random.Generator) -> np.ndarray:
    n = 4 * SR
    x = band_noise(rng, n, 250.0, 1800.0)
    bubbles = 1.0 + 0.5 * band_noise(rng, n, 3.0, 18.0)
    return normalise(x * np.clip(bubbles, 0.1, None), 0.6)


def bird(rng: np.random.Generator, kind: int) -> np.ndarray:
    """FM chirps between 2 and 6 kHz, pure sines (nothing outside the band)."""
    if kind == 0:  # three quick upward sweeps
        parts = [
            np.concatenate(
                [
                    sweep(2600, 4600, int(0.07 * SR), 1.5) * hann_env(int(0.07 * SR), 0.3),
                    np.zeros(int(0.05 * SR)),
                ]
            )
            for _ in range(3)
        ]
        x = np.concatenate(parts)
    elif kind == 1:  # warble: 3.6 kHz +/- 700 Hz at 22 Hz
        m = int(0.5 * SR)
        t = _t(m)
        inst = 3600 + 700 * np.sin(2 * np.pi * 22 * t)
        x = np.sin(2 * np.pi * np.cumsum(inst) / SR) * hann_env(m, 0.2)
    elif kind == 2:  # descending whistle
        m = int(0.35 * SR)
        x = sweep(5400, 2800, m, 0.7) * hann_env(m, 0.15)
    else:  # two-note "tee-too"
        a, b = int(0.16 * SR), int(0.22 * SR)
        x = np.concatenate(
            [
                np.sin(2 * np.pi * 4200 * _t(a)) * hann_env(a, 0.2),
                np.zeros(int(0.06 * SR)),
                np.sin(2 * np.pi * 3100 * _t(b)) * hann_env(b, 0.2),
            ]
        )
    return normalise(tail_fade(x), 0.6)


def insects(rng: np.random.Generator) -> np.ndarray:
    """Night insects above 6.5 kHz: a 7.2 kHz cricket trill (25 Hz pulses) and a 9 kHz katydid buzz."""
    n = 4 * SR
    t = _t(n)
    out = np.zeros((n, 2))
    pulse = hann_env(int(0.018 * SR), 0.3)
    for ch in range(2):
        carrier = np.sin(2 * np.pi * (7200 + 40 * ch) * t)
        gate = np.zeros(n)
        for train in range(5):  # trains of 10 pulses, 0.8 s apart
            start = int((train * 0.8 + 0.37 * ch) * SR)
            for k in range(10):
                place_wrapped(gate, pulse, start + int(k * 0.04 * SR))
        buzz = (
            np.sin(2 * np.pi * 9000 * t)
            * (0.5 + 0.5 * np.sin(2 * np.pi * 60 * t))
            * periodic_lfo(rng, n, (1, 3), 0.8)
        )
        out[:, ch] = carrier * gate * 0.8 + 0.25 * buzz
    return normalise(out, 0.5)


def thunder(rng: np.random.Generator) -> np.ndarray:
    n = int(4.5 * SR)
    t = _t(n)
    crack = band_noise(rng, n, 300.0, 4000.0) * np.exp(-t / 0.12) * np.minimum(1.0, t / 0.004)
    rumble = band_noise(rng, n, 25.0, 250.0, tilt_db_oct=-2.0)
    shake = np.clip(1.0 + 0.7 * band_noise(rng, n, 2.0, 9.0), 0.0, None)
    env = np.minimum(1.0, t / 0.35) * np.exp(-np.maximum(0.0, t - 0.35) / 1.1)
    x = 0.35 * crack * rng.uniform(0.4, 1.0) + rumble * shake * env
    return normalise(tail_fade(x, 0.3), 0.9)


def voice(rng: np.random.Generator) -> np.ndarray:
    """A radio voice: vowel syllables by additive synthesis of a 115 Hz glottal series through
    formant peaks, band-limited to 250-3400 Hz (so 5-8 kHz stays free for the ducking test)."""
    vowels = [(730, 1090, 2440), (530, 1840, 2480), (270, 2290, 3010), (570, 840, 2410), (300, 870, 2240)]
    syll = int(0.2 * SR)
    gap = int(0.06 * SR)
    order = [0, 3, 1, 4, 2, 0, 1, 3]
    n = len(order) * (syll + gap) + int(0.2 * SR)
    out = np.zeros(n)
    for i, v in enumerate(order):
        f0 = 115.0 * (1.0 + 0.08 * np.sin(i * 1.7)) * (1.0 + 0.05 * np.linspace(1, -1, syll))
        phase = 2 * np.pi * np.cumsum(f0) / SR
        x = np.zeros(syll)
        for k in range(1, 30):
            fk = k * float(f0.mean())
            if not 250.0 <= fk <= 3400.0:
                continue
            amp = sum(np.exp(-(((fk - F) / (80 + 0.06 * F)) ** 2)) / (1 + j) for j, F in enumerate(vowels[v]))
            x += (amp + 0.02) * np.sin(k * phase)
        place(out, x * hann_env(syll, 0.15), i * (syll + gap))
    return normalise(tail_fade(out), 0.7)


# ---------------------------------------------------------------------------------------------
# Dungeon


def drip(rng: np.random.Generator, k: int) -> np.ndarray:
    n = int(0.25 * SR)
    f0 = (1150.0, 1420.0, 1730.0)[k]
    x = sweep(f0 * 0.8, f0 * 1.35, n, 0.3) * np.exp(-_t(n) / 0.05)
    x += 0.3 * damped(f0 * 2.7, 0.02, n)
    return normalise(tail_fade(x), 0.6)


def drone(rng: np.random.Generator) -> np.ndarray:
    """Cave drone: 36.5/37 Hz beating tones, an A2, and 90-300 Hz air. Nothing between 40 and 85 Hz,
    which is the heartbeat's band. Every tone has whole cycles in 6 s, so the loop is seamless."""
    n = 6 * SR
    t = _t(n)
    tones = (
        np.sin(2 * np.pi * 36.5 * t)
        + 0.7 * np.sin(2 * np.pi * 37.0 * t)
        + 0.3 * np.sin(2 * np.pi * 110.0 * t)
    )
    air = band_noise(rng, n, 90.0, 300.0, channels=2)
    return normalise(0.6 * tones[:, None] + 0.5 * air * periodic_lfo(rng, n, (1, 2), 0.4)[:, None], 0.6)


def heartbeat(rng: np.random.Generator) -> np.ndarray:
    n = SR  # one beat per second; the scene raises the rate (pitch) as health falls
    out = np.zeros(n)
    place(out, damped(52.0, 0.07, int(0.3 * SR)) + 0.3 * damped(110.0, 0.03, int(0.3 * SR)), 0)
    place(out, 0.7 * damped(64.0, 0.06, int(0.3 * SR)), int(0.28 * SR))
    return normalise(tail_fade(out, 0.05), 0.8)


def sword_hit(rng: np.random.Generator) -> np.ndarray:
    n = int(1.2 * SR)
    modes = ((523.0, 0.45), (1317.0, 0.3), (2459.0, 0.2), (3712.0, 0.12), (5280.0, 0.06))
    x = sum(
        damped(f * rng.uniform(0.98, 1.02), d, n, rng.uniform(0, 6.28)) / (i + 1)
        for i, (f, d) in enumerate(modes)
    )
    x += 0.8 * band_noise(rng, n, 1500.0, 9000.0) * np.exp(-_t(n) / 0.004)
    return normalise(tail_fade(x, 0.1), 0.8)


def _segment(rng: np.random.Generator, name: str, bars: int) -> np.ndarray:
    """A music loop of exactly ``bars`` bars. Every bar opens with a kick (instant attack) and the
    segment's signature pitch, so a transition's landing can be found in the audio to the sample."""
    n = bars * BAR
    out = np.zeros(n)
    sig = SIGNATURE_HZ[name]
    warm = (1.0, 0.5, 0.3, 0.15)
    if name == "explore":
        chords = [(110.0, 130.81, 164.81), (87.31, 110.0, 130.81)]  # Am, F
        bell = [440.0, 523.25, 659.26, 523.25]
        for b in range(bars):
            ch = chords[(b // 2) % 2]
            at = b * BAR
            place(out, kick(BAR // 2, 0.35), at)
            for f in ch:
                place(out, note(f, BAR, warm, attack=0.3, decay=3.0) * hann_env(BAR, 0.2), at, 0.18)
            for k, f in enumerate(bell):
                place(
                    out,
                    note(f, BEAT, (1.0, 0.2), attack=0.0 if k == 0 else 0.004, decay=0.35),
                    at + k * BEAT,
                    0.22 if f == sig else 0.12,
                )
    elif name == "combat":
        for b in range(bars):
            at = b * BAR
            for beat in range(4):
                place(out, kick(BEAT, 0.9), at + beat * BEAT)
            for e in range(8):  # driving eighth-note bass: D2 and A2
                place(
                    out,
                    note(73.42 if e % 4 < 3 else 110.0, BEAT // 2, warm, 0.002, 0.12),
                    at + e * BEAT // 2,
                    0.25,
                )
                hat = band_noise(rng, BEAT // 4, 6000.0, 12000.0) * np.exp(-_t(BEAT // 4) / 0.02)
                place(out, hat, at + e * BEAT // 2 + BEAT // 4, 0.05)
            for beat in (0, 2):  # stabs: D4 (signature) + A4
                place(out, note(sig, BEAT, (1.0, 0.35, 0.2), 0.0, 0.3), at + beat * BEAT, 0.3)
                place(out, note(440.0, BEAT, (1.0, 0.3), 0.003, 0.3), at + beat * BEAT, 0.15)
    else:  # boss: tritone drone F#1 + C2, pounding kicks, F#3 (signature) pulses
        for b in range(bars):
            at = b * BAR
            place(out, note(46.25, BAR, warm, 0.0, 2.5), at, 0.3)
            place(out, note(65.41, BAR, warm, 0.05, 2.5), at, 0.2)
            for beat in range(4):
                place(out, kick(BEAT, 1.0), at + beat * BEAT)
            for s in range(16):
                place(
                    out,
                    note(sig, BEAT // 4, (1.0, 0.5, 0.3), 0.0, 0.08),
                    at + s * BEAT // 4,
                    0.28 if s % 4 == 0 else 0.16,
                )
    return normalise(out, 0.8)


def stinger_alarm(rng: np.random.Generator) -> np.ndarray:
    n = int(1.2 * SR)
    out = np.zeros(n)
    brass = (1.0, 0.7, 0.5, 0.35, 0.25, 0.15)
    for k, f in enumerate((293.66, 349.23, 440.0)):
        place(out, note(f, n - k * BEAT // 3, brass, 0.01, 0.4), k * BEAT // 3, 0.3)
    return normalise(tail_fade(out, 0.1), 0.8)


def stinger_boss(rng: np.random.Generator) -> np.ndarray:
    n = int(1.8 * SR)
    x = note(46.25, n, (1.0, 0.8, 0.6, 0.4, 0.3), 0.0, 0.6) + 0.6 * note(65.41, n, (1.0, 0.5, 0.3), 0.0, 0.5)
    x += 0.5 * band_noise(rng, n, 80.0, 3000.0) * np.exp(-_t(n) / 0.15)
    return normalise(tail_fade(x, 0.2), 0.9)


# ---------------------------------------------------------------------------------------------
# Town


def car_engine(rng: np.random.Generator) -> np.ndarray:
    """Engine hum: harmonics of 60 Hz with the 4th (240 Hz) strongest, plus a little exhaust noise.
    2 s holds whole cycles of every partial and of the 4 Hz roughness, so it loops seamlessly."""
    n = 2 * SR
    t = _t(n)
    amps = {1: 0.35, 2: 0.5, 3: 0.4, 4: 1.0, 5: 0.3, 6: 0.25, 8: 0.15, 10: 0.08}
    x = sum(a * np.sin(2 * np.pi * 60.0 * k * t + rng.uniform(0, 6.28)) for k, a in amps.items())
    x *= 1.0 + 0.15 * np.sin(2 * np.pi * 4.0 * t)
    x += 0.25 * band_noise(rng, n, 80.0, 1200.0)
    return normalise(x, 0.7)


def footstep(rng: np.random.Generator, surface: str) -> np.ndarray:
    n = int(0.35 * SR)
    t = _t(n)
    out = np.zeros(n)
    if surface == "stone":  # hard, bright heel and toe clicks
        for at, g in ((0, 1.0), (int(0.09 * SR), 0.6)):
            hit = sum(damped(f * rng.uniform(0.95, 1.05), 0.012, n // 2) for f in (1800, 2900, 4100))
            hit += band_noise(rng, n // 2, 2000.0, 10000.0) * np.exp(-_t(n // 2) / 0.004)
            place(out, hit, at, g)
    elif surface == "wood":  # hollow boards: low resonances
        for at, g in ((0, 1.0), (int(0.1 * SR), 0.7)):
            hit = sum(
                damped(f * rng.uniform(0.95, 1.05), 0.05, n // 2) / (i + 1)
                for i, f in enumerate((190, 420, 760))
            )
            hit += 0.4 * band_noise(rng, n // 2, 300.0, 3000.0) * np.exp(-_t(n // 2) / 0.008)
            place(out, hit, at, g)
    else:  # gravel: many small grains over ~120 ms
        for _ in range(60):
            g = band_noise(rng, int(0.01 * SR), 1500.0, 9000.0) * hann_env(int(0.01 * SR), 0.1)
            place(out, g, int(abs(rng.normal(0.04, 0.035)) * SR), rng.uniform(0.2, 1.0))
    out *= np.exp(-t / 0.2)
    return normalise(tail_fade(out), 0.7)


def door(rng: np.random.Generator, opening: bool) -> np.ndarray:
    """Creak (a 12 Hz-pulsed resonance gliding in pitch) then, when closing, a heavy thud."""
    n = int(1.4 * SR)
    out = np.zeros(n)
    m = int(0.9 * SR)
    f = np.linspace(320, 520, m) if opening else np.linspace(480, 300, m)
    tm = _t(m)
    stick = np.clip(np.sin(2 * np.pi * (12 + 6 * tm) * tm), 0, None) ** 4  # stick-slip pulses
    creak = (
        sum(np.sin(2 * np.pi * k * np.cumsum(f) / SR) / k for k in (1, 2, 3, 5)) * stick * hann_env(m, 0.2)
    )
    place(out, creak, 0, 0.6)
    thud = damped(85.0, 0.09, int(0.5 * SR)) + 0.5 * damped(170.0, 0.05, int(0.5 * SR))
    thud += 0.4 * band_noise(rng, int(0.5 * SR), 200.0, 3000.0) * np.exp(-_t(int(0.5 * SR)) / 0.01)
    place(out, thud, int((0.85 if not opening else 0.05) * SR), 1.0 if not opening else 0.25)
    return normalise(tail_fade(out, 0.05), 0.8)


def fountain(rng: np.random.Generator) -> np.ndarray:
    n = 4 * SR
    x = band_noise(rng, n, 400.0, 7000.0, channels=2, tilt_db_oct=-2.0)
    splash = np.zeros((n, 2))
    for _ in range(400):
        d = damped(rng.uniform(500, 2500), rng.uniform(0.004, 0.015), int(0.05 * SR), rng.uniform(0, 6.28))
        place_wrapped(splash[:, int(rng.integers(2))], d, int(rng.integers(n)), rng.uniform(0.2, 1.0))
    splash /= np.sqrt(np.mean(splash**2)) + 1e-12
    return normalise(0.7 * x + 0.5 * splash, 0.6)


def crowd(rng: np.random.Generator) -> np.ndarray:
    """Distant murmur: speech-band noise (330 Hz up, leaving the car's 240 Hz partial clear) with
    formant bumps and syllable-rate (3-6 Hz) flutter."""
    n = 6 * SR
    x = sum(
        band_noise(rng, n, lo, hi, channels=2) * g
        for lo, hi, g in ((330, 700, 1.0), (900, 1600, 0.6), (2000, 3200, 0.3))
    )
    flutter = np.clip(1.0 + 0.6 * band_noise(rng, n, 2.5, 7.0, channels=2), 0.1, None)
    return normalise(x * flutter, 0.5)


# ---------------------------------------------------------------------------------------------
# The catalogue


def _catalogue() -> tuple[AssetSpec, ...]:
    A = AssetSpec
    items = [
        A(
            "forest",
            "rain_light.wav",
            "light rain: 2-8 kHz hiss plus drop pings, 4 s stereo loop",
            lambda r: rain(r, False),
        ),
        A(
            "forest",
            "rain_heavy.wav",
            "heavy rain: 0.6-9 kHz hiss, dense drops, 4 s stereo loop",
            lambda r: rain(r, True),
        ),
        A("forest", "wind.wav", "wind: 60-900 Hz noise with gusts, 6 s stereo loop", wind),
        A("forest", "stream.wav", "brook: 250-1800 Hz noise with bubbling flutter, 4 s mono loop", stream),
        *(
            A(
                "forest",
                f"bird_{k + 1}.wav",
                f"bird call {k + 1}: FM chirps in 2-6 kHz",
                lambda r, k=k: bird(r, k),
            )
            for k in range(4)
        ),
        A(
            "forest",
            "insects.wav",
            "night insects: 7.2 kHz cricket trills and a 9 kHz buzz, 4 s loop",
            insects,
        ),
        A("forest", "thunder_1.wav", "distant thunder: crack and 25-250 Hz rumble, 4.5 s", thunder),
        A("forest", "thunder_2.wav", "distant thunder, second take", thunder),
        A("forest", "radio_voice.wav", "radio voice: formant-synthesised syllables, 250-3400 Hz", voice),
        *(
            A("dungeon", f"drip_{k + 1}.wav", f"water drip {k + 1}: rising plink", lambda r, k=k: drip(r, k))
            for k in range(3)
        ),
        A("dungeon", "drone.wav", "cave drone: 36.5/37 Hz beating tones, A2, 90-300 Hz air, 6 s loop", drone),
        A("dungeon", "heartbeat.wav", "heartbeat: lub-dub at 60 BPM, 1 s loop", heartbeat),
        A("dungeon", "sword_hit.wav", "metal impact: inharmonic damped modes plus a click", sword_hit),
        A(
            "dungeon",
            "music_explore.wav",
            "explore: Am/F pads, bell arpeggio (A4 signature), 4 bars at 100 BPM",
            lambda r: _segment(r, "explore", 4),
        ),
        A(
            "dungeon",
            "music_combat.wav",
            "combat: kicks, D/A eighth bass, D4 stabs (signature), 2 bars",
            lambda r: _segment(r, "combat", 2),
        ),
        A(
            "dungeon",
            "music_boss.wav",
            "boss: F#/C tritone drone, kicks, F#3 pulses (signature), 2 bars",
            lambda r: _segment(r, "boss", 2),
        ),
        A("dungeon", "stinger_alarm.wav", "stinger: rising D-F-A brass figure", stinger_alarm),
        A("dungeon", "stinger_boss.wav", "stinger: low F#/C hit", stinger_boss),
        A(
            "town",
            "car_engine.wav",
            "car engine hum: 60 Hz harmonics, strong 240 Hz partial, 2 s loop",
            car_engine,
        ),
        *(
            A(
                "town",
                f"step_{s}_{k + 1}.wav",
                f"footstep on {s}, take {k + 1}",
                lambda r, s=s: footstep(r, s),
            )
            for s in ("stone", "wood", "gravel")
            for k in range(3)
        ),
        A("town", "door_open.wav", "door opening: creak and latch", lambda r: door(r, True)),
        A("town", "door_close.wav", "door closing: creak and thud", lambda r: door(r, False)),
        A("town", "fountain.wav", "fountain: 0.4-7 kHz water noise and splashes, 4 s stereo loop", fountain),
        A(
            "town",
            "crowd.wav",
            "crowd murmur: speech-band noise with syllable flutter, 6 s stereo loop",
            crowd,
        ),
        *_demo_catalogue(),
    ]
    return tuple(items)


# ---------------------------------------------------------------------------------------------
# The demo scene's own sounds (scenes/demo/sounds)
#
# Footsteps are rendered here rather than streamed from the generator at play time: a one-shot
# generator voice costs a few milliseconds on the render thread at each trigger, and its first use
# in a process loads compiled kernels there (measured 20-55 ms, several 5.3 ms blocks), which the
# daemon's default look-ahead cannot hide. Pre-rendered variations play as plain samples; the
# campfire stays a live generator (continuous, started with the scene).

STEP_SURFACES = ("grass", "wood", "gravel", "stone")
STEP_VARIATIONS = 4
NPC_TEXT = "Welcome to the village, traveller. The road to the cave is dangerous after dark."
NPC_PRESET = "elder"


def generated_oneshot(name: str, params: Mapping[str, object], seed: int, variation: int) -> np.ndarray:
    """A one-shot generator rendered until it finishes (at most 5 s), its silent tail trimmed."""
    from ..generators import create_generator

    gen = create_generator(name, sample_rate=SR, seed=seed, params=dict(params), variation=variation)
    gen.trigger()
    blocks, done = [], 0
    while not gen.finished and done < 5 * SR:
        blocks.append(gen.render(1024))
        done += 1024
    y = np.concatenate(blocks).astype(np.float64)
    loud = np.flatnonzero(np.abs(y).max(axis=1) > 1e-5)
    return y[: (loud[-1] + 1 if loud.size else 1)]


def npc_line() -> np.ndarray:
    """The villager's line (formant synthesiser), ending in 50 ms of silence."""
    from ..voice import render_line

    audio, _ = render_line(NPC_TEXT, NPC_PRESET, SR, engine="formant")
    return np.concatenate([np.asarray(audio, dtype=np.float64), np.zeros(int(0.05 * SR))])


def _npc_label() -> dict[str, object]:
    from ..voice.formant import ENGINE_NAME, ENGINE_VERSION

    return {"generated_by": [f"voice:{ENGINE_NAME} {ENGINE_VERSION}"], "synthetic": True}


def _step(stem: str, description: str, params: Mapping[str, object], seed: int) -> AssetSpec:
    variation = int(stem.rsplit("_", 1)[1])

    def label() -> dict[str, object]:
        from ..generators import VERSION

        made = f"generator:footstep {VERSION} {dict(params)} seed={seed} variation={variation}"
        return {"generated_by": [made]}

    return AssetSpec(
        "demo",
        f"{stem}.wav",
        description,
        lambda _rng: generated_oneshot("footstep", params, seed, variation),
        label,
    )


def _demo_catalogue() -> list[AssetSpec]:
    """Footstep variations per surface (weight 0.5), the enemy's heavy gravel steps (weight 1) and
    the NPC's line. A step's seed is 1000 + its place in this list, as the demo has always used."""
    jobs = [
        (f"step_{s}_{k}", f"footstep on {s}, variation {k}", {"surface": s, "weight": 0.5})
        for s in STEP_SURFACES
        for k in range(1, STEP_VARIATIONS + 1)
    ]
    jobs += [
        (
            f"step_heavy_{k}",
            f"heavy footstep on gravel (the enemy), variation {k}",
            {"surface": "gravel", "weight": 1.0},
        )
        for k in range(1, STEP_VARIATIONS + 1)
    ]
    specs = [_step(stem, text, params, 1000 + i) for i, (stem, text, params) in enumerate(jobs)]
    line = f"the villager's line, synthetic (voice preset {NPC_PRESET!r})"
    specs.append(AssetSpec("demo", "npc_line.wav", line, lambda _rng: npc_line(), _npc_label))
    return specs


ASSETS: tuple[AssetSpec, ...] = _catalogue()
"""Every asset of every shipped scene, in a fixed order."""


def default_scenes_dir() -> Path:
    """The repository's scenes/ folder (next to the middleware package)."""
    return Path(__file__).resolve().parents[2] / "scenes"


def synthesise(spec: AssetSpec) -> np.ndarray:
    """The asset's samples as float64 (frames,) or (frames, 2), peak below 1."""
    x = spec.synth(np.random.default_rng(spec.seed()))
    return np.clip(x, -0.99, 0.99)


def write_wav(path: Path, x: np.ndarray, label: Mapping[str, object] | None = None) -> None:
    """Write PCM16 at 48 kHz, atomically (temp file + rename), so a reader never sees a half-written
    file even when two processes generate at once. Without a ``label``, the stdlib ``wave`` module
    writes it; with one, ``WavSink`` stores the label in the file's LIST/INFO comment (what made it,
    and ``synthetic`` for a synthesised voice)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if label is not None:
        from ..sinks.wav import WavSink

        frames = x[:, None] if x.ndim == 1 else x
        with WavSink(tmp, SR, frames.shape[1], "pcm16", dict(label)) as sink:
            sink.write(np.clip(frames, -1.0, 1.0))
        os.replace(tmp, path)
        return
    pcm = np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2")
    channels = 1 if pcm.ndim == 1 else pcm.shape[1]
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())
    os.replace(tmp, path)


def ensure_example_assets(scenes_dir: str | Path | None = None, force: bool = False) -> list[Path]:
    """Write every missing example asset under ``scenes_dir`` (default: the repository's scenes/);
    returns the files written (empty when all were present). ``force`` rewrites them all."""
    root = Path(scenes_dir) if scenes_dir is not None else default_scenes_dir()
    written = []
    for spec in ASSETS:
        path = root / spec.relpath
        if force or not path.is_file():
            write_wav(path, synthesise(spec), spec.label() if spec.label is not None else None)
            written.append(path)
    return written


def report(root: Path, written: list[Path]) -> str:
    """What ``ensure_example_assets`` did, in one line."""
    if not written:
        return f"{root}: all {len(ASSETS)} example assets present"
    kept = len(ASSETS) - len(written)
    return f"{root}: wrote {len(written)} of {len(ASSETS)} example assets" + (
        f" ({kept} were present)" if kept else ""
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m middleware.tools.example_assets", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--scenes", type=Path, default=None, help="scenes folder (default: the repository's)")
    ap.add_argument("--force", action="store_true", help="rewrite files that already exist")
    args = ap.parse_args(argv)
    written = ensure_example_assets(args.scenes, force=args.force)
    print(report(args.scenes if args.scenes is not None else default_scenes_dir(), written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
