"""Character voices: the formant engine, presets measured on the audio, cache, limits, `soundscape say`."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf

from middleware.cli import main
from middleware.engine.bank import SampleBank
from middleware.errors import EngineError
from middleware.sinks.wav import read_wav_metadata
from middleware.tools.voice import write_line
from middleware.voice import PRESETS, add_line_to_bank, render_line
from middleware.voice.formant import VoiceParams, synthesize
from middleware.voice.lts import Token, number_words, text_to_tokens, word_to_phonemes

SR = 48000
LINE = "Welcome to the village, stranger. Would you like some bread and water?"


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "voices"


def f0_autocorr(x: np.ndarray, sr: int = SR) -> float:
    """Median pitch of the voiced frames: autocorrelation peak between 40 and 500 Hz."""
    n, lo, hi = 2048, sr // 500, sr // 40
    rms_all = np.sqrt(np.mean(x**2))
    found = []
    for i in range(0, x.size - n, n // 2):
        s = x[i : i + n].astype(np.float64)
        s -= s.mean()
        if np.sqrt(np.mean(s**2)) < 0.3 * rms_all:
            continue
        ac = np.correlate(s, s, "full")[n - 1 :]
        k = lo + int(np.argmax(ac[lo:hi]))
        if ac[k] > 0.4 * ac[0]:
            found.append(sr / k)
    assert len(found) > 10, "too few voiced frames to measure pitch"
    return float(np.median(found))


def band_db(x: np.ndarray, lo: float, hi: float, sr: int = SR) -> float:
    """Fraction of the energy between lo and hi Hz, dB."""
    p = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    f = np.fft.rfftfreq(x.size, 1 / sr)
    return float(10 * np.log10(p[(f >= lo) & (f < hi)].sum() / p.sum()))


def test_letter_to_sound_rules():
    assert word_to_phonemes("make") == ["M", "EY", "K"]
    assert word_to_phonemes("cat") == ["K", "AE", "T"]
    assert word_to_phonemes("ship") == ["SH", "IH", "P"]
    assert word_to_phonemes("city")[0] == "S"
    assert word_to_phonemes("dogs")[-1] == "Z"
    assert number_words(42) == "forty two"
    toks = text_to_tokens("Go north? Yes.")
    assert toks[-1].ph == "." and any(t.question for t in toks) and any(t.final for t in toks)


def test_line_is_nonempty_mono_float32_and_labelled(cache):
    y, info = render_line("Hello there.", "neutral", SR, cache_dir=cache)
    assert y.dtype == np.float32 and y.ndim == 1 and y.size > 0.3 * SR
    assert np.all(np.isfinite(y)) and 0.05 < np.max(np.abs(y)) <= 1.0
    assert info["synthetic"] is True and info["engine"] == "formant" and info["preset"] == "neutral"
    assert info["duration_s"] == pytest.approx(y.size / SR, abs=1e-3)


def test_duration_grows_with_text_length(cache):
    texts = ["Stop.", "Stop right there.", "Stop right there, you will not pass this gate tonight."]
    durations = [render_line(t, "neutral", SR, cache_dir=cache)[1]["duration_s"] for t in texts]
    assert durations[0] < durations[1] < durations[2]


def test_child_is_higher_pitched_than_ogre(cache):
    child, _ = render_line(LINE, "child", SR, cache_dir=cache)
    ogre, _ = render_line(LINE, "ogre", SR, cache_dir=cache)
    neutral, _ = render_line(LINE, "neutral", SR, cache_dir=cache)
    f_child, f_ogre, f_neutral = f0_autocorr(child), f0_autocorr(ogre), f0_autocorr(neutral)
    assert f_child > 200 and f_ogre < 90 and f_ogre < f_neutral < f_child
    assert f_child / f_ogre > 3.0


def test_formant_scale_moves_the_spectral_centroid():
    # same pitch, vowels only: the centroid of the 300-3500 Hz band follows the vocal-tract length
    toks = [Token(p, 1) for p in ("AA", "IY", "UW", "EH", "AO")]

    def centroid(fs: float) -> float:
        y = synthesize(toks, VoiceParams(f0=100.0, intonation=0.0, jitter=0.0, formant_scale=fs), SR)
        p = np.abs(np.fft.rfft(y.astype(np.float64))) ** 2
        f = np.fft.rfftfreq(y.size, 1 / SR)
        m = (f >= 300) & (f < 3500)
        return float(np.sum(p[m] * f[m]) / np.sum(p[m]))

    c_big, c_mid, c_small = centroid(0.8), centroid(1.0), centroid(1.25)
    assert c_big < c_mid < c_small
    assert c_small / c_big > 1.2


def test_robot_ring_modulation_makes_sidebands(cache):
    robot, _ = render_line(LINE, "robot", SR, cache_dir=cache)
    carrier = dict(PRESETS["robot"].effects)["ring_mod"]["freq"]
    f0 = PRESETS["robot"].voice.f0
    dry = synthesize(text_to_tokens(LINE), PRESETS["robot"].voice, SR, seed=1)

    def sideband_ratio_db(x: np.ndarray) -> float:
        p = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
        df = SR / x.size

        def energy(fr: float) -> float:
            k = round(fr / df)
            return float(p[k - 2 : k + 3].sum())

        harm = sum(energy(k * f0) for k in range(1, 16))
        side = sum(energy(k * f0 + carrier) + energy(k * f0 - carrier) for k in range(1, 16))
        return 10 * np.log10(side / harm)

    assert sideband_ratio_db(robot) > 15.0  # energy moved to k*f0 +- carrier
    assert sideband_ratio_db(dry) < -10.0  # the monotone voice alone sits on the harmonics


def test_radio_is_band_limited_and_ghost_has_a_tail(cache):
    neutral, _ = render_line(LINE, "neutral", SR, cache_dir=cache)
    radio, _ = render_line(LINE, "radio", SR, cache_dir=cache)
    outside_n = 10 * np.log10(
        10 ** (band_db(neutral, 0, 200) / 10) + 10 ** (band_db(neutral, 5000, 24000) / 10)
    )
    outside_r = 10 * np.log10(10 ** (band_db(radio, 0, 200) / 10) + 10 ** (band_db(radio, 5000, 24000) / 10))
    assert outside_r < outside_n - 10.0
    ghost, _ = render_line("Leave this place.", "ghost", SR, cache_dir=cache)
    plain, _ = render_line("Leave this place.", "neutral", SR, cache_dir=cache)
    assert ghost.size > plain.size + SR  # the reverb tail
    tail = ghost[-SR // 2 :]
    assert np.sqrt(np.mean(tail**2)) > 1e-4  # still ringing in the last half second


def test_every_preset_renders(cache):
    for name in PRESETS:
        y, info = render_line("One two three.", name, SR, cache_dir=cache)
        assert y.size > 0 and np.all(np.isfinite(y)) and info["preset"] == name and info["synthetic"]


def test_cache_hit_returns_identical_audio(cache):
    a, ia = render_line("The gate is locked.", "goblin", SR, cache_dir=cache)
    b, ib = render_line("The gate is locked.", "goblin", SR, cache_dir=cache)
    assert not ia["cached"] and ib["cached"]
    assert np.array_equal(a, b) and ia["key"] == ib["key"]  # exact: the cache stores float32 as is
    c, ic = render_line("The gate is locked.", "goblin", SR, cache_dir=cache, use_cache=False)
    assert np.array_equal(a, c) and not ic["cached"]  # deterministic without the cache too (same path)
    _, other = render_line("The gate is locked.", "robot", SR, cache_dir=cache)
    assert other["key"] != ia["key"]
    assert len(list(cache.glob("*.npy"))) == 2


def test_limits_are_clear_errors(cache):
    with pytest.raises(EngineError, match="empty"):
        render_line("", "neutral", cache_dir=cache)
    with pytest.raises(EngineError, match="empty"):
        render_line("   \n", "neutral", cache_dir=cache)
    with pytest.raises(EngineError, match="4096"):
        render_line("a" * 4097, "neutral", cache_dir=cache)
    with pytest.raises(EngineError, match="4096"):
        render_line("word " * 20_000, "neutral", cache_dir=cache)  # 100 kB
    with pytest.raises(EngineError, match="did you mean 'robot'"):
        render_line("hi", "robt", cache_dir=cache)
    with pytest.raises(EngineError, match="must be one of"):
        render_line("hi", "dragon", cache_dir=cache)
    with pytest.raises(EngineError, match="nothing pronounceable"):
        render_line("!!! ...", "neutral", cache_dir=cache)
    with pytest.raises(EngineError, match="engine"):
        render_line("hi", "neutral", engine="festival", cache_dir=cache)


def test_files_written_are_labelled_synthetic(tmp_path, cache, monkeypatch, capsys):
    info = write_line(tmp_path / "a.wav", "Halt!", "radio", cache_dir=cache)
    meta = read_wav_metadata(tmp_path / "a.wav")
    assert meta["synthetic"] is True and meta["preset"] == "radio" and meta["engine"] == info["engine"]
    monkeypatch.setenv("SOUNDSCAPE_VOICE_CACHE", str(cache))
    out = tmp_path / "line.wav"
    assert main(["say", "Intruder detected.", "--preset", "robot", "-o", str(out)]) == 0
    assert "synthetic" in capsys.readouterr().err
    y, sr = sf.read(out)
    assert sr == SR and y.ndim == 1 and y.size > 0.5 * SR
    assert read_wav_metadata(out)["synthetic"] is True
    assert main(["say", "", "-o", str(out)]) == 2
    assert main(["say", "hello", "--preset", "ogr", "-o", str(out)]) == 2
    assert "did you mean 'ogre'" in capsys.readouterr().err


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng (optional, GPL program) not installed"
)
def test_espeak_engine_when_installed(cache):
    y, info = render_line("The bridge is out.", "ogre", SR, engine="espeak", cache_dir=cache)
    assert info["engine"] == "espeak-ng" and info["synthetic"] is True and y.size > 0.5 * SR
    child, _ = render_line("The bridge is out, come quickly.", "child", SR, engine="espeak", cache_dir=cache)
    ogre, _ = render_line("The bridge is out, come quickly.", "ogre", SR, engine="espeak", cache_dir=cache)
    assert f0_autocorr(child) > 1.8 * f0_autocorr(ogre)


def test_espeak_absent_is_a_clear_error(monkeypatch, cache):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(EngineError, match="espeak-ng is not installed"):
        render_line("hello", "neutral", engine="espeak", cache_dir=cache)


def test_line_goes_into_an_engine_sample_bank(cache):
    bank = SampleBank(44100)
    name, info = add_line_to_bank(bank, "Open the gate.", "radio", cache_dir=cache)
    again, info2 = add_line_to_bank(bank, "Open the gate.", "radio", cache_dir=cache)
    assert name == again and len(bank) == 1 and info2["cached"]
    audio, _ = render_line("Open the gate.", "radio", 44100, cache_dir=cache)
    assert np.array_equal(bank.array(name)[:, 0], audio)  # exact: same rate, the bank stores it as is
    assert info["sample_rate"] == 44100 and "synthetic" in bank.info(name).source
