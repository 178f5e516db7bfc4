"""ITU-R BS.1770-4 loudness: K-weighting, gated integrated loudness, momentary/short-term LUFS, true peak.

Two faces over one set of kernels:

* offline functions over whole arrays (``integrated_loudness``, ``momentary_loudness``,
  ``short_term_loudness``, ``loudness_range``, ``true_peak``, ``normalize_loudness``) for asset
  measurement and ``soundscape restore --normalize``;
* :class:`LoudnessMeter`, a streaming meter cheap enough for the master bus: each ``push`` runs the
  two K-weighting biquads (the engine's numba ``biquad_block``), one vectorised energy accumulation
  into 100 ms sub-blocks, and a numba 4x-oversampling true-peak kernel. Integrated loudness is
  computed lazily from the stored 400 ms block energies (10 floats per second of audio).

Why our own and not pyloudnorm: pyloudnorm pulls scipy at run time (a test-only dependency here) and has
no streaming mode. Tests check both faces against pyloudnorm within 0.5 LU.

K-weighting at any rate uses the analogue-prototype parameters that reproduce the standard's 48 kHz
coefficients exactly (the same derivation as libebur128), so 44.1/96 kHz input is weighted correctly.
Channel weights: 1.0 for mono/L/R (the only layouts the engine produces).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ...errors import AudioFileError
from .filters import biquad_block

ABS_GATE_LUFS = -70.0
REL_GATE_LU = -10.0
BLOCK_S = 0.4  # gating block / momentary window
STEP_S = 0.1  # 75 % overlap
SHORT_TERM_S = 3.0
OVERSAMPLE = 4
_TAPS_PER_PHASE = 12  # BS.1770-4 Annex 2 uses a 48-tap, 4-phase interpolator
SILENCE_LUFS = -math.inf


def k_weighting_coeffs(sr: float) -> np.ndarray:
    """The two K-weighting stages as a ``(2, 5)`` array of ``[b0, b1, b2, a1, a2]`` (a0 = 1).

    Stage 1 is the head-related high shelf (+4 dB above ~1.7 kHz), stage 2 the RLB high-pass (~38 Hz).
    At 48 kHz these equal the coefficients printed in BS.1770-4 to ~1e-9.
    """
    if not (math.isfinite(sr) and sr >= 8000):
        raise AudioFileError(f"sample rate={sr}: loudness needs a finite rate >= 8000 Hz")
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sr)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf = [
        (vh + vb * k / q + k * k) / a0,
        2.0 * (k * k - vh) / a0,
        (vh - vb * k / q + k * k) / a0,
        2.0 * (k * k - 1.0) / a0,
        (1.0 - k / q + k * k) / a0,
    ]
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / sr)
    a0 = 1.0 + k / q + k * k
    highpass = [1.0, -2.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    return np.array([shelf, highpass], dtype=np.float64)


def _as_frames(x: np.ndarray) -> np.ndarray:
    """(n,) or (n, c) -> float32 (n, 2) for the stereo biquad kernel, and the real channel count."""
    a = np.asarray(x, dtype=np.float32)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[1] not in (1, 2):
        raise AudioFileError(f"audio shape={a.shape}: loudness takes (frames,), (frames, 1) or (frames, 2)")
    return a


def _k_filter(a: np.ndarray, sr: float, state: np.ndarray | None = None) -> np.ndarray:
    """K-weight a (n, 1|2) block; returns float64 (n, channels). ``state`` is (2 stages, 2, 2)."""
    coeffs = k_weighting_coeffs(sr)
    st = np.zeros((2, 2, 2)) if state is None else state
    x2 = np.ascontiguousarray(a if a.shape[1] == 2 else np.repeat(a, 2, axis=1), dtype=np.float32)
    y = biquad_block(x2, coeffs[0], coeffs[0], st[0])
    y = biquad_block(y, coeffs[1], coeffs[1], st[1])
    return y[:, : a.shape[1]].astype(np.float64)


def _lufs(mean_square: np.ndarray | float) -> np.ndarray | float:
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(mean_square)


def _sub_block_energy(y: np.ndarray, step: int) -> np.ndarray:
    """Channel-summed energy of consecutive ``step``-frame sub-blocks (a trailing partial one is dropped)."""
    n_sub = y.shape[0] // step
    e = np.sum(y[: n_sub * step] ** 2, axis=1)
    return e.reshape(n_sub, step).sum(axis=1)


def _gated(block_ms: np.ndarray) -> float:
    """BS.1770-4 two-stage gating over 400 ms block mean squares; -inf when nothing passes."""
    if block_ms.size == 0:
        return SILENCE_LUFS
    lk = _lufs(block_ms)
    above = block_ms[lk > ABS_GATE_LUFS]
    if above.size == 0:
        return SILENCE_LUFS
    rel = float(_lufs(float(above.mean()))) + REL_GATE_LU
    keep = block_ms[(lk > ABS_GATE_LUFS) & (lk > rel)]
    if keep.size == 0:
        return SILENCE_LUFS
    return float(_lufs(float(keep.mean())))


def _window_ms(sub_e: np.ndarray, n_sub: int, step: int) -> np.ndarray:
    """Mean square over each sliding window of ``n_sub`` sub-blocks (hop one sub-block)."""
    if sub_e.size < n_sub:
        return np.zeros(0)
    c = np.concatenate([[0.0], np.cumsum(sub_e)])
    return (c[n_sub:] - c[:-n_sub]) / (n_sub * step)


def integrated_loudness(x: np.ndarray, sr: int) -> float:
    """Gated integrated loudness in LUFS of a whole signal ((n,) mono or (n, 2) stereo); -inf if silent."""
    a = _as_frames(x)
    step = round(STEP_S * sr)
    if a.shape[0] < round(BLOCK_S * sr):
        raise AudioFileError(
            f"audio length={a.shape[0] / sr:.3f} s: integrated loudness needs at least {BLOCK_S} s"
        )
    sub = _sub_block_energy(_k_filter(a, sr), step)
    return _gated(_window_ms(sub, 4, step))


def momentary_loudness(x: np.ndarray, sr: int) -> np.ndarray:
    """Momentary loudness (400 ms window) every 100 ms, LUFS; first value covers the first 400 ms."""
    a = _as_frames(x)
    step = round(STEP_S * sr)
    return np.asarray(_lufs(_window_ms(_sub_block_energy(_k_filter(a, sr), step), 4, step)))


def short_term_loudness(x: np.ndarray, sr: int) -> np.ndarray:
    """Short-term loudness (3 s window) every 100 ms, LUFS."""
    a = _as_frames(x)
    step = round(STEP_S * sr)
    return np.asarray(_lufs(_window_ms(_sub_block_energy(_k_filter(a, sr), step), 30, step)))


def loudness_range(x: np.ndarray, sr: int) -> float:
    """Loudness range (LRA, EBU Tech 3342) in LU: the spread between the 10th and 95th percentiles of
    the short-term loudness (3 s windows every 100 ms), after a -70 LUFS absolute and a -20 LU
    relative gate. How much a dialogue line or an ambience bed varies; ``nan`` when too quiet."""
    a = _as_frames(x)
    if a.shape[0] < round(SHORT_TERM_S * sr):
        raise AudioFileError(
            f"audio length={a.shape[0] / sr:.3f} s: loudness range needs at least {SHORT_TERM_S} s"
        )
    st = short_term_loudness(a, sr)
    st = st[st >= ABS_GATE_LUFS]
    if st.size == 0:
        return math.nan
    rel = 10.0 * math.log10(float(np.mean(10.0 ** (st / 10.0)))) - 20.0
    st = st[st >= rel]
    if st.size == 0:
        return math.nan
    return float(np.percentile(st, 95) - np.percentile(st, 10))


def _true_peak_taps() -> np.ndarray:
    """(4 phases, 12 taps) Kaiser-windowed sinc interpolator, cut-off just below the input Nyquist."""
    n = OVERSAMPLE * _TAPS_PER_PHASE
    m = np.arange(n) - (n - 1) / 2.0
    h = np.sinc(m / OVERSAMPLE * 0.98) * np.kaiser(n, 8.0)
    h *= OVERSAMPLE / h.sum()
    # phase p of output sample k*4+p uses taps h[p::4] against x[k], x[k-1], ...
    return np.ascontiguousarray(h.reshape(_TAPS_PER_PHASE, OVERSAMPLE).T)


_TP_TAPS = _true_peak_taps()


@njit(cache=True, nogil=True)
def true_peak_block(x, taps, hist, pos):
    """Max |sample| of the 4x-oversampled signal for a (n, c) float block, carrying FIR history.

    ``hist`` is (c, 2*T) float64 (a doubled ring so each dot product reads a contiguous slice),
    ``pos`` a (c,) int64 write index. Returns the block's linear true peak.
    """
    n, c = x.shape
    nph, t = taps.shape
    peak = 0.0
    for ch in range(c):
        p = pos[ch]
        for i in range(n):
            v = np.float64(x[i, ch])
            if v != v:
                v = 0.0
            p = (p - 1) % t
            hist[ch, p] = v
            hist[ch, p + t] = v
            av = abs(v)
            if av > peak:
                peak = av
            for ph in range(nph):
                acc = 0.0
                for k in range(t):
                    acc += taps[ph, k] * hist[ch, p + k]
                if abs(acc) > peak:
                    peak = abs(acc)
        pos[ch] = p
    return peak


def true_peak(x: np.ndarray, sr: int | None = None) -> float:
    """True peak in dBTP (4x oversampling, BS.1770-4 Annex 2); -inf for digital silence.

    ``sr`` is accepted for symmetry; the interpolator is defined relative to the input rate.
    """
    a = _as_frames(x)
    hist = np.zeros((a.shape[1], 2 * _TAPS_PER_PHASE))
    pos = np.zeros(a.shape[1], dtype=np.int64)
    peak = true_peak_block(np.ascontiguousarray(a), _TP_TAPS, hist, pos)
    # flush the interpolator so the last input samples' neighbourhoods are seen too
    tail = np.zeros((_TAPS_PER_PHASE, a.shape[1]), dtype=np.float32)
    peak = max(peak, true_peak_block(tail, _TP_TAPS, hist, pos))
    return 20.0 * math.log10(peak) if peak > 0 else -math.inf


def normalize_loudness(
    x: np.ndarray, sr: int, target_lufs: float = -23.0, peak_ceiling_dbtp: float | None = -1.0
) -> tuple[np.ndarray, dict]:
    """Scale ``x`` to ``target_lufs`` integrated; optionally lower the gain to keep the true peak below
    ``peak_ceiling_dbtp`` (a gain change only, never a limiter, so the sound is untouched).

    Returns the scaled float32 signal and a report (measured, gain, true peaks, whether the ceiling bit).
    """
    if not (math.isfinite(target_lufs) and -70.0 <= target_lufs <= 0.0):
        raise AudioFileError(f"normalize target={target_lufs}: must be within -70..0 LUFS")
    before = integrated_loudness(x, sr)
    if not math.isfinite(before):
        raise AudioFileError("normalize: the signal is silent (below the -70 LUFS gate), nothing to scale")
    gain_db = target_lufs - before
    tp_before = true_peak(x, sr)
    limited = False
    if peak_ceiling_dbtp is not None and tp_before + gain_db > peak_ceiling_dbtp:
        gain_db = peak_ceiling_dbtp - tp_before
        limited = True
    y = (np.asarray(x, dtype=np.float64) * 10.0 ** (gain_db / 20.0)).astype(np.float32)
    report = {
        "measured_lufs": round(before, 3),
        "target_lufs": target_lufs,
        "gain_db": round(gain_db, 3),
        "true_peak_before_dbtp": round(tp_before, 3),
        "true_peak_after_dbtp": round(tp_before + gain_db, 3),
        "limited_by_true_peak": limited,
        "result_lufs": round(before + gain_db, 3),
    }
    return y, report


class LoudnessMeter:
    """Streaming BS.1770-4 meter: ``push`` blocks of ``(n, 2)`` (or ``(n,)``) float audio.

    Properties ``momentary``, ``short_term``, ``integrated`` (LUFS, ``-inf`` when silent or not enough
    audio yet) and ``true_peak`` (dBTP, maximum since the last ``reset``). Windows are filled with
    silence before enough audio has arrived, as a meter that was running on silence would show.

    Cost per push: two numba biquads, one numpy reduction, the numba true-peak kernel (4 x 12 taps
    per sample and channel) — see benchmarks/bench_tools.py. Not thread-safe; one owner (the render
    loop) pushes, readers take the float properties.
    """

    def __init__(self, sr: int, channels: int = 2, true_peak: bool = True) -> None:
        if channels not in (1, 2):
            raise AudioFileError(f"channels={channels}: the meter takes 1 or 2")
        self.sr = int(sr)
        self.channels = channels
        self._coeffs = k_weighting_coeffs(sr)
        self._step = round(STEP_S * sr)
        self._with_tp = true_peak
        self.reset()

    def reset(self) -> None:
        """Forget everything (new measurement): filters, windows, integrated history, true peak."""
        self._kstate = np.zeros((2, 2, 2))
        self._acc = 0.0  # energy of the current (partial) sub-block
        self._acc_n = 0
        self._ring = np.zeros(30)  # last 30 sub-block energies (3 s), newest at _ring_pos - 1
        self._ring_pos = 0
        self._subs_seen = 0
        self._blocks = np.zeros(1024)  # 400 ms block mean squares for gating
        self._n_blocks = 0
        self._tp_hist = np.zeros((self.channels, 2 * _TAPS_PER_PHASE))
        self._tp_pos = np.zeros(self.channels, dtype=np.int64)
        self._tp = 0.0
        self.frames = 0

    def push(self, block: np.ndarray) -> None:
        """Meter one block of audio (any length)."""
        a = np.asarray(block, dtype=np.float32)
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2 or a.shape[1] != self.channels:
            raise AudioFileError(f"block shape={a.shape}: expected (frames, {self.channels})")
        n = a.shape[0]
        if n == 0:
            return
        x2 = a if self.channels == 2 else np.repeat(a, 2, axis=1)
        x2 = np.ascontiguousarray(x2)
        y = biquad_block(x2, self._coeffs[0], self._coeffs[0], self._kstate[0])
        y = biquad_block(y, self._coeffs[1], self._coeffs[1], self._kstate[1])
        e = y[:, : self.channels].astype(np.float64)
        e = np.sum(e * e, axis=1)
        if self._with_tp:
            self._tp = max(
                self._tp, true_peak_block(np.ascontiguousarray(a), _TP_TAPS, self._tp_hist, self._tp_pos)
            )
        self.frames += n
        # Split the frame energies at sub-block boundaries: usually zero or one boundary per block.
        i = 0
        while i < n:
            take = min(n - i, self._step - self._acc_n)
            self._acc += float(e[i : i + take].sum())
            self._acc_n += take
            i += take
            if self._acc_n == self._step:
                self._close_sub_block()

    def _close_sub_block(self) -> None:
        self._ring[self._ring_pos] = self._acc
        self._ring_pos = (self._ring_pos + 1) % 30
        self._subs_seen += 1
        self._acc = 0.0
        self._acc_n = 0
        if self._subs_seen >= 4:
            if self._n_blocks == self._blocks.size:
                self._blocks = np.concatenate([self._blocks, np.zeros(self._blocks.size)])
            self._blocks[self._n_blocks] = self._last(4) / (4 * self._step)
            self._n_blocks += 1

    def _last(self, k: int) -> float:
        idx = (self._ring_pos - 1 - np.arange(k)) % 30
        return float(self._ring[idx].sum())

    @property
    def momentary(self) -> float:
        """LUFS over the last 400 ms (complete 100 ms sub-blocks)."""
        return float(_lufs(self._last(4) / (4 * self._step)))

    @property
    def short_term(self) -> float:
        """LUFS over the last 3 s."""
        return float(_lufs(self._last(30) / (30 * self._step)))

    @property
    def integrated(self) -> float:
        """Gated integrated LUFS since the last reset."""
        return _gated(self._blocks[: self._n_blocks])

    @property
    def true_peak(self) -> float:
        """Maximum true peak since the last reset, dBTP."""
        return 20.0 * math.log10(self._tp) if self._tp > 0 else -math.inf

    def snapshot(self) -> dict[str, float]:
        """All readings at once (for telemetry)."""
        return {
            "momentary_lufs": self.momentary,
            "short_term_lufs": self.short_term,
            "integrated_lufs": self.integrated,
            "true_peak_dbtp": self.true_peak,
        }
