"""What a runtime must offer so that every protocol message can reach it: the ``Runtime`` protocol.

A daemon or an offline render drives one runtime: the scene runtime (``scene.runtime.SceneRuntime``)
or the daemon's recording runtime (``daemon.recording.RecordingRuntime``, for tests and conformance).
The message handlers (``control.handlers``) call only what is listed here, and both runtimes
implement all of it, so nothing probes a runtime with ``getattr``: a handler that needs a new method
adds it here, and the conformance test (``tests/test_dispatch_conformance.py``) fails until each
runtime has it with the same parameters.

Not part of it: the scene runtime's ``set_objects_validated``, a bulk path for object transforms the
daemon's network process already checked. The daemon uses it when a runtime has it; the recording
runtime takes them one call each, so its record keeps the order they arrived in.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

Vec3 = Sequence[float]


class Runtime(Protocol):
    """The game-facing interface of a runtime (one method per thing a message asks), plus the
    render-loop hooks the daemon's audio side calls each block."""

    engine: Any
    """The ``engine.Engine`` it plays on (the ``profile`` message hosts the hearing compensation there)."""
    scene: Any
    """Its ``SceneDef`` (``load_scene`` resolves paths beside ``scene.file``); None without a scene."""
    events: deque
    """``(topic, payload)`` pairs for telemetry (``error``, ``say``, instance starts and ends ...)."""

    # ---------------------------------------------------------------- the messages
    def set_param(self, name: str, value: float, at_frame: int | None = None) -> None: ...

    def set_state(self, group: str, value: str, at_frame: int | None = None) -> None: ...

    def set_switch(
        self, group: str, value: str, object: str | None = None, at_frame: int | None = None
    ) -> None: ...

    def trigger(
        self,
        event: str,
        position: Vec3 | None = None,
        params: Mapping[str, Any] | None = None,
        object: str | None = None,
        at_frame: int | None = None,
        switches: Mapping[str, str] | None = None,
    ) -> int: ...

    def stop(self, iid: int, release: bool = True, at_frame: int | None = None) -> None: ...

    def set_listener(
        self,
        position: Vec3,
        forward: Vec3 = (0.0, 0.0, -1.0),
        up: Vec3 = (0.0, 1.0, 0.0),
        velocity: Vec3 = (0.0, 0.0, 0.0),
        at_frame: int | None = None,
    ) -> None: ...

    def set_object(
        self,
        name: str,
        position: Vec3,
        forward: Vec3 | None = None,
        velocity: Vec3 | None = None,
        at_frame: int | None = None,
    ) -> None: ...

    def snapshot(self, name: str, on: bool, at_frame: int | None = None) -> None: ...

    def stinger(self, name: str, at_frame: int | None = None) -> None: ...

    def override(self, layer_uid: str, weight: float | None, at_frame: int | None = None) -> None:
        """``set_weight``: hold a layer's weight (None hands it back)."""
        ...

    def set_player_gains(self, gain_db: Mapping[str, float]) -> None:
        """``profile``: the player's volume per bus."""
        ...

    def say(
        self,
        text: str,
        preset: str = "neutral",
        emitter: str | None = None,
        position: Vec3 | None = None,
        at_frame: int | None = None,
    ) -> dict: ...

    def prepare_line(self, text: str, preset: str = "neutral") -> tuple[str, dict]:
        """The slow half of ``say`` (the daemon runs it off the render thread)."""
        ...

    def play_line(
        self,
        name: str,
        label: dict,
        emitter: str | None = None,
        position: Vec3 | None = None,
        at_frame: int | None = None,
    ) -> None:
        """The render-thread half of ``say``."""
        ...

    def describe(self) -> dict:
        """``hello``'s scene catalogue: the names and ranges a game may send."""
        ...

    def telemetry(self) -> dict:
        """``stats``' scene part."""
        ...

    # ---------------------------------------------------------------- scene lifetime and render loop
    def prepare(self, scene: Any) -> None:
        """Do a new scene's slow work (decoding, model sessions) in the caller's thread."""
        ...

    def reload(self, scene: Any) -> None:
        """``load_scene``: swap the (prepared) scene in."""
        ...

    def update(self, n: int) -> None:
        """Advance control by one block of ``n`` frames (before the engine renders it)."""
        ...

    def after_render(self) -> None:
        """After the engine rendered the block (captions leave with their first sample's block)."""
        ...


def protocol_members(proto: type = Runtime) -> dict[str, Any]:
    """The attributes and methods ``proto`` declares, by name (what a conforming class must have)."""
    names = dict.fromkeys(getattr(proto, "__annotations__", {}), None)
    for name, value in vars(proto).items():
        if callable(value) and not name.startswith("_"):
            names[name] = value
    return names
