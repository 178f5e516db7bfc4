"""Settings fixed when an engine or a daemon starts (like scsynth's boot options), each default
declared once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import EngineError

MAX_INSTANCES = 4096
"""Live event instances a scene runtime plays at once (a swarm, a crowd: most of them virtual voices).
Declared here once: the runtime refuses a trigger beyond it, the daemon's network process refuses it
first (``limit``, before any ``ok`` or instance id), so a client is never told yes and then no, and an
event's ``max_instances`` may go up to it. ``soundscape serve --max-instances`` may only lower it."""

MAX_OBJECTS = 4096
"""Game objects (distinct ``object`` names) a runtime keeps transforms for; the network process refuses
a new name beyond it with ``limit``, and its own set of names stays bounded by it."""


COMMAND_ENDPOINT = "tcp://127.0.0.1:5570"
"""Where the daemon takes commands (ROUTER) and clients connect by default: loopback only."""

TELEMETRY_ENDPOINT = "tcp://127.0.0.1:5571"
"""Where the daemon publishes telemetry (PUB) and subscribers connect by default: loopback only."""

MAX_MESSAGE_BYTES = 256 * 1024
"""ZMQ_MAXMSGSIZE of the command socket: larger frames are dropped by libzmq before we see them."""


@dataclass(frozen=True)
class EngineConfig:
    """Audio format and capacity of one engine.

    ``block`` is the control granularity: parameter ramps span one block and the scene runtime
    ticks once per block. Voice starts and stops are still sample-accurate inside a block.
    ``lookahead_blocks`` is how many blocks a device sink renders ahead of its callback; 0 renders
    inside the callback (lowest latency, no slack: see ``sinks/device.py``).
    """

    sample_rate: int = 48000
    channels: int = 2
    block: int = 256
    lookahead_blocks: int = 2
    max_voices: int = 1024
    voice_limit: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        if self.channels != 2:
            raise EngineError(f"channels={self.channels}: only stereo (2) output is supported")
        if not 8000 <= self.sample_rate <= 192000:
            raise EngineError(f"sample_rate={self.sample_rate}: must be within 8000..192000 Hz")
        if not 16 <= self.block <= 8192:
            raise EngineError(f"block={self.block}: must be within 16..8192 frames")
        if not 0 <= self.lookahead_blocks <= 64:
            raise EngineError(f"lookahead_blocks={self.lookahead_blocks}: must be within 0..64")
        if not 1 <= self.voice_limit <= self.max_voices:
            raise EngineError(
                f"voice_limit={self.voice_limit}: must be within 1..max_voices ({self.max_voices})"
            )


@dataclass
class DaemonOptions:
    """Everything `soundscape serve` can set, with its default: declared here once, read by the CLI
    (its flags' defaults and help), the daemon and the docs' tests."""

    scene: str | None = None  # None: the built-in recording scene (tests, conformance)
    bind: str = COMMAND_ENDPOINT
    pub: str = TELEMETRY_ENDPOINT
    device: str | None = None
    backend: str | None = None
    block: int = EngineConfig.block
    lookahead_blocks: int = 0  # 0: render inside the device callback (lowest latency)
    period_frames: int | None = None
    sample_rate: int = EngineConfig.sample_rate
    seed: int = 0
    schedule_latency: float = 0.05
    max_schedule_ahead: float = 60.0
    max_scheduled: int = 4096
    max_instances: int = MAX_INSTANCES  # may only be lowered: the scene runtime's own cap
    max_message_bytes: int = MAX_MESSAGE_BYTES
    curve_secret: str | None = None  # a zmq certificate file with a secret key
    allow_keys: str | None = None  # a folder of allowed clients' public certificate files
    record: str | None = None
    fade_out: float = 0.1
    meters: str = "master"  # buses metered for the `loudness` topic: "master", "a,b", "all" or "none"
    nice: int = -10  # CPU priority the audio process asks for (0: leave it alone)
    null_min_lookahead: float | None = None  # seconds; None: the sink's default for the NULL backend
    world: str | None = None  # a game server's PUB endpoint: the shared world's events (SUB connects)
    world_server_key: str | None = None  # the game server's public certificate: CURVE on the world feed
    world_client_key: str | None = None  # this daemon's certificate for it (default: curve_secret's)
    extra: dict[str, Any] = field(default_factory=dict)
