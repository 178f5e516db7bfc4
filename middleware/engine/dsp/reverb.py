"""Freeverb-style stereo reverb (Jezar's public-domain design): 8 damped combs + 4 allpasses per channel.

Topology per frame, with ``in = (xL + xR) * 0.015``:

* each comb: ``y = buf[i]; lp = y (1 - damp) + lp damp; buf[i] = in + lp * feedback`` and the 8 comb
  outputs are summed per channel (the right channel's delays are 23 samples longer, the stereo spread);
* then 4 allpasses in series: ``b = buf[i]; buf[i] = v + 0.5 b; v = b - v``;
* ``outL = wetL * wet1 + wetR * wet2 + xL * dry`` (and mirrored), ``wet1 = 3 wet (1 + width) / 2``,
  ``wet2 = 3 wet (1 - width) / 2``.

Parameter mapping (all user parameters in [0, 1]): ``feedback = 0.7 + 0.28 room_size``,
``damp = 0.4 damping``; ``dry`` is a plain linear gain, so ``dry = 1, wet = 0`` is an exact pass-through
(Freeverb's own dry scale of 2 is dropped for that reason). Delay lengths are Freeverb's 44.1 kHz tunings
scaled to the engine rate, so the decay time in seconds does not depend on the sample rate.

The five internal gains glide towards their targets with a per-sample one-pole (20 ms, snapping onto the
target once within 1e-7), so parameter changes never click and the output does not depend on how the
signal is cut into blocks.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ...errors import EngineError

COMB_TUNING = (1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617)
ALLPASS_TUNING = (556, 441, 341, 225)
STEREO_SPREAD = 23
FIXED_GAIN = 0.015
SCALE_WET = 3.0
SCALE_DAMP = 0.4
SCALE_ROOM = 0.28
OFFSET_ROOM = 0.7
ALLPASS_FEEDBACK = 0.5
SMOOTH_SECONDS = 0.02

# indices into the parameter vectors
P_FEEDBACK, P_DAMP, P_WET1, P_WET2, P_DRY = 0, 1, 2, 3, 4


@njit(cache=True, nogil=True)
def reverb_block(x, out, target, cur, smooth, buf, offsets, lengths, pos, lp):
    """Process a stereo block ``x`` into ``out`` (may alias ``x``).

    ``target``/``cur`` (5,) float64: internal gains (feedback, damp, wet1, wet2, dry) and their smoothed
    values; ``smooth`` the per-sample glide coefficient; ``buf`` one flat float64 array holding all 24
    delay lines at ``offsets`` with ``lengths`` (combs L 0-7, combs R 8-15, allpasses L 16-19, R 20-23);
    ``pos`` (24,) int64 read/write positions; ``lp`` (16,) comb damping memories.
    """
    n = x.shape[0]
    for i in range(n):
        for j in range(5):
            d = target[j] - cur[j]
            if d != 0.0:
                # Snap once within 1e-7 so a glide ends exactly on target (wet = 0 is then truly dry).
                cur[j] = target[j] if abs(d) < 1e-7 else cur[j] + smooth * d
        fb = cur[P_FEEDBACK]
        damp = cur[P_DAMP]
        damp2 = 1.0 - damp
        xl = np.float64(x[i, 0])
        xr = np.float64(x[i, 1])
        if math.isnan(xl):  # a NaN would circulate in the combs forever
            xl = 0.0
        if math.isnan(xr):
            xr = 0.0
        inp = (xl + xr) * FIXED_GAIN
        acc_l = 0.0
        acc_r = 0.0
        for c in range(16):
            o = offsets[c]
            p = pos[c]
            y = buf[o + p]
            f = y * damp2 + lp[c] * damp
            if abs(f) < 1e-30:
                f = 0.0
            lp[c] = f
            buf[o + p] = inp + f * fb
            p += 1
            if p == lengths[c]:
                p = 0
            pos[c] = p
            if c < 8:
                acc_l += y
            else:
                acc_r += y
        for a in range(16, 24):
            o = offsets[a]
            p = pos[a]
            b = buf[o + p]
            v = acc_l if a < 20 else acc_r
            s = v + b * ALLPASS_FEEDBACK
            if abs(s) < 1e-30:
                s = 0.0
            buf[o + p] = s
            p += 1
            if p == lengths[a]:
                p = 0
            pos[a] = p
            if a < 20:
                acc_l = b - v
            else:
                acc_r = b - v
        w1 = cur[P_WET1]
        w2 = cur[P_WET2]
        dry = cur[P_DRY]
        out[i, 0] = acc_l * w1 + acc_r * w2 + xl * dry
        out[i, 1] = acc_r * w1 + acc_l * w2 + xr * dry


def _check01(name: str, v: float) -> float:
    v = float(v)
    if not (math.isfinite(v) and 0.0 <= v <= 1.0):
        raise EngineError(f"reverb {name}={v}: must be within 0..1")
    return v


class Reverb:
    """A Freeverb instance: buffers and smoothed parameters (the caller-owned state of :func:`reverb_block`).

    Construct and change parameters from control code; ``process_inplace``/``process_into`` allocate
    nothing and are safe to call from the render loop.
    """

    def __init__(
        self,
        sr: float,
        room_size: float = 0.5,
        damping: float = 0.5,
        wet: float = 0.33,
        dry: float = 1.0,
        width: float = 1.0,
    ) -> None:
        if not (math.isfinite(sr) and sr > 0):
            raise EngineError(f"reverb sr={sr}: must be a finite number > 0")
        self.sr = float(sr)
        scale = self.sr / 44100.0
        spread = STEREO_SPREAD * scale
        lengths = [max(1, round(t * scale)) for t in COMB_TUNING]
        lengths += [max(1, round(t * scale + spread)) for t in COMB_TUNING]
        lengths += [max(1, round(t * scale)) for t in ALLPASS_TUNING]
        lengths += [max(1, round(t * scale + spread)) for t in ALLPASS_TUNING]
        self.lengths = np.array(lengths, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
        self.buf = np.zeros(int(self.lengths.sum()), dtype=np.float64)
        self.pos = np.zeros(24, dtype=np.int64)
        self.lp = np.zeros(16, dtype=np.float64)
        self.smooth = 1.0 - math.exp(-1.0 / (SMOOTH_SECONDS * self.sr))
        self.target = np.zeros(5, dtype=np.float64)
        self.room_size = self.damping = self.wet = self.dry = self.width = 0.0
        self.set_params(room_size=room_size, damping=damping, wet=wet, dry=dry, width=width)
        self.cur = self.target.copy()  # start settled: no glide from zero on the first block

    def set_params(
        self,
        room_size: float | None = None,
        damping: float | None = None,
        wet: float | None = None,
        dry: float | None = None,
        width: float | None = None,
    ) -> None:
        """Change any subset of the parameters (each in 0..1); the sound glides there over ~20 ms."""
        vals = {
            "room_size": room_size,
            "damping": damping,
            "wet": wet,
            "dry": dry,
            "width": width,
        }
        checked = {k: _check01(k, v) for k, v in vals.items() if v is not None}
        for k, v in checked.items():
            setattr(self, k, v)
        t = self.target
        t[P_FEEDBACK] = OFFSET_ROOM + SCALE_ROOM * self.room_size
        t[P_DAMP] = SCALE_DAMP * self.damping
        t[P_WET1] = SCALE_WET * self.wet * (1.0 + self.width) / 2.0
        t[P_WET2] = SCALE_WET * self.wet * (1.0 - self.width) / 2.0
        t[P_DRY] = self.dry

    def reset(self) -> None:
        """Silence the tail (buffers and damping memories); parameters are kept."""
        self.buf[:] = 0.0
        self.lp[:] = 0.0
        self.pos[:] = 0
        self.cur[:] = self.target

    def process_into(self, x: np.ndarray, out: np.ndarray) -> None:
        """Reverberate ``x`` (frames, 2) into ``out`` (may be ``x``)."""
        reverb_block(
            x,
            out,
            self.target,
            self.cur,
            self.smooth,
            self.buf,
            self.offsets,
            self.lengths,
            self.pos,
            self.lp,
        )

    def process_inplace(self, x: np.ndarray) -> None:
        """Reverberate ``x`` in place."""
        self.process_into(x, x)

    def process(self, x: np.ndarray) -> np.ndarray:
        """Reverberate ``x`` and return a new float32 block."""
        out = np.empty((x.shape[0], 2), dtype=np.float32)
        self.process_into(x, out)
        return out
