"""Engine-wide settings, fixed when an engine is created (like scsynth's boot options)."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import EngineError

MAX_INSTANCES = 256
"""Live event instances a scene runtime plays at once. Declared here once: the runtime refuses a trigger
beyond it, and the daemon's network process refuses it first (``limit``, before any ``ok``), so a client
is never told yes and then no. ``soundscape serve --max-instances`` may only lower it."""

MAX_OBJECTS = 4096
"""Game objects (distinct ``object`` names) a runtime keeps transforms for; the network process refuses
a new name beyond it with ``limit``, and its own set of names stays bounded by it."""


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
