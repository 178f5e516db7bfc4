"""A message handler: what one protocol message means, wherever it arrives.

One ``Handler`` per message of ``transport.protocol.MESSAGES`` (the table is ``control.handlers``).
``perform`` is the message's meaning on a runtime (the offline renderer, the recording runtime and
the daemon's render thread all call it); the other fields tell the daemon where that happens and what
its network process checks first, so neither process branches on message names (scsynth's command
table: one entry per command, found by its name once).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .runtime_protocol import Runtime


class Lane(enum.Enum):
    """Where the daemon performs a message (the offline renderer performs every one at once)."""

    LOCAL = "local"
    """The network process answers from its own state (``answer``); nothing reaches the audio side."""
    RENDER = "render"
    """Forwarded to the audio process and performed on its render thread, in the block it lands in."""
    PREPARED = "prepared"
    """Forwarded; the audio process's main thread does the slow part first (a line's synthesis, an
    EQ design), then the render thread applies it."""
    SCENE = "scene"
    """``load_scene``: the network process resolves the path, the audio process's main thread loads
    and prepares the scene, the render thread swaps it in; the reply waits for the swap."""
    BARRIER = "barrier"
    """``sync``: answered once the audio process has applied everything the client sent before it."""
    BATCH = "batch"
    """``batch``: its items, each by its own handler, checked together and applied in one block."""


class Instances(enum.Enum):
    """How a message relates to event instances (the daemon keeps its own instance ids)."""

    NONE = "none"
    NEW = "new"
    """Starts one: the network process allocates its id at once (the reply carries it), the audio
    side maps it to the runtime's (``trigger``)."""
    LIVE = "live"
    """Names one in field ``instance``, which must be live when the message is accepted (``stop``)."""


class NetworkSide(Protocol):
    """What a ``LOCAL`` handler's ``answer`` may ask of the daemon's network process."""

    def hello(self) -> dict[str, Any]: ...

    def stats(self) -> dict[str, Any]: ...

    def name_client(self, client: int, name: str) -> None: ...


Perform = Callable[[Runtime, Mapping[str, Any], "int | None"], Any]
Answer = Callable[[NetworkSide, Mapping[str, Any], int], "dict[str, Any]"]


@dataclass(frozen=True, slots=True)
class Handler:
    """One protocol message's meaning. ``perform(runtime, fields, at_frame)`` returns the reply's
    result (a map) or None; ``fields`` are validated and carry their defaults."""

    message: str
    perform: Perform
    needs: tuple[str, ...]
    """The ``Runtime`` members ``perform`` uses (checked against the protocol class by a test)."""
    lane: Lane = Lane.RENDER
    instances: Instances = Instances.NONE
    object_field: str | None = None
    """The field naming a game object the daemon counts against its object cap (``object``)."""
    spoken: bool = False
    """A spoken line: the network process's say gate admits it (text size, rate per client) and the
    audio process hands it to its voice worker."""
    flush: bool = False
    """The network process sends it to the audio process at once rather than with the next batch of
    continuous updates (a trigger or stop reaches the audio process before its reply leaves)."""
    answer: Answer | None = None
    """``LOCAL`` messages: the network process's answer."""

    def __post_init__(self) -> None:
        if (self.lane is Lane.LOCAL) != (self.answer is not None):
            raise ValueError(f"handler {self.message!r}: an answer exactly when its lane is LOCAL")
