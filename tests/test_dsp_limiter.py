"""Look-ahead limiter: hard bound under heavy overload, transparency below the ceiling, smooth gain."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.engine.dsp.limiter import Limiter
from middleware.errors import EngineError

SR = 48000


def _sine(f: float, n: int, amp: float, phase: float = 0.0) -> np.ndarray:
    t = np.arange(n) / SR
    s = amp * np.sin(2 * np.pi * f * t + phase)
    return np.stack([s, s * 0.9], axis=1).astype(np.float32)


def _run(lim: Limiter, x: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    out = np.empty_like(x)
    gain = np.empty(len(x))
    for s in range(0, len(x), block):
        lim.process_into(x[s : s + block], out[s : s + block], gain[s : s + block])
    return out, gain


def test_latency_frames() -> None:
    assert Limiter(48000).latency_frames == 72
    assert Limiter(44100, lookahead=0.002).latency_frames == 88


@pytest.mark.parametrize("kind", ["noise", "sine", "bursts"])
def test_overload_20x_stays_within_ceiling(kind: str) -> None:
    rng = np.random.default_rng(0)
    n = SR
    if kind == "noise":
        x = rng.uniform(-20, 20, size=(n, 2))
    elif kind == "sine":
        x = _sine(3000.0, n, 20.0)
    else:  # silence with isolated full-overload single-sample clicks and short bursts
        x = np.zeros((n, 2))
        idx = rng.integers(0, n, 200)
        x[idx] = rng.choice([-20.0, 20.0], size=(200, 2))
        x[10000:10100] = 20.0
    x = x.astype(np.float32)
    lim = Limiter(SR, ceiling=0.98)
    y, _ = _run(lim, x, 256)
    assert np.all(np.isfinite(y))
    assert np.max(np.abs(y)) <= 0.98 + 1e-7
    assert np.max(np.abs(y)) > 0.9  # it limits, it does not mute


def test_gain_alone_meets_ceiling_without_the_clamp() -> None:
    """The look-ahead gain itself keeps peaks at the ceiling: the safety clamp has nothing to do."""
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(SR, 2)) * 5).astype(np.float32)
    lim = Limiter(SR, ceiling=0.9)
    _, g = _run(lim, x, 1000)
    lat = lim.latency_frames
    delayed = np.concatenate([np.zeros((lat, 2)), x[:-lat].astype(np.float64)])
    assert np.max(np.abs(delayed * g[:, None])) <= 0.9 * (1 + 1e-9)


def test_below_ceiling_passes_unchanged_after_delay() -> None:
    rng = np.random.default_rng(2)
    x = rng.uniform(-0.97, 0.97, size=(20000, 2)).astype(np.float32)
    lim = Limiter(SR, ceiling=0.98)
    y, g = _run(lim, x, 333)
    lat = lim.latency_frames
    np.testing.assert_array_equal(y[lat:], x[:-lat])  # exact: a gain of exactly 1.0 is a delay
    assert np.all(y[:lat] == 0.0)
    assert np.all(g == 1.0)


def test_recovers_to_exact_unity_after_overload() -> None:
    """After a loud burst and the release, quiet material is bit-exact again (no lingering gain drift)."""
    x = np.concatenate([_sine(440.0, 4800, 10.0), _sine(440.0, SR, 0.5)]).astype(np.float32)
    lim = Limiter(SR, release=0.05)
    y, g = _run(lim, x, 256)
    lat = lim.latency_frames
    start = 4800 + 3 * SR // 4  # 15 release time constants later: 0.9 * exp(-15) < 1e-6, the snap
    assert np.all(g[start:] == 1.0)
    assert g[4800 + SR // 4] < 1.0  # ... but not after 5 (the release is real)
    np.testing.assert_array_equal(y[start:], x[start - lat : -lat])


def test_gain_is_smooth() -> None:
    """Attack is a linear ramp over the look-ahead: |gain step| <= 1/latency, never a jump."""
    rng = np.random.default_rng(3)
    x = np.zeros((SR, 2), np.float32)
    x[5000:] = rng.uniform(-20, 20, size=(SR - 5000, 2))  # abrupt 20x onset from silence
    lim = Limiter(SR)
    _, g = _run(lim, x, 64)
    assert g.min() < 0.06
    assert np.max(np.abs(np.diff(g))) <= 1.0 / lim.latency_frames + 1e-12


def test_sine_output_has_no_clicks() -> None:
    """Full-scale and 20x 1 kHz sines: output never moves faster than a clean sine of the ceiling's size.

    A sine of amplitude A at f moves at most A * 2 pi f / sr per sample (0.1309 A at 1 kHz / 48 kHz); we
    allow 10 % on top. For the 20x sine the bound applies once the attack ramp is over (after the
    look-ahead plus a few cycles), since during the 1.5 ms ramp the gain itself is still moving.
    """
    step = 2 * math.pi * 1000.0 / SR
    lim = Limiter(SR, ceiling=0.98)
    x = _sine(1000.0, SR // 2, 1.0)
    y, _ = _run(lim, x, 256)
    assert np.max(np.abs(np.diff(y[:, 0].astype(np.float64)))) <= step * 1.1 + 1e-6
    lim = Limiter(SR, ceiling=0.98)
    x = _sine(1000.0, SR // 2, 20.0)
    y, _ = _run(lim, x, 256)
    steady = y[lim.latency_frames + 480 :, 0].astype(np.float64)
    assert np.max(np.abs(np.diff(steady))) <= 0.98 * step * 1.1 + 1e-6
    assert np.max(np.abs(y)) <= 0.98 + 1e-7


def test_block_split_invariance() -> None:
    rng = np.random.default_rng(4)
    x = (rng.normal(size=(30000, 2)) * np.linspace(0.1, 8, 30000)[:, None]).astype(np.float32)
    whole, _ = _run(Limiter(SR), x, len(x))
    lim = Limiter(SR)
    out = np.empty_like(x)
    pos = 0
    sizes = rng.integers(1, 700, 500)
    for k in sizes:
        k = int(min(k, len(x) - pos))
        if k == 0:
            break
        lim.process_into(x[pos : pos + k], out[pos : pos + k])
        pos += k
    if pos < len(x):
        lim.process_into(x[pos:], out[pos:])
    # exact: same kernel (no fastmath) and samples, only the cuts differ; its state carries over
    np.testing.assert_array_equal(out, whole)
    single, _ = _run(Limiter(SR), x[:2000], 1)
    np.testing.assert_array_equal(single, whole[:2000])


def test_nan_input_is_contained_and_in_place_works() -> None:
    x = _sine(200.0, 2000, 3.0)
    x[500, 0] = np.nan
    lim = Limiter(SR)
    buf = x.copy()
    lim.process_into(buf, buf)
    assert np.all(np.isfinite(buf)) and np.max(np.abs(buf)) <= 0.98 + 1e-7


@pytest.mark.parametrize(
    "kw", [{"ceiling": 0.0}, {"ceiling": 1.5}, {"lookahead": 0.0}, {"release": -1.0}, {"ceiling": math.nan}]
)
def test_validation(kw: dict) -> None:
    with pytest.raises(EngineError):
        Limiter(SR, **kw)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    amp=st.floats(0.01, 60.0),
    ceiling=st.floats(0.1, 1.0),
    block=st.integers(1, 8192),
)
def test_property_never_exceeds_ceiling(seed: int, amp: float, ceiling: float, block: int) -> None:
    """Any level, any block size, any ceiling: the output stays within [-ceiling, ceiling]."""
    rng = np.random.default_rng(seed)
    n = 12000
    env = np.repeat(rng.uniform(0, 1, n // 500), 500)[:, None]  # jumps in level every ~10 ms
    x = (rng.normal(size=(n, 2)) * env * amp).astype(np.float32)
    lim = Limiter(SR, ceiling=ceiling)
    y, g = _run(lim, x, block)
    assert np.max(np.abs(y)) <= ceiling * (1 + 1e-6)
    assert np.all((g > 0) & (g <= 1.0))
