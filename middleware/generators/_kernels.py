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

S_POS = 0  # samples since onset (negative: still waiting for it)
S_SPARE = 1  # unused
S_W = 2
S_ENV = 3
S_NENV = 4
S_IC1 = 5
S_IC2 = 6
S_VPH = 7
S_AMPH = 8
S_RE = 9  # phasor of a fixed-frequency tone (cheaper than sin per sample)
S_IM = 10
S_CW = 11  # current rotation (cos, sin of the current frequency)
S_SW = 12
S_FIELDS = 13

REFRESH = 16  # samples between frequency refreshes of gliding grains (power of two)
REFRESH_VIB = 1  # vibrato (trills up to 200 Hz) refreshes every sample: steps leave sideband images
REST = 512  # frames a slot rests after its grain ends before it is preferred for a new grain
RELEASE = 256.0  # samples of linear fade at the end of a grain (at most a quarter of its length)


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
        rel = min(RELEASE, 0.25 * length)
        w = state[s, S_W]
        env = state[s, S_ENV]
        nenv = state[s, S_NENV]
        ic1 = state[s, S_IC1]
        ic2 = state[s, S_IC2]
        vph = state[s, S_VPH]
        amph = state[s, S_AMPH]
        re = state[s, S_RE]
        im = state[s, S_IM]
        # The tone is a unit phasor rotated by the current frequency. Gliding grains refresh the
        # rotation every REFRESH samples of their own time (never of block time, so the result does
        # not depend on the block split): a sin/cos pair per 16 samples instead of one sin per
        # sample, with frequency steps far below audibility. Vibrato (fast trills, up to 200 Hz)
        # refreshes every REFRESH_VIB samples (1): coarser steps leave images at sr / REFRESH_VIB.
        moving = glide != 1.0 or vibd != 0.0
        every = REFRESH_VIB - 1 if vibd != 0.0 else REFRESH - 1
        cw = state[s, S_CW]
        sw = state[s, S_SW]
        p = int(pos)
        first = 0
        if p < 0:  # starts later in this range (or after it)
            if -p >= i1 - i0:
                state[s, S_POS] = pos + (i1 - i0)
                continue
            first = -p
            p = 0
        ilen = int(length)
        nrun = min(i1 - i0 - first, ilen - p)
        inv_att = 1.0 / attack
        inv_rel = 1.0 / rel
        for j in range(nrun):
            y = 0.0
            if tone != 0.0:
                if moving and (p & every) == 0:
                    wv = w
                    if vibd != 0.0:
                        wv = w * (1.0 + vibd * math.sin(vph))
                    cw = math.cos(wv)
                    sw = math.sin(wv)
                    mag = 1.0 / math.sqrt(re * re + im * im)
                    re *= mag
                    im *= mag
                y += tone * env * im
                t = re * cw - im * sw
                im = re * sw + im * cw
                re = t
                if moving:
                    w *= glide
                    vph += vibw
                env *= decay
            if namp != 0.0:
                x = noise[(noff + p) & mask]
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
            if p + 1.0 < attack:
                y *= (p + 1.0) * inv_att  # linear attack
            left = ilen - p
            if left < rel:
                y *= left * inv_rel  # short release: a grain cut at -48 dB must not click
            i = i0 + first + j
            out[i, 0] += gl * y
            out[i, 1] += gr * y
            p += 1
        pos = float(p)
        state[s, S_POS] = pos
        state[s, S_W] = w
        state[s, S_ENV] = env
        state[s, S_NENV] = nenv
        state[s, S_IC1] = ic1
        state[s, S_IC2] = ic2
        state[s, S_VPH] = vph
        state[s, S_AMPH] = amph
        state[s, S_RE] = re
        state[s, S_IM] = im
        state[s, S_CW] = cw
        state[s, S_SW] = sw


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

    ``onset`` holds absolute frames inside this block, sorted. A new grain takes the lowest slot
    whose grain ended at least REST frames before its onset (else the lowest that has ended at
    all), a choice that depends on absolute frames only. Grains are rendered in segments, every
    live grain in slot order, so each output sample sums the same grains in the same order however
    the host splits its blocks: the output is bit-identical for any split. A new segment is only
    cut when the chosen slot's old grain still has unrendered samples (rare: rested slots have
    none for blocks up to REST frames); until its onset a new grain waits (negative position).
    Returns the number of grains dropped because every slot was busy.
    """
    if onset.shape[0] == 0 and end_frame.max() <= block_start:
        return 0  # nothing sounding, nothing starting: skip the slot scan
    n = out.shape[0]
    nslots = table.shape[0]
    dropped = 0
    cursor = 0
    for e in range(onset.shape[0]):
        t = onset[e]
        off = t - block_start
        slot = -1
        for s in range(nslots):
            if end_frame[s] <= t - REST:
                slot = s
                break
        if slot < 0:
            for s in range(nslots):
                if end_frame[s] <= t:
                    slot = s
                    break
        if slot < 0:
            dropped += 1
            continue
        if end_frame[slot] > block_start + cursor and off > cursor:
            # the old grain still sounds in the unrendered part: bring every grain up to `off`
            _grains_range(table, state, end_frame, block_start + cursor, cursor, off, noise, out)
            cursor = off
        for f in range(G_FIELDS):
            table[slot, f] = fields[e, f]
        end_frame[slot] = t + int(fields[e, G_LEN])
        state[slot, S_POS] = float(block_start + cursor - t)  # <= 0: frames to wait
        state[slot, S_W] = fields[e, G_W]
        state[slot, S_ENV] = 1.0
        state[slot, S_NENV] = 1.0
        state[slot, S_IC1] = 0.0
        state[slot, S_IC2] = 0.0
        state[slot, S_VPH] = 0.0
        state[slot, S_AMPH] = 0.0
        state[slot, S_RE] = 1.0
        state[slot, S_IM] = 0.0
        state[slot, S_CW] = math.cos(fields[e, G_W])
        state[slot, S_SW] = math.sin(fields[e, G_W])
    if cursor < n:
        _grains_range(table, state, end_frame, block_start + cursor, cursor, n, noise, out)
    return dropped


@njit(cache=True, nogil=True)
def tan_pi(x: float) -> float:
    """tan(pi x), x = fc / sr clamped to 0.45, by a Pade approximant (0.5 % error below 0.38).

    Filter coefficients follow their cutoff every sample; the exact tan would dominate the cost.
    """
    x = min(max(x, 1e-5), 0.45)  # cutoffs above 0.45 sr are clamped (they would go unstable)
    a = math.pi * x
    a2 = a * a
    return a * (15.0 - a2) / (15.0 - 6.0 * a2)


@njit(cache=True, nogil=True)
def fill_grains(cols: np.ndarray, m: int, sr: float, max_len: float, auto_len: bool) -> np.ndarray:
    """Grain rows from physical units; ``cols`` (19, m), one row per input of ``base.make_grains``
    in its argument order. One compiled call keeps a block with events from paying for twenty
    small numpy operations."""
    f = np.zeros((m, G_FIELDS))
    log_milli = math.log(1e-3)
    for e in range(m):
        v = cols[:, e]
        f[e, G_AMP] = v[0]
        p = v[1]
        if p < -1.0:
            p = -1.0
        if p > 1.0:
            p = 1.0
        ang = (p + 1.0) * (math.pi / 4.0)
        f[e, G_PANL] = math.cos(ang)
        f[e, G_PANR] = math.sin(ang)
        fr = v[2]
        if fr > 0.45 * sr:
            fr = 0.45 * sr
        f[e, G_W] = TWO_PI * fr / sr
        f[e, G_GLIDE] = v[3]
        f[e, G_VIBW] = TWO_PI * v[4] / sr
        f[e, G_VIBD] = v[5]
        att = v[6] * sr
        if att < 1.0:
            att = 1.0
        f[e, G_ATTACK] = att
        t60 = max(v[8], 1e-4)
        f[e, G_DECAY] = math.exp(log_milli / (t60 * sr))
        f[e, G_TONE] = v[7]
        f[e, G_NOISE] = v[9]
        n60 = max(v[10], 1e-4)
        f[e, G_NDECAY] = math.exp(log_milli / (n60 * sr))
        fc = min(max(v[11], 20.0), 0.45 * sr)
        f[e, G_NG] = math.tan(math.pi * fc / sr)
        f[e, G_NK] = 1.0 / max(v[12], 0.05)
        f[e, G_NLP] = v[13]
        f[e, G_NBP] = v[14]
        f[e, G_NOFF] = v[15]
        f[e, G_AMW] = TWO_PI * v[16] / sr
        f[e, G_AMD] = v[17]
        if auto_len:
            longest = 0.0
            if v[7] != 0.0:
                longest = t60
            if v[9] != 0.0 and n60 > longest:
                longest = n60
            ln = att + 0.8 * longest * sr  # cut near -48 dB: the rest is masked and costs time
        else:
            ln = v[18] * sr
        ln = min(max(ln, 1.0), max_len * sr)
        f[e, G_LEN] = math.ceil(ln)
    return f


@njit(cache=True, nogil=True)
def svf_step(st: np.ndarray, b: int, ch: int, x: float, g: float, k: float) -> tuple[float, float]:
    """One sample of TPT SVF ``b``, channel ``ch``; returns (band-pass, low-pass).

    Multiply the band-pass by ``k`` for unity peak gain; high-pass is x - k*bp - lp.
    """
    a1 = 1.0 / (1.0 + g * (g + k))
    a2 = g * a1
    a3 = g * a2
    ic1 = st[b, ch, 0]
    ic2 = st[b, ch, 1]
    v3 = x - ic2
    v1 = a1 * ic1 + a2 * v3
    v2 = ic2 + a2 * ic1 + a3 * v3
    st[b, ch, 0] = 2.0 * v1 - ic1
    st[b, ch, 1] = 2.0 * v2 - ic2
    return v1, v2


@njit(cache=True, nogil=True)
def set_grain(
    f: np.ndarray,
    e: int,
    sr: float,
    amp: float,
    pan: float,
    freq: float,
    glide: float,
    tone: float,
    tone_t60: float,
    noise: float,
    noise_t60: float,
    noise_fc: float,
    noise_q: float,
    noise_lp: float,
    noise_bp: float,
    noise_off: float,
    attack: float,
    tail: float = 0.8,
) -> None:
    """Write grain row ``e`` of ``f`` from physical units (the common subset of ``make_grains``).

    The grain lasts ``attack`` plus ``tail`` x the longer T60 (0.8: cut near -48 dB, then a short
    release); dense textures can pass less, since each grain is masked by its neighbours sooner.
    """
    for c in range(G_FIELDS):
        f[e, c] = 0.0
    f[e, G_AMP] = amp
    p = min(max(pan, -1.0), 1.0)
    ang = (p + 1.0) * (math.pi / 4.0)
    f[e, G_PANL] = math.cos(ang)
    f[e, G_PANR] = math.sin(ang)
    f[e, G_W] = TWO_PI * min(freq, 0.45 * sr) / sr
    f[e, G_GLIDE] = glide
    att = max(attack * sr, 1.0)
    f[e, G_ATTACK] = att
    t60 = max(tone_t60, 1e-4)
    n60 = max(noise_t60, 1e-4)
    f[e, G_DECAY] = math.exp(math.log(1e-3) / (t60 * sr))
    f[e, G_TONE] = tone
    f[e, G_NOISE] = noise
    f[e, G_NDECAY] = math.exp(math.log(1e-3) / (n60 * sr))
    fc = min(max(noise_fc, 20.0), 0.45 * sr)
    f[e, G_NG] = tan_pi(fc / sr)
    f[e, G_NK] = 1.0 / max(noise_q, 0.05)
    f[e, G_NLP] = noise_lp
    f[e, G_NBP] = noise_bp
    f[e, G_NOFF] = noise_off
    longest = 0.0
    if tone != 0.0:
        longest = t60
    if noise != 0.0 and n60 > longest:
        longest = n60
    f[e, G_LEN] = math.ceil(min(max(att + tail * longest * sr, 1.0), 4.0 * sr))
