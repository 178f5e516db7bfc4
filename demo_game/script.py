"""The autoplay bot: a scripted walk through every situation the soundscape must follow.

Each :class:`Segment` is one situation with a goal (where to walk, what weather and time to set,
whether to fight or talk). The bot turns goals into :class:`~demo_game.world.Controls` for the
same :class:`~demo_game.world.Game` the keyboard drives, so autoplay exercises the real game rules.
``scale`` stretches or shrinks every segment (tests use ~0.4 for a ~25 s run).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .world import Controls, Game


@dataclass(frozen=True)
class Segment:
    """One scripted situation; ``x`` is where the player should be at its end."""

    name: str
    seconds: float
    x: float
    weather: str | None = None
    intensity: float | None = None
    time_of_day: float | None = None
    enemy: bool = False  # spawn an enemy at the start
    fight: bool = False  # attack until the segment ends (the last blow wins)
    talk: bool = False  # talk to the NPC at the start
    head_turn: bool = False  # stand still and turn the head a full circle (VR-style listener)
    z: float = 0.0
    min_seconds: float = 0.0  # never shorter than this, whatever the scale (a head turn needs time)


SCRIPT: tuple[Segment, ...] = (
    Segment("forest: clear morning", 6, 6, "clear", 0.2, 9.0),
    Segment("rain sets in", 6, 14, "rain", 0.6),
    Segment("storm", 6, 22, "storm", 0.95),
    Segment("over the bridge", 5, 50, "rain", 0.5),
    Segment("in the cave", 6, 62),
    Segment("an enemy approaches", 6, 62, enemy=True),
    Segment("fight", 6, 62, fight=True),
    Segment("to the village at dusk", 7, 118, "clear", 0.2, 19.0),
    Segment("talk to the villager", 7, 121, talk=True, z=-1.0),
    Segment("night: head turn", 8, 116, time_of_day=23.0, head_turn=True, z=-9.0, min_seconds=5.0),
)


def seconds_of(s: Segment, scale: float) -> float:
    return max(s.seconds * scale, s.min_seconds)


def total_seconds(scale: float = 1.0, script: tuple[Segment, ...] = SCRIPT) -> float:
    return sum(seconds_of(s, scale) for s in script)


def segment_times(scale: float = 1.0, script: tuple[Segment, ...] = SCRIPT) -> list[tuple[str, float, float]]:
    """(name, start, end) in seconds of game time for each segment."""
    out, t = [], 0.0
    for s in script:
        out.append((s.name, t, t + seconds_of(s, scale)))
        t += seconds_of(s, scale)
    return out


class Bot:
    """Plays ``script`` on ``game``: call :meth:`controls` once per tick with the game clock."""

    def __init__(self, game: Game, scale: float = 1.0, script: tuple[Segment, ...] = SCRIPT) -> None:
        self.game = game
        self.scale = float(scale)
        self.script = script
        self.times = segment_times(scale, script)
        self.index = -1
        self.talked = False

    @property
    def done(self) -> bool:
        return self.game.clock >= self.times[-1][2] - 1e-9

    def current(self) -> Segment | None:
        return self.script[self.index] if 0 <= self.index < len(self.script) else None

    def _enter(self, k: int) -> None:
        g = self.game
        if self.index >= 0 and self.script[self.index].fight and g.enemy is not None:
            g.enemy = None  # the finishing blow lands as the segment ends
            g.say("the enemy falls")
        self.index = k
        s = self.script[k]
        g.say(f"[{s.name}]")
        if s.weather is not None or s.intensity is not None:
            g.set_weather(s.weather or g.weather, s.intensity)
        if s.time_of_day is not None and not s.head_turn:
            g.set_time(s.time_of_day)
        if s.enemy:
            g.spawn_enemy(distance=16.0)
            # it arrives a little before the segment ends, so the fight starts on time
            g.enemy.speed = 14.0 / max(0.8 * s.seconds * self.scale, 0.4)
        if s.fight:
            g.enemy_damage = 0.8 / max(s.seconds * self.scale, 0.5)  # health ~1 -> ~0.2 in the fight
            if g.enemy is not None:
                g.enemy.hp = 1e9  # a tough one: it falls to the finishing blow at the segment's end

    def controls(self) -> Controls:
        g = self.game
        t = g.clock
        k = next((i for i, (_, a, b) in enumerate(self.times) if a <= t < b), len(self.script) - 1)
        while self.index < k:
            self._enter(self.index + 1)
        s = self.script[self.index]
        _, start, end = self.times[self.index]
        left = max(end - t, 1e-3)
        c = Controls()
        if s.head_turn:
            if s.time_of_day is not None:
                g.set_time(s.time_of_day)
            # walk to the spot in the first fifth, then turn the head one full circle (east first)
            spot_time = 0.2 * (end - start)
            if t - start < spot_time:
                self._walk_to(c, s.x, s.z, max(start + spot_time - t, 1e-3))
            else:
                frac = (t - start - spot_time) / max(end - start - spot_time, 1e-3)
                c.yaw = (360.0 * min(frac, 1.0)) % 360.0
            return c
        self._walk_to(c, s.x, s.z, left)
        if s.fight:
            c.attack = True
        if s.talk and t - start < 0.5 * (end - start) and not self.talked:
            c.talk = True
            self.talked = g.near_npc()  # the game starts the line when you are close enough
        return c

    def _walk_to(self, c: Controls, x: float, z: float, left: float) -> None:
        g = self.game
        dx, dz = x - g.x, z - g.z
        d = math.hypot(dx, dz)
        if d < 0.05:
            return
        speed = min(max(d / left, 0.8), 12.0 / min(self.scale, 1.0))  # short runs travel fast
        c.move_x, c.move_z, c.speed = dx / d, dz / d, speed
