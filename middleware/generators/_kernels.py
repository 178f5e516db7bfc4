"""Numba kernels shared by the generators.

Every per-sample loop of the generators lives here. The kernels carry their state in small numpy
arrays owned by the generator, so a block rendered in one call and the same frames rendered in
many smaller calls run the exact same arithmetic: that is what makes the output independent of how
the host splits its blocks. No kernel draws random numbers; the generators draw them with numpy's
PCG64 in vectorised chunks and hand them in.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

TWO_PI = 2.0 * math.pi

# ----------------------------------------------------------------------------------------------
# Grain table layout. A grain is one damped, optionally gliding sinusoid plus one filtered noise
# burst; rain drops, bubbles, crackles, footstep grains, impact modes, bird syllables and cricket
# pulses are all grains with different fields.
G_AMP = 0  # overall linear amplitude
G_PANL = 1  # left gain
G_PANR = 2  # right gain
G_W = 3  # start frequency, radians per sample
G_GLIDE = 4  # per-sample frequency multiplier (>1 rises, as a bubble's pitch does)
G_VIBW = 5  # vibrato rate, radians per sample
G_VIBD = 6  # vibrato depth, fraction of the frequency
G_ATTACK = 7  # linear attack length in samples (>= 1)
G_DECAY = 8  # per-sample multiplier of the tone envelope
G_TONE = 9  # tone amplitude
G_NOISE = 10  # noise amplitude
G_NDECAY = 11  # per-sample multiplier of the noise envelope
G_NG = 12  # noise SVF g = tan(pi fc / sr)
G_NK = 13  # noise SVF damping k = 1 / Q
G_NLP = 14  # weight of the low-pass output
G_NBP = 15  # weight of the (unity-peak) band-pass output
G_NOFF = 16  # offset into the noise table
G_LEN = 17  # length in samples
G_AMW = 18  # tremolo rate, radians per sample
G_AMD = 19  # tremolo depth 0..1
G_FIELDS = 20

S_POS = 0  # samples since onset (negative while waiting)
S_PHASE = 1
S_W = 2
S_ENV = 3
S_NENV = 4
S_IC1 = 5
S_IC2 = 6
S_VPH = 7
S_AMPH = 8
S_RE = 9  # phasor of a fixed-frequency tone (cheaper than sin per sample)
S_IM = 10
S_FIELDS = 11


@njit(cache=True, nogil=True)
def smooth_params(cur: np.ndarray, target: np.ndarray, coef: float, n: int) -> np.ndarray:
    """One-pole glide of every parameter towards its target, one row per sample.

    Live parameter changes pass through this so a jump in speed or rpm never clicks.
    """
    p = cur.shape[0]
    out = np.empty((n, p))
    for i in range(n):
        for j in range(p):
            cur[j] += coef * (target[j] - cur[j])
            out[i, j] = cur[j]
    return out


@njit(cache=True, nogil=True)
def phase_events(rate: np.ndarray, state: np.ndarray) -> np.ndarray:
    """Offsets where a phase accumulator driven by ``rate`` (cycles per sample) wraps.

    Used for periodic events (footsteps at a pace, engine firings) so the event times depend on
    absolute sample positions only. ``state[0]`` holds the phase in [0, 1).
    """
    n = rate.shape[0]
    hits = np.empty(n, dtype=np.int64)
    m = 0
    ph = state[0]
    for i in range(n):
        ph += rate[i]
        if ph >= 1.0:
            ph -= 1.0
            if ph >= 1.0:
                ph = 0.0
            hits[m] = i
            m += 1
    state[0] = ph
    return hits[:m]


@njit(cache=True, nogil=True)
def _grains_range(
    table: np.ndarray,
    state: np.ndarray,
    end_frame: np.ndarray,
    t0: int,
    i0: int,
    i1: int,
    noise: np.ndarray,
    out: np.ndarray,
) -> None:
    """Add every live grain into ``out[i0:i1]``; ``t0`` is the absolute frame of ``out[i0]``."""
    mask = noise.shape[0] - 1
    for s in range(table.shape[0]):
        if end_frame[s] <= t0:
            continue
        pos = state[s, S_POS]
        length = table[s, G_LEN]
        amp = table[s, G_AMP]
        gl = table[s, G_PANL] * amp
        gr = table[s, G_PANR] * amp
        glide = table[s, G_GLIDE]
        vibw = table[s, G_VIBW]
        vibd = table[s, G_VIBD]
        attack = table[s, G_ATTACK]
        decay = table[s, G_DECAY]
        tone = table[s, G_TONE]
        namp = table[s, G_NOISE]
        ndecay = table[s, G_NDECAY]
        g = table[s, G_NG]
        k = table[s, G_NK]
        clp = table[s, G_NLP]
        cbp = table[s, G_NBP] * k
        noff = int(table[s, G_NOFF])
        amw = table[s, G_AMW]
        amd = table[s, G_AMD]
        a1 = 1.0 / (1.0 + g * (g + k))
        a2 = g * a1
        a3 = g * a2
        ph = state[s, S_PHASE]
        w = state[s, S_W]
        env = state[s, S_ENV]
        nenv = state[s, S_NENV]
        ic1 = state[s, S_IC1]
        ic2 = state[s, S_IC2]
        vph = state[s, S_VPH]
        amph = state[s, S_AMPH]
        re = state[s, S_RE]
        im = state[s, S_IM]
        rotate = glide == 1.0 and vibd == 0.0
        cw = math.cos(w)
        sw = math.sin(w)
        for i in range(i0, i1):
            if pos >= length:
                break
            att = (pos + 1.0) / attack
            if att > 1.0:
                att = 1.0
            y = 0.0
            if tone != 0.0 and rotate:
                y += tone * env * im
                t = re * cw - im * sw
                im = re * sw + im * cw
                re = t
                env *= decay
            elif tone != 0.0:
                y += tone * env * math.sin(ph)
                if vibd != 0.0:
                    ph += w * (1.0 + vibd * math.sin(vph))
                    vph += vibw
                else:
                    ph += w
                if ph > TWO_PI:
                    ph -= TWO_PI
                w *= glide
                env *= decay
            if namp != 0.0:
                x = noise[(noff + int(pos)) & mask]
                v3 = x - ic2
                v1 = a1 * ic1 + a2 * v3
                v2 = ic2 + a2 * ic1 + a3 * v3
                ic1 = 2.0 * v1 - ic1
                ic2 = 2.0 * v2 - ic2
                y += namp * nenv * (clp * v2 + cbp * v1)
                nenv *= ndecay
            if amd != 0.0:
                y *= 1.0 - amd * (0.5 - 0.5 * math.cos(amph))
                amph += amw
            y *= att
            out[i, 0] += gl * y
            out[i, 1] += gr * y
            pos += 1.0
        state[s, S_POS] = pos
        state[s, S_PHASE] = ph
        state[s, S_W] = w
        state[s, S_ENV] = env
        state[s, S_NENV] = nenv
        state[s, S_IC1] = ic1
        state[s, S_IC2] = ic2
        state[s, S_VPH] = vph
        state[s, S_AMPH] = amph
        state[s, S_RE] = re
        state[s, S_IM] = im


@njit(cache=True, nogil=True)
def grains_process(
    table: np.ndarray,
    state: np.ndarray,
    end_frame: np.ndarray,
    onset: np.ndarray,
    fields: np.ndarray,
    block_start: int,
    noise: np.ndarray,
    out: np.ndarray,
) -> int:
    """Render one block of grains, starting each new grain exactly at its onset.

    ``onset`` holds absolute frames inside this block, sorted. Live grains are rendered up to each
    onset before the new grain takes the lowest slot whose grain has ended, so slot choice and
    summation order depend on absolute frames only, never on the host's block split. Returns the
    number of grains dropped because every slot was busy.
    """
    n = out.shape[0]
    nslots = table.shape[0]
    dropped = 0
    cursor = 0
    for e in range(onset.shape[0]):
        t = onset[e]
        off = t - block_start
        if off > cursor:
            _grains_range(table, state, end_frame, block_start + cursor, cursor, off, noise, out)
            cursor = off
        slot = -1
        for s in range(nslots):
            if end_frame[s] <= t:
                slot = s
                break
        if slot < 0:
            dropped += 1
            continue
        for f in range(G_FIELDS):
            table[slot, f] = fields[e, f]
        end_frame[slot] = t + int(fields[e, G_LEN])
        state[slot, S_POS] = 0.0
        state[slot, S_PHASE] = 0.0
        state[slot, S_W] = fields[e, G_W]
        state[slot, S_ENV] = 1.0
        state[slot, S_NENV] = 1.0
        state[slot, S_IC1] = 0.0
        state[slot, S_IC2] = 0.0
        state[slot, S_VPH] = 0.0
        state[slot, S_AMPH] = 0.0
        state[slot, S_RE] = 1.0
        state[slot, S_IM] = 0.0
    if cursor < n:
        _grains_range(table, state, end_frame, block_start + cursor, cursor, n, noise, out)
    return dropped


@njit(cache=True, nogil=True)
def svf_noise(
    x: np.ndarray, fc: np.ndarray, k: float, gain: np.ndarray, sr: float, st: np.ndarray, mode: int
) -> np.ndarray:
    """Time-varying TPT state-variable filter over noise; mode 0 low-pass, 1 unity-peak band-pass.

    ``x`` is (n, c); ``fc`` and ``gain`` are per-sample (n,); ``st`` (c, 2) carries the integrators.
    The coefficient follows ``fc`` every sample, which is what lets wind howl up smoothly.
    """
    n, c = x.shape
    y = np.empty((n, c))
    for i in range(n):
        f = fc[i]
        if f < 10.0:
            f = 10.0
        if f > 0.45 * sr:
            f = 0.45 * sr
        g = math.tan(math.pi * f / sr)
        a1 = 1.0 / (1.0 + g * (g + k))
        a2 = g * a1
        a3 = g * a2
        for ch in range(c):
            ic1 = st[ch, 0]
            ic2 = st[ch, 1]
            v3 = x[i, ch] - ic2
            v1 = a1 * ic1 + a2 * v3
            v2 = ic2 + a2 * ic1 + a3 * v3
            st[ch, 0] = 2.0 * v1 - ic1
            st[ch, 1] = 2.0 * v2 - ic2
            if mode == 0:
                y[i, ch] = gain[i] * v2
            else:
                y[i, ch] = gain[i] * k * v1
    return y


@njit(cache=True, nogil=True)
def onepole_lp(x: np.ndarray, a: float, st: np.ndarray) -> np.ndarray:
    """y += a (x - y) per channel; the cheap smoother behind brown noise, gusts and flicker."""
    n, c = x.shape
    y = np.empty((n, c))
    for i in range(n):
        for ch in range(c):
            st[ch] += a * (x[i, ch] - st[ch])
            y[i, ch] = st[ch]
    return y


@njit(cache=True, nogil=True)
def leaky_integrate(x: np.ndarray, leak: float, st: np.ndarray) -> np.ndarray:
    """Brown(ian) noise: a leaky integral of white noise, the roar under fire and water."""
    n, c = x.shape
    y = np.empty((n, c))
    for i in range(n):
        for ch in range(c):
            st[ch] = leak * st[ch] + x[i, ch]
            y[i, ch] = st[ch]
    return y


@njit(cache=True, nogil=True)
def engine_osc(
    f0: np.ndarray, bright: np.ndarray, jitter: np.ndarray, sr: float, st: np.ndarray
) -> np.ndarray:
    """Band-limited harmonic series of the firing frequency, amplitudes r**k (Moorer's closed form).

    sum_{k=1..N} r^k sin(k t) costs four sines per sample however many harmonics there are; N is
    chosen so the top harmonic stays under 0.45 sr. Each firing cycle takes a fresh amplitude from
    ``jitter`` (cycle-to-cycle combustion variability). ``st``: [phase, cycle amplitude].
    """
    n = f0.shape[0]
    y = np.empty(n)
    ph = st[0]
    camp = st[1]
    for i in range(n):
        f = f0[i]
        r = bright[i]
        w = TWO_PI * f / sr
        nh = int(0.45 * sr / f)
        if nh < 1:
            nh = 1
        sn = math.sin(ph)
        cs = math.cos(ph)
        rn1 = r ** (nh + 1)
        num = r * sn - rn1 * math.sin((nh + 1) * ph) + rn1 * r * math.sin(nh * ph)
        den = 1.0 - 2.0 * r * cs + r * r
        v = num / den * (1.0 - r)
        y[i] = camp * v
        ph += w
        if ph > TWO_PI:
            ph -= TWO_PI
            camp = jitter[i]
    st[0] = ph
    st[1] = camp
    return y
