"""``soundscape render SCENE --profile P.yaml``: the offline render hosts the player profile (the
hearing compensation on the master, the player's volumes on the buses) and says so in its metadata."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import write_wav

from middleware.sinks.wav import read_wav_metadata

SR = 48000
SCENE = """\
name: stereo
buses:
  music: {}
  ambience: {}
snapshots:
  hush:
    buses: {music: {gain_db: -6}}
emitters:
  left:
    bus: music
    position: [-4, 0, 0]
    layers:
      - {id: tone, source: sounds/tone.wav, mode: loop, fade_in: 0}
  right:
    bus: ambience
    position: [4, 0, -1]
    layers:
      - {id: low, source: sounds/low.wav, mode: loop, fade_in: 0}
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("profile_render")
    (tmp / "sounds").mkdir()
    t = np.arange(SR) / SR
    write_wav(tmp / "sounds" / "tone.wav", 0.3 * np.sin(2 * np.pi * 440.0 * t))
    write_wav(tmp / "sounds" / "low.wav", 0.3 * np.sin(2 * np.pi * 150.0 * t))
    (tmp / "scene.yaml").write_text(SCENE, encoding="utf-8")
    return tmp


def _render(folder: Path, out: str, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "middleware.cli", "render", str(folder / "scene.yaml"), "--seconds", "2",
           "-o", str(folder / out), *extra]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _db(x: np.ndarray) -> float:
    return 20.0 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12)


def test_mono_profile_folds_the_render_and_the_metadata_names_it(folder: Path):
    (folder / "mono.yaml").write_text("name: one-ear\nmono: true\n", encoding="utf-8")
    plain = _render(folder, "plain.wav")
    assert plain.returncode == 0, plain.stderr
    mono = _render(folder, "mono.wav", "--profile", str(folder / "mono.yaml"))
    assert mono.returncode == 0, mono.stderr
    a, _ = sf.read(folder / "plain.wav", dtype="float32")
    b, _ = sf.read(folder / "mono.wav", dtype="float32")
    tail = slice(SR // 2, None)  # after the fold's 100 ms ramp and its level trackers settle
    # without the profile the two sides differ clearly (one source left, one right)
    assert np.max(np.abs(a[tail, 0] - a[tail, 1])) > 0.05
    # with it, L == R to well below audibility: the fold writes one signal to both channels, only
    # the float32 rounding of the same sum can differ
    assert np.max(np.abs(b[tail, 0] - b[tail, 1])) < 1e-4
    meta = read_wav_metadata(folder / "mono.wav")
    assert meta["profile"]["file"] == "mono.yaml" and meta["profile"]["name"] == "one-ear"
    assert meta["profile"]["mono"] is True and meta["profile"]["applied"] is True
    assert "profile" not in read_wav_metadata(folder / "plain.wav")


def test_player_volumes_move_their_bus_and_only_theirs(folder: Path):
    """music -12 dB: the left source (on `music`) drops by 12 dB, the right (on `ambience`) stays."""
    (folder / "quiet.yaml").write_text("volume_db: {music: -12}\n", encoding="utf-8")
    plain = _render(folder, "plain2.wav")
    quiet = _render(folder, "quiet.wav", "--profile", str(folder / "quiet.yaml"))
    assert plain.returncode == 0 and quiet.returncode == 0, quiet.stderr
    a, _ = sf.read(folder / "plain2.wav", dtype="float32")
    b, _ = sf.read(folder / "quiet.wav", dtype="float32")
    tail = slice(SR // 2, None)

    def band(x: np.ndarray, hz: float) -> float:  # level of one source by its frequency
        spec = np.abs(np.fft.rfft(x[tail].mean(axis=1)))
        k = round(hz * (x[tail].shape[0]) / SR)
        return 20.0 * np.log10(spec[k - 2 : k + 3].max())

    # the bus gain is exact; the limiter is idle at these levels: 0.2 dB covers FFT leakage
    assert band(a, 440.0) - band(b, 440.0) == pytest.approx(12.0, abs=0.2)
    assert band(a, 150.0) - band(b, 150.0) == pytest.approx(0.0, abs=0.2)


def test_the_player_volume_stacks_on_a_snapshot_rather_than_being_overwritten(folder: Path):
    """A snapshot moving the same bus (music -6 dB) and the player's music -12 dB add up: the player's
    fader is a layer of its own, not a bus setting the snapshot replaces."""
    (folder / "quiet2.yaml").write_text("volume_db: {music: -12}\n", encoding="utf-8")
    (folder / "hush.jsonl").write_text('{"t": 0, "type": "snapshot", "name": "hush", "on": true}\n')
    ev = ("--events", str(folder / "hush.jsonl"))
    plain = _render(folder, "hush_plain.wav", *ev)
    quiet = _render(folder, "hush_quiet.wav", *ev, "--profile", str(folder / "quiet2.yaml"))
    assert plain.returncode == 0 and quiet.returncode == 0, quiet.stderr
    a, _ = sf.read(folder / "hush_plain.wav", dtype="float32")
    b, _ = sf.read(folder / "hush_quiet.wav", dtype="float32")
    tail = slice(SR, None)  # the snapshot has blended in by then

    def band(x: np.ndarray, hz: float) -> float:
        spec = np.abs(np.fft.rfft(x[tail].mean(axis=1)))
        k = round(hz * x[tail].shape[0] / SR)
        return 20.0 * np.log10(spec[k - 2 : k + 3].max())

    assert band(a, 440.0) - band(b, 440.0) == pytest.approx(12.0, abs=0.2)


def test_a_bad_profile_is_a_clear_error_naming_the_field(folder: Path):
    (folder / "bad.yaml").write_text("mono: true\ndynamic_range: nite\n", encoding="utf-8")
    res = _render(folder, "bad.wav", "--profile", str(folder / "bad.yaml"))
    assert res.returncode != 0
    assert "dynamic_range" in res.stderr and "night" in res.stderr, res.stderr  # names it, suggests
    assert "bad.yaml:2" in res.stderr, res.stderr  # file:line
    assert not (folder / "bad.wav").exists()
