"""A scene runtime that records what it is told and beeps on triggers: for tests and conformance.

It implements ``control.runtime_protocol.Runtime`` like ``middleware.scene.runtime.SceneRuntime``
(what every protocol message's handler calls), with a fixed catalogue (:data:`CATALOG`) and no
scene file. Each call is appended to ``calls`` and, when a path is given, written as one JSON line
by a writer thread of its own (the calls come on the render path, which must not encode or touch
files: a flood of object updates encoded and written there made renders of 10-25 ms), so a
conformance suite can compare what several client bindings made the daemon decode (values, types,
order). A ``trigger`` plays a
short tone through the real engine at the requested frame, so event-to-sound latency can be
measured without any scene.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EngineError
from ..rt.wake import WakeFlag

CATALOG: dict[str, Any] = {
    "name": "recording",
    "scene": "recording",
    "parameters": {
        "intensity": {"min": 0.0, "max": 1.0, "default": 0.0},
        "speed": {"min": 0.0, "max": 100.0, "default": 0.0},
    },
    "states": {"weather": ["clear", "rain", "storm"], "area": ["forest", "cave"]},
    "switches": {"surface": ["grass", "gravel", "wood"]},
    "events": ["ping", "hum", "stinger"],
    "snapshots": ["underwater"],
    "emitters": ["door"],  # a name only (say.emitter); the recording scene places nothing
    "layers": ["door.creak", "door_open.creak"],  # names only (set_weight.layer)
}

_TONE_SECONDS = {"ping": 0.25, "stinger": 0.3, "hum": 2.0}  # ping ends after slow subscribers connect


class RecordingRuntime:
    """Record every call; play a tone per trigger; report instance start/end events."""

    scene = None  # no scene file: ``load_scene`` has no folder to load from

    def __init__(self, scene_def: Any, engine: Any, seed: int = 0, record_path: str | None = None) -> None:
        self.engine = engine
        self.calls: deque = deque(maxlen=1000)  # the last calls; the file (if any) keeps all
        self.events: deque = deque(maxlen=4096)
        self._unwritten: deque = deque()  # calls the writer thread has not written yet
        self._wake = WakeFlag()
        self._closing = False
        self._writer: threading.Thread | None = None
        if record_path:
            Path(record_path).open("a", encoding="utf-8").close()  # a bad path fails here, at start-up
            self._writer = threading.Thread(
                target=self._write_loop, args=(record_path,), name="recording-writer", daemon=True
            )
            self._writer.start()
        self._voices: dict[int, tuple[int, int]] = {}  # instance -> (engine handle, start frame)
        self._next = 1
        sr = engine.config.sample_rate
        for name, seconds in _TONE_SECONDS.items():
            n = int(sr * seconds)
            t = np.arange(n) / sr
            env = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.002)  # 2 ms edges: no clicks
            engine.bank.add(name, (0.25 * env * np.sin(2 * np.pi * 880.0 * t)).astype(np.float32))
        self.params = {k: v["default"] for k, v in CATALOG["parameters"].items()}

    def _rec(self, method: str, **kwargs: Any) -> None:
        entry = {"call": method, **kwargs}
        self.calls.append(entry)
        if self._writer is not None:
            self._unwritten.append(entry)
            self._wake.raise_()

    def _write_loop(self, path: str) -> None:
        """Writer thread: encode and append what ``_rec`` queued, flushed after each batch."""
        with open(path, "a", encoding="utf-8") as fh:
            while True:
                self._wake.wait(0.05)
                closing = self._closing  # read before draining: nothing is queued after close()
                while self._unwritten:
                    fh.write(json.dumps(self._unwritten.popleft(), default=list) + "\n")
                fh.flush()
                if closing:
                    return

    def set_param(self, name: str, value: float, at_frame: int | None = None) -> None:
        if name not in self.params:
            raise EngineError(f"set_param: unknown parameter {name!r}")
        self.params[name] = value
        self._rec("set_param", name=name, value=value, at_frame=at_frame)

    def set_state(self, group: str, value: str, at_frame: int | None = None) -> None:
        self._rec("set_state", group=group, value=value, at_frame=at_frame)

    def set_switch(
        self, group: str, value: str, object: str | None = None, at_frame: int | None = None
    ) -> None:
        self._rec("set_switch", group=group, value=value, object=object, at_frame=at_frame)

    def trigger(
        self,
        event: str,
        position: Any = None,
        params: dict | None = None,
        object: str | None = None,
        at_frame: int | None = None,
        switches: dict | None = None,
    ) -> int:
        iid = self._next
        self._next += 1
        self._rec(
            "trigger",
            event=event,
            position=position,
            params=params,
            object=object,
            at_frame=at_frame,
            **({"switches": switches} if switches else {}),
        )
        # any name beeps (the daemon's catalogue check has already refused names it does not list)
        tone = event if event in _TONE_SECONDS else "ping"
        handle = self.engine.play(tone, start_frame=at_frame, loop=event == "hum")
        self._voices[iid] = (handle, at_frame if at_frame is not None else self.engine.frame)
        self.events.append(("instance_started", {"instance": iid, "event": event}))
        return iid

    def stop(self, iid: int, release: bool = True, at_frame: int | None = None) -> None:
        self._rec("stop", instance=iid, release=release, at_frame=at_frame)
        voice = self._voices.get(iid)
        if voice is not None:
            self.engine.stop(voice[0], release=0.05 if release else 0.0, at_frame=at_frame)

    def set_listener(
        self,
        position: Any,
        forward: Any = (0.0, 0.0, -1.0),
        up: Any = (0.0, 1.0, 0.0),
        velocity: Any = (0.0, 0.0, 0.0),
        at_frame: int | None = None,
    ) -> None:
        self._rec("listener", position=position, forward=forward, up=up, velocity=velocity, at_frame=at_frame)

    def set_object(
        self, name: str, position: Any, forward: Any = None, velocity: Any = None, at_frame: int | None = None
    ) -> None:
        self._rec(
            "object", name=name, position=position, forward=forward, velocity=velocity, at_frame=at_frame
        )

    def snapshot(self, name: str, on: bool, at_frame: int | None = None) -> None:
        self._rec("snapshot", name=name, on=on, at_frame=at_frame)

    def stinger(self, name: str, at_frame: int | None = None) -> None:
        """Record it and beep (a stinger is a sound, like a trigger); any name is accepted."""
        self._rec("stinger", name=name, at_frame=at_frame)
        self.engine.play("stinger", start_frame=at_frame)

    def override(self, layer_uid: str, weight: float | None, at_frame: int | None = None) -> None:
        """Record a held layer weight (``set_weight``; None releases it)."""
        self._rec("set_weight", layer=layer_uid, weight=weight, at_frame=at_frame)

    def set_player_gains(self, gain_db: Any) -> None:
        """Record the player's bus gains (a ``profile``); the recording scene has no buses to move."""
        self._rec("set_player_gains", gains=dict(gain_db), at_frame=None)

    def say(
        self,
        text: str,
        preset: str = "neutral",
        emitter: str | None = None,
        position: Any = None,
        at_frame: int | None = None,
    ) -> dict:
        """``prepare_line`` then ``play_line``, as ``SceneRuntime.say`` (the offline renderer's path)."""
        name, label = self.prepare_line(text, preset)
        self.play_line(name, label, emitter=emitter, position=position, at_frame=at_frame)
        return label

    def prepare_line(self, text: str, preset: str = "neutral") -> tuple[str, dict]:
        """No synthesis (the daemon's main thread calls this): the line is known by its text."""
        return text, {"synthetic": True, "engine": "recording", "preset": preset}

    def play_line(
        self,
        name: str,
        label: dict,
        emitter: str | None = None,
        position: Any = None,
        at_frame: int | None = None,
    ) -> None:
        """Record the line (``line``: the bank's name for it, one per text and preset) and publish
        telemetry ``say`` like the scene runtime (with its label)."""
        self._rec(
            "say", line=name, preset=label["preset"], emitter=emitter, position=position, at_frame=at_frame
        )
        self.events.append(("say", {**label, "frame": self.engine.frame if at_frame is None else at_frame}))

    def prepare(self, scene: Any) -> None:
        """Nothing to decode: the tones were made at construction."""

    def reload(self, scene: Any) -> None:
        self._rec("reload")

    def update(self, n: int) -> None:
        now = self.engine.frame
        ended = [iid for iid, (h, f) in self._voices.items() if now > f and not self.engine.is_playing(h)]
        for iid in ended:
            del self._voices[iid]
            self.events.append(("instance_ended", {"instance": iid}))

    def after_render(self) -> None:
        """Nothing leaves with a block here (no captions)."""

    def describe(self) -> dict[str, Any]:
        return CATALOG

    def telemetry(self) -> dict[str, Any]:
        return {"instances": len(self._voices), "calls": len(self.calls), "params": dict(self.params)}

    def close(self) -> None:
        """Write what is still queued and stop the writer (after the render path stopped)."""
        if self._writer is not None:
            self._closing = True
            self._wake.raise_()
            self._writer.join(timeout=10.0)
            self._writer = None
