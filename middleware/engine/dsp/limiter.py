"""Look-ahead brick-wall peak limiter for the master bus.

Signal path per frame ``n`` (stereo-linked, one gain for both channels):

1. ``need[n] = min(1, ceiling / max(|xL[n]|, |xR[n]|))`` is the gain that would put this frame exactly at
   the ceiling.
2. ``hold[n] = min(need[n-L .. n])``: a sliding minimum over ``L + 1`` frames (monotonic deque, O(1)
   amortised), so a peak's gain is known ``L`` frames before the peak leaves the delay line.
3. ``rel[n]``: instant attack, one-pole release towards ``hold`` with time constant ``release``
   (``rel <= hold`` always).
4. ``gain[n] = mean(rel[n-L+1 .. n])``: a boxcar of ``L`` frames turns every gain drop into a linear ramp
   spread over the look-ahead, so the gain never steps (``|gain[n] - gain[n-1]| <= 1/L``).
5. ``out[n] = clamp(x[n-L] * gain[n], -ceiling, ceiling)``.

Steps 2 and 4 together guarantee that every value entering the boxcar while the peak frame sits in the
delay line is ``<= need[peak]``, so the average is too: the final clamp is only a safety net against
float rounding, never a routine clipper. NaN input samples become 0 so one bad voice cannot poison the
state. The latency is ``L = round(lookahead * sr)`` frames (72 at 48 kHz with the default 1.5 ms).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ...errors import EngineError

# istate indices
_DPOS, _QHEAD, _QCOUNT, _COUNTER, _BPOS = 0, 1, 2, 3, 4
# fstate indices
_REL, _BSUM = 0, 1


@njit(cache=True, nogil=True)
def limiter_block(x, out, ceiling, release_coeff, delay, q_val, q_idx, box, istate, fstate, gain_out):
    """Limit one stereo block ``x`` into ``out`` (may alias ``x``); all state arrays updated in place.

    ``delay`` (L, 2) float64, ``q_val``/``q_idx`` (L + 1,) deque storage, ``box`` (L,) boxcar ring,
    ``istate`` int64 (5,), ``fstate`` float64 (2,). ``gain_out`` receives the applied gain per frame when
    it has at least ``len(x)`` entries (pass an empty array to skip metering).
    """
    n = x.shape[0]
    lat = delay.shape[0]
    cap = q_val.shape[0]  # = lat + 1 = hold window length
    dpos = istate[_DPOS]
    qhead = istate[_QHEAD]
    qcount = istate[_QCOUNT]
    k = istate[_COUNTER]
    bpos = istate[_BPOS]
    rel = fstate[_REL]
    bsum = fstate[_BSUM]
    inv_lat = 1.0 / lat
    meter = gain_out.shape[0] >= n
    for i in range(n):
        xl = np.float64(x[i, 0])
        xr = np.float64(x[i, 1])
        if math.isnan(xl):
            xl = 0.0
        if math.isnan(xr):
            xr = 0.0
        peak = max(abs(xl), abs(xr))
        need = 1.0
        if peak > ceiling:
            need = ceiling / peak
        # Sliding minimum over the last lat + 1 frames (monotonic deque in a ring of size cap). Expire
        # first, so the ring never holds more than cap entries.
        if qcount > 0 and q_idx[qhead] <= k - cap:
            qhead = (qhead + 1) % cap
            qcount -= 1
        while qcount > 0:
            back = (qhead + qcount - 1) % cap
            if q_val[back] >= need:
                qcount -= 1
            else:
                break
        tail = (qhead + qcount) % cap
        q_val[tail] = need
        q_idx[tail] = k
        qcount += 1
        hold = q_val[qhead]
        # Instant attack, smooth release.
        if hold < rel:
            rel = hold
        else:
            rel += release_coeff * (hold - rel)
            if hold - rel < 1e-6:  # snap (a -0.00001 dB step) so quiet material becomes bit-exact again
                rel = hold
        # Boxcar over the look-ahead; re-summed exactly once per lap so float drift cannot accumulate.
        bsum += rel - box[bpos]
        box[bpos] = rel
        bpos += 1
        if bpos == lat:
            bpos = 0
            s = 0.0
            for j in range(lat):
                s += box[j]
            bsum = s
        g = bsum * inv_lat
        if g > 1.0:
            g = 1.0
        # Delay line: read the frame from lat frames ago, store the new one in its place.
        dl = delay[dpos, 0]
        dr = delay[dpos, 1]
        delay[dpos, 0] = xl
        delay[dpos, 1] = xr
        dpos += 1
        if dpos == lat:
            dpos = 0
        yl = dl * g
        yr = dr * g
        if yl > ceiling:
            yl = ceiling
        elif yl < -ceiling:
            yl = -ceiling
        if yr > ceiling:
            yr = ceiling
        elif yr < -ceiling:
            yr = -ceiling
        out[i, 0] = yl
        out[i, 1] = yr
        if meter:
            gain_out[i] = g
        k += 1
    istate[_DPOS] = dpos
    istate[_QHEAD] = qhead
    istate[_QCOUNT] = qcount
    istate[_COUNTER] = k
    istate[_BPOS] = bpos
    fstate[_REL] = rel
    fstate[_BSUM] = bsum


class Limiter:
    """Stateful wrapper around :func:`limiter_block`; construct at setup time, call from the render loop.

    ``process_into`` allocates nothing. ``latency_frames`` is the fixed delay the limiter adds.
    """

    def __init__(
        self, sr: float, ceiling: float = 0.98, lookahead: float = 0.0015, release: float = 0.05
    ) -> None:
        if not (math.isfinite(sr) and sr > 0):
            raise EngineError(f"limiter sr={sr}: must be a finite number > 0")
        if not (math.isfinite(ceiling) and 0.0 < ceiling <= 1.0):
            raise EngineError(f"limiter ceiling={ceiling}: must be within (0, 1]")
        if not (math.isfinite(lookahead) and 0.0 < lookahead <= 0.05):
            raise EngineError(f"limiter lookahead={lookahead} s: must be within (0, 0.05] s")
        if not (math.isfinite(release) and 0.0 < release <= 10.0):
            raise EngineError(f"limiter release={release} s: must be within (0, 10] s")
        self.sr = float(sr)
        self.ceiling = float(ceiling)
        self.lookahead = float(lookahead)
        self.release = float(release)
        self.latency_frames = max(1, round(lookahead * sr))
        self.release_coeff = 1.0 - math.exp(-1.0 / (release * sr))
        self._no_meter = np.zeros(0, dtype=np.float64)
        self.reset()

    def reset(self) -> None:
        """Forget all history: silence in the delay line, unity gain."""
        lat = self.latency_frames
        self.delay = np.zeros((lat, 2), dtype=np.float64)
        self.q_val = np.ones(lat + 1, dtype=np.float64)
        self.q_idx = np.zeros(lat + 1, dtype=np.int64)
        self.box = np.ones(lat, dtype=np.float64)
        self.istate = np.zeros(5, dtype=np.int64)
        self.fstate = np.array([1.0, float(lat)], dtype=np.float64)

    def process_into(self, x: np.ndarray, out: np.ndarray, gain_out: np.ndarray | None = None) -> None:
        """Limit ``x`` (frames, 2) into ``out`` (same shape, may be ``x``); optionally meter the gain."""
        limiter_block(
            x,
            out,
            self.ceiling,
            self.release_coeff,
            self.delay,
            self.q_val,
            self.q_idx,
            self.box,
            self.istate,
            self.fstate,
            self._no_meter if gain_out is None else gain_out,
        )

    def process(self, x: np.ndarray) -> np.ndarray:
        """Limit ``x`` and return a new float32 block."""
        out = np.empty((x.shape[0], 2), dtype=np.float32)
        self.process_into(x, out)
        return out
