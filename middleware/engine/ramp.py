"""One ramp type for the engine: a vector of values, each gliding linearly to its target in its own time.

A :class:`Ramp` is advanced once per block (``advance(n)``); afterwards ``start`` holds each value at
the start of the block and ``value`` at its end, and a kernel interpolates between the two per sample
(``start + (value - start) * (i + 1) / n``, as the biquad coefficient ramps do), so a glide is smooth
at the sample level while the control work stays per block. A glide always takes its ramp time,
whatever the distance, and lands exactly on the target. An idle ramp costs one attribute test per
block; after ``jump`` or ``settle`` the next ``advance`` reports a move once, so effects that cache
values derived from the parameters (filter coefficients) recompute them.

Effects (``engine/effects``) ramp every parameter with it, ducking rules included (they are
compressors: a changed depth glides here, and the gain itself moves by the compressor's attack and
release), and so does each bus's fader (one value gliding over one block). The voice gains (a
per-block linear ramp inside the compiled voice kernel, kept there: thousands of voices ramp in one
pass over the voice table), reverb's internal gains and the scene's control-rate glides and snapshot
blends (which produce the targets these ramps glide to) still ramp their own way; the automatic gain
and the compressor's gain are one-pole smoothers (ballistics), not ramps.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def ramp_advance(start, value, target, left, n):
    """Move each ``value`` the fraction ``n / left`` of the way to ``target`` (all of it when
    ``left <= n``) and count ``left`` (frames still to go) down; ``start`` gets the old values.

    Constant slope while a glide runs (linear), and the last block lands exactly on the target.
    Returns True when any value moved in this block (a kernel then interpolates ``start -> value``).
    """
    moved = False
    for i in range(value.shape[0]):
        v = value[i]
        start[i] = v
        t = target[i]
        if v == t:
            continue
        if left[i] <= n:
            value[i] = t
            left[i] = 0.0
        else:
            value[i] = v + (t - v) * (n / left[i])
            left[i] -= n
        moved = True
    return moved


class Ramp:
    """``len(values)`` values, settled at construction, each with its own ramp time in seconds."""

    __slots__ = ("idle", "kick", "left", "seconds", "sr", "start", "target", "value")

    def __init__(self, values: np.ndarray, seconds: np.ndarray, sr: float) -> None:
        self.value = np.array(values, dtype=np.float64)
        self.start = self.value.copy()
        self.target = self.value.copy()
        self.left = np.zeros_like(self.value)  # frames until each glide ends
        self.seconds = np.array(seconds, dtype=np.float64)
        self.sr = float(sr)
        self.idle = True  # nothing to glide and start == value: advance() has nothing to do
        self.kick = False  # values were set outright: the next advance() reports a move once
        # Load the compiled kernel now (construction happens in prepare, off the render thread):
        # an idle ramp never calls it, so the first glide would otherwise compile on the audio path.
        ramp_advance(self.start, self.value, self.target, self.left, 0)

    def set(self, i: int, target: float, seconds: float | None = None) -> None:
        """Glide value ``i`` to ``target`` over ``seconds`` (default: its own ramp time; 0 = next block)."""
        t = self.seconds[i] if seconds is None else seconds
        self.target[i] = target
        self.left[i] = t * self.sr
        self.idle = False

    def jump(self, i: int, value: float) -> None:
        """Set value ``i`` at once, with no glide (after ``reset`` or for a switched setting)."""
        self.start[i] = self.value[i] = self.target[i] = value
        self.left[i] = 0.0
        self.idle = False
        self.kick = True

    def settle(self) -> None:
        """End every glide on its target (``reset``: the next block starts there)."""
        self.value[:] = self.target
        self.start[:] = self.target
        self.left[:] = 0.0
        self.idle = False
        self.kick = True

    def advance(self, n: int) -> bool:
        """Advance one block of ``n`` frames; True when anything moved."""
        if self.idle:
            return False
        moved = ramp_advance(self.start, self.value, self.target, self.left, n) or self.kick
        self.kick = False
        self.idle = not moved
        return moved

    @property
    def moving(self) -> bool:
        """True while a glide has not reached its target."""
        return bool(np.any(self.value != self.target))
