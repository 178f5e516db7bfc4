"""The demo game's world and rules: a road through three areas, weather, time, enemies and an NPC.

Nothing here knows about sound. ``Game.tick(dt, controls)`` advances the world and tells an
:class:`Outbox` what a game engine would tell the sound middleware: parameters, states, the
surface switch, footsteps, sword hits, the NPC's line, the listener (the player's head) and the
enemy's transform. The keyboard game and the autoplay bot drive the very same ``Game``; only
where ``controls`` come from differs.

Coordinates follow the engine (OpenGL): x east, y up, -z forward (north). The road runs along x:
forest around x = 0, the cave at x = 60, the village square at x = 120.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

AREAS = (("forest", -1e9, 45.0), ("cave", 45.0, 82.0), ("village", 82.0, 1e9))
SURFACES = (  # (surface, from x, to x): what the road is made of
    ("grass", -1e9, 25.0),
    ("wood", 25.0, 32.0),  # the bridge over the brook
    ("gravel", 32.0, 50.0),
    ("stone", 50.0, 82.0),  # the cave floor
    ("gravel", 82.0, 104.0),
    ("stone", 104.0, 1e9),  # the paved square
)
NPC_POS = (125.0, 1.6, -3.0)
TALK_RANGE = 8.0
EYE = 1.7
ENEMY_REACH = 2.5  # metres: close enough to fight
X_MIN, X_MAX = -20.0, 140.0
Z_MIN, Z_MAX = -20.0, 20.0


def area_at(x: float) -> str:
    return next(name for name, a, b in AREAS if a <= x < b)


def surface_at(x: float) -> str:
    return next(name for name, a, b in SURFACES if a <= x < b)


class Outbox(Protocol):
    """Where the game's sound messages go (a live client, a recorder, or both)."""

    def set_param(self, name: str, value: float) -> None: ...
    def set_state(self, group: str, value: str) -> None: ...
    def set_switch(self, group: str, value: str) -> None: ...
    def trigger(self, event: str, position: Any = None, params: dict | None = None) -> None: ...
    def listener(self, position: Any, forward: Any, velocity: Any) -> None: ...
    def object(self, name: str, position: Any, velocity: Any) -> None: ...


@dataclass
class Controls:
    """What the player (or the bot) asks for this tick."""

    move_x: float = 0.0  # -1 .. 1 (west .. east), scaled by ``speed``
    move_z: float = 0.0
    speed: float = 2.0  # metres per second at full stick
    yaw: float | None = None  # head yaw in degrees (0 = north, 90 = east); None: face where you walk
    attack: bool = False
    talk: bool = False
    spawn_enemy: bool = False


@dataclass
class Enemy:
    x: float
    z: float
    hp: float = 1.0
    speed: float = 2.5


@dataclass
class Game:
    """The world's state and rules; ``tick`` advances it and reports to ``out``."""

    out: Outbox
    x: float = 0.0
    z: float = 0.0
    yaw: float = 90.0  # degrees: 0 faces -z (north), 90 faces +x (east, down the road)
    weather: str = "clear"
    intensity: float = 0.2
    time_of_day: float = 9.0
    threat: float = 0.0
    health: float = 1.0
    enemy: Enemy | None = None
    clock: float = 0.0
    enemy_damage: float = 0.09  # health lost per second while an enemy fights you
    message: str = ""
    log: list[str] = field(default_factory=list)
    _step_phase: float = 0.0
    _sent: dict[str, Any] = field(default_factory=dict)
    _attack_cooldown: float = 0.0
    _talk_until: float = -1.0
    _listener_due: float = 0.0

    # ------------------------------------------------------------------ derived
    @property
    def area(self) -> str:
        return area_at(self.x)

    @property
    def surface(self) -> str:
        return surface_at(self.x)

    @property
    def head(self) -> tuple[float, float, float]:
        return (self.x, EYE, self.z)

    def forward(self) -> tuple[float, float, float]:
        r = math.radians(self.yaw)
        return (math.sin(r), 0.0, -math.cos(r))

    def near_npc(self) -> bool:
        return math.dist((self.x, self.z), (NPC_POS[0], NPC_POS[2])) <= TALK_RANGE

    def say(self, text: str) -> None:
        self.message = text
        self.log.append(f"{self.clock:6.1f}s  {text}")

    # ------------------------------------------------------------------ world events (script / keys)
    def set_weather(self, weather: str, intensity: float | None = None) -> None:
        self.weather = weather
        if intensity is not None:
            self.intensity = min(max(intensity, 0.0), 1.0)
        self.say(f"the weather turns to {weather}")

    def set_time(self, hours: float) -> None:
        self.time_of_day = hours % 24.0

    def spawn_enemy(self, distance: float = 18.0) -> None:
        side = 1.0 if self.x + distance <= X_MAX else -1.0
        self.enemy = Enemy(self.x + side * distance, self.z + 1.0)
        self.say("an enemy approaches!")

    # ------------------------------------------------------------------ the tick
    def tick(self, dt: float, c: Controls) -> None:
        """Advance ``dt`` seconds under ``c`` and send what changed."""
        self.clock += dt
        vx, vz = c.move_x * c.speed, c.move_z * c.speed
        nx = min(max(self.x + vx * dt, X_MIN), X_MAX)
        nz = min(max(self.z + vz * dt, Z_MIN), Z_MAX)
        moved = math.hypot(nx - self.x, nz - self.z)
        self.x, self.z = nx, nz
        if c.yaw is not None:
            self.yaw = c.yaw % 360.0
        elif moved > 1e-6:
            self.yaw = math.degrees(math.atan2(vx, -vz)) % 360.0
        if c.spawn_enemy and self.enemy is None:
            self.spawn_enemy()
        self._enemy(dt, c)
        if c.talk and self.near_npc() and self.clock >= self._talk_until:
            self.out.trigger("npc_line")
            self._talk_until = self.clock + 7.0
            self.say('villager: "Welcome to the village, traveller..."')
        elif c.talk and not self.near_npc() and self.clock >= self._talk_until:
            self.say("nobody to talk to here (the villager is in the square, x = 125)")
            self._talk_until = self.clock + 1.0
        self._report(dt, moved, vx, vz)

    def _enemy(self, dt: float, c: Controls) -> None:
        e = self.enemy
        self._attack_cooldown = max(0.0, self._attack_cooldown - dt)
        if e is None:
            target = 0.0
        else:
            d = math.dist((e.x, e.z), (self.x, self.z))
            if d > ENEMY_REACH:
                step = min(e.speed * dt, d - ENEMY_REACH * 0.9)
                e.x += (self.x - e.x) / d * step
                e.z += (self.z - e.z) / d * step
                d = math.dist((e.x, e.z), (self.x, self.z))
            close = max(0.0, 1.0 - d / 20.0)
            fighting = d <= ENEMY_REACH * 1.2
            target = 0.92 if fighting else 0.15 + 0.55 * close
            if fighting:
                self.health = max(0.05, self.health - self.enemy_damage * dt)
            if c.attack and self._attack_cooldown <= 0.0:
                self._attack_cooldown = 0.45
                if fighting:
                    e.hp -= 0.12
                    force = min(max(0.6 + 0.4 * (1.0 - e.hp), 0.3), 1.0)  # harder as it weakens
                    self.out.trigger("sword_hit", position=(e.x, 1.2, e.z), params={"force": force})
                    if e.hp <= 0:
                        self.enemy = None
                        target = 0.0
                        self.say("the enemy falls")
                else:
                    self.say("too far to strike")
        if self.enemy is None:
            self.health = min(1.0, self.health + 0.05 * dt)
        self.threat = target

    def _report(self, dt: float, moved: float, vx: float, vz: float) -> None:
        out, sent = self.out, self._sent

        def changed(key: str, value: Any, tol: float = 0.0) -> bool:
            old = sent.get(key)
            if old is None or (old != value if tol == 0 else abs(value - old) > tol):
                sent[key] = value
                return True
            return False

        for key, value in (("area", self.area), ("weather", self.weather)):
            if changed(key, value):
                out.set_state(key, value)
        if changed("surface", self.surface):
            out.set_switch("surface", self.surface)
        for key, value, tol in (
            ("intensity", self.intensity, 0.01),
            ("time_of_day", self.time_of_day, 0.05),
            ("threat", self.threat, 0.02),
            ("health", self.health, 0.01),
        ):
            if changed(key, round(value, 3), tol):
                out.set_param(key, round(value, 3))
        # footsteps: about 1.8 steps per second at a stroll, up to 3 when running
        speed = moved / dt if dt > 0 else 0.0
        if speed > 0.2:
            pace = min(3.0, max(1.2, 0.9 * speed))
            self._step_phase += pace * dt
            if self._step_phase >= 1.0:
                self._step_phase -= 1.0
                out.trigger("footstep")
        else:
            self._step_phase = 0.9  # the first step comes at once when walking starts
        # transforms at 20 Hz (a game would send every frame; the daemon coalesces)
        if self.clock >= self._listener_due:
            self._listener_due = self.clock + 0.05
            out.listener(self.head, self.forward(), (vx, 0.0, vz))
            e = self.enemy
            if e is not None:
                out.object("enemy", (e.x, 0.0, e.z), (0.0, 0.0, 0.0))

    def status(self) -> dict[str, Any]:
        """What the HUD shows."""
        return {
            "t": self.clock,
            "x": self.x,
            "z": self.z,
            "yaw": self.yaw,
            "area": self.area,
            "surface": self.surface,
            "weather": self.weather,
            "intensity": self.intensity,
            "time_of_day": self.time_of_day,
            "threat": self.threat,
            "health": self.health,
            "enemy": None if self.enemy is None else (self.enemy.x, self.enemy.z, self.enemy.hp),
            "near_npc": self.near_npc(),
            "message": self.message,
        }
