"""Derived game signals for the director: values the game does not send but the daemon can compute.

The first one is the **rate of an event** over the last N seconds (explosions per second tells
"battle" better than any single parameter). A derived signal is declared in the scene as an
ordinary parameter with a range (``explosion_rate: {range: [0, 2]}``) and listed in the director's
inputs; :class:`SignalDirector` fills it in before each evaluation, so the model, its card and
its checks treat it like any parameter. A player-profile value needs no code: it is a parameter
the game sets once per session.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from typing import Any

from ..errors import ModelError
from ..scene.model import SceneDef


class EventRate:
    """Events per second over a sliding ``window`` (seconds), from the times they happened."""

    def __init__(self, event: str, window: float = 10.0) -> None:
        if not (math.isfinite(window) and window > 0):
            raise ModelError(f"event rate window={window!r}: must be a positive number of seconds")
        self.event = event
        self.window = float(window)
        self.times: deque[float] = deque()

    def note(self, t: float) -> None:
        """One occurrence at time ``t`` (seconds, any monotonic clock shared with ``value``)."""
        self.times.append(float(t))

    def value(self, now: float) -> float:
        while self.times and self.times[0] <= now - self.window:
            self.times.popleft()
        return len(self.times) / self.window


class SignalDirector:
    """Wraps a director (``LayerDirector``): adds derived signals to ``env`` before each evaluation.

    ``clock()`` gives the current time in seconds (e.g. ``lambda: runtime.frame / sr``); call
    :meth:`observe` with the runtime's events (``instance_started`` carries the event name) or
    :meth:`note` directly when the game fires one.
    """

    def __init__(self, director: Any, scene: SceneDef, signals: Mapping[str, EventRate], clock: Any) -> None:
        d = scene.director
        for name in signals:
            if name not in scene.parameters:
                raise ModelError(
                    f"derived signal '{name}': declare it as a parameter with a range (e.g. "
                    f"{name}: {{range: [0, 2]}}) so the model can scale it"
                )
            if d is not None and name not in d.inputs:
                raise ModelError(f"derived signal '{name}': not among the director's inputs")
        self.inner = director
        self.signals = dict(signals)
        self.clock = clock
        self.rate_hz = director.rate_hz
        self.label = director.label
        self._ranges = {n: (scene.parameters[n].min, scene.parameters[n].max) for n in signals}

    def note(self, event: str, t: float | None = None) -> None:
        now = self.clock() if t is None else t
        for s in self.signals.values():
            if s.event == event:
                s.note(now)

    def observe(self, topic: str, payload: Mapping[str, Any]) -> None:
        """Feed a runtime event (``instance_started`` with ``event`` and ``frame``)."""
        if topic == "instance_started":
            self.note(str(payload.get("event")))

    def values(self) -> dict[str, float]:
        now = self.clock()
        out = {}
        for name, s in self.signals.items():
            lo, hi = self._ranges[name]
            out[name] = min(max(s.value(now), lo), hi)
        return out

    def evaluate(self, env: Mapping[str, Any]) -> Mapping[str, float]:
        return self.inner.evaluate({**env, **self.values()})
