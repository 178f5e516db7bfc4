"""The world feed finds the messages that name an instance through the message table, and an
unknown world instance is refused at the item that names it.

A real daemon (NULL device) subscribed to a pyzmq PUB that plays the game server; the refusal is
read from the daemon's `error` topic.
"""

from __future__ import annotations

import time

import zmq
from test_daemon import stop_daemon
from test_daemon_world import SCENE, _own_pub, _publish, _start, _tone

from middleware.client import Client, Subscriber


def test_a_world_batch_stopping_an_unknown_instance_names_that_item(tmp_path) -> None:
    """Was: the item index counted stops only, so in ``[set_param, stop]`` the error named
    ``items[0].instance`` (the set_param) instead of ``items[1].instance``."""
    (tmp_path / "sounds").mkdir()
    _tone(tmp_path / "sounds" / "hum.wav", 1.0, 110)
    scene = tmp_path / "world.yaml"
    scene.write_text(SCENE)
    ctx = zmq.Context()
    pub, endpoint = _own_pub(ctx)
    (proc, info) = _start(scene, endpoint, 1)[0]
    try:
        sub = Subscriber(info["pub"], ["error"], context=ctx)
        client = Client(info["bind"], context=ctx, timeout=5.0)
        client.hello()
        time.sleep(0.5)  # the daemon's world subscription and ours reach their publishers
        error = None
        deadline = time.monotonic() + 10.0
        while error is None and time.monotonic() < deadline:  # a PUB drops what it sends too early
            batch = {"type": "batch", "items": [
                {"type": "set_param", "name": "intensity", "value": 0.25},
                {"type": "stop", "instance": 999},
            ]}  # fmt: skip
            _publish(pub, b"world", batch)
            error = sub.wait_for("error", 0.5, where=lambda e: e.get("client") == "world")
        assert error is not None, "the daemon published no refusal of the world batch"
        assert error["code"] == "unknown_name" and error["field"] == "items[1].instance", error
        assert "999" in error["message"]
        client.close()
        sub.close()
    finally:
        pub.close()
        code, err = stop_daemon(proc)
        ctx.destroy(linger=0)
    assert code == 0, err
