"""A layer that plays one audio file from the bank (and the base of the containers that pick one)."""

from __future__ import annotations

from ..model import SampleSource
from ..state import LayerInstance
from .base import LayerSource, Start


class SampleFileSource(LayerSource):
    """One file; subclasses (random, sequence) override ``pick`` to choose the file per play."""

    model = SampleSource

    def pick(self, li: LayerInstance) -> tuple[SampleSource, float, float]:
        """The file for one play, with extra gain (dB) and pitch (semitones) for that play."""
        return li.layer.source, 0.0, 0.0

    def start(self, li: LayerInstance, at: Start) -> int | None:
        src, gain_db, pitch_st = self.pick(li)
        return self.rt.voices.play_sample(li, src, gain_db, pitch_st, at)
