"""``soundscape vary``: generator and sample variations written as labelled WAV files."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.io import wavfile

from middleware.cli import main
from middleware.generators.variation import VariationAmounts, vary_sample
from middleware.sinks.wav import WavSink, read_wav_metadata

SR = 48000


def _read(path) -> np.ndarray:
    rate, data = wavfile.read(path)
    assert rate in (SR, 44100)
    return data.astype(np.float64) / (32767.0 if data.dtype == np.int16 else 1.0)


def test_vary_generator_writes_distinct_labelled_reproducible_files(tmp_path, capsys):
    out = tmp_path / "v"
    args = ["vary", "footstep", "-n", "5", "-o", str(out), "--seed", "9", "--param", "surface=wood"]
    assert main(args) == 0
    files = sorted(out.glob("*.wav"))
    assert [f.name for f in files] == [f"footstep_s9_v{k:03d}.wav" for k in range(5)]
    audio = [_read(f) for f in files]
    for a in audio:
        assert a.ndim == 2 and a.shape[1] == 2 and 0.02 < np.abs(a).max() <= 1.0
    for i in range(5):
        for j in range(i + 1, 5):
            n = min(audio[i].shape[0], audio[j].shape[0])
            assert not np.array_equal(audio[i][:n], audio[j][:n])
    meta = read_wav_metadata(files[3])
    assert meta["generated"] is True and meta["generator"] == "footstep" and meta["seed"] == 9
    assert meta["variation"] == 3 and meta["generator_version"] and meta["params"]["surface"] == "wood"
    before = [f.read_bytes() for f in files]
    assert main([*args, "--force"]) == 0  # same seed -> the same bytes
    assert [f.read_bytes() for f in files] == before


def test_vary_continuous_generator_length(tmp_path):
    assert (
        main(["vary", "rain", "-n", "2", "-o", str(tmp_path), "--seconds", "0.5", "--format", "float32"]) == 0
    )
    a = _read(tmp_path / "rain_s0_v000.wav")
    assert a.shape == (SR // 2, 2) and a.dtype == np.float64


def _tone(seconds: float = 0.6) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(0)
    x = np.exp(-t * 6.0) * (0.5 * np.sin(2 * np.pi * 440.0 * t) + 0.05 * rng.standard_normal(t.shape[0]))
    return np.stack([x, x], axis=1).astype(np.float32)


def _peak_hz(x: np.ndarray) -> float:
    m = x.mean(axis=1)
    spec = np.abs(np.fft.rfft(m * np.hanning(m.shape[0]), 8 * m.shape[0]))
    return float(np.fft.rfftfreq(8 * m.shape[0], 1.0 / SR)[np.argmax(spec)])


def test_vary_sample_perturbs_pitch_tilt_envelope_within_amounts(tmp_path):
    src = tmp_path / "hit.wav"
    tone = _tone()
    with WavSink(src, SR, 2, "float32", {"test": True}) as sink:
        sink.write(tone)
    out = tmp_path / "out"
    assert main(["vary", str(src), "-n", "6", "-o", str(out), "--seed", "2", "--param", "pitch=80"]) == 0
    files = sorted(out.glob("hit_s2_v*.wav"))
    assert len(files) == 6
    pitches, lengths = [], []
    for f in files:
        y = _read(f)
        meta = read_wav_metadata(f)
        assert meta["generated"] is True and meta["source"] == "hit.wav" and abs(meta["pitch_cents"]) <= 80
        ratio = 2.0 ** (meta["pitch_cents"] / 1200.0)
        # the measured pitch moves as the label says (varispeed: duration moves inversely)
        assert _peak_hz(y) == pytest.approx(440.0 * ratio, abs=2.0)
        assert y.shape[0] == pytest.approx(tone.shape[0] / ratio, abs=2)
        assert np.abs(y).max() == pytest.approx(np.abs(tone).max(), rel=1e-3)  # peak kept
        pitches.append(meta["pitch_cents"])
        lengths.append(y.shape[0])
    assert len(set(np.round(pitches, 3))) == 6  # all different


def test_vary_sample_is_seeded_and_zero_amounts_are_identity():
    x = _tone(0.2)
    a, ia = vary_sample(x, SR, 5, 1)
    b, ib = vary_sample(x, SR, 5, 1)
    c, _ = vary_sample(x, SR, 5, 2)
    assert np.array_equal(a, b) and ia == ib  # exact: same code path, same inputs, run twice
    assert not np.array_equal(a[: c.shape[0]], c[: a.shape[0]])
    same, _ = vary_sample(x, SR, 5, 1, VariationAmounts(0.0, 0.0, 0.0))
    np.testing.assert_allclose(same, x, atol=1e-6)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["vary", "foostep", "-n", "2"], "did you mean 'footstep'"),
        (["vary", "impact", "-n", "0"], "-n 0: must be within 1..1000"),
        (["vary", "impact", "-n", "2", "--param", "size=7"], "size=7.0 is out of range"),
        (["vary", "impact", "-n", "2", "--param", "size"], "expected KEY=VALUE"),
        (["vary", "/nonexistent/x.wav", "-n", "2"], "neither a generator"),
    ],
)
def test_vary_errors_are_one_line(tmp_path, capsys, argv, message):
    assert main([*argv, "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_vary_rejects_undecodable_file_and_refuses_overwrite(tmp_path, capsys):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF0000WAVEjunk")
    assert main(["vary", str(bad), "-n", "1", "-o", str(tmp_path / "o")]) == 2
    assert "cannot decode" in capsys.readouterr().err
    assert main(["vary", "impact", "-n", "1", "-o", str(tmp_path / "o")]) == 0
    assert main(["vary", "impact", "-n", "1", "-o", str(tmp_path / "o")]) == 2
    assert "--force" in capsys.readouterr().err
