"""``soundscape serve SCENE --profile P.yaml``: the daemon applies the player profile from its first
block (the same ``accessibility.host`` as the offline render); a bad file is refused before it starts."""

from __future__ import annotations

import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from test_daemon import start_daemon, stop_daemon

from middleware.client import Subscriber

SR = 48000
SCENE = """\
name: profiled
buses:
  music: {}
emitters:
  band:
    bus: music
    layers:
      - {id: tone, source: sounds/tone.wav, mode: loop, fade_in: 0}
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("profile_serve")
    (tmp / "sounds").mkdir()
    t = np.arange(SR) / SR
    with wave.open(str(tmp / "sounds" / "tone.wav"), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(SR)
        f.writeframes((0.2 * np.sin(2 * np.pi * 440.0 * t) * 32767).astype("<i2").tobytes())
    (tmp / "scene.yaml").write_text(SCENE, encoding="utf-8")
    (tmp / "quiet.yaml").write_text("name: quiet music\nvolume_db: {music: -12}\n", encoding="utf-8")
    return tmp


def _master_lufs(folder: Path, *extra: str) -> float:
    proc, info = start_daemon(*extra, scene=folder / "scene.yaml")
    sub = Subscriber(info["pub"], topics=("loudness",))
    try:
        time.sleep(0.8)  # a full 400 ms momentary window of the loop
        while sub.recv(0.0) is not None:
            pass
        got = sub.wait_for("loudness", 2.0)
        assert got is not None, "no loudness telemetry"
        return got["buses"]["master"]["momentary_lufs"]
    finally:
        sub.close()
        stop_daemon(proc)


def test_profile_volumes_apply_from_the_start(folder: Path):
    plain = _master_lufs(folder)
    quiet = _master_lufs(folder, "--profile", str(folder / "quiet.yaml"))
    # one steady tone, the bus gain exact, the limiter idle: 0.5 dB covers the meter's block timing
    assert plain - quiet == pytest.approx(12.0, abs=0.5), (plain, quiet)


def test_a_bad_profile_stops_serve_before_it_starts(folder: Path):
    (folder / "bad.yaml").write_text("volume_db: {musik: -6}\n", encoding="utf-8")
    cmd = [sys.executable, "-m", "middleware.cli", "serve", str(folder / "scene.yaml"), "--backend", "null",
           "--bind", "tcp://127.0.0.1:0", "--pub", "tcp://127.0.0.1:0",
           "--profile", str(folder / "bad.yaml")]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert res.returncode != 0
    assert "volume_db.musik" in res.stderr and "music" in res.stderr, res.stderr  # the path, a suggestion


def test_play_takes_the_same_profile_and_refuses_a_bad_one(folder: Path):
    def play(profile: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "middleware.cli", "play", str(folder / "scene.yaml"),
               "--backend", "null", "--seconds", "0.3", "--quiet", "--no-reload",
               "--profile", str(folder / profile)]  # fmt: skip
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60)

    assert play("quiet.yaml").returncode == 0
    (folder / "bad_play.yaml").write_text("mono: maybe\n", encoding="utf-8")
    res = play("bad_play.yaml")
    assert res.returncode != 0 and "mono" in res.stderr, res.stderr
