"""What every sink pulls audio from."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ..config import EngineConfig
from ..errors import EngineError


@runtime_checkable
class Renderable(Protocol):
    """Anything that produces audio on demand: the Engine, or a test tone.

    ``render(frames)`` returns a ``(frames, 2)`` float32 array of the next ``frames`` frames. A sink
    calls it from exactly one thread at a time, so implementations need no locking for rendering.
    """

    config: EngineConfig

    def render(self, frames: int) -> np.ndarray: ...


def check_block(block: np.ndarray, frames: int, channels: int = 2) -> np.ndarray:
    """Validate a rendered block once per call on the producer side (never on the audio thread)."""
    if not isinstance(block, np.ndarray) or block.shape != (frames, channels):
        shape = getattr(block, "shape", type(block).__name__)
        raise EngineError(f"render({frames}) returned shape={shape}: expected ({frames}, {channels})")
    if block.dtype != np.float32:
        block = block.astype(np.float32)
    return block
