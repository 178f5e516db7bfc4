"""The player's volumes, boost and preferences survive a scene swap (issue 17): a real daemon on real
sockets plays a scene with a profile, then ``load_scene`` swaps in the same scene edited (hot reload)
and another scene whose music bus has another name; the player's -20 dB on music must hold on each,
and the ambience preference must land on the new scene's own ``player_ambience`` range.

Measured: the music bus's BS.1770 momentary loudness from the daemon's ``loudness`` topic (meters on
every bus, post-fader), a steady looping tone, so the level only moves with the gains."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from conftest import write_wav
from test_daemon import start_daemon, stop_daemon

from middleware.client import Client, Subscriber

SR = 48000
SCENE_A = """\
name: first
parameters:
  player_ambience: {{range: [0, 1], default: 0.5}}
buses:
  music: {{}}
  ambience: {{gain_db: {amb}}}
emitters:
  band:
    bus: music
    layers:
      - {{id: tone, source: sounds/tone.wav, mode: loop, fade_in: 0}}
  wind:
    bus: ambience
    layers:
      - {{id: low, source: sounds/low.wav, mode: loop, fade_in: 0}}
"""
SCENE_B = """\
name: second
parameters:
  player_ambience: {range: [0, 10], default: 5}  # another range: the amount 0.9 maps to 9
buses:
  score: {}
emitters:
  orchestra:  # a new emitter: a kept one would keep its voice on its old bus
    bus: score
    layers:
      - {id: tone, source: sounds/tone.wav, mode: loop, fade_in: 0}
"""
PLAYER_DB = -20.0
TOL = 1.0  # dB: the 400 ms momentary window read at any block phase of a looping 1 s tone; the
# failure this guards against is a full 20 dB


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("profile_reload")
    t = np.arange(SR) / SR
    write_wav(tmp / "sounds" / "tone.wav", 0.2 * np.sin(2 * np.pi * 440.0 * t))
    write_wav(tmp / "sounds" / "low.wav", 0.2 * np.sin(2 * np.pi * 150.0 * t))
    (tmp / "a.yaml").write_text(SCENE_A.format(amb=0), encoding="utf-8")
    (tmp / "a_edited.yaml").write_text(SCENE_A.format(amb=-3), encoding="utf-8")
    (tmp / "b.yaml").write_text(SCENE_B, encoding="utf-8")
    return tmp


def _level(sub: Subscriber, bus: str) -> float:
    time.sleep(1.0)  # past the gain ramps and a full 400 ms momentary window
    while sub.recv(0.0) is not None:
        pass
    got = sub.wait_for("loudness", 2.0)
    assert got is not None, "no loudness telemetry"
    return got["buses"][bus]["momentary_lufs"]


def test_the_players_volume_survives_hot_reload_and_load_scene(folder: Path) -> None:
    proc, info = start_daemon("--meters", "all", scene=folder / "a.yaml")
    client = Client(info["bind"], name="reload")
    sub = Subscriber(info["pub"], topics=("loudness",))
    try:
        plain = _level(sub, "music")
        client.profile(volume_db={"music": PLAYER_DB}, preferences={"ambience": 0.9}, sync=True)
        assert _level(sub, "music") == pytest.approx(plain + PLAYER_DB, abs=TOL)
        client.load_scene(str(folder / "a_edited.yaml"))  # the same scene, edited: a hot reload
        reloaded = _level(sub, "music")
        client.load_scene(str(folder / "b.yaml"))  # another scene: its music bus is called 'score'
        other = _level(sub, "score")
        params = client.stats()["scene"]["params"]
        print(f"music plain {plain:.1f}, reloaded {reloaded:.1f}, other scene {other:.1f} LUFS")
        # Before the fix: the reload set every bus to its own gain (the player's -20 dB gone) and the
        # other scene's 'score' never got the player's music volume (the gains were per bus name).
        assert reloaded == pytest.approx(plain + PLAYER_DB, abs=TOL)
        assert other == pytest.approx(plain + PLAYER_DB, abs=TOL)
        # the preference follows too: mapped onto the new scene's range, not carried over as a number
        assert params["player_ambience"] == pytest.approx(9.0, abs=1e-9)
    finally:
        client.close()
        sub.close()
        stop_daemon(proc)
