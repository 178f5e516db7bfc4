"""The command line: discoverable subcommands, one-line errors, render reproducibility."""

from __future__ import annotations

import re
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
from scipy.io import wavfile

SCENE = """\
name: cli-test
parameters:
  intensity: {range: [0, 1], default: 0.5}
buses:
  ambience: {parent: master}
emitters:
  bed:
    bus: ambience
    layers:
      - id: hum
        source: sounds/hum.wav
        mode: loop
        gain: {param: intensity, curve: [[0, -40], [1, 0]]}
      - id: blips
        source: sounds/hum.wav
        mode: scatter
        interval: [0.1, 0.3]
        gain: -12
"""


def _scene(tmp: Path) -> Path:
    (tmp / "sounds").mkdir()
    t = np.arange(48000) / 48000
    x = (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype("<i2")
    with wave.open(str(tmp / "sounds" / "hum.wav"), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(48000)
        f.writeframes(x.tobytes())
    path = tmp / "scene.yaml"
    path.write_text(SCENE)
    (tmp / "events.jsonl").write_text(
        '{"t": 0.2, "type": "set_param", "name": "intensity", "value": 1.0}\n'
        '{"t": 0.6, "type": "set_param", "name": "intensity", "value": 0.0}\n'
    )
    return path


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "middleware.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_help_lists_subcommands() -> None:
    r = _run("--help")
    assert r.returncode == 0
    for cmd in ("render", "validate", "schema", "play", "demo"):
        assert cmd in r.stdout


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    r = _run("render", str(tmp_path / "nope.yaml"))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert "nope.yaml" in r.stderr


def test_render_is_bit_identical_for_same_seed_and_differs_for_another(tmp_path: Path) -> None:
    scene = _scene(tmp_path)
    outs = []
    for seed in (1, 1, 2):
        out = tmp_path / f"out{len(outs)}.wav"
        r = _run(
            "render",
            str(scene),
            "--events",
            str(tmp_path / "events.jsonl"),
            "--seconds",
            "1",
            "--seed",
            str(seed),
            "-o",
            str(out),
        )
        assert r.returncode == 0, r.stderr
        outs.append(out)
    (rate, a), (_, c) = wavfile.read(outs[0]), wavfile.read(outs[2])
    assert rate == 48000 and a.shape == (48000, 2)
    assert 20 * np.log10(np.sqrt(np.mean(a.astype(np.float64) ** 2))) > -40.0  # the scene plays
    assert outs[0].read_bytes() == outs[1].read_bytes()  # exact: same code path, same inputs, run twice
    assert not np.array_equal(a, c)  # the samples differ, not only the seed in the metadata


def test_bad_events_line_is_reported_with_its_line(tmp_path: Path) -> None:
    scene = _scene(tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"t": 0.1, "type": "set_param", "name": "intensity", "value": 0.5}\n{"t": 0.2, "type": "nope"}\n'
    )
    r = _run("render", str(scene), "--events", str(bad), "--seconds", "0.5", "-o", str(tmp_path / "x.wav"))
    assert r.returncode == 2
    assert "bad.jsonl:2" in r.stderr and "nope" in r.stderr


def test_play_keeps_models_off_its_render_thread() -> None:
    """`soundscape play` on the forest (an ML director, a morph texture) under the real-time guard
    (rt/guard.py): its render thread runs no model, builds no stream and opens no file. Before play
    gave its runtime a worker, the guard caught the director's onnxruntime run on 'soundscape-render'
    (75 times in 4 s)."""
    import os

    forest = Path(__file__).resolve().parents[1] / "scenes" / "forest.yaml"
    cmd = [sys.executable, "-m", "middleware.cli", "play", str(forest), "--backend", "null"]
    r = subprocess.run(
        [*cmd, "--seconds", "3", "--quiet", "--no-reload"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SOUNDSCAPE_RT_GUARD": "1"},
    )
    assert r.returncode == 0, r.stderr
    assert "SOUNDSCAPE_RT_GUARD" not in r.stderr, r.stderr


def test_play_runs_on_the_null_device_and_sweeps(tmp_path: Path) -> None:
    """Its status line (one per 0.1 s) shows it playing for the time asked, the sweep moving the
    parameter from 0 up to 1 (and holding it there for the last half second) and voices sounding."""
    scene = _scene(tmp_path)
    r = _run("play", str(scene), "--seconds", "1.5", "--backend", "null", "--sweep", "intensity=0:1:1s")
    assert r.returncode == 0, r.stderr
    status = re.findall(r"^ *([\d.]+)s +intensity=([\d.]+) +voices (\d+) +underruns \d+", r.stderr, re.M)
    assert len(status) >= 5, r.stderr
    seconds = [float(s[0]) for s in status]
    level = [float(s[1]) for s in status[1:]]  # the first line may show the range check's last value
    assert seconds[-1] >= 1.5
    assert min(level) <= 0.3 and level[-1] == 1.0, level
    assert level == sorted(level), level  # the sweep only goes up
    assert int(status[-1][2]) >= 1  # the looping layer sounds
