"""Freeverb-style reverb: decaying tail, RT60 grows with room size, exact dry path, block invariance."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from middleware.engine.dsp.reverb import COMB_TUNING, Reverb
from middleware.errors import EngineError

SR = 48000


def _impulse_response(seconds: float, block: int = 256, **params) -> np.ndarray:
    rev = Reverb(SR, **params)
    x = np.zeros((int(seconds * SR), 2), np.float32)
    x[0] = 1.0
    out = np.empty_like(x)
    for s in range(0, len(x), block):
        rev.process_into(x[s : s + block], out[s : s + block])
    return out.astype(np.float64)


def _rt60(ir: np.ndarray) -> float:
    """Schroeder backward integration; fit the -5..-25 dB range and extrapolate to -60 dB (T20 method)."""
    e = (ir**2).sum(axis=1)
    edc = np.cumsum(e[::-1])[::-1]
    edc_db = 10 * np.log10(edc / edc[0] + 1e-300)
    i5 = int(np.argmax(edc_db <= -5.0))
    i25 = int(np.argmax(edc_db <= -25.0))
    assert i25 > i5 > 0, "decay did not reach -25 dB inside the analysed window"
    t = np.arange(i5, i25) / SR
    slope, _ = np.polyfit(t, edc_db[i5:i25], 1)
    return -60.0 / slope


def test_tail_decays_window_by_window() -> None:
    ir = _impulse_response(2.0, room_size=0.8, damping=0.5, wet=1.0, dry=0.0)
    assert np.all(np.isfinite(ir))
    win = SR // 10
    # Skip the first 100 ms (the comb delays are ~25-37 ms, echo density still builds up there).
    energies = [(ir[k * win : (k + 1) * win] ** 2).sum() for k in range(1, 20)]
    assert energies[0] > 0
    assert all(b < a for a, b in itertools.pairwise(energies))
    assert energies[-1] < energies[0] * 1e-2


def test_rt60_is_finite_and_grows_with_room_size() -> None:
    rts = [_rt60(_impulse_response(3.0, room_size=r, damping=0.3, wet=1.0, dry=0.0)) for r in (0.2, 0.5, 0.9)]
    assert all(math.isfinite(r) and r > 0 for r in rts)
    assert rts[0] < rts[1] < rts[2]
    # Independent estimate: a lossless-damping comb of delay D and feedback g decays 60 dB in
    # D/sr * 3 / -log10(g) seconds; the longest comb bounds the reverb's RT60 roughly from above.
    g = 0.7 + 0.28 * 0.9
    longest = COMB_TUNING[-1] / 44100 * 3 / -math.log10(g)
    assert 0.3 * longest < rts[2] < 1.5 * longest


def test_damping_shortens_high_frequency_tail() -> None:
    bright = _impulse_response(1.0, room_size=0.8, damping=0.0, wet=1.0, dry=0.0)
    dark = _impulse_response(1.0, room_size=0.8, damping=1.0, wet=1.0, dry=0.0)

    def hf_ratio(ir: np.ndarray) -> float:
        spec = np.abs(np.fft.rfft(ir[SR // 4 :, 0])) ** 2
        f = np.fft.rfftfreq(len(ir) - SR // 4, 1 / SR)
        return spec[f > 5000].sum() / spec[f < 1000].sum()

    assert hf_ratio(dark) < 0.5 * hf_ratio(bright)


def test_dry_only_is_exact_passthrough() -> None:
    x = np.random.default_rng(0).uniform(-1, 1, size=(10000, 2)).astype(np.float32)
    rev = Reverb(SR, room_size=0.9, wet=0.0, dry=1.0)
    y = rev.process(x)
    np.testing.assert_array_equal(y, x)  # exact: 1.0 * x + 0.0 * wet is x
    buf = x.copy()
    Reverb(SR, wet=0.0, dry=1.0).process_inplace(buf)
    np.testing.assert_array_equal(buf, x)


def test_width_zero_is_mono_wet() -> None:
    x = np.random.default_rng(1).uniform(-1, 1, size=(8000, 2)).astype(np.float32)
    y = Reverb(SR, wet=1.0, dry=0.0, width=0.0).process(x)
    np.testing.assert_allclose(y[:, 0], y[:, 1], atol=1e-7)
    y = Reverb(SR, wet=1.0, dry=0.0, width=1.0).process(x)
    assert np.max(np.abs(y[:, 0] - y[:, 1])) > 0.01  # stereo spread decorrelates the sides


def test_block_split_invariance_including_param_change() -> None:
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, size=(20000, 2)).astype(np.float32)

    def run(sizes) -> np.ndarray:
        rev = Reverb(SR, room_size=0.6, damping=0.4, wet=0.5, dry=0.7, width=0.8)
        out, pos = [], 0
        for k in sizes:
            if pos == 10000:
                rev.set_params(room_size=0.95, wet=0.2)
            k = min(k, len(x) - pos)
            out.append(rev.process(x[pos : pos + k]))
            pos += k
        return np.concatenate(out)

    whole = run([10000, 10000])
    sizes = [1, 7, 992, 3000, 5000, 999, 1, 1000, 9000]  # sums to 20000 with a split at 10000
    assert sum(sizes) == 20000 and 10000 in np.cumsum(sizes)
    # exact: same kernel (no fastmath) and samples, only the cuts differ
    np.testing.assert_array_equal(run(sizes), whole)


def test_param_change_glides_without_click() -> None:
    x = np.zeros((SR, 2), np.float32)
    x[:, 0] = 0.5 * np.sin(2 * np.pi * 200 * np.arange(SR) / SR)
    rev = Reverb(SR, wet=0.0, dry=1.0)
    a = rev.process(x[:12000])
    rev.set_params(dry=0.0)
    b = rev.process(x[12000:])
    y = np.concatenate([a, b])[:, 0].astype(np.float64)
    assert np.max(np.abs(np.diff(y))) < 0.5 * 2 * np.pi * 200 / SR * 1.1
    assert np.all(y[-1000:] == 0.0)  # the glide ends exactly on the new target (snap after ~17 tau)


def test_sample_rates_scale_decay_time() -> None:
    """Delay lengths scale with sr, so the decay time in seconds is about the same at 44.1 and 96 kHz."""

    def rt(sr: int) -> float:
        rev = Reverb(sr, room_size=0.7, damping=0.2, wet=1.0, dry=0.0)
        x = np.zeros((int(2.5 * sr), 2), np.float32)
        x[0] = 1.0
        ir = rev.process(x).astype(np.float64)
        e = (ir**2).sum(axis=1)
        edc = np.cumsum(e[::-1])[::-1]
        edc_db = 10 * np.log10(edc / edc[0])
        return float(np.argmax(edc_db <= -30.0)) / sr

    assert rt(44100) == pytest.approx(rt(96000), rel=0.1)


@pytest.mark.parametrize("kw", [{"room_size": 1.5}, {"wet": -0.1}, {"damping": math.nan}, {"width": 2.0}])
def test_validation(kw: dict) -> None:
    with pytest.raises(EngineError):
        Reverb(SR, **kw)
    rev = Reverb(SR)
    with pytest.raises(EngineError):
        rev.set_params(**kw)


def test_nan_sample_does_not_poison_the_tail() -> None:
    x = np.random.default_rng(3).uniform(-1, 1, size=(4000, 2)).astype(np.float32)
    x[100, 1] = np.nan
    rev = Reverb(SR, wet=0.5, dry=0.0)
    y = rev.process(x)
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(rev.buf))
