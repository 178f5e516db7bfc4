"""Many listeners, one world: daemons subscribed to one game server's PUB feed (``--world``).

One pyzmq PUB in the test plays the game server. Eight daemons (NULL device, one small real scene
whose ``engine`` emitter follows the game object ``car``) subscribe to it; each daemon's own client
sends only its listener. Each must render the same world (params, states, the car) from its own
head: the car's left/right voice gains must lean the way the listener's geometry says (checked
against the cross product, not hard-coded). A fifth daemon started late must catch up from the
periodic ``world_state`` publication alone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import msgpack
import numpy as np
import pytest
import zmq
from test_daemon import stop_daemon

from middleware.client import Client

SCENE = """name: world
parameters:
  intensity: {range: [0, 1], default: 0.5}
states:
  weather: [clear, rain]
buses:
  sfx: {}
snapshots:
  quiet:
    buses:
      sfx: {gain_db: -6}
emitters:
  engine:
    bus: sfx
    follows: car
    attenuation: {min: 2, max: 200}
    layers:
      - {id: motor, source: sounds/hum.wav}
events:
  alarm:
    bus: sfx
    layers: [{id: siren, source: sounds/hum.wav, mode: loop}]
"""

CAR = (5.0, 0.0, 0.0)
LISTENERS = [  # (position, forward): heads on both sides of the car (at +X), facing different ways
    ((-10.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
    ((10.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
    ((0.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
    ((0.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    ((5.0, 0.0, 10.0), (1.0, 0.0, 0.0)),
    ((5.0, 0.0, -10.0), (1.0, 0.0, 0.0)),
    ((20.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
    ((-3.0, 0.0, 4.0), (0.0, 0.0, -1.0)),
]
UP = (0.0, 1.0, 0.0)


def _tone(path, seconds, freq):
    n = int(48000 * seconds)
    t = np.arange(n) / 48000
    x = 0.3 * np.sin(2 * np.pi * freq * t)
    with wave.open(str(path), "wb") as h:
        h.setnchannels(1)
        h.setsampwidth(2)
        h.setframerate(48000)
        h.writeframes((x * 32767).astype("<i2").tobytes())


def _start(scene, world: str, n: int, *extra: str) -> list[tuple[subprocess.Popen, dict]]:
    """Start n daemons at once (their start-up overlaps), then read each one's JSON line."""
    procs = []
    for _ in range(n):
        cmd = [sys.executable, "-m", "middleware.cli", "serve", str(scene), "--backend", "null",
               "--bind", "tcp://127.0.0.1:0", "--pub", "tcp://127.0.0.1:0", "--json", "--lookahead", "8",
               "--meters", "none", "--world", world, *extra]  # fmt: skip
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    out = []
    for proc in procs:
        line = proc.stdout.readline()
        if not line:
            proc.kill()
            raise RuntimeError("daemon did not start: " + proc.stderr.read())
        out.append((proc, json.loads(line)))
    return out


def _publish(pub: zmq.Socket, topic: bytes, msg: dict) -> None:
    pub.send_multipart([topic, msgpack.packb({"v": 1, **msg} if topic == b"world" else msg)])


def _wait(client: Client, ok, timeout: float = 10.0) -> dict:
    """Poll a daemon's stats until ok(stats) holds (scene telemetry arrives every ~0.1 s)."""
    deadline = time.monotonic() + timeout
    while True:
        stats = client.stats()
        if ok(stats) or time.monotonic() > deadline:
            return stats
        time.sleep(0.05)


def _expected_side(listener_pos, forward) -> float:
    """+1 if the car is on the listener's right, -1 if on the left (right = forward x up)."""
    right = np.cross(forward, UP)
    return float(np.sign(np.dot(np.subtract(CAR, listener_pos), right)))


def _motor(stats: dict) -> dict | None:
    return stats["scene"].get("voices", {}).get("engine.motor")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    (root / "sounds").mkdir()
    _tone(root / "sounds" / "hum.wav", 1.0, 110)
    scene = root / "world.yaml"
    scene.write_text(SCENE)
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind("tcp://127.0.0.1:*")
    endpoint = pub.getsockopt(zmq.LAST_ENDPOINT).decode()
    daemons = _start(scene, endpoint, len(LISTENERS))
    clients = [Client(info["bind"], context=ctx, timeout=5.0) for _, info in daemons]
    yield ctx, pub, endpoint, scene, daemons, clients
    for c in clients:
        c.close()
    ctx.destroy(linger=0)
    for proc, _ in daemons:
        code, err = stop_daemon(proc)
        assert code == 0, err


def test_each_daemon_hears_the_shared_world_from_its_own_listener(world):
    _, pub, _, _, _, clients = world
    for client, (pos, fwd) in zip(clients, LISTENERS, strict=True):
        client.listener(pos, fwd, UP, sync=True)
    # Subscriptions take a moment to reach the PUB (slow joiner): repeat a harmless update until all
    # daemons have heard from the world, then send each world event once.
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        _publish(pub, b"world", {"type": "object", "name": "car", "position": [0.0, 0.0, -50.0]})
        if all(c.stats()["net"]["world_accepted"] > 0 for c in clients):
            break
        time.sleep(0.05)
    _publish(pub, b"world", {"type": "set_param", "name": "intensity", "value": 0.9})
    _publish(pub, b"world", {"type": "set_state", "group": "weather", "value": "rain"})
    _publish(pub, b"world", {"type": "snapshot", "name": "quiet", "on": True})
    _publish(pub, b"world", {"type": "object", "name": "car", "position": list(CAR)})
    _publish(pub, b"world", {"type": "trigger", "id": 77, "event": "alarm"})
    _publish(pub, b"world", {"type": "listener", "position": [0, 0, 0]})  # not the world's to say

    def settled(side: float):
        def ok(s: dict) -> bool:
            m = _motor(s)
            return (
                m is not None
                and s["scene"]["states"]["weather"] == "rain"
                and s["net"]["world_invalid"] > 0
                and (m["gain_right"] - m["gain_left"]) * side > 0
            )

        return ok

    balances = []
    for current, (pos, fwd) in zip(clients, LISTENERS, strict=True):
        side = _expected_side(pos, fwd)
        s = _wait(current, settled(side))
        m = _motor(s)
        assert m is not None, s["scene"]
        assert s["scene"]["params"]["intensity"] == pytest.approx(0.9)
        assert s["scene"]["states"]["weather"] == "rain"
        assert s["scene"]["snapshots"].get("quiet", 0) > 0
        assert "engine.motor" in s["scene"]["layers"]
        net = s["net"]
        assert net["world_invalid"] == 1, net  # the listener from the world feed was refused
        assert net["world_accepted"] >= 5
        assert s["audio"]["rejected"] == 0
        assert _wait(current, lambda s: s["net"]["instances_live"] == 1)["net"]["instances_live"] == 1
        balance = m["gain_right"] - m["gain_left"]
        assert balance * side > 0, (pos, fwd, m)
        balances.append(balance)
    # The same world, eight heads: the car leans to each one's side as the geometry says.
    assert np.sign(balances).tolist() == [_expected_side(*lp) for lp in LISTENERS]
    # The last two heads stand at the same place facing opposite ways: mirror images of each other.
    assert balances[2] == pytest.approx(-balances[3], rel=1e-3)
    print("balances (right - left):", [round(b, 4) for b in balances])
    # A world stop names the world's trigger id (the alarm loops until stopped); every daemon maps
    # it to its own instance.
    _publish(pub, b"world", {"type": "stop", "instance": 77, "release": False})
    for c in clients:
        s = _wait(c, lambda s: s["net"]["instances_live"] == 0, 5.0)
        assert s["net"]["instances_live"] == 0
        assert s["net"]["world_invalid"] == 1  # the stop was understood


def test_a_late_daemon_catches_up_from_the_world_state(world):
    ctx, pub, endpoint, scene, _, _ = world
    state = {
        "params": {"intensity": 0.9},
        "states": {"weather": "rain"},
        "objects": {"car": {"position": list(CAR)}},
        "snapshots": {"quiet": True},
    }
    stop = threading.Event()

    def server() -> None:  # the world server publishes its full state periodically (and nothing else)
        while not stop.is_set():
            _publish(pub, b"world_state", state)
            stop.wait(0.2)

    # pyzmq sockets are not thread-safe: the publishing thread owns the PUB while it runs.
    thread = threading.Thread(target=server, daemon=True)
    thread.start()
    (proc, info) = _start(scene, endpoint, 1)[0]
    late = Client(info["bind"], context=ctx, timeout=5.0)
    try:
        pos, fwd = LISTENERS[1]
        late.listener(pos, fwd, UP, sync=True)
        s = _wait(late, lambda s: _motor(s) is not None and s["scene"]["states"]["weather"] == "rain")
        assert s["net"]["world_states"] > 0
        assert s["net"]["world_received"] == s["net"]["world_states"]  # nothing but the state was sent
        assert s["scene"]["params"]["intensity"] == pytest.approx(0.9)
        assert s["scene"]["states"]["weather"] == "rain"
        assert s["scene"]["snapshots"].get("quiet", 0) > 0
        m = _motor(s)
        assert (m["gain_right"] - m["gain_left"]) * _expected_side(pos, fwd) > 0, m
        assert s["audio"]["rejected"] == 0 and s["net"]["world_invalid"] == 0
    finally:
        stop.set()
        thread.join(2.0)
        late.close()
        code, err = stop_daemon(proc)
        assert code == 0, err


def _own_pub(ctx: zmq.Context, curve_secret: tuple[bytes, bytes] | None = None) -> tuple[zmq.Socket, str]:
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    if curve_secret is not None:
        pub.setsockopt(zmq.CURVE_SERVER, 1)
        pub.setsockopt(zmq.CURVE_PUBLICKEY, curve_secret[0])
        pub.setsockopt(zmq.CURVE_SECRETKEY, curve_secret[1])
    pub.bind("tcp://127.0.0.1:*")
    return pub, pub.getsockopt(zmq.LAST_ENDPOINT).decode()


def test_world_state_instances_start_late_and_stop_missed(world):
    """`world_state.instances` lists the world's live tracked instances: a daemon that missed a
    trigger starts it, one that missed the stop stops it, and an id it has seen is never replayed."""
    ctx, _, _, scene, _, _ = world
    pub, endpoint = _own_pub(ctx)
    (proc, info) = _start(scene, endpoint, 1)[0]
    c = Client(info["bind"], context=ctx, timeout=5.0)
    try:

        def publish_until(state: dict, ok) -> dict:
            deadline = time.monotonic() + 10.0
            while True:
                _publish(pub, b"world_state", state)
                stats = c.stats()
                if ok(stats) or time.monotonic() > deadline:
                    return stats
                time.sleep(0.2)

        live = lambda n: lambda s: s["net"]["instances_live"] == n  # noqa: E731
        s = publish_until(
            {"instances": [{"id": 501, "event": "alarm"}, {"id": 502, "event": "alarm"}]}, live(2)
        )
        assert s["net"]["instances_live"] == 2  # the triggers fired before this daemon existed
        s = publish_until({"instances": [{"id": 502, "event": "alarm"}]}, live(1))
        assert s["net"]["instances_live"] == 1  # the world stopped 501 and this daemon missed it
        for _ in range(3):  # 501 reappears (a stale state): seen already, so it is not replayed
            _publish(
                pub,
                b"world_state",
                {"instances": [{"id": 501, "event": "alarm"}, {"id": 502, "event": "alarm"}]},
            )
            time.sleep(0.2)
        assert c.stats()["net"]["instances_live"] == 1
        _publish(pub, b"world", {"type": "stop", "instance": 502})
        s = publish_until({"instances": []}, live(0))
        assert s["net"]["instances_live"] == 0
        _publish(pub, b"world_state", {"instances": [{"id": 7, "event": "no_such_event"}]})
        time.sleep(0.3)
        s = c.stats()
        assert s["net"]["instances_live"] == 0 and s["net"]["world_invalid"] >= 1
    finally:
        c.close()
        pub.close()
        code, err = stop_daemon(proc)
        assert code == 0, err


def test_world_feed_with_curve_takes_known_daemons_only(tmp_path, world):
    """--world-server-key: the feed is encrypted, and the game server's ZAP allowlist decides which
    daemons hear the world (a known key does; an unknown key and plain text do not)."""
    import zmq.auth
    from zmq.auth.thread import ThreadAuthenticator

    ctx, _, _, scene, _, _ = world
    for d in ("server", "daemons", "allowed"):
        (tmp_path / d).mkdir()
    server_public_file, server_secret_file = zmq.auth.create_certificates(str(tmp_path / "server"), "game")
    known_public, known_secret = zmq.auth.create_certificates(str(tmp_path / "daemons"), "known")
    _, stranger_secret = zmq.auth.create_certificates(str(tmp_path / "daemons"), "stranger")
    (tmp_path / "allowed" / "known.key").write_bytes(Path(known_public).read_bytes())
    wctx = zmq.Context()
    auth = ThreadAuthenticator(wctx)
    auth.start()
    auth.configure_curve(domain="*", location=str(tmp_path / "allowed"))
    pub, endpoint = _own_pub(wctx, zmq.auth.load_certificate(server_secret_file))
    procs = []
    try:
        for key in (known_secret, stranger_secret, None):
            extra = (
                [] if key is None else ["--world-server-key", server_public_file, "--world-client-key", key]
            )
            procs.append(_start(scene, endpoint, 1, *extra)[0])
        clients = [Client(info["bind"], context=ctx, timeout=5.0) for _, info in procs]
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:  # publish until the known daemon has it
            _publish(pub, b"world", {"type": "set_param", "name": "intensity", "value": 0.8})
            if clients[0].stats()["scene"].get("params", {}).get("intensity") == pytest.approx(0.8):
                break
            time.sleep(0.2)
        values = [c.stats()["scene"]["params"]["intensity"] for c in clients]
        assert values[0] == pytest.approx(0.8)
        assert values[1] == pytest.approx(0.5) and values[2] == pytest.approx(0.5), values  # the default
        assert [c.stats()["net"]["world_received"] for c in clients[1:]] == [0, 0]
        for c in clients:
            c.close()
    finally:
        pub.close()
        auth.stop()
        wctx.destroy(linger=0)
        for proc, _ in procs:
            code, err = stop_daemon(proc)
            assert code == 0, err


def test_world_curve_options_are_checked(tmp_path):
    cmd = [sys.executable, "-m", "middleware.cli", "serve", "--recording", "--backend", "null"]
    out = subprocess.run(
        [*cmd, "--world-server-key", str(tmp_path / "none.key")], capture_output=True, text=True
    )
    assert out.returncode == 2 and "--world-server-key needs --world" in out.stderr
    out = subprocess.run(
        [*cmd, "--world", "tcp://127.0.0.1:9", "--world-server-key", str(tmp_path / "none.key")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "--world-server-key=" in out.stderr and "cannot read" in out.stderr
