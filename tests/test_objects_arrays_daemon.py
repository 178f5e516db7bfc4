"""Object updates through the daemon as arrays (issue 15): a real `soundscape serve` process on
127.0.0.1 with the NULL device and a scene whose looping event follows objects.

The network process turns untimed object updates into one array frame per flush (not one command per
item), the audio process applies it in one step, and what the game sees is unchanged: positions land,
a barrier (`sync`) orders them, bad items are refused before the `ok` with the item named.
"""

from __future__ import annotations

import math
import time

import msgpack
import numpy as np
import pytest
import zmq
from conftest import write_wav
from test_daemon import start_daemon, stop_daemon

from middleware.client import Client, Subscriber
from middleware.errors import ProtocolError
from middleware.transport import object_frames

SR = 48000
SCENE = """\
name: swarm
buses: {world: {}}
events:
  mover:
    bus: world
    attenuation: {min: 2, max: 60}
    max_instances: 1000
    layers:
      - {id: hum, source: hum.wav, mode: loop, gain: -20}
"""
N = 300


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("swarm")
    t = np.arange(SR) / SR
    write_wav(tmp / "hum.wav", 0.3 * np.sin(2 * np.pi * 110 * t))
    (tmp / "swarm.yaml").write_text(SCENE)
    proc, info = start_daemon(scene=tmp / "swarm.yaml")
    ctx = zmq.Context()
    client = Client(info["bind"], name="swarm", context=ctx, timeout=10.0)
    client.hello()
    yield client, info, ctx
    client.close()
    code, err = stop_daemon(proc)
    ctx.destroy(linger=0)
    assert code == 0, err


def _world(info: dict, ctx: zmq.Context, want, timeout: float = 5.0) -> dict:
    """The newest scene telemetry's world for which ``want(world)`` holds (or the last one seen)."""
    sub = Subscriber(info["pub"], ["scene"], context=ctx)
    try:
        deadline = time.monotonic() + timeout
        last = None
        while (left := deadline - time.monotonic()) > 0:
            got = sub.recv(left)
            if got is not None and "world" in got[1]:
                last = got[1]["world"]
                if want(last):
                    return last
        return last or {}
    finally:
        sub.close()


def _voices(client: Client) -> int:
    audio = client.stats()["audio"]
    return audio.get("voices_real", 0) + audio.get("voices_virtual", 0)


def _positions(frame: int) -> list[list[float]]:
    return [[float(i % 17) - 8.0, 0.25 * frame, -3.0 - i * 0.01] for i in range(N)]


def test_object_batches_land_as_one_frame_and_instances_follow(daemon) -> None:
    client, info, ctx = daemon
    names = [f"o{i}" for i in range(N)]
    b = client.batch()
    for name in names:
        b.object(name, [0.0, 0.0, -5.0])
        b.trigger("mover", object=name)
    b.send()
    client.sync()
    net0 = client.stats()["net"]
    for frame in range(1, 6):
        b = client.batch()
        for name, pos in zip(names, _positions(frame), strict=True):
            b.object(name, pos, velocity=[0.0, 15.0, 0.0])
        b.send()
    client.sync()  # the barrier: every batch before it is applied when it answers
    net1 = client.stats()["net"]
    assert net1["accepted"] - net0["accepted"] >= 5
    # five batches of 300 items reached the audio process as a handful of array frames, each counting
    # its objects as commands (what the flood test's accounting adds up)
    frames = net1["object_frames"] - net0["object_frames"]
    assert 1 <= frames <= 10
    assert net1["commands_to_audio"] - net0["commands_to_audio"] >= N
    expect = _positions(5)

    def moved(w: dict) -> bool:
        objs = {o["name"]: o["position"] for o in w.get("objects", [])}
        return bool(objs) and all(objs.get(n) == expect[i] for i, n in enumerate(names) if n in objs)

    world = _world(info, ctx, moved)
    assert world["objects_total"] == N
    objs = {o["name"]: o["position"] for o in world["objects"]}
    assert len(objs) == 64 and all(objs[n] == expect[i] for i, n in enumerate(names) if n in objs)
    inst = world["instances"]  # each instance is where the object it follows is
    assert inst and all(x["position"] == expect[names.index(x["follows"])] for x in inst)
    assert world["instances_total"] == N
    deadline = (
        time.monotonic() + 5.0
    )  # audio stats come every 0.1 s from a main thread the machine may starve
    while (voices := _voices(client)) < N and time.monotonic() < deadline:
        time.sleep(0.1)
    assert voices >= N


def test_a_bad_item_refuses_the_batch_and_names_it(daemon) -> None:
    client, info, ctx = daemon
    client.batch().object("o1", [1.0, 2.0, 3.0]).send()
    client.sync()
    raw = {
        "v": 1,
        "type": "batch",
        "id": 77,
        "items": [
            {"type": "object", "name": "o1", "position": [9.0, 9.0, 9.0]},
            {"type": "object", "name": "o2", "position": [0.0, math.nan, 0.0]},
        ],
    }
    client.send_raw(msgpack.packb(raw))
    with pytest.raises(ProtocolError) as info_err:
        client.wait_reply(77)
    assert (info_err.value.code, info_err.value.where) == ("not_finite", "items[1].position[1]")
    client.sync()
    world = _world(info, ctx, lambda w: any(o["name"] == "o1" for o in w.get("objects", [])))
    o1 = next(o for o in world["objects"] if o["name"] == "o1")
    assert o1["position"] == [1.0, 2.0, 3.0]  # nothing of the refused batch was applied


def test_frames_announce_names_once_and_again_after_a_drop() -> None:
    """The link's numbering: a name is announced until a packet carrying it left, then never again."""
    nums = object_frames.ObjectNumbers()

    def frame(*names: str) -> dict:
        cmds = [["object", 1, None, {"name": n, "position": (1.0, 2.0, 3.0)}] for n in names]
        return object_frames.decode(nums.encode(cmds)[3])

    f = frame("a", "b")
    assert f["names"] == [[0, "a"], [1, "b"]] and f["rows"].tolist() == [0, 1]
    assert f["forward"] is None and f["position"].tolist() == [[1.0, 2.0, 3.0]] * 2
    nums.sent(False)  # dropped: announced again
    assert frame("b")["names"] == [[1, "b"]]
    nums.sent(True)
    f = frame("b", "c")
    assert f["names"] == [[2, "c"]] and f["rows"].tolist() == [1, 2]
    cmds = [["object", 1, None, {"name": "a", "position": (0.0, 0.0, 0.0), "forward": (1.0, 0.0, 0.0)}]]
    cmds.append(["object", 1, None, {"name": "b", "position": (0.0, 0.0, 0.0)}])
    f = object_frames.decode(nums.encode(cmds)[3])
    assert f["forward"][0].tolist() == [1.0, 0.0, 0.0] and np.isnan(f["forward"][1]).all()
    assert f["velocity"] is None
