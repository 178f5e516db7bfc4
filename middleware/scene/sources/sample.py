"""A layer that plays one audio file from the bank (and the base of the containers that pick one)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..model import SampleSource
from ..state import LayerInstance, Vec3
from .base import LayerSource, Owner


class SampleFileSource(LayerSource):
    """One file; subclasses (random, sequence) override ``pick`` to choose the file per play."""

    model = SampleSource

    def pick(self, li: LayerInstance) -> tuple[SampleSource, float, float]:
        """The file for one play, with extra gain (dB) and pitch (semitones) for that play."""
        return li.layer.source, 0.0, 0.0

    def start(
        self,
        li: LayerInstance,
        owner: Owner,
        pos: Vec3 | None,
        vel: Vec3,
        env: Mapping[str, Any],
        *,
        loop: bool,
        fade_in: float,
        start_frame: int | None,
        bus: str | None,
    ) -> int | None:
        src, gain_db, pitch_st = self.pick(li)
        return self.rt.voices.play_sample(
            li,
            owner,
            src,
            gain_db,
            pitch_st,
            pos,
            vel,
            env,
            loop=loop,
            fade_in=fade_in,
            start_frame=start_frame,
            bus=bus,
        )
