"""The daemon with the real scene runtime and engine, on a small scene written by the test."""

from __future__ import annotations

import time
import wave

import numpy as np
import pytest
import zmq
from test_daemon import start_daemon, stop_daemon

from middleware.client import Client, Subscriber
from middleware.errors import ProtocolError

SCENE = """name: minimal
parameters:
  intensity: {range: [0, 1], default: 0.5}
states:
  weather: [clear, rain]
switches:
  surface: [grass, stone]
buses:
  sfx: {}
snapshots:
  quiet:
    buses:
      sfx: {gain_db: -12}
emitters:
  bed:
    bus: sfx
    layers:
      - {id: hum, source: sounds/hum.wav, gain: {param: intensity, curve: [[0, -40], [1, -12]]}}
events:
  ping:
    bus: sfx
    layers: [{id: beep, source: sounds/beep.wav, mode: oneshot}]
"""


def _tone(path, seconds, freq):
    n = int(48000 * seconds)
    t = np.arange(n) / 48000
    x = 0.3 * np.sin(2 * np.pi * freq * t) * np.minimum(1, np.minimum(t, t[::-1]) / 0.002)
    with wave.open(str(path), "wb") as h:
        h.setnchannels(1)
        h.setsampwidth(2)
        h.setframerate(48000)
        h.writeframes((x * 32767).astype("<i2").tobytes())


@pytest.fixture(scope="module")
def scene_daemon(tmp_path_factory):
    root = tmp_path_factory.mktemp("scene")
    (root / "sounds").mkdir()
    _tone(root / "sounds" / "beep.wav", 0.05, 880)
    _tone(root / "sounds" / "hum.wav", 1.0, 110)
    (root / "minimal.yaml").write_text(SCENE)
    (root / "louder.yaml").write_text(SCENE.replace("[[0, -40], [1, -12]]", "[[0, -30], [1, -6]]"))
    (root / "broken.yaml").write_text(SCENE.replace("bus: sfx\n    layers: [", "bus: nowhere\n    layers: ["))
    proc, info = start_daemon("--lookahead", "8", scene=root / "minimal.yaml")
    ctx = zmq.Context()
    sub = Subscriber(info["pub"], context=ctx)
    client = Client(info["bind"], name="scene-test", context=ctx, timeout=5.0)
    time.sleep(0.3)
    yield client, sub, root
    ctx.destroy(linger=0)
    code, err = stop_daemon(proc)
    assert code == 0, err


def test_hello_describes_the_real_scene(scene_daemon):
    client, _, _ = scene_daemon
    scene = client.hello()["scene"]
    assert scene["scene"] == "minimal"
    assert scene["parameters"]["intensity"] == {"min": 0.0, "max": 1.0, "default": 0.5}
    assert scene["events"] == ["ping"]


def test_real_runtime_validation_and_events(scene_daemon):
    client, sub, _ = scene_daemon
    with pytest.raises(ProtocolError) as info:
        client.set_param("intensity", 1.5, sync=True)
    assert (info.value.code, info.value.where) == ("out_of_range", "value")
    with pytest.raises(ProtocolError) as info:
        client.set_state("weather", "snow", sync=True)
    assert info.value.code == "unknown_name" and "clear" in str(info.value)
    client.set_param("intensity", 0.9, sync=True)
    client.snapshot("quiet", True, sync=True)
    iid = client.trigger("ping", position=(1.0, 0.0, -2.0))
    seen = {}
    deadline = time.monotonic() + 3.0
    while len(seen) < 3 and time.monotonic() < deadline:
        got = sub.recv(0.5)
        if got and isinstance(got[1], dict) and got[1].get("instance") == iid:
            seen[got[0]] = got[1]
    assert set(seen) == {"instance_started", "instance_out", "instance_ended"}, seen
    assert seen["instance_out"]["event"] == "ping" and seen["instance_out"]["t_ns"] > 0
    stats = client.stats()
    assert stats["audio"]["rejected"] == 0
    assert stats["scene"]["params"]["intensity"] == pytest.approx(0.9)


def test_load_scene_hot_reload_and_refusals(scene_daemon):
    client, _, _ = scene_daemon
    scene = client.load_scene("louder.yaml")
    assert scene["scene"] == "minimal"
    with pytest.raises(ProtocolError) as info:
        client.load_scene("broken.yaml")
    assert info.value.code == "scene_error" and "nowhere" in str(info.value)
    with pytest.raises(ProtocolError) as info:
        client.load_scene("../../../etc/hostname.yaml")
    assert info.value.where == "path"
    assert client.hello()["scene"]["events"] == ["ping"]  # the previous scene keeps playing
    a0 = client.stats()["audio"]["frames_played"]
    time.sleep(0.3)
    assert client.stats()["audio"]["frames_played"] > a0


def test_say_plays_a_labelled_synthetic_line_and_errors_are_clear(scene_daemon):
    client, sub, _ = scene_daemon
    client.request("say", text="Halt, stranger.", preset="robot")
    said = None
    deadline = time.monotonic() + 10.0
    while said is None and time.monotonic() < deadline:
        got = sub.recv(0.5)
        if got and got[0] == "say":
            said = got[1]
    assert said is not None and said["synthetic"] is True and said["preset"] == "robot"
    with pytest.raises(ProtocolError) as info:  # checked before the reply (tests/test_say_bounded.py)
        client.request("say", text="hello", preset="orge")
    assert (info.value.code, info.value.where) == ("unknown_name", "preset")
    assert "did you mean" in str(info.value)
    assert client.stats()["audio"]["frame"] > 0  # still playing
