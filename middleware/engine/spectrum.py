"""The master's spectrum for the studio's scrolling spectrogram, computed off the render thread.

The render thread already copies each master block into the master's ``MeterTap`` ring (one
``FrameRing.write``, see ``meter_tap.py``); the audio process's main thread drains that ring into
the loudness meter every 10 ms. A ``Spectrum`` attached to the tap sees the same frames on that
same main thread: it only keeps the last ``N_FFT`` mono samples (one slice copy per drain), and
``take()`` runs one Hann-windowed FFT when the spectrum is published (10 times a second with the
``loudness`` topic), about 0.1 ms of numpy on the main thread. The render path pays nothing more.

``take()`` gives ``BANDS`` log-spaced bands from ``F_LO`` to ``F_HI`` in dB, scaled so that a
full-scale sine reads 0 dB in the band that holds it (levels of a window of ``N_FFT`` frames,
~85 ms at 48 kHz: the latest moment, not an average since the last take).
"""

from __future__ import annotations

from typing import Any

import numpy as np

N_FFT = 4096  # 11.7 Hz bins at 48 kHz: the lowest bands still get a bin of their own
BANDS = 40  # about a third of an octave each over 50 Hz - 20 kHz
F_LO, F_HI = 50.0, 20_000.0
FLOOR_DB = -120.0  # silence (the page draws anything under -90 as black)


def band_edges(sr: int, bands: int = BANDS) -> np.ndarray:
    """``bands + 1`` log-spaced edges in Hz from ``F_LO`` to ``min(F_HI, sr / 2)``."""
    return np.geomspace(F_LO, min(F_HI, sr / 2), bands + 1)


class Spectrum:
    """Last ``N_FFT`` mono samples in, band levels out. ``push`` and ``take`` on one thread."""

    def __init__(self, sr: int, bands: int = BANDS) -> None:
        self.sr = int(sr)
        self._buf = np.zeros(N_FFT, dtype=np.float32)  # circular: _pos is the oldest sample
        self._pos = 0
        self._window = np.hanning(N_FFT).astype(np.float32)
        edges = band_edges(self.sr, bands)
        self.centres = np.sqrt(edges[:-1] * edges[1:])
        df = self.sr / N_FFT
        n_bins = N_FFT // 2 + 1
        weights = np.zeros((bands, n_bins), dtype=np.float64)
        for i in range(bands):  # every band sums at least one bin (low bands are narrower than a bin)
            lo = int(np.ceil(edges[i] / df))
            hi = max(lo + 1, int(np.ceil(edges[i + 1] / df)))
            weights[i, lo : min(hi, n_bins)] = 1.0
        # Parseval: a Hann-windowed sine of amplitude A puts 3 A^2 N^2 / 32 in the positive bins
        self._weights = weights * (32.0 / (3.0 * N_FFT * N_FFT))
        self.frames = 0  # frames seen (a take with none new says so)
        self._taken_at = 0

    def push(self, block: np.ndarray) -> None:
        """Keep the newest frames of a ``(frames, 2)`` block (mono: the mean of both channels)."""
        x = block.mean(axis=1) if block.ndim == 2 else block
        n = x.shape[0]
        if n >= N_FFT:
            self._buf[:] = x[-N_FFT:]
            self._pos = 0
        else:
            end = self._pos + n
            if end <= N_FFT:
                self._buf[self._pos : end] = x
            else:
                k = N_FFT - self._pos
                self._buf[self._pos :] = x[:k]
                self._buf[: n - k] = x[k:]
            self._pos = end % N_FFT
        self.frames += n

    def take(self) -> dict[str, Any] | None:
        """``{"db": [BANDS levels], "hz": [band centres]}`` of the latest ``N_FFT`` frames, or None
        when no frame arrived since the last take (nothing new to draw)."""
        if self.frames == self._taken_at:
            return None
        self._taken_at = self.frames
        x = np.concatenate((self._buf[self._pos :], self._buf[: self._pos])) * self._window
        spec = np.fft.rfft(x)
        power = spec.real * spec.real + spec.imag * spec.imag
        levels = 10.0 * np.log10(np.maximum(self._weights @ power, 10.0 ** (FLOOR_DB / 10.0)))
        # ``frames`` tells a reader that keeps only the newest payload whether this one is new
        db, hz = np.round(levels, 1).tolist(), np.round(self.centres).tolist()
        return {"db": db, "hz": hz, "frames": self.frames}


def spectrum_topic(engine: Any) -> list[list[Any]]:
    """Audio process's main thread: ``[["spectrum", payload]]`` for the master, or ``[]``.

    The first call attaches a ``Spectrum`` to the master's deferred loudness tap (``serve --meters``
    includes master by default); with no tap there (meters off, or metered on the render thread)
    there is nothing to read off the render path, so no spectrum is published.
    """
    tap = getattr(getattr(engine, "buses", None), "meters", {}).get(0)
    if tap is None or not hasattr(tap, "spectrum"):
        return []
    if tap.spectrum is None:
        tap.spectrum = Spectrum(engine.sample_rate)
        return []
    got = tap.spectrum.take()
    return [] if got is None else [["spectrum", {"bus": "master", **got}]]


__all__ = ["BANDS", "N_FFT", "Spectrum", "band_edges", "spectrum_topic"]
