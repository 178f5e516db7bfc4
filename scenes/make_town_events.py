"""Write scenes/town.events.jsonl: the town walk-through (45 s), with the car's and listener's
motion sampled at 20 Hz (a game would send such updates every frame or two).

    python scenes/make_town_events.py
"""

from __future__ import annotations

import json
import math
from pathlib import Path

RATE = 20.0  # object / listener updates per second
CAR_SPEED = 15.0  # m/s


def _r(v: float) -> float:
    return round(v, 4)


def events() -> list[dict]:
    out: list[dict] = []

    def add(t: float, **msg: object) -> None:
        out.append({"t": _r(t), **msg})

    add(0.0, type="listener", position=[0, 0, 0], forward=[0, 0, -1])
    # 1) the car passes in front of the still listener, left to right, 10 m ahead (t 0 .. 9 s)
    steps = int(9.0 * RATE)
    for i in range(steps + 1):
        t = i / RATE
        x = -67.5 + CAR_SPEED * t  # x = 0 (closest) at t = 4.5 s
        add(t, type="object", name="car", position=[_r(x), 0, -10], velocity=[CAR_SPEED, 0, 0])
    add(9.05, type="set_param", name="traffic", value=0.0)
    # 2) the player walks north (-Z) at 1.4 m/s: stone, a wooden bridge, gravel; doors on the way
    surfaces = [(10.0, "stone"), (16.0, "wood"), (22.0, "gravel")]
    for t, s in surfaces:
        add(t, type="set_switch", group="surface", value=s)
    t = 10.0
    while t < 28.0:
        z = -1.4 * (t - 10.0)
        add(t, type="listener", position=[0, 0, _r(z)], forward=[0, 0, -1], velocity=[0, 0, -1.4])
        if abs((t - 10.0) % 0.5) < 1e-9:
            add(t + 0.01, type="trigger", event="footstep")
        t = round(t + 0.25, 6)
    add(28.0, type="listener", position=[0, 0, -25.2], forward=[0, 0, -1])
    add(13.0, type="trigger", event="door_open", position=[5, 0, -8], params={"force": 0.4})
    add(15.5, type="trigger", event="door_close", position=[5, 0, -8], params={"force": 1.0})
    add(24.0, type="trigger", event="door_open", position=[-6, 0, -30], params={"force": 0.8})
    add(26.0, type="trigger", event="door_close", position=[-6, 0, -30], params={"force": 0.6})
    # 3) the car comes back, right to left, 10 m ahead of the stopped listener (t 29 .. 38 s)
    add(29.0, type="set_param", name="traffic", value=1.0)
    for i in range(steps + 1):
        t = 29.0 + i / RATE
        x = 67.5 - CAR_SPEED * (i / RATE)
        add(t, type="object", name="car", position=[_r(x), 0, -35.2], velocity=[-CAR_SPEED, 0, 0])
    add(38.05, type="set_param", name="traffic", value=0.0)
    # 4) the listener turns round (faces +Z): the fountain and the crowd swap sides
    for i in range(21):
        t = 39.0 + i * 0.1
        a = math.pi * i / 20
        add(t, type="listener", position=[0, 0, -25.2], forward=[_r(math.sin(a)), 0, _r(-math.cos(a))])
    out.sort(key=lambda m: m["t"])
    return out


def main() -> None:
    path = Path(__file__).with_name("town.events.jsonl")
    lines = ["# town.yaml walk-through (45 s); written by scenes/make_town_events.py"]
    lines += [json.dumps(m, separators=(", ", ": ")) for m in events()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {path} ({len(lines) - 1} messages)")


if __name__ == "__main__":
    main()
