"""A random container: one item per play, by weight, never one of the last ``no_repeat`` picks, with
gain and pitch jitter (Wwise's random container). Its history belongs to the layer's definition, so
every instance of an event shares it and ``no_repeat`` holds across fires and hot reloads."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from ..model import RandomSource, SampleSource, SceneDef
from ..state import LayerInstance
from .base import keep_unchanged
from .sample import SampleFileSource

if TYPE_CHECKING:
    from ..runtime import SceneRuntime


class RandomContainerSource(SampleFileSource):
    model = RandomSource

    def __init__(self, rt: SceneRuntime) -> None:
        super().__init__(rt)
        self.recent: dict[str, deque[int]] = {}  # layer uid -> its last ``no_repeat`` picks

    def pick(self, li: LayerInstance) -> tuple[SampleSource, float, float]:
        src: RandomSource = li.layer.source
        rng = self.rt.rng
        recent = self.recent.setdefault(li.layer.uid, deque())
        items = list(range(len(src.items)))
        banned = set(recent)
        allowed = [i for i in items if i not in banned] or items
        w = np.array([src.items[i].weight for i in allowed], dtype=np.float64)
        k = allowed[int(rng.choice(len(allowed), p=w / w.sum()))]
        recent.append(k)
        while len(recent) > src.no_repeat:
            recent.popleft()
        gj = rng.uniform(-1, 1) * src.gain_jitter_db
        pj = rng.uniform(-1, 1) * src.pitch_jitter
        return src.items[k].source, gj, pj

    def reload(self, old: SceneDef, new: SceneDef) -> None:
        keep_unchanged(self.recent, old, new)
