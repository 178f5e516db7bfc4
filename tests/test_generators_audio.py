"""Properties measured on the generated audio, against independent references (scipy.signal)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import signal

from middleware.generators import GENERATORS, MATERIALS, SURFACES, create_generator

SR = 48000


def _render(name: str, seconds: float, seed: int = 1, variation: int = 0, **params) -> np.ndarray:
    g = create_generator(name, sample_rate=SR, seed=seed, params=params, variation=variation)
    if g.oneshot:
        out = []
        while not g.finished:
            out.append(g.render(2048))
        return np.concatenate(out).astype(np.float64)
    return np.concatenate([g.render(1024) for _ in range(int(seconds * SR) // 1024)]).astype(np.float64)


def _centroid(x: np.ndarray) -> float:
    f, p = signal.welch(x.mean(axis=1), fs=SR, nperseg=4096)
    return float((f * p).sum() / p.sum())


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2)))


def test_wind_centroid_and_level_rise_with_speed():
    speeds = [0.1, 0.3, 0.5, 0.7, 0.9]
    ys = [_render("wind", 3.0, seed=4, speed=s, gustiness=0.3) for s in speeds]
    cents = [_centroid(y) for y in ys]
    levels = [_rms(y) for y in ys]
    assert all(b > a * 1.15 for a, b in itertools.pairwise(cents)), cents
    assert all(b > a * 1.15 for a, b in itertools.pairwise(levels)), levels


def onsets(x: np.ndarray, refractory: float) -> np.ndarray:
    """Energy-envelope onset detector: 1 ms RMS envelope, rising crossings of 10 % of its max."""
    mono = np.abs(x).max(axis=1)
    win = 48
    env = np.sqrt(
        np.maximum(signal.fftconvolve(mono**2, np.ones(win) / win, mode="full")[: mono.shape[0]], 0)
    )
    above = env > 0.1 * env.max()
    rises = np.flatnonzero(above[1:] & ~above[:-1]) + 1
    if above[0]:
        rises = np.concatenate([[0], rises])
    found: list[float] = []
    for k in rises:
        t = k / SR
        if not found or t - found[-1] >= refractory:
            found.append(t)
    return np.array(found)


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("pace", [1.2, 2.0, 3.2])
def test_footstep_onsets_fall_on_the_pace(surface, pace):
    y = _render("footsteps", 4.0, seed=7, surface=surface, pace=pace, weight=0.6)
    on = onsets(y, refractory=0.8 / pace)
    grid = np.arange(on.shape[0]) / pace
    assert on.shape[0] == int(np.ceil(y.shape[0] / SR * pace)), on
    assert np.abs(on - grid).max() <= 0.005, (on - grid) * 1000


def _bands(x: np.ndarray) -> np.ndarray:
    """Log energy share in 8 octave bands from 62.5 Hz to 16 kHz."""
    f, p = signal.periodogram(x.mean(axis=1), fs=SR)
    edges = 62.5 * 2.0 ** np.arange(9)
    e = np.array([p[(f >= lo) & (f < hi)].sum() for lo, hi in itertools.pairwise(edges)])
    return np.log10(e / e.sum() + 1e-3)  # shares below -30 dB are noise, not character


def _step_features(seeds: range) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for label, surface in enumerate(SURFACES):
        for s in seeds:
            weight = float(np.random.default_rng(s).uniform(0.1, 0.9))
            xs.append(_bands(_render("footstep", 0.0, seed=s, surface=surface, weight=weight)))
            ys.append(label)
    return np.array(xs), np.array(ys)


def test_surfaces_are_told_apart_by_band_energies():
    xtr, ytr = _step_features(range(8))
    centroids = np.array([xtr[ytr == k].mean(axis=0) for k in range(len(SURFACES))])
    xte, yte = _step_features(range(100, 115))
    pred = np.argmin(((xte[:, None, :] - centroids[None]) ** 2).sum(axis=-1), axis=1)
    acc = float((pred == yte).mean())
    assert acc >= 0.9, acc


def test_continuous_footsteps_match_the_single_step_character():
    """Steps cut from the walking stream are classified with centroids learned on one-shots."""
    xtr, ytr = _step_features(range(6))
    centroids = np.array([xtr[ytr == k].mean(axis=0) for k in range(len(SURFACES))])
    correct = total = 0
    for label, surface in enumerate(SURFACES):
        y = _render("footsteps", 3.0, seed=3, surface=surface, pace=1.0)
        for k in range(3):
            seg = y[k * SR : (k + 1) * SR]
            pred = np.argmin(((_bands(seg)[None] - centroids) ** 2).sum(axis=-1))
            correct += int(pred == label)
            total += 1
    assert correct / total >= 0.9


def _event_rate(x: np.ndarray) -> float:
    """Drop events per second: peaks of the 1 ms envelope of the differentiated signal."""
    d = np.diff(x.mean(axis=1))
    env = np.sqrt(np.maximum(signal.fftconvolve(d**2, np.ones(48) / 48, mode="same"), 0.0))
    peaks, _ = signal.find_peaks(env, height=4.0 * np.median(env), distance=48)
    return peaks.shape[0] / (x.shape[0] / SR)


@pytest.mark.parametrize("surface", ["ground", "water", "leaves"])
def test_rain_event_density_rises_with_intensity(surface):
    rates = [
        _event_rate(_render("rain", 3.0, seed=5, intensity=i, surface=surface)) for i in (0.03, 0.08, 0.15)
    ]
    assert rates[0] > 5.0
    assert all(b > a * 1.3 for a, b in itertools.pairwise(rates)), rates


@pytest.mark.parametrize("rpm", [800.0, 1500.0, 3000.0, 6000.0])
def test_engine_fundamental_follows_rpm(rpm):
    y = _render("engine", 1.0, seed=2, rpm=rpm, load=0.5)[:, 0]
    f, p = signal.welch(y, fs=SR, nperseg=16384)
    expected = rpm / 60.0 * 4 / 2  # four-stroke, four cylinders
    lo = f > 10.0
    assert abs(f[lo][np.argmax(p[lo])] - expected) <= 2 * SR / 16384


def test_engine_load_brightens():
    cents = [_centroid(_render("engine", 1.0, seed=2, rpm=2000.0, load=ld)) for ld in (0.0, 0.5, 1.0)]
    assert cents[0] < cents[1] < cents[2], cents


def test_fire_and_water_levels_follow_their_parameter():
    assert _rms(_render("fire", 2.0, size=0.2)) < _rms(_render("fire", 2.0, size=0.8))
    assert _rms(_render("water", 2.0, flow=0.2)) < _rms(_render("water", 2.0, flow=0.8))
    quiet, crackly = (_event_rate(_render("fire", 3.0, seed=9, crackle=c, size=0.3)) for c in (0.1, 0.9))
    assert crackly > 2.0 * quiet


def test_birds_follow_time_of_day_and_insects_the_night():
    dawn = _rms(_render("birds", 4.0, seed=3, density=0.8, time_of_day=6.0))
    night = _rms(_render("birds", 4.0, seed=3, density=0.8, time_of_day=2.0))
    assert dawn > 3.0 * night  # activity 1.0 vs 0.02: ~50x the songs; rms ratio >= 4.9 over 6 seeds
    crickets_night = _rms(_render("insects", 3.0, seed=3, density=0.8, time_of_day=23.0))
    crickets_noon = _render("insects", 3.0, seed=3, density=0.8, time_of_day=14.0)
    # at noon it is the cicada band (around 5 kHz), at night the crickets' 3.5-5.5 kHz tones
    assert crickets_night > 1e-3 and _rms(crickets_noon) > 1e-3
    assert _rms(_render("insects", 3.0, seed=3, density=0.0, time_of_day=23.0)) < 1e-6


def _character(y: np.ndarray) -> np.ndarray:
    """Band shape plus ring time (2 log10 of the seconds until the envelope stays 40 dB down):
    metal and plastic can share a band, never a decay."""
    env = np.abs(y).max(axis=1)
    last = np.flatnonzero(env > env.max() * 0.01)[-1]
    return np.concatenate([_bands(y), [2.0 * np.log10((last + 1) / SR)]])


@pytest.mark.parametrize(
    ("name", "params"),
    [("impact", {"material": m}) for m in MATERIALS] + [("footstep", {"surface": s}) for s in SURFACES],
)
def test_variations_differ_yet_share_character(name, params):
    ys = [_render(name, 0.0, seed=42, variation=v, **params) for v in range(6)]
    feats = np.array([_character(y) for y in ys])
    for i in range(len(ys)):
        for j in range(i + 1, len(ys)):
            n = min(ys[i].shape[0], ys[j].shape[0])
            assert not np.allclose(ys[i][:n], ys[j][:n], atol=1e-4), (i, j)
    # Same character: every variation is closer to its own family's mean (band shape and ring
    # time) than the families of the other choices are.
    own = feats.mean(axis=0)
    spread = np.sqrt(((feats - own) ** 2).sum(axis=1)).max()
    key, choices = ("material", MATERIALS) if name == "impact" else ("surface", SURFACES)
    for other in choices:
        if other == params[key]:
            continue
        other_mean = np.mean(
            [_character(_render(name, 0.0, seed=42, variation=v, **{key: other})) for v in range(3)], 0
        )
        assert np.sqrt(((other_mean - own) ** 2).sum()) > spread, other


def test_impact_size_lowers_pitch_and_metal_rings_longer_than_wood():
    small = _centroid(_render("impact", 0.0, seed=1, material="glass", size=0.1))
    large = _centroid(_render("impact", 0.0, seed=1, material="glass", size=0.9))
    assert large < small / 2
    metal = _render("impact", 0.0, seed=1, material="metal").shape[0]
    wood = _render("impact", 0.0, seed=1, material="wood").shape[0]
    assert metal > 4 * wood


def test_every_generator_is_audible_and_bounded_at_defaults():
    for name in GENERATORS:
        y = _render(name, 2.0, seed=8)
        peak = np.abs(y).max()
        assert 0.01 < peak <= 1.0, (name, peak)
