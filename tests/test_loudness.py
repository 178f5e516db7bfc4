"""BS.1770-4 loudness: offline functions and the streaming meter, against pyloudnorm and EBU Tech 3341."""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm as pyln
import pytest
from scipy.signal import resample_poly

from middleware.engine.dsp import loudness as L
from middleware.errors import AudioFileError
from middleware.tools import signals as S

SR = 48000


def _tone(freq: float, seconds: float, dbfs: float, sr: int = SR, stereo: bool = True) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    x = 10 ** (dbfs / 20) * np.sin(2 * np.pi * freq * t)
    return np.stack([x, x], axis=1) if stereo else x


def test_k_weighting_matches_the_standard_table_at_48k():
    # BS.1770-4, Tables 1 and 2 (printed coefficients)
    c = L.k_weighting_coeffs(48000)
    shelf = [1.53512485958697, -2.69169618940638, 1.19839281085285, -1.69065929318241, 0.73248077421585]
    hp = [1.0, -2.0, 1.0, -1.99004745483398, 0.99007225036621]
    assert np.allclose(c[0], shelf, atol=1e-8)
    assert np.allclose(c[1], hp, atol=1e-8)


def test_ebu_3341_stereo_1khz_at_minus_23_dbfs_reads_minus_23_lufs():
    x = _tone(1000.0, 6.0, -23.0)
    assert L.integrated_loudness(x, SR) == pytest.approx(-23.0, abs=0.1)


def test_relative_gate_ignores_quiet_passages():
    # EBU 3341 case 3 shape (shortened): -36 / -23 / -36 dBFS; the -36 parts fall under the -10 LU gate
    x = np.concatenate([_tone(1000, 2, -36), _tone(1000, 20, -23), _tone(1000, 2, -36)])
    assert L.integrated_loudness(x, SR) == pytest.approx(-23.0, abs=0.1)


@pytest.mark.parametrize("sr", [44100, 48000, 96000])
def test_integrated_matches_pyloudnorm(sr):
    rng = np.random.default_rng(sr)
    n = 6 * sr
    x = np.stack([rng.standard_normal(n) * 0.1, rng.standard_normal(n) * 0.05], axis=1)
    x[2 * sr : 3 * sr] *= 0.02  # a quiet second that the gate must drop
    ref = pyln.Meter(sr).integrated_loudness(x)
    assert L.integrated_loudness(x, sr) == pytest.approx(ref, abs=0.5)


def test_integrated_mono_program_material_matches_pyloudnorm():
    for x in (S.speech_like(4.0, SR), S.music_like(4.0, SR)):
        ref = pyln.Meter(SR).integrated_loudness(x.astype(np.float64))
        assert L.integrated_loudness(x, SR) == pytest.approx(ref, abs=0.5)


def test_momentary_and_short_term_windows_match_pyloudnorm():
    x = S.music_like(5.0, SR)
    mom = L.momentary_loudness(x, SR)
    st = L.short_term_loudness(x, SR)
    step = SR // 10
    for k in (3, 17, 30):
        seg = x[k * step : k * step + int(0.4 * SR)].astype(np.float64)
        assert mom[k] == pytest.approx(pyln.Meter(SR, block_size=0.4).integrated_loudness(seg), abs=0.5)
    seg = x[10 * step : 10 * step + 3 * SR].astype(np.float64)
    assert st[10] == pytest.approx(pyln.Meter(SR, block_size=3.0).integrated_loudness(seg), abs=0.5)


def test_loudness_range_matches_ebu_3342_and_pyloudnorm():
    # EBU Tech 3342 case 1 (shortened): 1 kHz at -20 then -30 dBFS -> LRA 10 LU
    x = np.concatenate([_tone(1000, 10, -20.0), _tone(1000, 10, -30.0)])
    assert L.loudness_range(x, SR) == pytest.approx(10.0, abs=1.0)
    m = S.music_like(8.0, SR) * np.repeat(np.linspace(0.2, 1.0, 8), SR).astype(np.float32)
    assert L.loudness_range(m, SR) == pytest.approx(
        pyln.Meter(SR).loudness_range(m.astype(np.float64)), abs=1.0
    )
    assert L.loudness_range(_tone(1000, 5, -23.0), SR) == pytest.approx(0.0, abs=0.2)


def test_true_peak_finds_inter_sample_peaks():
    # fs/4 sine at 45 degrees: every sample sits at 0.707 of the real peak (-3 dB sample peak)
    t = np.arange(SR) / SR
    x = np.sin(2 * np.pi * (SR / 4) * t + np.pi / 4)
    assert 20 * np.log10(np.max(np.abs(x))) == pytest.approx(-3.01, abs=0.01)
    assert L.true_peak(x, SR) == pytest.approx(0.0, abs=0.3)


def test_true_peak_agrees_with_scipy_oversampling():
    rng = np.random.default_rng(5)
    x = rng.standard_normal(SR // 2) * 0.2
    ref = 20 * np.log10(np.max(np.abs(resample_poly(x, 4, 1))))
    assert L.true_peak(x, SR) == pytest.approx(ref, abs=0.3)
    assert L.true_peak(np.zeros(1000), SR) == -math.inf


def test_normalize_hits_the_target_and_respects_the_ceiling():
    x = S.speech_like(3.0, SR, level=0.05)
    y, rep = L.normalize_loudness(x, SR, -23.0, peak_ceiling_dbtp=None)
    assert pyln.Meter(SR).integrated_loudness(y.astype(np.float64)) == pytest.approx(-23.0, abs=0.5)
    assert not rep["limited_by_true_peak"]
    y, rep = L.normalize_loudness(x, SR, -5.0, peak_ceiling_dbtp=-1.0)
    assert rep["limited_by_true_peak"]
    assert L.true_peak(y, SR) <= -1.0 + 0.05


def test_bad_input_is_a_clear_error():
    with pytest.raises(AudioFileError, match=r"at least 0\.4 s"):
        L.integrated_loudness(np.zeros(100), SR)
    with pytest.raises(AudioFileError, match="shape"):
        L.integrated_loudness(np.zeros((SR, 3)), SR)
    with pytest.raises(AudioFileError, match="silent"):
        L.normalize_loudness(np.zeros(SR), SR, -23.0)
    with pytest.raises(AudioFileError, match="target"):
        L.normalize_loudness(np.ones(SR) * 0.1, SR, 10.0)


def _push_all(meter: L.LoudnessMeter, x: np.ndarray, sizes: list[int]) -> None:
    i = k = 0
    while i < x.shape[0]:
        n = sizes[k % len(sizes)]
        meter.push(x[i : i + n].astype(np.float32))
        i += n
        k += 1


def test_streaming_meter_matches_pyloudnorm():
    rng = np.random.default_rng(9)
    x = np.stack([S.music_like(8.0, SR), S.speech_like(8.0, SR)], axis=1).astype(np.float64)
    x += rng.standard_normal(x.shape) * 0.003
    m = L.LoudnessMeter(SR)
    _push_all(m, x, [256, 1000, 37, 4096])
    assert m.integrated == pytest.approx(pyln.Meter(SR).integrated_loudness(x), abs=0.5)
    n_sub = (x.shape[0] // (SR // 10)) * (SR // 10)  # the meter reads complete 100 ms sub-blocks
    st_ref = pyln.Meter(SR, block_size=3.0).integrated_loudness(x[n_sub - 3 * SR : n_sub])
    mo_ref = pyln.Meter(SR, block_size=0.4).integrated_loudness(x[n_sub - int(0.4 * SR) : n_sub])
    assert m.short_term == pytest.approx(st_ref, abs=0.5)
    assert m.momentary == pytest.approx(mo_ref, abs=0.5)
    assert m.true_peak == pytest.approx(L.true_peak(x.astype(np.float32), SR), abs=1e-6)


def test_streaming_meter_does_not_depend_on_block_size():
    x = np.stack([S.music_like(4.0, SR)] * 2, axis=1)
    a, b = L.LoudnessMeter(SR), L.LoudnessMeter(SR)
    _push_all(a, x, [512])
    _push_all(b, x, [31, 4800, 777])
    for key, val in a.snapshot().items():
        assert b.snapshot()[key] == pytest.approx(val, abs=1e-4), key


def test_streaming_meter_silence_reset_and_mono():
    m = L.LoudnessMeter(SR)
    m.push(np.zeros((SR, 2), np.float32))
    assert m.integrated == -math.inf and m.momentary == -math.inf and m.true_peak == -math.inf
    m.push(_tone(1000, 3.0, -23.0).astype(np.float32))
    assert m.short_term == pytest.approx(-23.0, abs=0.2)
    m.reset()
    assert m.integrated == -math.inf and m.frames == 0
    mono = L.LoudnessMeter(SR, channels=1)
    x = S.speech_like(3.0, SR)
    _push_all(mono, x, [480])
    assert mono.integrated == pytest.approx(pyln.Meter(SR).integrated_loudness(x.astype(np.float64)), abs=0.5)
    with pytest.raises(AudioFileError, match="block shape"):
        mono.push(np.zeros((10, 2), np.float32))
