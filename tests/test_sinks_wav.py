"""WavSink: samples checked by independent readers (scipy.io.wavfile, python's wave); metadata round trip."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from middleware.config import EngineConfig
from middleware.errors import AudioFileError
from middleware.sinks.wav import WavSink, read_wav_info, read_wav_metadata, render_to_wav

LABELS = {"generated_by": {"director": {"model": "director-mlp", "version": "0.3.1"}}, "scene": "forest"}


def noise(frames: int, channels: int = 2, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.2, 1.2, size=(frames, channels)).astype(np.float32)  # some clip in PCM


def write_in_blocks(path: Path, audio: np.ndarray, subtype: str, sizes=(1, 255, 256, 1000)) -> None:
    with WavSink(path, 48000, audio.shape[1], subtype, LABELS) as sink:
        pos, i = 0, 0
        while pos < len(audio):
            n = sizes[i % len(sizes)]
            sink.write(audio[pos : pos + n])
            pos, i = pos + n, i + 1


def test_float32_round_trip_is_bit_exact(tmp_path: Path) -> None:
    audio = noise(4321)
    write_in_blocks(tmp_path / "f.wav", audio, "float32")
    rate, data = wavfile.read(tmp_path / "f.wav")
    assert rate == 48000
    assert data.dtype == np.float32
    np.testing.assert_array_equal(data, audio)


def test_pcm16_matches_wave_module_and_scipy(tmp_path: Path) -> None:
    audio = noise(3001)
    path = tmp_path / "p16.wav"
    write_in_blocks(path, audio, "pcm16")
    expected = np.rint(np.clip(audio, -1, 1) * 32767).astype(np.int16)
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (2, 2, 48000, 3001)
        data = np.frombuffer(w.readframes(3001), dtype="<i2").reshape(-1, 2)
    np.testing.assert_array_equal(data, expected)
    np.testing.assert_array_equal(wavfile.read(path)[1], expected)


@pytest.mark.parametrize("channels,frames", [(2, 999), (1, 1001)])  # mono odd length needs a pad byte
def test_pcm24_matches_scipy(tmp_path: Path, channels: int, frames: int) -> None:
    audio = noise(frames, channels)
    path = tmp_path / "p24.wav"
    write_in_blocks(path, audio, "pcm24")
    _, data = wavfile.read(path)
    expected = np.rint(np.clip(audio, -1, 1) * 8388607).astype(np.int64)
    data = data.reshape(frames, channels).astype(np.int64)
    if np.abs(data).max() > 8388608:  # scipy returns 24-bit samples left-justified in int32
        data >>= 8
    np.testing.assert_array_equal(data, expected)
    with wave.open(str(path), "rb") as w:
        assert w.getnframes() == frames and w.getsampwidth() == 3


def test_metadata_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "m.wav"
    write_in_blocks(path, noise(10), "float32")
    assert read_wav_metadata(path) == LABELS
    info = read_wav_info(path)
    assert info["ISFT"].startswith("soundscape-middleware")
    assert '"director-mlp"' in info["ICMT"]


def test_foreign_wav_without_metadata(tmp_path: Path) -> None:
    path = tmp_path / "plain.wav"
    wavfile.write(path, 8000, np.zeros((10, 2), dtype=np.int16))
    assert read_wav_metadata(path) == {}


def test_errors_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="subtype='pcm8'"):
        WavSink(tmp_path / "x.wav", 48000, subtype="pcm8")
    with pytest.raises(AudioFileError, match="metadata"):
        WavSink(tmp_path / "x.wav", 48000, metadata={"x": object()})
    with WavSink(tmp_path / "x.wav", 48000) as sink, pytest.raises(AudioFileError, match="block shape"):
        sink.write(np.zeros((5, 3), dtype=np.float32))
    with pytest.raises(AudioFileError, match="not a RIFF"):
        (tmp_path / "junk.wav").write_bytes(b"hello world!")
        read_wav_info(tmp_path / "junk.wav")


class Sine:
    """A tiny Renderable: 440 Hz in both channels, continuous across blocks."""

    def __init__(self, cfg: EngineConfig) -> None:
        self.config = cfg
        self.frame = 0

    def render(self, frames: int) -> np.ndarray:
        t = (self.frame + np.arange(frames)) / self.config.sample_rate
        self.frame += frames
        x = (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
        return np.stack([x, x], axis=1)


def test_render_to_wav_writes_exact_length_and_signal(tmp_path: Path) -> None:
    cfg = EngineConfig(sample_rate=44100, block=128)
    result = render_to_wav(Sine(cfg), 0.5, tmp_path / "r.wav", {"test": True})
    rate, data = wavfile.read(tmp_path / "r.wav")
    assert rate == 44100 and data.shape == (22050, 2) == (result["frames"], 2)
    t = np.arange(22050) / 44100
    np.testing.assert_allclose(data[:, 0], 0.5 * np.sin(2 * np.pi * 440.0 * t), atol=1e-6)
    assert read_wav_metadata(tmp_path / "r.wav") == {"test": True}
