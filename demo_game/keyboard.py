"""Keyboard play in a terminal (curses): walk the road, change the weather, fight, talk.

Keys: arrows or WASD walk (hold Shift for a run: A/D), 1/2/3 clear/rain/storm, +/- intensity,
t advances time by two hours, e calls an enemy, space strikes, n talks to the villager, p switches
to the next player profile (the designed mix, ``--profile``'s file, then scenes/profiles/), q quits.
A terminal sends a key per auto-repeat, so one press walks for a quarter second.
"""

from __future__ import annotations

import argparse
import curses
import time
from typing import Any

from .link import Link
from .profiles import DESIGNED, ProfileCycle
from .world import AREAS, NPC_POS, SURFACES, X_MAX, X_MIN, Controls, Game

HELP = (
    "arrows/WASD walk  1/2/3 weather  +/- intensity  t time  e enemy  space strike  n talk  p profile  q quit"
)
HOLD = 0.25  # seconds one key press keeps you walking
CAPTION_SECONDS = 5.0  # how long a caption stays on screen
GROUND = {"grass": "'", "wood": "=", "gravel": ":", "stone": "_"}


def _road(game: Game, width: int) -> tuple[str, str]:
    """One line of map (areas, NPC, enemy, player) and one of surfaces."""
    width = max(20, width)

    def col(x: float) -> int:
        return int((x - X_MIN) / (X_MAX - X_MIN) * (width - 1))

    line = [" "] * width
    for name, a, b in AREAS:
        for i in range(col(max(a, X_MIN)), col(min(b, X_MAX))):
            line[i] = {"forest": "^", "cave": "#", "village": "="}[name]
    ground = [" "] * width
    for name, a, b in SURFACES:
        for i in range(col(max(a, X_MIN)), col(min(b, X_MAX))):
            ground[i] = GROUND[name]
    line[col(NPC_POS[0])] = "N"
    if game.enemy is not None:
        line[min(width - 1, max(0, col(game.enemy.x)))] = "E"
    line[min(width - 1, max(0, col(game.x)))] = "@"
    return "".join(line), "".join(ground)


def _loop(scr: Any, game: Game, sub: Any, state: dict[str, Any], profiles: ProfileCycle, link: Link) -> None:
    from .__main__ import drain

    curses.curs_set(0)
    scr.nodelay(True)
    held: dict[str, float] = {}
    run_until = 0.0
    last = time.monotonic()
    while True:
        now = time.monotonic()
        dt, last = min(now - last, 0.1), now
        c = Controls()
        while (key := scr.getch()) != -1:
            ch = chr(key) if 0 <= key < 256 else "\0"  # never matches a key set below
            if ch in ("q", "Q", "\x1b"):
                return
            if key in (curses.KEY_LEFT,) or ch in "aA":
                held["x"], held["dx"] = now + HOLD, -1.0
            elif key in (curses.KEY_RIGHT,) or ch in "dD":
                held["x"], held["dx"] = now + HOLD, 1.0
            elif key in (curses.KEY_UP,) or ch in "wW":
                held["z"], held["dz"] = now + HOLD, -1.0
            elif key in (curses.KEY_DOWN,) or ch in "sS":
                held["z"], held["dz"] = now + HOLD, 1.0
            if ch in "AD":
                run_until = now + HOLD
            if ch in "123":
                game.set_weather(("clear", "rain", "storm")[int(ch) - 1])
            elif ch == "+":
                game.intensity = min(1.0, game.intensity + 0.1)
            elif ch == "-":
                game.intensity = max(0.0, game.intensity - 0.1)
            elif ch in "tT":
                game.set_time(game.time_of_day + 2.0)
            elif ch in "eE":
                c.spawn_enemy = True
            elif ch == " ":
                c.attack = True
            elif ch in "nN":
                c.talk = True
            elif ch in "pP":
                state["profile"] = profiles.step(link)
        if held.get("x", 0) > now:
            c.move_x = held["dx"]
        if held.get("z", 0) > now:
            c.move_z = held["dz"]
        c.speed = 6.0 if run_until > now else 2.5
        game.tick(dt, c)
        drain(sub, state)
        _draw(scr, game, state)
        time.sleep(0.04)


def _draw(scr: Any, game: Game, state: dict[str, Any]) -> None:
    h, w = scr.getmaxyx()
    st = game.status()
    scr.erase()
    road, ground = _road(game, w - 2)
    rows = [
        "soundscape demo game  (forest ^   cave #   village =   N villager   E enemy   @ you)",
        "",
        road,
        ground,
        "ground:  ' grass   = wooden bridge   : gravel   _ stone",
        "",
        f"x {st['x']:6.1f} m   area {st['area']:<8} surface {st['surface']:<7} facing {st['yaw']:5.0f} deg",
        f"weather {st['weather']:<6} intensity {st['intensity']:.1f}   time {st['time_of_day']:4.1f} h",
        f"threat  {st['threat']:.2f}   health {'#' * int(st['health'] * 20):<20} {st['health']:.2f}",
        "enemy: "
        + ("none" if st["enemy"] is None else f"at x {st['enemy'][0]:.1f}")
        + ("   (n: talk to the villager)" if st["near_npc"] else ""),
        "",
        f"> {st['message']}",
        "",
        f"player profile: {state.get('profile', DESIGNED)}   (p: next profile)",
    ]
    audio = state.get("audio")
    if audio:
        rows.append(
            f"daemon: {audio.get('backend')}  underruns {audio.get('underruns')}  "
            f"voices {audio.get('voices_real')}/{audio.get('voices_virtual')}  "
            f"cpu {audio.get('cpu_load', 0):.0%}"
        )
    from .__main__ import caption_text

    now = time.monotonic()
    for arrived, cap in state.get("captions", []):
        if now - arrived < CAPTION_SECONDS:
            rows.append(f"caption: {caption_text(cap)}"[: w - 2])
    errs = state.get("errors", [])
    if errs:
        rows.append(f"last error: {errs[-1].get('message', '')[: w - 14]}")
    rows += ["", HELP]
    for i, row in enumerate(rows[: h - 1]):
        scr.addnstr(i, 0, row, w - 1)
    scr.refresh()


def play(args: argparse.Namespace) -> int:
    from .__main__ import connect
    from .assets import ensure_demo_assets

    profiles = ProfileCycle.build(args.profile)  # every file checked before anything starts
    ensure_demo_assets()
    client, sub, daemon = connect(args)
    state: dict[str, Any] = {"profile": profiles.current[0]}
    game_box: list[Game] = []
    link = Link(client, clock=lambda: game_box[0].clock if game_box else 0.0)
    game = Game(link)
    game_box.append(game)
    try:
        curses.wrapper(_loop, game, sub, state, profiles, link)
    finally:
        if client is not None:
            client.close()
        if sub is not None:
            sub.close()
        if daemon is not None:
            daemon.stop()
    from pathlib import Path

    out = link.write(Path(args.out) / "demo.keyboard.events.jsonl", "demo_game keyboard session")
    print(f"demo: {link.sent} messages; your session is in {out} (soundscape render can replay it)")
    return 0
