"""Our own small ML denoiser: an MLP that estimates a per-band gain mask, run with onnxruntime.

Always available (onnxruntime is a runtime dependency; the model, ~0.25 MB, ships in
``middleware/tools/models/``), so an ML denoiser exists even where the optional DeepFilterNet wheel
is absent. Trained by :mod:`middleware.ml.train_mask_denoiser` on synthesised clean + noise pairs;
see ``models/mask_denoiser.md`` (the model card) for data, training and measured results.

Signal path, at 48 kHz (other rates are resampled in and out):

1. STFT, 1024-point Hann, hop 256; power summed into 40 mel-spaced triangular bands (0-24 kHz).
2. Features per frame: log band energies of frames t-3..t+2 relative to a per-band noise floor (the
   10th percentile of the whole clip, as the spectral gate uses), plus the floor itself: 280 values.
3. MLP 280 -> 128 -> 128 -> 40 (ReLU, sigmoid): a gain per band, the model's estimate of the ideal
   ratio mask ``sqrt(clean / (clean + noise))``.
4. Band gains spread back to bins through the same filterbank, floored at -25 dB, applied, inverse STFT.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AudioFileError, ModelError

MODEL_PATH = Path(__file__).resolve().parent / "models" / "mask_denoiser.onnx"
MODEL_NAME = "soundscape-mask-denoiser"
SR = 48000
N_FFT = 1024
HOP = 256
N_BANDS = 40
CONTEXT = (-3, -2, -1, 0, 1, 2)
N_FEATURES = N_BANDS * (len(CONTEXT) + 1)
FLOOR_DB = -25.0


def _mel(f: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + f / 700.0)


def filterbank() -> np.ndarray:
    """(N_BANDS, N_FFT//2+1) triangular mel filterbank over 0..SR/2 (rows overlap, columns sum ~1)."""
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / SR)
    edges_mel = np.linspace(0.0, _mel(np.array(SR / 2.0)), N_BANDS + 2)
    edges = 700.0 * (10 ** (edges_mel / 2595.0) - 1.0)
    fb = np.zeros((N_BANDS, freqs.size))
    for b in range(N_BANDS):
        lo, mid, hi = edges[b], edges[b + 1], edges[b + 2]
        up = (freqs - lo) / max(mid - lo, 1e-9)
        down = (hi - freqs) / max(hi - mid, 1e-9)
        fb[b] = np.clip(np.minimum(up, down), 0.0, None)
    fb[0, 0] = 1.0  # DC belongs to the first band
    return fb


_FB = filterbank()


def stft(x: np.ndarray) -> np.ndarray:
    """Complex (frames, bins) STFT of a 1-D 48 kHz signal, padded by one window on each side."""
    xp = np.concatenate([np.zeros(N_FFT), np.asarray(x, np.float64), np.zeros(2 * N_FFT)])
    n_frames = (xp.size - N_FFT) // HOP + 1
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    return np.fft.rfft(xp[idx] * np.hanning(N_FFT + 1)[:-1], axis=1)


def istft(spec: np.ndarray, n: int) -> np.ndarray:
    """Weighted overlap-add inverse of :func:`stft`."""
    win = np.hanning(N_FFT + 1)[:-1]
    frames = np.fft.irfft(spec, N_FFT, axis=1) * win
    total = (spec.shape[0] - 1) * HOP + N_FFT
    out = np.zeros(total)
    norm = np.zeros(total)
    step = N_FFT // HOP
    for k in range(step):  # N_FFT/HOP strided, vectorised overlap-adds
        sl = frames[k::step]
        idx = (HOP * (k + step * np.arange(sl.shape[0])))[:, None] + np.arange(N_FFT)[None, :]
        out[idx.reshape(-1)] += sl.reshape(-1)
        norm[idx.reshape(-1)] += np.tile(win**2, sl.shape[0])
    return (out / np.maximum(norm, 1e-8))[N_FFT : N_FFT + n]


def band_energy(spec: np.ndarray) -> np.ndarray:
    """(frames, N_BANDS) band powers."""
    return (spec.real**2 + spec.imag**2) @ _FB.T


def features(band_e: np.ndarray) -> np.ndarray:
    """(frames, N_FEATURES) float32 model input from band powers (see the module docstring)."""
    loge = np.log10(band_e + 1e-10)
    floor = np.percentile(loge, 10, axis=0)
    rel = loge - floor
    t = rel.shape[0]
    cols = []
    for k in CONTEXT:
        idx = np.clip(np.arange(t) + k, 0, t - 1)
        cols.append(rel[idx])
    cols.append(np.broadcast_to((floor + 5.0) / 5.0, (t, N_BANDS)))  # absolute floor, roughly unit scale
    return np.ascontiguousarray(np.concatenate(cols, axis=1) / 2.0, dtype=np.float32)


def apply_band_gains(spec: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Spread (frames, N_BANDS) gains to bins through the filterbank, floor them, apply."""
    weight = _FB.sum(axis=0)
    bin_gain = (gains @ _FB) / np.maximum(weight, 1e-9)
    bin_gain = np.maximum(bin_gain, 10 ** (FLOOR_DB / 20.0))
    return spec * bin_gain


_SESSION = None


def _session():
    global _SESSION
    if _SESSION is None:
        from ..ml.sessions import session

        if not MODEL_PATH.is_file():
            raise ModelError(
                f"mask denoiser model={str(MODEL_PATH)!r}: missing (train it with "
                "python -m middleware.ml.train_mask_denoiser)"
            )
        _SESSION = session(MODEL_PATH, name=f"mask denoiser model={str(MODEL_PATH)!r}")
    return _SESSION


def model_info() -> dict[str, Any]:
    """Name, version and hash of the shipped model (for metadata)."""
    import hashlib

    sha = hashlib.sha256(MODEL_PATH.read_bytes()).hexdigest() if MODEL_PATH.is_file() else None
    version = "missing"
    if MODEL_PATH.is_file():
        meta = _session().get_modelmeta().custom_metadata_map
        version = meta.get("version", "unknown")
    return {"model": MODEL_NAME, "model_version": version, "model_sha256": sha}


def predict_gains(feats: np.ndarray) -> np.ndarray:
    sess = _session()
    name = sess.get_inputs()[0].name
    return sess.run(None, {name: feats})[0]


def denoise_mask(x: np.ndarray, sr: int) -> tuple[np.ndarray, dict[str, Any]]:
    """Denoise ``(frames, channels)`` audio with the shipped mask model (each channel separately)."""
    from ..engine.dsp.resample import resample

    a = np.asarray(x, dtype=np.float32)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise AudioFileError(f"audio shape={a.shape}: expected (frames,) or (frames, channels)")
    work = resample(a, sr, SR) if sr != SR else a
    out = np.empty_like(work)
    for ch in range(work.shape[1]):
        spec = stft(work[:, ch])
        gains = predict_gains(features(band_energy(spec)))
        out[:, ch] = istft(apply_band_gains(spec, gains), work.shape[0])
    if sr != SR:
        out = resample(out, SR, sr)[: a.shape[0]]
    info = {"step": "denoise", "method": "mask", **model_info(), "floor_db": FLOOR_DB}
    return np.ascontiguousarray(out, dtype=np.float32), info


def ideal_band_mask(clean_spec: np.ndarray, noise_spec: np.ndarray) -> np.ndarray:
    """Training target: sqrt of the band-wise clean / (clean + noise) power ratio."""
    ec, en = band_energy(clean_spec), band_energy(noise_spec)
    return np.sqrt(ec / np.maximum(ec + en, 1e-20)).astype(np.float32)
