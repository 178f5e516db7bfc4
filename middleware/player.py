"""A scene, an engine and the block loop that joins them: what every sink plays.

``ScenePlayer`` is the one render path shared by the offline renderer, ``soundscape play``, the demo
and the daemon's audio process: per block, the scene runtime ticks at control rate (``update``),
then the engine renders. It satisfies the sinks' ``Renderable`` protocol (``config`` and
``render(frames)``), so a WAV file and a sound card receive the very same samples.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .config import EngineConfig
from .engine import Engine
from .scene.load import load_scene
from .scene.model import SceneDef
from .scene.runtime import SceneRuntime


class ScenePlayer:
    """Engine + scene runtime; ``render`` interleaves control ticks and audio blocks."""

    def __init__(
        self, scene: SceneDef | str | Path, config: EngineConfig | None = None, seed: int = 0
    ) -> None:
        self.config = config or EngineConfig(seed=seed)
        self.scene = scene if isinstance(scene, SceneDef) else load_scene(scene)
        self.engine = Engine(self.config)
        self.runtime = SceneRuntime(self.scene, self.engine, seed=seed)
        self._block = np.zeros((self.config.block, 2), dtype=np.float32)

    @property
    def frame(self) -> int:
        return self.engine.frame

    def render(self, frames: int) -> np.ndarray:
        out = np.empty((frames, 2), dtype=np.float32)
        self.render_into(out)
        return out

    def render_into(self, out: np.ndarray) -> None:
        block = self.config.block
        done = 0
        frames = out.shape[0]
        while done < frames:
            n = min(block, frames - done)
            self.runtime.update(n)
            self.engine.render_into(out[done : done + n])
            done += n

    def reload(self, scene: SceneDef) -> None:
        self.scene = scene
        self.runtime.reload(scene)
