"""The ``profile`` message end to end: a real daemon on real sockets changes its master when a game
sends a profile, refuses a bad one before the reply (``out_of_range`` with the field path), and an
events file switches profiles mid-render without a click."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import write_wav
from test_daemon import start_daemon, stop_daemon

from middleware.client import Client, Subscriber
from middleware.errors import ProtocolError

SR = 48000
SCENE = """\
name: profiled
buses:
  music: {}
  ambience: {}
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
LOSS = {"left": [0.0, 0.0, 10.0, 40.0, 60.0, 60.0], "right": [0.0, 0.0, 10.0, 40.0, 60.0, 60.0]}
"""A steep high-frequency loss: its compensation lifts a 4 kHz tone by many dB and leaves 150 Hz."""


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("profile_message")
    (tmp / "sounds").mkdir()
    t = np.arange(SR) / SR
    write_wav(tmp / "sounds" / "tone.wav", 0.1 * np.sin(2 * np.pi * 4000.0 * t))
    write_wav(tmp / "sounds" / "low.wav", 0.1 * np.sin(2 * np.pi * 150.0 * t))
    (tmp / "scene.yaml").write_text(SCENE, encoding="utf-8")
    return tmp


@pytest.fixture(scope="module")
def live(folder: Path):
    proc, info = start_daemon("--meters", "all", scene=folder / "scene.yaml")
    client = Client(info["bind"], name="profile")
    sub = Subscriber(info["pub"], topics=("loudness",))
    try:
        yield client, sub, info
    finally:
        client.close()
        sub.close()
        stop_daemon(proc)


def _master(sub: Subscriber) -> float:
    time.sleep(0.8)  # past the 100 ms glide and a full 400 ms momentary window
    while sub.recv(0.0) is not None:
        pass
    got = sub.wait_for("loudness", 2.0)
    assert got is not None, "no loudness telemetry"
    return got["buses"]["master"]["momentary_lufs"]


def test_a_profile_changes_the_master_live_and_a_default_one_undoes_it(live):
    client, sub, _ = live
    plain = _master(sub)
    client.profile(audiogram=LOSS, sync=True)
    lifted = _master(sub)
    assert lifted > plain + 3.0, (plain, lifted)  # the 4 kHz tone is lifted by the compensation
    client.profile(volume_db={"music": -60.0}, sync=True)  # a complete profile: no audiogram now
    quiet = _master(sub)
    assert quiet < plain - 3.0, (plain, quiet)  # only the 150 Hz source is left
    client.profile(sync=True)  # every field at its default
    # the same tones through the same (now flat) chain: 0.5 dB covers the meter's block timing
    assert _master(sub) == pytest.approx(plain, abs=0.5)


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"audiogram": {"left": [0, 0, 0, 0, 500, 0], "right": [0] * 6}}, "audiogram.left.4000"),
        ({"volume_db": {"musik": -6.0}}, "volume_db.musik"),
        ({"dynamic_range": "nite"}, "dynamic_range"),
        ({"max_gain_db": 99.0}, "max_gain_db"),
    ],
)
def test_a_bad_profile_is_refused_before_the_reply_with_its_field_path(live, fields, where):
    client, _, _ = live
    with pytest.raises(ProtocolError) as err:
        client.profile(fields, sync=True)
    assert err.value.code == "out_of_range", err.value
    assert err.value.where == where, err.value


def test_send_parses_profile_fields(live):
    _, _, info = live
    cmd = [sys.executable, "-m", "middleware.cli", "send", "profile", "mono=true", "dynamic_range=night",
           "--connect", info["bind"]]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([*cmd[:-3], "dynamic_range=nite", *cmd[-2:]], capture_output=True, text=True)
    assert res.returncode != 0 and "dynamic_range" in res.stderr + res.stdout


LOW_SCENE = """\
name: low
emitters:
  left:
    position: [-4, 0, 0]
    layers:
      - {id: a, source: sounds/low.wav, mode: loop, fade_in: 0}
  right:
    position: [4, 0, -1]
    layers:
      - {id: b, source: sounds/low2.wav, mode: loop, fade_in: 0}
"""


def test_a_profile_switch_mid_render_has_no_click(folder: Path):
    """An events file folds two low tones (one left, one right) to mono at 1 s. Low tones move little
    from one sample to the next (150/210 Hz at 0.1: under 0.003), while an instant fold would jump by
    up to half the L-R difference (about 0.05): the 100 ms glide keeps every step near the steady ones."""
    t = np.arange(SR) / SR
    write_wav(folder / "sounds" / "low2.wav", 0.1 * np.sin(2 * np.pi * 210.0 * t))
    (folder / "low.yaml").write_text(LOW_SCENE, encoding="utf-8")
    events = folder / "switch.jsonl"
    events.write_text(json.dumps({"t": 1.0, "type": "profile", "mono": True}) + "\n", encoding="utf-8")
    out = folder / "switch.wav"
    cmd = [sys.executable, "-m", "middleware.cli", "render", str(folder / "low.yaml"), "--seconds", "2",
           "--events", str(events), "-o", str(out)]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    x, _ = sf.read(out, dtype="float32")
    before, around, after = x[SR // 2 : SR - 512], x[SR - 512 : SR + SR // 4], x[int(1.5 * SR) :]
    assert np.max(np.abs(before[:, 0] - before[:, 1])) > 0.02  # stereo before
    assert np.max(np.abs(after[:, 0] - after[:, 1])) < 1e-4  # mono after
    steady = max(np.abs(np.diff(before, axis=0)).max(), np.abs(np.diff(after, axis=0)).max())
    assert np.abs(np.diff(around, axis=0)).max() <= 1.5 * steady, steady
