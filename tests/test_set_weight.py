"""``set_weight`` over the wire: a real daemon playing a real scene holds a layer's weight, so a
designer (the studio's teach mode, a layer override) hears it, and ``nil`` hands it back.

Two looping layers on their own buses; the daemon's per-bus loudness telemetry tells whether a layer
is audible (each bus carries one layer only), its scene telemetry tells the weight and its source.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import write_wav
from test_daemon import start_daemon, stop_daemon

from middleware.client import Client, Subscriber
from middleware.errors import ProtocolError

SR = 48000
SCENE = """\
name: weights
buses:
  ambience: {}
  music: {}
emitters:
  bed:
    bus: ambience
    layers:
      - {id: hum, source: sounds/low.wav, mode: loop, fade_in: 0, fade_out: 0}
  drone:
    bus: music
    layers:
      - {id: tone, source: sounds/tone.wav, mode: loop, fade_in: 0, fade_out: 0}
"""
SILENT_LUFS = -70.0
"""Momentary loudness below this is silence (the meter's gate is -70 LUFS; the layers play near -20)."""


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("weights")
    (tmp / "sounds").mkdir()
    t = np.arange(SR) / SR
    write_wav(tmp / "sounds" / "tone.wav", 0.2 * np.sin(2 * np.pi * 440.0 * t))
    write_wav(tmp / "sounds" / "low.wav", 0.1 * np.sin(2 * np.pi * 220.0 * t))
    (tmp / "scene.yaml").write_text(SCENE, encoding="utf-8")
    proc, info = start_daemon("--meters", "all", scene=tmp / "scene.yaml")
    client = Client(info["bind"], name="set_weight")
    sub = Subscriber(info["pub"], topics=("loudness", "scene"))
    try:
        yield client, sub
    finally:
        client.close()
        sub.close()
        stop_daemon(proc)


def _loudness(sub: Subscriber, settle: float = 0.8) -> dict[str, float]:
    """Momentary LUFS per bus once a full 400 ms window has passed since the last change."""
    time.sleep(settle)
    while sub.recv(0.0) is not None:  # readings from before now
        pass
    got = sub.wait_for("loudness", 2.0)
    assert got is not None, "no loudness telemetry"
    return {bus: m["momentary_lufs"] for bus, m in got["buses"].items()}


def _layer(client: Client, uid: str) -> dict:
    return client.stats()["scene"]["layers"][uid]


def test_weight_zero_silences_the_layer_and_nil_releases_it(live):
    client, sub = live
    before = _loudness(sub)
    assert before["ambience"] > SILENT_LUFS and before["music"] > SILENT_LUFS, before
    assert _layer(client, "bed.hum")["source"] != "override"

    client.set_weight("bed.hum", 0.0, sync=True)
    held = _loudness(sub)
    assert held["ambience"] < SILENT_LUFS, held  # the held layer is silent
    assert held["music"] == pytest.approx(before["music"], abs=0.5), held  # the other one is not
    assert _layer(client, "bed.hum") | {"gain_db": None} == {
        "gain_db": None,
        "weight": 0.0,
        "source": "override",
    }

    client.set_weight("bed.hum", None, sync=True)  # nil: back to its rules
    back = _loudness(sub)
    assert back["ambience"] == pytest.approx(before["ambience"], abs=0.5), (before, back)
    layer = _layer(client, "bed.hum")
    assert layer["source"] != "override" and layer["weight"] == pytest.approx(1.0)


def test_unknown_layer_is_refused_before_the_reply_with_a_close_match(live):
    client, _ = live
    with pytest.raises(ProtocolError) as err:
        client.set_weight("bed.hu", 0.5, sync=True)
    assert err.value.code == "unknown_name"
    assert err.value.where == "layer"
    assert "bed.hum" in str(err.value)  # did you mean
    with pytest.raises(ProtocolError) as err:
        client.set_weight("bed.hum", 1.5, sync=True)
    assert err.value.code == "out_of_range" and err.value.where == "weight"
    assert _layer(client, "bed.hum")["source"] != "override"  # nothing was applied
