"""Biquad and one-pole kernels against scipy.signal references and the RBJ cookbook formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal

from middleware.engine.dsp.filters import (
    BIQUAD_KINDS,
    biquad_block,
    biquad_block_into,
    biquad_coeffs,
    biquad_identity,
    biquad_state,
    one_pole_block,
    one_pole_highpass_block,
    one_pole_lowpass_coeff,
    one_pole_state,
)
from middleware.errors import EngineError

SR = 48000.0


def _noise(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.5, 0.5, size=(n, 2)).astype(np.float32)


def _split_points(n: int, seed: int) -> list[int]:
    """Random block lengths 1..600 that sum to n (covers length-1 blocks and odd sizes)."""
    rng = np.random.default_rng(seed)
    sizes = []
    left = n
    while left > 0:
        k = int(min(left, rng.integers(1, 600)))
        sizes.append(k)
        left -= k
    return sizes


@pytest.mark.parametrize("kind", BIQUAD_KINDS)
def test_biquad_matches_lfilter(kind: str) -> None:
    c = biquad_coeffs(kind, 1234.0, 0.9, 6.0, SR)
    x = _noise(5000)
    y = biquad_block(x, c, c, biquad_state())
    ref = signal.lfilter(c[:3], [1.0, c[3], c[4]], x.astype(np.float64), axis=0)
    np.testing.assert_allclose(y, ref, atol=1e-6, rtol=0)


def test_biquad_coeffs_match_scipy_designs() -> None:
    # scipy.signal.iirpeak/iirnotch use a different bandwidth definition; compare magnitude responses of
    # the RBJ formulas instead with what the cookbook promises at characteristic frequencies.
    f0 = 1000.0
    for kind, expect_db in (("lowpass", 20 * math.log10(0.707)), ("highpass", 20 * math.log10(0.707))):
        c = biquad_coeffs(kind, f0, 1 / math.sqrt(2), 0.0, SR)
        _, h = signal.freqz(c[:3], [1.0, c[3], c[4]], worN=[f0], fs=SR)
        assert abs(20 * math.log10(abs(h[0])) - expect_db) < 0.01
    # Butterworth (Q = 1/sqrt 2) RBJ low-pass equals scipy's bilinear butter with prewarping at f0.
    c = biquad_coeffs("lowpass", f0, 1 / math.sqrt(2), 0.0, SR)
    b, a = signal.butter(2, f0, fs=SR)
    np.testing.assert_allclose(c, [b[0], b[1], b[2], a[1], a[2]], rtol=1e-9, atol=1e-12)
    # Peak: +6 dB at f0, 0 dB far away. Shelves: gain at DC / Nyquist.
    c = biquad_coeffs("peak", f0, 2.0, 6.0, SR)
    _, h = signal.freqz(c[:3], [1.0, c[3], c[4]], worN=[f0, 20.0], fs=SR)
    np.testing.assert_allclose(20 * np.log10(np.abs(h)), [6.0, 0.0], atol=0.01)
    c = biquad_coeffs("lowshelf", f0, 0.7, -9.0, SR)
    _, h = signal.freqz(c[:3], [1.0, c[3], c[4]], worN=[0.0, SR / 2 - 1], fs=SR)
    np.testing.assert_allclose(20 * np.log10(np.abs(h)), [-9.0, 0.0], atol=0.01)
    c = biquad_coeffs("highshelf", f0, 0.7, 9.0, SR)
    _, h = signal.freqz(c[:3], [1.0, c[3], c[4]], worN=[0.0, SR / 2 - 1], fs=SR)
    np.testing.assert_allclose(20 * np.log10(np.abs(h)), [0.0, 9.0], atol=0.01)
    c = biquad_coeffs("notch", f0, 2.0, 0.0, SR)
    _, h = signal.freqz(c[:3], [1.0, c[3], c[4]], worN=[f0], fs=SR)
    assert abs(h[0]) < 1e-9
    c = biquad_coeffs("bandpass", f0, 2.0, 0.0, SR)
    _, h = signal.freqz(c[:3], [1.0, c[3], c[4]], worN=[f0], fs=SR)
    assert abs(abs(h[0]) - 1.0) < 1e-9


@pytest.mark.parametrize(
    "args",
    [
        ("lowpass", 0.0, 1.0, 0.0),
        ("lowpass", 24000.0, 1.0, 0.0),
        ("lowpass", -5.0, 1.0, 0.0),
        ("lowpass", 1000.0, 0.0, 0.0),
        ("lowpass", 1000.0, -1.0, 0.0),
        ("lowpass", float("nan"), 1.0, 0.0),
        ("wobble", 1000.0, 1.0, 0.0),
    ],
)
def test_biquad_coeffs_validation(args: tuple) -> None:
    kind, f, q, g = args
    with pytest.raises(EngineError):
        biquad_coeffs(kind, f, q, g, SR)


def test_biquad_block_split_invariance() -> None:
    c = biquad_coeffs("peak", 300.0, 3.0, 12.0, SR)
    x = _noise(6000, seed=3)
    whole = biquad_block(x, c, c, biquad_state())
    st = biquad_state()
    parts = []
    pos = 0
    for k in _split_points(len(x), seed=4):
        parts.append(biquad_block(x[pos : pos + k], c, c, st))
        pos += k
    # exact: same kernel (no fastmath) and samples, only the cuts differ
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_biquad_ramp_split_matches_midpoint() -> None:
    """A ramp over one 512-block equals two 256-blocks ramping via the midpoint coefficients."""
    c0 = biquad_coeffs("lowpass", 200.0, 0.7, 0.0, SR)
    c1 = biquad_coeffs("lowpass", 8000.0, 0.7, 0.0, SR)
    mid = 0.5 * (c0 + c1)
    x = _noise(512, seed=5)
    whole = biquad_block(x, c0, c1, biquad_state())
    st = biquad_state()
    a = biquad_block(x[:256], c0, mid, st)
    b = biquad_block(x[256:], mid, c1, st)
    np.testing.assert_allclose(np.concatenate([a, b]), whole, atol=1e-6)


def test_biquad_ramp_is_click_free() -> None:
    """Sweeping a low-pass 100 Hz -> 10 kHz block by block on a sine leaves no step in the output."""
    n_blocks, blk = 40, 256
    t = np.arange(n_blocks * blk) / SR
    x = np.repeat((0.5 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)[:, None], 2, axis=1)
    freqs = np.geomspace(100.0, 10000.0, n_blocks + 1)
    st = biquad_state()
    out = []
    for i in range(n_blocks):
        c0 = biquad_coeffs("lowpass", freqs[i], 0.707, 0.0, SR)
        c1 = biquad_coeffs("lowpass", freqs[i + 1], 0.707, 0.0, SR)
        out.append(biquad_block(x[i * blk : (i + 1) * blk], c0, c1, st))
    y = np.concatenate(out)[:, 0].astype(np.float64)
    # A 220 Hz sine of amplitude <= ~0.5 cannot move more than 2*pi*220/48000*0.5 ~= 0.0144 per sample;
    # a click (coefficient jump with stale state) would produce far larger steps.
    assert np.max(np.abs(np.diff(y))) < 0.02
    assert np.all(np.isfinite(y))


def test_biquad_in_place_and_identity() -> None:
    x = _noise(1000, seed=7)
    buf = x.copy()
    c = biquad_identity()
    biquad_block_into(buf, buf, c, c, biquad_state())
    np.testing.assert_array_equal(buf, x)  # exact: b0 = 1, the rest 0: y = 1 * x + 0
    c = biquad_coeffs("highpass", 500.0, 0.7, 0.0, SR)
    buf = x.copy()
    biquad_block_into(buf, buf, c, c, biquad_state())
    np.testing.assert_array_equal(buf, biquad_block(x, c, c, biquad_state()))  # exact: biquad_block calls it


def test_biquad_zero_length_block() -> None:
    st = biquad_state()
    c = biquad_coeffs("lowpass", 500.0, 0.7, 0.0, SR)
    y = biquad_block(np.zeros((0, 2), np.float32), c, c, st)
    assert y.shape == (0, 2)
    assert np.all(st == 0)


def test_one_pole_lowpass_and_highpass_match_lfilter() -> None:
    a = one_pole_lowpass_coeff(800.0, SR)
    assert a == pytest.approx(1 - math.exp(-2 * math.pi * 800.0 / SR))
    x = _noise(4000, seed=9)
    lp = one_pole_block(x, a, a, one_pole_state())
    ref_lp = signal.lfilter([a], [1.0, a - 1.0], x.astype(np.float64), axis=0)
    np.testing.assert_allclose(lp, ref_lp, atol=1e-6, rtol=0)
    hp = one_pole_highpass_block(x, a, a, one_pole_state())
    ref_hp = signal.lfilter([1 - a, a - 1], [1.0, a - 1.0], x.astype(np.float64), axis=0)
    np.testing.assert_allclose(hp, ref_hp, atol=1e-6, rtol=0)


def test_one_pole_split_invariance_and_ramp() -> None:
    a0 = one_pole_lowpass_coeff(100.0, SR)
    a1 = one_pole_lowpass_coeff(5000.0, SR)
    x = _noise(3000, seed=11)
    whole = one_pole_highpass_block(x, a0, a0, one_pole_state())
    st = one_pole_state()
    parts, pos = [], 0
    for k in _split_points(len(x), seed=12):
        parts.append(one_pole_highpass_block(x[pos : pos + k], a0, a0, st))
        pos += k
    # exact: same kernel (no fastmath) and samples, only the cuts differ
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    # A ramp ends exactly at its target: after it, the filter behaves like the target filter.
    st = one_pole_state()
    one_pole_block(x[:100], a0, a1, st)
    st_ref = st.copy()
    y = one_pole_block(x[100:200], a1, a1, st)
    zi = (1 - a1) * st_ref  # lfilter's zi for b=[a], a=[1, a-1] is (1-a)*y[-1]
    ref = signal.lfilter([a1], [1.0, a1 - 1], x[100:200].astype(np.float64), axis=0, zi=zi[None, :])[0]
    np.testing.assert_allclose(y, ref, atol=1e-6)


def test_one_pole_coeff_edges() -> None:
    assert one_pole_lowpass_coeff(0.0, SR) == 0.0
    assert 0.999 < one_pole_lowpass_coeff(1e6, SR) <= 1.0
    with pytest.raises(EngineError):
        one_pole_lowpass_coeff(100.0, 0.0)


def test_nan_sample_does_not_poison_state() -> None:
    x = _noise(2000, seed=13)
    x[10, 0] = np.nan
    c = biquad_coeffs("lowpass", 1000.0, 0.7, 0.0, SR)
    st = biquad_state()
    y = biquad_block(x, c, c, st)
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(st))
    a = one_pole_lowpass_coeff(500.0, SR)
    st1 = one_pole_state()
    assert np.all(np.isfinite(one_pole_highpass_block(x, a, a, st1))) and np.all(np.isfinite(st1))
