"""What the monitor knows: a fold of the daemon's telemetry messages into one live picture.

Pure Python, no sockets and no terminal, so it is tested by feeding it messages. Topics read
(see docs/protocol.md, "Telemetry"): ``audio`` (device and engine counters, ~10/s), ``scene``
(parameters, states, layers with weight and source, music, ~10/s), ``beat``/``bar``/
``music_segment``, ``stinger``, ``instance_started``/``instance_ended``, ``director``/``director_tick``,
``error``, and the ``loudness`` meters (``{"buses": {bus: {momentary_lufs, short_term_lufs,
integrated_lufs, true_peak_dbtp}}}``; ``lufs_*`` keys in ``audio`` are read too). Unknown topics are counted,
never fatal: an older or newer daemon still shows what it has.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

RATE_WINDOW = 2.0  # seconds over which per-second rates are averaged
_METER_KEYS = {
    "momentary_lufs": "momentary",
    "short_term_lufs": "short_term",
    "integrated_lufs": "integrated",
    "true_peak_dbtp": "true_peak",
}


@dataclass
class Rate:
    """Events per second over a sliding window (timestamps of recent events)."""

    window: float = RATE_WINDOW
    stamps: deque = field(default_factory=lambda: deque(maxlen=20000))

    def add(self, now: float, n: int = 1) -> None:
        for _ in range(n):
            self.stamps.append(now)

    def per_second(self, now: float) -> float:
        while self.stamps and now - self.stamps[0] > self.window:
            self.stamps.popleft()
        return len(self.stamps) / self.window


@dataclass
class MonitorState:
    """Everything shown on screen, updated by :meth:`feed`."""

    params: dict[str, float] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    layers: dict[str, dict[str, Any]] = field(default_factory=dict)
    snapshots: dict[str, float] = field(default_factory=dict)
    music: dict[str, Any] = field(default_factory=dict)
    audio: dict[str, Any] = field(default_factory=dict)
    loudness: dict[str, dict[str, float]] = field(default_factory=dict)
    director: dict[str, Any] = field(default_factory=dict)
    beat: tuple[int, int] = (0, 0)  # (bar, beat)
    beat_time: float = -1.0
    stinger: tuple[str, float] | None = None  # (name, when it landed) of the last music stinger
    instances: int = 0
    errors: deque = field(default_factory=lambda: deque(maxlen=6))
    topics: dict[str, int] = field(default_factory=dict)
    messages: int = 0
    last_message: float = -1.0
    started: float = field(default_factory=time.monotonic)
    triggers: Rate = field(default_factory=Rate)
    telemetry_rate: Rate = field(default_factory=Rate)
    _commands: tuple[float, float] | None = None  # (time, audio 'commands' counter) at the last audio stats
    commands_per_s: float = 0.0

    def feed(self, topic: str, payload: Any, now: float | None = None) -> None:
        """Fold one telemetry message in."""
        now = time.monotonic() if now is None else now
        self.messages += 1
        self.last_message = now
        self.topics[topic] = self.topics.get(topic, 0) + 1
        self.telemetry_rate.add(now)
        p = payload if isinstance(payload, Mapping) else {}
        if topic == "scene":
            self._scene(p)
        elif topic == "audio":
            self._audio(p, now)
        elif topic in ("beat", "bar"):
            if topic == "beat":
                self.beat = (int(p.get("bar", 0)), int(p.get("beat", 0)))
                self.beat_time = now
        elif topic == "music_segment":
            self.music = {**self.music, "segment": p.get("segment")}
        elif topic == "stinger":
            self.stinger = (str(p.get("stinger", "?")), now)
        elif topic == "instance_started":
            self.triggers.add(now)
        elif topic == "error":
            where = p.get("field") or p.get("layer") or p.get("re") or p.get("command") or ""
            text = str(p.get("message", p))
            self.errors.append((now, str(p.get("code", "error")), str(where), text))
        elif topic in ("director", "director_tick"):
            self.director = {**self.director, **{k: v for k, v in p.items() if k != "v"}}
        elif topic in ("loudness", "meters", "lufs"):
            self._loudness(p)

    def _scene(self, p: Mapping[str, Any]) -> None:
        if "params" in p:
            self.params = dict(p.get("params") or {})
        if "states" in p:
            self.states = {k: str(v) for k, v in (p.get("states") or {}).items()}
        if "layers" in p:
            self.layers = dict(p.get("layers") or {})
        self.snapshots = dict(p.get("snapshots") or {})
        if p.get("music"):
            self.music = dict(p["music"])
        if "instances" in p:
            self.instances = int(p.get("instances") or 0)
        if "loudness" in p:
            self._loudness(p["loudness"])
        if "director" in p and isinstance(p["director"], Mapping):
            self.director = {**self.director, **p["director"]}

    def _audio(self, p: Mapping[str, Any], now: float) -> None:
        self.audio = dict(p)
        n = p.get("commands")
        if isinstance(n, (int, float)):
            if self._commands is not None and now > self._commands[0]:
                dt = now - self._commands[0]
                rate = max(0.0, (n - self._commands[1]) / dt)
                self.commands_per_s = rate if self.commands_per_s == 0 else 0.5 * (self.commands_per_s + rate)
            self._commands = (now, float(n))
        for key, value in p.items():  # flat meters, e.g. lufs_momentary_master
            if key.startswith("lufs_") and isinstance(value, (int, float)):
                kind, _, bus = key[5:].partition("_")
                self.loudness.setdefault(bus or "master", {})[kind] = float(value)
        if isinstance(p.get("loudness"), Mapping):
            self._loudness(p["loudness"])

    def _loudness(self, p: Mapping[str, Any]) -> None:
        """``{"buses": {bus: {"momentary_lufs", "short_term_lufs", "integrated_lufs", "true_peak_dbtp"}}}``
        (the daemon's ``loudness`` topic); bare ``{bus: {...}}`` maps are read the same way."""
        if isinstance(p.get("buses"), Mapping):
            p = p["buses"]
        for bus, meters in p.items():
            if bus == "v":
                continue
            if isinstance(meters, Mapping):
                self.loudness[str(bus)] = {
                    _METER_KEYS.get(str(k), str(k)): float(v)
                    for k, v in meters.items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool)
                }
            elif isinstance(meters, (int, float)):
                self.loudness.setdefault(str(bus), {})["momentary"] = float(meters)

    # ------------------------------------------------------------------ derived
    def connected(self, now: float, stale: float = 1.0) -> bool:
        return self.last_message >= 0 and now - self.last_message <= stale

    def layer_rows(self) -> list[tuple[str, float, str, float | None]]:
        """(layer, weight, source, gain dB) sorted by source then name; director first."""
        order = {"override": 0, "director": 1, "curve": 2, "rule": 3}
        rows = []
        for uid, info in self.layers.items():
            if not isinstance(info, Mapping):
                continue
            w = info.get("weight", 1.0)
            g = info.get("gain_db")
            rows.append(
                (
                    uid,
                    float(w) if isinstance(w, (int, float)) else math.nan,
                    str(info.get("source", "rule")),
                    float(g) if isinstance(g, (int, float)) else None,
                )
            )
        rows.sort(key=lambda r: (order.get(r[2], 9), r[0]))
        return rows
