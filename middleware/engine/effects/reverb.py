"""Freeverb on a bus (``dsp/reverb.py``): the bus's ``reverb:`` record, or ``{type: reverb}`` in a chain.

Its parameters' ramp time is 0 here because the reverb glides its five internal gains itself (a
per-sample one-pole of 20 ms, which the reverb tests pin down); moving that onto ``Ramp`` would
change the sound, so it stays.
"""

from __future__ import annotations

import numpy as np

from ..dsp.reverb import Reverb
from ..specs import REVERB_BOUNDS, ReverbSpec, defaults
from .base import Effect, EffectType, Param

_TEXT = {
    "room_size": "larger rooms ring longer",
    "damping": "high-frequency damping of the tail",
    "wet": "reverb level",
    "dry": "direct level",
    "width": "stereo width of the tail",
}
_DEFAULT = defaults(ReverbSpec)


class ReverbEffect(Effect):
    """A :class:`Reverb` behind the effect interface."""

    def _prepare(self) -> None:
        self.reverb = Reverb(self.sr, **self.spec.values)

    def update(self, spec) -> None:  # type: ignore[no-untyped-def]
        self.spec = spec
        self.reverb.set_params(**spec.values)

    def process(self, x: np.ndarray) -> None:
        self.reverb.process_inplace(x)

    def _reset(self) -> None:
        self.reverb.reset()


REVERB = EffectType(
    "reverb",
    "Freeverb-style reverb. All amounts 0..1.",
    tuple(
        Param(k, f"{b.lo:g}..{b.hi:g}: {_TEXT[k]}", b, _DEFAULT[k], ramp=0.0)
        for k, b in REVERB_BOUNDS.items()
    ),
    ReverbEffect,
)
DEFINITIONS = (REVERB,)
