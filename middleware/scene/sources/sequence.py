"""A sequence container: its items in order, one per play (back to back for a looping layer). Its
position belongs to the layer's definition, so the third fire of a footstep sequence plays its third
file whichever instance fires it, and a hot reload that leaves the source unchanged goes on from there."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import SampleSource, SceneDef, SequenceSource
from ..state import LayerInstance
from .base import keep_unchanged
from .sample import SampleFileSource

if TYPE_CHECKING:
    from ..runtime import SceneRuntime


class SequenceContainerSource(SampleFileSource):
    model = SequenceSource

    def __init__(self, rt: SceneRuntime) -> None:
        super().__init__(rt)
        self.position: dict[str, int] = {}  # layer uid -> the next item's index

    def pick(self, li: LayerInstance) -> tuple[SampleSource, float, float]:
        src: SequenceSource = li.layer.source
        n = len(src.items)
        k = min(self.position.get(li.layer.uid, 0), n - 1)
        # no loop: stays on the last
        self.position[li.layer.uid] = (k + 1) % n if src.loop else min(k + 1, n - 1)
        return src.items[k], 0.0, 0.0

    def reload(self, old: SceneDef, new: SceneDef) -> None:
        keep_unchanged(self.position, old, new)
