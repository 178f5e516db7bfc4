"""Sound captions from a real daemon (`soundscape serve scenes/town.yaml`, NULL device) over real sockets.

The issue's measurements: the caption's direction within 10 degrees of the geometry in the town
scene as the listener turns, and the caption published within one block of the sound's first
sample leaving the device callback (``instance_out`` says when that was, on the daemon's clock,
which is this machine's CLOCK_MONOTONIC, as ``time.perf_counter_ns`` is on Linux).
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import pytest
import zmq
from test_daemon import start_daemon, stop_daemon

from middleware.client import Client, Subscriber
from middleware.scene.captions import CaptionRules
from middleware.tools import example_assets as EA

ROOT = Path(__file__).resolve().parents[1]
TOWN = ROOT / "scenes" / "town.yaml"
BLOCK = 256
SR = 48000
BLOCK_NS = BLOCK * 1_000_000_000 // SR
GAP_S = CaptionRules().merge_s / 2 + 0.05  # two texts alternate: each repeats just after its window


class Telemetry:
    """Every publication with the perf_counter_ns it arrived at (a thread, so waiting for a reply
    elsewhere does not delay the stamp)."""

    def __init__(self, endpoint: str, ctx: zmq.Context) -> None:
        self.sub = Subscriber(endpoint, topics=("caption", "instance_"), context=ctx)
        self.got: list[tuple[int, str, dict]] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            got = self.sub.recv(0.05)
            if got is not None:
                with self.lock:
                    self.got.append((time.perf_counter_ns(), got[0], got[1]))

    def wait(self, topic: str, where, timeout: float = 3.0) -> tuple[int, dict] | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for t, top, payload in self.got:
                    if top == topic and where(payload):
                        return t, payload
            time.sleep(0.005)
        return None

    def since(self, topic: str, t0: int) -> list[dict]:
        with self.lock:
            return [p for t, top, p in self.got if top == topic and t >= t0]

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sub.close()


@pytest.fixture(scope="module")
def town():
    EA.ensure_example_assets(ROOT / "scenes")  # the town's sounds are made, not shipped
    proc, info = start_daemon("--block", str(BLOCK), scene=TOWN)
    ctx = zmq.Context()
    tel = Telemetry(info["pub"], ctx)
    client = Client(info["bind"], name="captions-test", context=ctx, timeout=5.0)
    time.sleep(0.3)
    yield client, tel
    tel.close()
    ctx.destroy(linger=0)
    code, err = stop_daemon(proc)
    assert code == 0, err


def _geometry(src, pos, yaw_deg: float) -> float:
    """Azimuth of ``src`` for a listener at ``pos`` facing ``yaw_deg`` clockwise from -Z (seen from
    above, +X is to the right of -Z): positive to the right. Written from the picture, not the code."""
    bearing = math.degrees(math.atan2(src[0] - pos[0], -(src[2] - pos[2])))  # clockwise from -Z
    return (bearing - yaw_deg + 180.0) % 360.0 - 180.0


def test_caption_direction_follows_the_turning_listener_and_leaves_with_the_first_sample(town):
    """The listener stands still and turns in 45-degree steps; a door opens or slams at the same
    place each time. Each caption's direction is the geometry's within 10 degrees, its frame is the
    instance's first frame, and it arrives no later than one block after that frame left the
    callback."""
    client, tel = town
    door, pos = (-4.0, 1.5, -6.0), (2.0, 0.0, 1.0)
    errors, made, received = [], [], []
    for k, yaw in enumerate(range(0, 360, 45)):
        r = math.radians(yaw)
        client.listener(pos, forward=(math.sin(r), 0.0, -math.cos(r)))
        event = ("door_open", "door_close")[k % 2]
        text = ("door creaks open", "door slams")[k % 2]
        t0 = time.perf_counter_ns()
        iid = client.trigger(event, position=door, params={"force": 1.0})
        cap = tel.wait("caption", lambda p, text=text: p["text"] == text)
        out = tel.wait("instance_out", lambda p, iid=iid: p["instance"] == iid)
        assert cap is not None and out is not None, (yaw, tel.since("caption", t0))
        (t_cap, c), (_, o) = cap, out
        with tel.lock:
            tel.got.clear()
        want = _geometry(door, pos, yaw)
        errors.append(abs((c["direction"] - want + 180.0) % 360.0 - 180.0))
        assert c["distance"] == pytest.approx(math.dist(door, pos), abs=1e-3)
        assert c["frame"] == o["frame"] and c["count"] == 1 and c["synthetic"] is False
        made.append((c["t_ns"] - o["t_ns"]) / 1e6)
        received.append((t_cap - o["t_ns"]) / 1e6)
        time.sleep(GAP_S)
    print(
        f"\ndirection error max {max(errors):.4f} deg; caption made - first sample out (ms): "
        f"{[round(x, 2) for x in made]}; received - out (ms): {[round(x, 2) for x in received]}"
    )
    assert max(errors) <= 10.0, errors
    assert max(made) <= BLOCK_NS / 1e6, made  # the daemon publishes it within one block
    # What a game sees adds the hop to the network process and the PUB socket; on this shared
    # 2-core machine that hop alone has been seen near a block, so its bound is looser.
    assert sorted(received)[len(received) // 2] <= BLOCK_NS / 1e6, received
    assert max(received) <= 4 * BLOCK_NS / 1e6, received


def test_caption_direction_while_the_listener_keeps_turning(town):
    """The game turns the listener at 90 degrees a second, sending its pose every 10 ms as a game
    would, while doors open and slam around it: each caption's direction is the geometry's for the
    pose sent last before the daemon made the caption, within 10 degrees."""
    client, tel = town
    time.sleep(CaptionRules().merge_s)  # the doors' windows from the test before have closed
    pos, rate = (0.0, 0.0, 0.0), 90.0
    doors = [(5.0, 0.0, -2.0), (-3.0, 1.0, 4.0), (2.0, 0.0, 6.0), (-6.0, 0.0, -1.0)]
    sent: list[tuple[int, float]] = []  # (perf_counter_ns, yaw) of each pose sent
    fired: list[tuple[str, tuple]] = []
    t0 = time.perf_counter()
    with tel.lock:
        tel.got.clear()
    while (el := time.perf_counter() - t0) < len(doors) * GAP_S + 0.3:
        yaw = (rate * el) % 360.0
        r = math.radians(yaw)
        client.listener(pos, forward=(math.sin(r), 0.0, -math.cos(r)))
        sent.append((time.perf_counter_ns(), yaw))
        k = len(fired)
        if k < len(doors) and el >= 0.2 + k * GAP_S:
            event, text = (("door_open", "door creaks open"), ("door_close", "door slams"))[k % 2]
            client.trigger(event, position=doors[k], params={"force": 1.0})
            fired.append((text, doors[k]))
        time.sleep(0.01)
    time.sleep(0.3)
    caps = [c for c in tel.since("caption", 0) if c["text"].startswith("door")]
    assert len(caps) == len(doors), caps
    errors = []
    for c, (text, door) in zip(sorted(caps, key=lambda c: c["frame"]), fired, strict=True):
        assert c["text"] == text
        yaw = [y for t, y in sent if t <= c["t_ns"]][-1]
        errors.append(abs((c["direction"] - _geometry(door, pos, yaw) + 180.0) % 360.0 - 180.0))
    print(f"\nturning at {rate:g} deg/s: direction error (deg) {[round(e, 2) for e in errors]}")
    assert max(errors) <= 10.0, errors


def test_inaudible_car_gets_its_caption_when_traffic_makes_it_audible(town):
    """The car's engine at traffic 0 is 60 dB down (under the -60 dB threshold with distance): no
    caption; traffic 1 makes it audible, and its caption comes then, from the car's side."""
    client, tel = town
    client.set_param("traffic", 0.0)
    client.listener((0.0, 0.0, 0.0), forward=(0.0, 0.0, -1.0))
    client.object("car", (10.0, 0.0, 0.0), sync=True)
    time.sleep(0.3)
    t0 = time.perf_counter_ns()
    time.sleep(0.4)
    assert [c for c in tel.since("caption", t0) if c["text"] == "car engine"] == []
    client.set_param("traffic", 1.0, sync=True)
    cap = tel.wait("caption", lambda p: p["text"] == "car engine", timeout=3.0)
    assert cap is not None
    c = cap[1]
    assert c["direction"] == pytest.approx(90.0, abs=10.0) and c["importance"] == "high"
    assert c["distance"] == pytest.approx(10.0, abs=0.5)


def test_repeated_door_merges_into_one_caption_with_a_count(town):
    client, tel = town
    time.sleep(CaptionRules().merge_s)  # the doors' windows from the test before have closed
    t0 = time.perf_counter_ns()
    for _ in range(5):
        client.trigger("door_open", position=(0.0, 0.0, -3.0))
        time.sleep(0.05)
    time.sleep(CaptionRules().merge_s + 0.5)
    got = [(c["text"], c["count"]) for c in tel.since("caption", t0) if c["text"] == "door creaks open"]
    assert got == [("door creaks open", 1), ("door creaks open", 4)], got


def test_say_publishes_a_subtitle_with_the_speaker(town):
    client, tel = town
    client.listener((0.0, 0.0, 0.0), forward=(0.0, 0.0, -1.0), sync=True)
    t0 = time.perf_counter_ns()
    client.say("Mind the cart, stranger.", preset="elder", emitter="fountain")
    cap = tel.wait("caption", lambda p: p.get("subtitle") is True, timeout=15.0)
    assert cap is not None, tel.since("caption", t0)
    c = cap[1]
    assert c["text"] == "Mind the cart, stranger." and c["speaker"] == "fountain"
    assert c["synthetic"] is True and c["preset"] == "elder"
    assert c["direction"] == pytest.approx(_geometry((-12.0, 0.0, -10.0), (0.0, 0.0, 0.0), 0.0), abs=10.0)
