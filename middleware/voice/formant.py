"""A small Klatt-style formant synthesiser: phoneme tokens -> parameter tracks -> audio.

Source-filter model, as in Klatt (1980) and SoLoud's speech source, reduced to what a game line needs:

* voicing: a Rosenberg glottal-flow pulse per period (smooth opening, faster closing; the closure is
  the main excitation, as in real voices) and a first difference (lip radiation, +6 dB/oct), plus
  aspiration noise gated by the glottal cycle (breathiness) and a plain aspiration source for /h/ and
  stop releases;
* a cascade of five formant resonators (F1-F3 from the phoneme tracks, F4/F5 fixed), Klatt's
  unity-DC-gain form ``y = A x + B y1 + C y2`` with coefficients recomputed every sample, so
  formant glides are smooth;
* a parallel frication branch: noise through a constant-peak band-pass at the fricative's centre.

Tracks are breakpoint lists interpolated to the sample grid (targets held over the middle of each
phoneme, linear transitions between: crude coarticulation). The per-sample work is one numba kernel.
Deterministic: noise comes from a seeded generator, so a line renders identically every time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from .lts import Token
from .phonemes import AFFRIC, APPROX, ASPIR, DIPHTHONG, FRIC, NASAL, PAUSE, PHONEMES, STOP, VOWEL

ENGINE_NAME = "formant"
ENGINE_VERSION = "1.1"  # bump whenever a line would sound different (synth or preset): the cache key


@dataclass(frozen=True)
class VoiceParams:
    """What a character preset asks of the synthesiser (independent of any effect)."""

    f0: float = 120.0  # mean pitch, Hz
    intonation: float = 1.0  # 0 = monotone, 1 = normal declination and accents
    formant_scale: float = 1.0  # vocal-tract length: < 1 bigger creature, > 1 smaller
    rate: float = 1.0  # speaking rate multiplier
    breathiness: float = 0.05  # 0..1 aspiration mixed into voicing
    voicing: float = 1.0  # 0 = whisper
    jitter: float = 0.005  # cycle-to-cycle pitch perturbation (fraction)
    vibrato_hz: float = 0.0
    vibrato_depth: float = 0.0  # fraction of f0


STATE_SIZE = 18
"""The kernel's state between slices: phase, previous flow, 5x2 resonator memories, 4 frication
memories, glottal cycle count, period scale."""


def _new_state() -> np.ndarray:
    state = np.zeros(STATE_SIZE)
    state[17] = 1.0  # period scale
    return state


@njit(cache=True, nogil=True)
def _synth_kernel(
    f0, av, ah, af, f1, f2, f3, f4, f5, bwscale, ffric, bwfric, noise, jit, breath, sr, state, out
):
    """Render one slice of the tracks (per-sample float64 arrays of equal length, ``noise`` too) into
    ``out``, continuing from ``state`` and leaving it where the slice ends: a line rendered slice
    by slice is the same, sample for sample, as one rendered whole."""
    n = f0.shape[0]
    t = 1.0 / sr
    phase = state[0]
    prev_flow = state[1]
    s = np.empty((5, 2))  # cascade resonator memories
    for k in range(5):
        s[k, 0] = state[2 + 2 * k]
        s[k, 1] = state[3 + 2 * k]
    fx1 = state[12]
    fx2 = state[13]
    fy1 = state[14]
    fy2 = state[15]
    cyc = int(state[16])
    period_scale = state[17]
    for i in range(n):
        phase += f0[i] * period_scale * t
        if phase >= 1.0:
            phase -= 1.0
            cyc += 1
            period_scale = 1.0 + jit[cyc % jit.shape[0]]
        # Rosenberg glottal flow: opening 0..0.4 of the period, closing 0.4..0.56, closed after
        if phase < 0.4:
            flow = 0.5 * (1.0 - math.cos(math.pi * phase / 0.4))
        elif phase < 0.56:
            flow = math.cos(0.5 * math.pi * (phase - 0.4) / 0.16)
        else:
            flow = 0.0
        glottal = (flow - prev_flow) * 8.0  # radiation: first difference of the flow
        prev_flow = flow
        nz = noise[i]
        open_phase = 1.0 if phase < 0.5 else 0.3
        v = av[i] * (glottal + breath * nz * open_phase * 0.5) + ah[i] * nz * 0.5
        # cascade F1..F5
        for k in range(5):
            if k == 0:
                fk = f1[i]
            elif k == 1:
                fk = f2[i]
            elif k == 2:
                fk = f3[i]
            elif k == 3:
                fk = f4[i]
            else:
                fk = f5[i]
            if fk >= 0.45 * sr:
                continue
            bw = (50.0 + 0.06 * fk) * bwscale[i]
            c = -math.exp(-2.0 * math.pi * bw * t)
            b = 2.0 * math.exp(-math.pi * bw * t) * math.cos(2.0 * math.pi * fk * t)
            a = 1.0 - b - c
            y = a * v + b * s[k, 0] + c * s[k, 1]
            s[k, 1] = s[k, 0]
            s[k, 0] = y
            v = y
        # frication: constant-peak band-pass (RBJ) on noise
        fr = 0.0
        if af[i] > 0.0 or fy1 != 0.0 or fy2 != 0.0:
            w0 = 2.0 * math.pi * min(ffric[i], 0.45 * sr) * t
            alpha = math.sin(w0) * bwfric[i] / (2.0 * max(ffric[i], 1.0))
            a0 = 1.0 + alpha
            x0 = af[i] * nz
            fr = (alpha * x0 - alpha * fx2 + 2.0 * math.cos(w0) * fy1 - (1.0 - alpha) * fy2) / a0
            if abs(fr) < 1e-30:
                fr = 0.0
            fx2 = fx1
            fx1 = x0
            fy2 = fy1
            fy1 = fr
        out[i] = v + fr
    state[0] = phase
    state[1] = prev_flow
    for k in range(5):
        state[2 + 2 * k] = s[k, 0]
        state[3 + 2 * k] = s[k, 1]
    state[12] = fx1
    state[13] = fx2
    state[14] = fy1
    state[15] = fy2
    state[16] = cyc
    state[17] = period_scale


def _durations(tokens: list[Token], rate: float) -> np.ndarray:
    d = np.empty(len(tokens))
    for i, tok in enumerate(tokens):
        p = PHONEMES[tok.ph]
        ms = p.dur
        if p.kind in (VOWEL, DIPHTHONG):
            ms *= 1.25 if tok.stress else 0.8
        if tok.final:
            ms *= 1.45
        d[i] = ms / rate
    return d


SLICE = 1 << 15
"""Samples rendered at a time (0.68 s at 48 kHz): per-sample tracks exist for one slice only, so a
line's working memory is its output and its noise (16 bytes a sample) plus a few MB, not ~120 bytes
a sample (1.3 GB for the longest line)."""


def build_tracks(tokens: list[Token], vp: VoiceParams, sr: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Per-sample parameter tracks for the kernel, for the whole line (exposed for tests and plots)."""
    n, points = _breakpoints(tokens, vp, sr)
    return _tracks(points, vp, sr, 0, n)


_Points = dict[str, tuple[np.ndarray, np.ndarray]]  # track -> (times in ms, values), sorted by time


def _breakpoints(tokens: list[Token], vp: VoiceParams, sr: int) -> tuple[int, _Points]:
    """The line's length in samples and each track's breakpoints (time in ms, value)."""
    dur = _durations(tokens, vp.rate)
    starts = np.concatenate([[0.0], np.cumsum(dur)[:-1]])
    total_ms = float(dur.sum()) + 60.0  # a short tail for the resonators to ring out
    n = int(total_ms * sr / 1000.0)
    fpts: list[list[tuple[float, float]]] = [[], [], []]
    av: list[tuple[float, float]] = [(0.0, 0.0)]
    ah: list[tuple[float, float]] = [(0.0, 0.0)]
    af: list[tuple[float, float]] = [(0.0, 0.0)]
    ffr: list[tuple[float, float]] = [(0.0, 4000.0)]
    bfr: list[tuple[float, float]] = [(0.0, 2000.0)]
    f0pts: list[tuple[float, float]] = []
    base = vp.f0
    rng_i = vp.intonation
    # phrase bounds for declination
    phrase_start = 0.0
    for i, tok in enumerate(tokens):
        p = PHONEMES[tok.ph]
        t0, d = starts[i], dur[i]
        t1 = t0 + d
        edge = min(12.0, 0.2 * d)
        if p.kind != PAUSE:
            if p.kind == DIPHTHONG and p.f_end is not None:
                for k in range(3):
                    fpts[k] += [(t0 + 0.25 * d, p.f[k]), (t0 + 0.8 * d, p.f_end[k])]
            elif p.kind != ASPIR:
                for k in range(3):
                    fpts[k] += [(t0 + 0.35 * d, p.f[k]), (t0 + 0.65 * d, p.f[k])]
        amp = p.amp * (1.0 if tok.stress or p.kind not in (VOWEL, DIPHTHONG) else 0.8)
        if p.kind in (VOWEL, DIPHTHONG, APPROX, NASAL):
            av += [(t0 + edge, amp), (t1 - edge, amp)]
            af += [(t0 + edge, 0.0), (t1 - edge, 0.0)]
            ah += [(t0 + edge, 0.0), (t1 - edge, 0.0)]
        elif p.kind == FRIC:
            av += [(t0 + edge, amp if p.voiced else 0.0), (t1 - edge, amp if p.voiced else 0.0)]
            af += [(t0 + edge, p.fric[2]), (t1 - edge, p.fric[2])]
            ah += [(t0 + edge, 0.0), (t1 - edge, 0.0)]
            ffr += [(t0, p.fric[0]), (t1 - 0.01, p.fric[0])]
            bfr += [(t0, p.fric[1]), (t1 - 0.01, p.fric[1])]
        elif p.kind in (STOP, AFFRIC):
            rel = t0 + (0.55 if p.kind == STOP else 0.35) * d
            bar = amp if p.voiced else 0.0
            av += [
                (t0 + 4.0, bar),
                (rel, bar),
                (rel + 1.0, bar * 0.5),
                (t1 - 2.0, 0.0 if not p.voiced else bar),
            ]
            burst_end = rel + (12.0 if p.kind == STOP else 0.55 * d)
            af += [
                (rel - 0.5, 0.0),
                (rel + 0.5, p.fric[2] * 1.3),
                (burst_end, p.fric[2] * 0.6),
                (burst_end + 3.0, 0.0),
            ]
            asp = 0.35 if not p.voiced and p.kind == STOP else 0.0
            ah += [(burst_end, 0.0), (burst_end + 3.0, asp), (t1, asp * 0.6)]
            ffr += [(t0, p.fric[0]), (t1 - 0.01, p.fric[0])]
            bfr += [(t0, p.fric[1]), (t1 - 0.01, p.fric[1])]
        elif p.kind == ASPIR:
            av += [(t0 + edge, 0.0), (t1 - edge, 0.0)]
            ah += [(t0 + edge, 0.45), (t1 - edge, 0.45)]
            af += [(t0 + edge, 0.0), (t1 - edge, 0.0)]
        else:  # pause
            av += [(t0 + edge, 0.0), (t1 - edge, 0.0)]
            ah += [(t0 + edge, 0.0), (t1 - edge, 0.0)]
            af += [(t0 + edge, 0.0), (t1 - edge, 0.0)]
        # pitch: declination over the phrase, accent on stressed vowels, final fall or rise
        if p.kind == PAUSE:
            phrase_start = t1
            continue
        # find this phrase's end for the declination slope
        j = i
        while j < len(tokens) and PHONEMES[tokens[j].ph].kind != PAUSE:
            j += 1
        phrase_end = starts[j - 1] + dur[j - 1] if j > 0 else t1
        pos = (t0 + 0.5 * d - phrase_start) / max(phrase_end - phrase_start, 1.0)
        f = base * (1.0 + rng_i * (0.08 - 0.18 * pos))
        if tok.stress and p.kind in (VOWEL, DIPHTHONG):
            f *= 1.0 + 0.14 * rng_i
        if tok.final:
            if tok.question:
                f0pts += [(t0 + 0.2 * d, f), (t1, base * (1.0 + 0.45 * rng_i))]
                continue
            f0pts += [(t0 + 0.2 * d, f), (t1, base * (1.0 - 0.22 * rng_i))]
            continue
        f0pts.append((t0 + 0.5 * d, f))
    if not f0pts:
        f0pts = [(0.0, base)]
    points = {"f0": f0pts, "av": av, "ah": ah, "af": af, "f1": fpts[0], "f2": fpts[1], "f3": fpts[2]}
    points.update(ffric=ffr, bwfric=bfr)
    out: _Points = {}
    for name, pts in points.items():
        pts = sorted(pts, key=lambda q: q[0])
        out[name] = (np.array([q[0] for q in pts]), np.array([q[1] for q in pts], dtype=np.float64))
    return n, out


def _tracks(points: _Points, vp: VoiceParams, sr: int, a: int, b: int) -> dict[str, np.ndarray]:
    """The tracks for samples ``a``..``b`` (each value depends only on its own sample's time, so
    slices put together equal the whole)."""
    n = b - a
    tgrid = np.arange(a, b) * 1000.0 / sr

    def interp(name: str, default: float) -> np.ndarray:
        xs, ys = points[name]
        return np.interp(tgrid, xs, ys) if xs.size else np.full(n, default)

    fs = vp.formant_scale
    tracks = {
        "f0": interp("f0", vp.f0),
        "av": interp("av", 0.0) * vp.voicing,
        "ah": interp("ah", 0.0) + (1.0 - vp.voicing) * interp("av", 0.0) * 0.9,
        "af": interp("af", 0.0),
        "f1": interp("f1", 500.0) * fs,
        "f2": interp("f2", 1500.0) * fs,
        "f3": interp("f3", 2500.0) * fs,
        "f4": np.full(n, 3500.0 * fs),
        "f5": np.full(n, 4500.0 * fs),
        "ffric": interp("ffric", 4000.0) * min(fs, 1.3),
        "bwfric": interp("bwfric", 2000.0),
    }
    if vp.vibrato_depth > 0:
        tracks["f0"] = tracks["f0"] * (
            1.0 + vp.vibrato_depth * np.sin(2 * np.pi * vp.vibrato_hz * tgrid / 1000)
        )
    tracks["bwscale"] = np.full(n, 1.0 + 0.6 * vp.breathiness)
    return tracks


def synthesize(
    tokens: list[Token], vp: VoiceParams, sr: int = 48000, seed: int = 0, slice_len: int = SLICE
) -> np.ndarray:
    """Render tokens to float32 mono at ``sr`` (peak-normalised to 0.5), ``slice_len`` samples at a
    time (the result does not depend on it)."""
    n, points = _breakpoints(tokens, vp, sr)
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(n)
    jit = rng.standard_normal(4096) * vp.jitter
    y = np.empty(n)
    state = _new_state()
    for a in range(0, n, slice_len):
        b = min(n, a + slice_len)
        tr = _tracks(points, vp, sr, a, b)
        _synth_kernel(
            tr["f0"],
            tr["av"],
            tr["ah"],
            tr["af"],
            tr["f1"],
            tr["f2"],
            tr["f3"],
            tr["f4"],
            tr["f5"],
            tr["bwscale"],
            tr["ffric"],
            tr["bwfric"],
            noise[a:b],
            jit,
            float(vp.breathiness),
            float(sr),
            state,
            y[a:b],
        )
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak > 0:
        y = y * (0.5 / peak)
    return y.astype(np.float32)
