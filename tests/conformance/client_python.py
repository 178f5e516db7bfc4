"""The conformance script (SCRIPT.md) through the Python client: the reference the bindings must match."""

from __future__ import annotations

import os
import sys
import time

from middleware.client import Client, Subscriber
from middleware.errors import ProtocolError

U = "Tür-ドア-🚪"


def said(sub: Subscriber) -> None:
    line = sub.wait_for("say", timeout=10.0)
    if line is not None:
        print("said", line["preset"], flush=True)


def main(cmd: str, pub: str, go_file: str) -> int:
    sub = Subscriber(pub, topics=("instance_", "say"))
    c = Client(cmd, name="conformance", timeout=5.0)
    h = c.hello()
    print("hello", h["protocol"], h["scene"]["name"], flush=True)
    c.set_param("intensity", 0.25)
    c.set_param("speed", 42.0)
    c.set_state("weather", "rain")
    c.set_switch("surface", "gravel")
    c.set_switch("surface", "wood", object=U)
    i1 = c.trigger("ping", position=(1.5, -2.0, 3.25))
    print("trigger", i1, flush=True)
    i2 = c.trigger("hum", params={"größe": 0.5, "pitch": -1.0}, object=U)
    print("trigger", i2, flush=True)
    c.listener((0.1, 1.7, 0.0), (0.0, 0.0, -1.0), (0.0, 1.0, 0.0), (0.5, 0.0, 0.0))
    c.object(U, (2.0, 0.0, -3.5), forward=(1.0, 0.0, 0.0), velocity=(0.0, 0.0, 0.1))
    c.snapshot("underwater", True)
    c.stop(i2, release=False)
    b = c.batch()
    b.set_param("intensity", 0.75)
    b.set_state("area", "cave")
    b.trigger("stinger", position=(0.0, 0.0, -1.0))
    b.object("car1", (10.0, 0.0, -4.0))
    results = b.send()
    print("batch", *[r.get("instance", 0) for r in results], flush=True)
    c.set_state("weather", "storm", t=100.0)
    c.set_param("intensity", 0.5, t=100.25)
    print("trigger", c.trigger("ping", t=100.5), flush=True)
    b = c.batch(t=101.0, sync=False)
    b.set_switch("surface", "grass")
    b.listener((1.0, 1.7, 0.0))
    b.send()
    c.sync()
    print("sync", flush=True)
    ended = sub.wait_for("instance_ended", timeout=5.0, where=lambda p: p.get("instance") == i1)
    if ended is not None:
        print("ended", ended["instance"], flush=True)
    i6 = c.trigger("hum", object=U, switches={"surface": "wood"})
    print("trigger", i6, flush=True)
    c.stinger("victory")
    c.set_weight("door.creak", 0.25)
    c.profile(
        name="conformance",
        audiogram={
            "left": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
            "right": [15.0, 20.0, 30.0, 45.0, 60.0, 70.0],
        },
        prescription="half-gain",
        max_gain_db=20.0,
        mono=True,
        dynamic_range="home",
        volume_db={"music": -6.0, "dialogue": 3.0},
        dialogue_boost_db=6.0,
        preferences={"ambience": 0.25, "startle": 0.75},
    )
    c.say("Die Brücke ist weg, Fremder.", preset="ogre", position=(1.0, 0.0, -2.0))
    said(sub)
    b = c.batch()
    b.set_switch("surface", "gravel", object=U)
    b.snapshot("underwater", False)
    b.stinger("victory")
    b.trigger("ping", switches={"surface": "grass"})
    b.stop(i6, release=True)
    b.say("Ja.", emitter="door")
    b.set_weight("door.creak", None)
    print("batch", *[r.get("instance", 0) for r in b.send()], flush=True)
    said(sub)
    try:
        c.load_scene("dungeon.yaml")
        print("load_scene ok", flush=True)
    except ProtocolError as exc:
        print("load_scene", exc.code, flush=True)
    print("stats", *c.stats(), flush=True)
    print("part1", flush=True)
    deadline = time.monotonic() + 60
    while not os.path.exists(go_file) and time.monotonic() < deadline:
        time.sleep(0.02)

    c.timeout = 10.0
    h = c.hello()
    print("hello", h["protocol"], h["scene"]["name"], flush=True)
    c.set_param("speed", 7.5)
    print("trigger", c.trigger("ping", position=(0.0, 0.0, 0.0)), flush=True)
    c.sync()
    print("sync", flush=True)
    print("done", flush=True)
    c.close()
    sub.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:4]))
