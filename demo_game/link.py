"""The game's side of the wire: every sound message goes to the daemon and into a timeline.

:class:`Link` implements the game's ``Outbox`` with the public client only
(``middleware.client.Client``, fire-and-forget, so a slow daemon never stalls the game loop) and
records each message with its game time as one JSON line, exactly the events-file format
``soundscape render`` and ``middleware.offline`` read. The same session can therefore be heard
live and rendered offline, bit for bit the same scene logic.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _v(x: Any) -> list[float]:
    return [round(float(a), 4) for a in x]


class Link:
    """Send to ``client`` (may be None: record only) and record ``(t, message)``."""

    def __init__(self, client: Any = None, clock: Any = None) -> None:
        self.client = client
        self.clock = clock or (lambda: 0.0)
        self.timeline: list[dict[str, Any]] = []
        self.sent = 0

    def _rec(self, msg: dict[str, Any]) -> None:
        self.timeline.append({"t": round(float(self.clock()), 4), **msg})
        self.sent += 1

    def set_param(self, name: str, value: float) -> None:
        self._rec({"type": "set_param", "name": name, "value": float(value)})
        if self.client is not None:
            self.client.set_param(name, value)

    def set_state(self, group: str, value: str) -> None:
        self._rec({"type": "set_state", "group": group, "value": value})
        if self.client is not None:
            self.client.set_state(group, value)

    def set_switch(self, group: str, value: str) -> None:
        self._rec({"type": "set_switch", "group": group, "value": value})
        if self.client is not None:
            self.client.set_switch(group, value)

    def trigger(self, event: str, position: Any = None, params: dict | None = None) -> None:
        msg: dict[str, Any] = {"type": "trigger", "event": event}
        if position is not None:
            msg["position"] = _v(position)
        if params:
            msg["params"] = {k: round(float(v), 4) for k, v in params.items()}
        self._rec(msg)
        if self.client is not None:
            self.client.trigger(event, position=msg.get("position"), params=msg.get("params"), sync=False)

    def listener(self, position: Any, forward: Any, velocity: Any) -> None:
        msg = {"type": "listener", "position": _v(position), "forward": _v(forward), "velocity": _v(velocity)}
        self._rec(msg)
        if self.client is not None:
            self.client.listener(msg["position"], msg["forward"], velocity=msg["velocity"])

    def object(self, name: str, position: Any, velocity: Any) -> None:
        msg = {"type": "object", "name": name, "position": _v(position), "velocity": _v(velocity)}
        self._rec(msg)
        if self.client is not None:
            self.client.object(name, msg["position"], velocity=msg["velocity"])

    def profile(self, profile: Any) -> None:
        """The player's profile (a ``HearingProfile``): one complete ``profile`` message."""
        fields = profile.to_dict()
        self._rec({"type": "profile", **fields})
        if self.client is not None:
            self.client.profile(fields)

    def write(self, path: str | Path, header: str = "") -> Path:
        """Write the timeline as an events file (JSON lines, ``#`` comment header)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"# {h}" for h in header.splitlines()] if header else []
        lines += [json.dumps(m, separators=(", ", ": ")) for m in self.timeline]
        p.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return p
