"""The voice kernel: every playing voice of one block, in one compiled call.

Why numba: the per-sample work (interpolated read, two one-pole filters, ramped gains, bus
accumulation) is a serial recurrence per voice, which numpy cannot vectorise along time without
one Python-level operation per voice. Compiled, one call renders all voices, and ``nogil=True``
lets the device callback and the network thread run while it does (benchmarks/bench_engine.py).

The kernel never allocates, never raises, and treats every voice independently, so its output for a
voice does not depend on which other voices play.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .voices import (
    BIN,
    BL_A1,
    BL_B0,
    BL_B1,
    BR_A1,
    BR_B0,
    BR_B1,
    BUS,
    CH,
    DELAY_LEN,
    DL0,
    DL1,
    DPOS,
    DR0,
    DR1,
    ENDED,
    ENV,
    ENVSTEP,
    FREE,
    GL0,
    GL1,
    GR0,
    GR1,
    HPA0,
    HPA1,
    HPM0,
    HPM1,
    HPSL,
    HPSR,
    LE,
    LEN,
    LOOP,
    LPA0,
    LPA1,
    LPSL,
    LPSR,
    LS,
    MAX_SENDS,
    OFS,
    PLAYING,
    POS,
    RATE0,
    RATE1,
    RELEASE,
    SEND0,
    SHL_X,
    SHL_Y,
    SHR_X,
    SHR_Y,
    SND0,
    ST,
    START,
    STOP,
    VIRTUAL,
)

STOP_RELEASING = -2  # I[:, STOP] once the stop frame has passed and the release runs


@njit(cache=True, nogil=True, inline="always")
def _delay_read(delay, v, dpos, d):
    """Voice ``v``'s delay line read ``d`` (fractional) frames behind the write index, linearly."""
    rp = dpos - d
    if rp < 0.0:
        rp += DELAY_LEN
    k0 = int(rp)
    fk = rp - k0
    k1 = k0 + 1
    if k1 >= DELAY_LEN:
        k1 = 0
    return delay[v, k0] + fk * (delay[v, k1] - delay[v, k0])


GROUP = 16  # voices mixed side by side in the grouped path (independent recurrences overlap in the CPU)


@njit(cache=True, nogil=True, inline="always")
def _groupable(I, F, v, block_start, n):
    """A voice the grouped path can mix: plain mono playback, no envelope, stop, start or end here."""
    if I[v, ST] != PLAYING or I[v, CH] != 1 or I[v, BIN] == 1:
        return False
    if I[v, START] > block_start or I[v, STOP] != -1:
        return False
    if F[v, ENV] != 1.0 or F[v, ENVSTEP] != 0.0:
        return False
    for s in range(MAX_SENDS):
        if I[v, SEND0 + s] >= 0:
            return False
    rmax = max(F[v, RATE0], F[v, RATE1])
    le = I[v, LE]
    if I[v, LOOP] == 1:
        return le - I[v, LS] > 2.0 * rmax + 2.0
    return F[v, POS] + rmax * (n + 1) + 2.0 < le


# fastmath lets LLVM reassociate the per-lane sums (vectorising across lanes). Safe here: the body
# has no NaN/inf tests, bank samples are checked finite at load and every state stays finite.
@njit(cache=True, nogil=True, fastmath=True, inline="always")
def _group_body(I, F, data, ob, lanes, nl, n, with_hp, ramps, gain_ramps, wk, offw):
    """Mix up to GROUP plain mono voices of one bus, lane by lane inside each sample.

    ``ramps``: pitch, low-pass and gains ramp; ``gain_ramps``: only the gains do (a moving source,
    a gain or pan change: the common control load, kept nearly as cheap as a steady block).

    Each lane carries its own playhead, one-pole low-pass, (optionally) ramped high-pass mix and
    gains; lanes beyond ``nl`` are silent padding so the inner loop has a fixed trip count. Reads
    need no end-of-sample check: grouped one-shots cannot reach their end in this block, and the
    bank pads every sample with its own first frames, so a loop's interpolation wraps for free.
    """
    inv_n = 1.0 / n
    wk[:, :] = 0.0  # lane state lives in caller-owned scratch: no allocation per group
    off = offw
    off[:] = 0
    pos = wk[0]
    r0 = wk[1]
    dr = wk[2]
    le = wk[3]
    le[:] = 1e300
    span = wk[4]
    lpa0 = wk[5]
    lpa0[:] = 1.0
    dlpa = wk[6]
    lp = wk[7]
    hpa0 = wk[8]
    dhpa = wk[9]
    hpm0 = wk[10]
    dhpm = wk[11]
    hp = wk[12]
    gl0 = wk[13]
    dgl = wk[14]
    gr0 = wk[15]
    dgr = wk[16]
    lpc = wk[17]
    for k in range(nl):
        v = lanes[k]
        pos[k] = F[v, POS]
        r0[k] = F[v, RATE0]
        dr[k] = (F[v, RATE1] - F[v, RATE0]) * inv_n
        off[k] = I[v, OFS]
        le[k] = I[v, LE]
        span[k] = I[v, LE] - I[v, LS]
        lpa0[k] = F[v, LPA0]
        dlpa[k] = (F[v, LPA1] - F[v, LPA0]) * inv_n
        lp[k] = F[v, LPSL]
        gl0[k] = F[v, GL0]
        dgl[k] = (F[v, GL1] - F[v, GL0]) * inv_n
        gr0[k] = F[v, GR0]
        dgr[k] = (F[v, GR1] - F[v, GR0]) * inv_n
        if with_hp:
            hpa0[k] = F[v, HPA0]
            dhpa[k] = (F[v, HPA1] - F[v, HPA0]) * inv_n
            hpm0[k] = F[v, HPM0]
            dhpm[k] = (F[v, HPM1] - F[v, HPM0]) * inv_n
            hp[k] = F[v, HPSL] if (F[v, HPM0] > 0.0 or F[v, HPM1] == 0.0) else 0.0
    for k in range(nl, GROUP):
        off[k] = off[0]
    for k in range(GROUP):
        lpc[k] = 1.0 - lpa0[k]
    for i in range(n):
        t = i + 1.0
        al = 0.0
        ar = 0.0
        for k in range(GROUP):
            p = pos[k]
            idx = int(p)
            fr = p - idx
            a = data[off[k] + idx]
            x = a + fr * (data[off[k] + idx + 1] - a)
            if ramps:
                la = lpa0[k] + dlpa[k] * t
                y = (1.0 - la) * lp[k] + la * x
            else:
                y = lpc[k] * lp[k] + lpa0[k] * x
            lp[k] = y
            if with_hp:
                ha = hpa0[k] + dhpa[k] * t
                h = (1.0 - ha) * hp[k] + ha * y
                hp[k] = h
                y = y - (hpm0[k] + dhpm[k] * t) * h
            if ramps or gain_ramps:
                al += y * (gl0[k] + dgl[k] * t)
                ar += y * (gr0[k] + dgr[k] * t)
            else:
                al += y * gl0[k]
                ar += y * gr0[k]
            if ramps:
                p += r0[k] + dr[k] * t
            else:
                p += r0[k]
            p -= span[k] * (p >= le[k])
            pos[k] = p
        ob[i, 0] += al
        ob[i, 1] += ar
    for k in range(nl):
        v = lanes[k]
        F[v, POS] = pos[k]
        F[v, LPSL] = lp[k]
        F[v, LPSR] = lp[k]
        if with_hp:
            F[v, HPSL] = hp[k]
            F[v, HPSR] = hp[k]


@njit(cache=True, nogil=True, fastmath=True)
def _render_group(I, F, data, ob, lanes, nl, n, wk, offw):
    """Steady voices (nothing ramps in this block) with no high-pass: the common case, leanest code."""
    _group_body(I, F, data, ob, lanes, nl, n, False, False, False, wk, offw)


@njit(cache=True, nogil=True, fastmath=True)
def _render_group_gain_ramped(I, F, data, ob, lanes, nl, n, wk, offw):
    """Voices whose gains (gain, pan, distance) change in this block, but not pitch or low-pass."""
    _group_body(I, F, data, ob, lanes, nl, n, False, False, True, wk, offw)


@njit(cache=True, nogil=True, fastmath=True)
def _render_group_ramped(I, F, data, ob, lanes, nl, n, wk, offw):
    """Voices whose pitch or low-pass (and maybe gains) change in this block, no high-pass."""
    _group_body(I, F, data, ob, lanes, nl, n, False, True, True, wk, offw)


@njit(cache=True, nogil=True, fastmath=True)
def _render_group_hp(I, F, data, ob, lanes, nl, n, wk, offw):
    """Voices some of which use the high-pass (ramps included)."""
    _group_body(I, F, data, ob, lanes, nl, n, True, True, True, wk, offw)


N_KINDS = 4  # group bodies: steady, gains ramping, everything ramping, with high-pass


@njit(cache=True, nogil=True, inline="always")
def _group_kind(F, v):
    """0 steady, 1 gains ramp, 2 pitch or low-pass ramp too, 3 with high-pass: the group body a
    voice needs (each is compiled without the work the lower kinds do not need)."""
    if F[v, HPM0] > 0.0 or F[v, HPM1] > 0.0:
        return 3
    if F[v, RATE0] != F[v, RATE1] or F[v, LPA0] != F[v, LPA1]:
        return 2
    if F[v, GL0] != F[v, GL1] or F[v, GR0] != F[v, GR1]:
        return 1
    return 0


@njit(cache=True, nogil=True, fastmath={"contract"})
def render_voices(I, F, delay, data, out, scratch, block_start, n, lanes, mark):
    """Mix every non-free voice into ``out[bus]`` for frames [block_start, block_start + n).

    ``out`` is (n_buses, >= n, 2) float32 and is accumulated into (the caller zeroes it).
    ``scratch`` is (>= n, 2) float32 workspace for voices with sends.
    Returns the number of voices that ended in this block (their ``ENDED`` flag is set).
    """
    inv_n = 1.0 / n
    n_ended = 0
    # Pass 1: plain mono voices, grouped by (bus, kind of body), mixed GROUP at a time (the bulk of a
    # big mix). One scan assigns keys, a counting sort orders them into ``lanes``. ``lanes``
    # (>= 2 * voices) and ``mark`` (>= voices) are caller-owned scratch.
    n_bus = out.shape[0]
    nv = I.shape[0]
    keys = lanes[nv:]
    counts = np.zeros(N_KINDS * n_bus + 1, dtype=np.int64)
    for v in range(nv):
        mark[v] = 0
        keys[v] = -1
        if I[v, ST] != FREE and _groupable(I, F, v, block_start, n):
            key = N_KINDS * I[v, BUS] + _group_kind(F, v)
            keys[v] = key
            counts[key + 1] += 1
            mark[v] = 1
    for k in range(1, counts.shape[0]):
        counts[k] += counts[k - 1]
    fill = counts.copy()
    for v in range(nv):
        key = keys[v]
        if key >= 0:
            lanes[fill[key]] = v
            fill[key] += 1
    wk = np.empty((18, GROUP))
    offw = np.empty(GROUP, dtype=np.int64)
    for key in range(N_KINDS * n_bus):
        start = counts[key]
        stop = counts[key + 1]
        b = key // N_KINDS
        kind = key % N_KINDS
        while start < stop:
            nl = min(GROUP, stop - start)
            if kind == 0:
                _render_group(I, F, data, out[b], lanes[start:], nl, n, wk, offw)
            elif kind == 1:
                _render_group_gain_ramped(I, F, data, out[b], lanes[start:], nl, n, wk, offw)
            elif kind == 2:
                _render_group_ramped(I, F, data, out[b], lanes[start:], nl, n, wk, offw)
            else:
                _render_group_hp(I, F, data, out[b], lanes[start:], nl, n, wk, offw)
            start += nl
    # Pass 2: every other voice, one at a time, with the full feature set.
    for v in range(I.shape[0]):
        st = I[v, ST]
        if st == FREE or mark[v] == 1:
            continue
        i0 = I[v, START] - block_start
        if i0 >= n:
            continue
        if i0 < 0:
            i0 = 0
        stop = I[v, STOP]
        i_stop = -1
        if stop >= 0:
            i_stop = stop - block_start
            if i_stop < i0:
                i_stop = i0
            if i_stop >= n:
                i_stop = -1
        releasing = stop == STOP_RELEASING

        pos = F[v, POS]
        r0 = F[v, RATE0]
        dr = (F[v, RATE1] - r0) * inv_n
        env = F[v, ENV]
        env_step = F[v, ENVSTEP]
        loop = I[v, LOOP]
        ls = I[v, LS]
        le = I[v, LE]
        ended = False

        if st == VIRTUAL:
            # Not rendered, but time goes on: playhead, fades and scheduled stops advance.
            m = n - i0
            rate = r0 + dr * 0.5 * (i0 + n)
            if i_stop >= 0 or releasing:
                ended = True
            else:
                env += env_step * m
                if env >= 1.0:
                    env = 1.0
                    env_step = 0.0
                pos += rate * m
                if pos >= le:
                    if loop:
                        span = le - ls
                        pos = ls + ((pos - ls) % span)
                    else:
                        ended = True
            F[v, POS] = pos
            F[v, ENV] = env
            F[v, ENVSTEP] = env_step
            if ended:
                I[v, ST] = FREE
                I[v, ENDED] = 1
                n_ended += 1
            continue

        off = I[v, OFS]
        ch = I[v, CH]
        bus = I[v, BUS]
        length = I[v, LEN]
        gl0 = F[v, GL0]
        dgl = (F[v, GL1] - gl0) * inv_n
        gr0 = F[v, GR0]
        dgr = (F[v, GR1] - gr0) * inv_n
        lpa0 = F[v, LPA0]
        dlpa = (F[v, LPA1] - lpa0) * inv_n
        hpa0 = F[v, HPA0]
        dhpa = (F[v, HPA1] - hpa0) * inv_n
        hpm0 = F[v, HPM0]
        dhpm = (F[v, HPM1] - hpm0) * inv_n
        lp_on = not (lpa0 == 1.0 and F[v, LPA1] == 1.0)
        hp_on = hpm0 > 0.0 or F[v, HPM1] > 0.0
        lpl = F[v, LPSL]
        lpr = F[v, LPSR]
        hpl = F[v, HPSL]
        hpr = F[v, HPSR]
        if hp_on and hpm0 == 0.0:  # switching on: start the filter from rest
            hpl = 0.0
            hpr = 0.0
        has_sends = False
        for s in range(MAX_SENDS):
            if I[v, SEND0 + s] >= 0:
                has_sends = True
        binaural = I[v, BIN] == 1
        dpos = I[v, DPOS]
        dl0 = F[v, DL0]
        ddl = (F[v, DL1] - dl0) * inv_n
        dr0 = F[v, DR0]
        ddr = (F[v, DR1] - dr0) * inv_n
        blb0 = F[v, BL_B0]
        blb1 = F[v, BL_B1]
        bla1 = F[v, BL_A1]
        brb0 = F[v, BR_B0]
        brb1 = F[v, BR_B1]
        bra1 = F[v, BR_A1]
        shlx = F[v, SHL_X]
        shly = F[v, SHL_Y]
        shrx = F[v, SHR_X]
        shry = F[v, SHR_Y]
        last = i0
        gstart = i0

        if not binaural and env == 1.0 and env_step == 0.0 and i_stop < 0 and not releasing:
            # Fast path (the common case): no envelope, no stop, no binaural in this block. Mono
            # sources filter one signal and pan it; filters that are off cost nothing.
            ob = out[bus]
            for i in range(i0, n):
                t = i + 1.0
                idx = int(pos)
                fr = pos - idx
                j = idx + 1
                if j >= le:
                    j = ls if loop else idx
                if ch == 1:
                    a = data[off + idx]
                    xl = a + fr * (data[off + j] - a)
                    if lp_on:
                        lpa = lpa0 + dlpa * t
                        lpl = (1.0 - lpa) * lpl + lpa * xl
                        xl = lpl
                    if hp_on:
                        hpa = hpa0 + dhpa * t
                        hpl = (1.0 - hpa) * hpl + hpa * xl
                        xl = xl - (hpm0 + dhpm * t) * hpl
                    ol = xl * (gl0 + dgl * t)
                    orr = xl * (gr0 + dgr * t)
                else:
                    a = data[off + 2 * idx]
                    xl = a + fr * (data[off + 2 * j] - a)
                    a = data[off + 2 * idx + 1]
                    xr = a + fr * (data[off + 2 * j + 1] - a)
                    if lp_on:
                        lpa = lpa0 + dlpa * t
                        lpc = 1.0 - lpa
                        lpl = lpc * lpl + lpa * xl
                        lpr = lpc * lpr + lpa * xr
                        xl = lpl
                        xr = lpr
                    if hp_on:
                        hpa = hpa0 + dhpa * t
                        hpc = 1.0 - hpa
                        hpl = hpc * hpl + hpa * xl
                        hpr = hpc * hpr + hpa * xr
                        hm = hpm0 + dhpm * t
                        xl = xl - hm * hpl
                        xr = xr - hm * hpr
                    ol = xl * (gl0 + dgl * t)
                    orr = xr * (gr0 + dgr * t)
                ob[i, 0] += ol
                ob[i, 1] += orr
                if has_sends:
                    scratch[i, 0] = ol
                    scratch[i, 1] = orr
                last = i + 1
                pos += r0 + dr * t
                if pos >= le:
                    if loop:
                        span = le - ls
                        while pos >= le:
                            pos -= span
                    elif pos >= length:
                        ended = True
                        break
            if ch == 1:
                lpr = lpl
                hpr = hpl
            gstart = n  # the general loop below has nothing left to do

        for i in range(gstart, n):
            if i == i_stop:
                rel = F[v, RELEASE]
                releasing = True
                if rel <= 1.0 or env <= 0.0:
                    ended = True
                    last = i
                    break
                env_step = -env / rel
            env += env_step
            if env >= 1.0:
                env = 1.0
                env_step = 0.0
            elif env <= 0.0:
                env = 0.0
                if releasing or env_step < 0.0:
                    ended = True
                    last = i
                    break
            t = i + 1.0
            # Interpolated read (linear); j is the next frame, wrapping inside a loop.
            idx = int(pos)
            fr = pos - idx
            j = idx + 1
            if j >= le:
                j = ls if loop else idx
            if ch == 1:
                a = data[off + idx]
                xl = a + fr * (data[off + j] - a)
                xr = xl
            else:
                a = data[off + 2 * idx]
                xl = a + fr * (data[off + 2 * j] - a)
                a = data[off + 2 * idx + 1]
                xr = a + fr * (data[off + 2 * j + 1] - a)
            # One-pole low-pass (a = 1 bypasses) then one-pole high-pass as x - lowpass(x).
            # Written as s = (1 - a) s + a x so the recurrence is one fused multiply-add long.
            lpa = lpa0 + dlpa * t
            lpc = 1.0 - lpa
            lpl = lpc * lpl + lpa * xl
            lpr = lpc * lpr + lpa * xr
            if hp_on:
                hpa = hpa0 + dhpa * t
                hpc = 1.0 - hpa
                hpl = hpc * hpl + hpa * lpl
                hpr = hpc * hpr + hpa * lpr
                hm = hpm0 + dhpm * t
                yl = (lpl - hm * hpl) * env
                yr = (lpr - hm * hpr) * env
            else:
                yl = lpl * env
                yr = lpr * env
            if binaural:
                mono = 0.5 * (yl + yr)
                delay[v, dpos] = mono
                # Far-ear delay by fractional read behind the write index.
                ul = _delay_read(delay, v, dpos, dl0 + ddl * t)
                ur = _delay_read(delay, v, dpos, dr0 + ddr * t)
                dpos += 1
                if dpos >= DELAY_LEN:
                    dpos = 0
                # Head-shadow one-pole/one-zero per ear.
                wl = blb0 * ul + blb1 * shlx - bla1 * shly
                shlx = ul
                shly = wl
                wr = brb0 * ur + brb1 * shrx - bra1 * shry
                shrx = ur
                shry = wr
                yl = wl
                yr = wr
            ol = yl * (gl0 + dgl * t)
            orr = yr * (gr0 + dgr * t)
            out[bus, i, 0] += ol
            out[bus, i, 1] += orr
            if has_sends:
                scratch[i, 0] = ol
                scratch[i, 1] = orr
            last = i + 1
            pos += r0 + dr * t
            if pos >= le:
                if loop:
                    span = le - ls
                    while pos >= le:
                        pos -= span
                else:
                    if pos >= length:
                        ended = True
                        break

        if has_sends and last > i0:
            for s in range(MAX_SENDS):
                sb = I[v, SEND0 + s]
                if sb < 0:
                    continue
                g0 = F[v, SND0 + 2 * s]
                dg = (F[v, SND0 + 2 * s + 1] - g0) * inv_n
                for i in range(i0, last):
                    g = g0 + dg * (i + 1.0)
                    out[sb, i, 0] += scratch[i, 0] * g
                    out[sb, i, 1] += scratch[i, 1] * g

        F[v, POS] = pos
        F[v, ENV] = env
        F[v, ENVSTEP] = env_step
        F[v, LPSL] = lpl
        F[v, LPSR] = lpr
        F[v, HPSL] = hpl
        F[v, HPSR] = hpr
        F[v, SHL_X] = shlx
        F[v, SHL_Y] = shly
        F[v, SHR_X] = shrx
        F[v, SHR_Y] = shry
        I[v, DPOS] = dpos
        if releasing:
            I[v, STOP] = STOP_RELEASING
        if ended:
            I[v, ST] = FREE
            I[v, ENDED] = 1
            n_ended += 1
    return n_ended


@njit(cache=True, nogil=True)
def commit_ramps(I, F, n_sends):
    """After a block: every ramp's end becomes the next block's start."""
    for v in range(I.shape[0]):
        if I[v, ST] == FREE:
            continue
        F[v, RATE0] = F[v, RATE1]
        F[v, GL0] = F[v, GL1]
        F[v, GR0] = F[v, GR1]
        F[v, LPA0] = F[v, LPA1]
        F[v, HPA0] = F[v, HPA1]
        F[v, HPM0] = F[v, HPM1]
        F[v, DL0] = F[v, DL1]
        F[v, DR0] = F[v, DR1]
        for s in range(n_sends):
            F[v, SND0 + 2 * s] = F[v, SND0 + 2 * s + 1]


def zero_state(F: np.ndarray, I: np.ndarray, delay: np.ndarray, v: int) -> None:
    """Reset a slot's render state before a new voice uses it (control side, not the kernel)."""
    F[v, :] = 0.0
    delay[v, :] = 0.0
    I[v, ENDED] = 0
    I[v, DPOS] = 0
