"""Neural texture morphing at run time: an ONNX decoder streaming band spectra, synthesised by overlap-add.

A morph model knows the short-time band spectra of two or more source textures (drizzle ...
downpour). Each source is an *anchor* in a small latent space: the mean of its frames' latents
plus their spread (a Cholesky factor). At ``position`` 0..1 the stream walks between anchors:

    z(t) = lerp(anchor means, position) + drift_scale * lerp(anchor spreads) @ e(t)

where ``e(t)`` is a unit-variance Ornstein-Uhlenbeck process (a random walk pulled back to the
centre, time constant from the sources), so the texture breathes like the sources do and never
repeats. The ONNX decoder turns a batch of latents into band levels (dB); a per-anchor band
calibration (measured when training, by re-analysing the model's own output) is added; the band
levels are interpolated over log frequency to every FFT bin; complex Gaussian noise shaped by them
(noise-excited spectral shaping) is inverse-FFT'd and overlap-added with a sqrt-Hann window at
50 % overlap (whose squares sum to one, so the output is stationary). Left and right get
independent excitation: a wide, decorrelated texture.

Why band levels in the log domain: moving the latent moves the *spectrum* (levels interpolate in
dB, bands move monotonically from one source to the other), where a crossfade adds two sounds
(power interpolates linearly, so the louder source dominates most of the way).

Everything per frame is vectorised over the frames of one ``render`` call (one onnxruntime call
per call of ``render``); no per-sample Python. Run-time imports: numpy and onnxruntime.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from ..rt.guard import forbidden
from .cards import sha256_bytes
from .sessions import session

KIND = "soundscape.morph"
INPUT_NAME = "latent"
OUTPUT_NAME = "band_db"
FLOOR_DB = -140.0


# ---------------------------------------------------------------------------------------------
# Analysis (shared by training, calibration, tests and the benchmark)


def frame_size(sr: int) -> int:
    """FFT size for ``sr``: the power of two nearest 21.3 ms (1024 at 48 kHz)."""
    return int(2 ** round(math.log2(sr * 1024 / 48000)))


def band_edges(sr: int, n_bands: int = 32, f_lo: float = 40.0, min_bins: int = 3) -> np.ndarray:
    """Band edges in Hz: log-spaced from ``f_lo`` to Nyquist, merged so each band spans >= ``min_bins``
    FFT bins at ``sr`` (a band of one bin would measure one noisy bin, not a band)."""
    n = frame_size(sr)
    bin_hz = sr / n
    edges = np.geomspace(f_lo, sr / 2, n_bands + 1)
    out = [0.0]
    for e in edges[1:]:
        if (e - out[-1]) / bin_hz >= min_bins:
            out.append(float(e))
    out[-1] = sr / 2
    return np.asarray(out)


def _band_matrix(edges: np.ndarray, sr: int, n: int) -> np.ndarray:
    """(bins, bands) averaging matrix: mean power of the bins inside each band (DC excluded)."""
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    B = len(edges) - 1
    mat = np.zeros((freqs.size, B))
    for b in range(B):
        inside = (freqs >= edges[b]) & (freqs < edges[b + 1]) & (freqs > 0)
        if b == B - 1:
            inside |= freqs == edges[-1]
        if inside.any():
            mat[inside, b] = 1.0 / inside.sum()
    return mat


def band_levels(x: np.ndarray, sr: int, edges: np.ndarray) -> np.ndarray:
    """Per-frame band levels in dB of a mono signal ``x``: (frames, bands).

    A level is the mean power per bin of a Hann-windowed frame, divided by the window's energy,
    so white noise of variance s^2 reads 10 log10(s^2) in every band, whatever the FFT size.
    Frames: ``frame_size(sr)`` long, hop half of that.
    """
    n = frame_size(sr)
    hop = n // 2
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError("band_levels takes a mono signal")
    count = 1 + (len(x) - n) // hop
    if count < 1:
        raise ValueError(f"signal of {len(x)} samples is shorter than one frame ({n})")
    win = np.hanning(n + 1)[:n]
    idx = np.arange(n)[None, :] + hop * np.arange(count)[:, None]
    spec = np.abs(np.fft.rfft(x[idx] * win, axis=1)) ** 2 / np.sum(win**2)
    return 10.0 * np.log10(spec @ _band_matrix(edges, sr, n) + 1e-20)


def band_stats(x: np.ndarray, sr: int, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, spread) over time of each band's level in dB; stereo input is analysed per channel
    and the channels' statistics averaged."""
    x = np.asarray(x)
    chans = [x] if x.ndim == 1 else [x[:, c] for c in range(x.shape[1])]
    levels = [band_levels(c, sr, edges) for c in chans]
    return np.mean([lv.mean(axis=0) for lv in levels], axis=0), np.mean(
        [lv.std(axis=0) for lv in levels], axis=0
    )


AUDIBLE_RANGE_DB = 30.0
"""Bands whose mean level is within this many dB of the loudest band carry the texture; bands
further down hold leakage and quantisation noise, whose level statistics mean nothing audible."""


def audible_bands(mean_db: np.ndarray, range_db: float = AUDIBLE_RANGE_DB) -> np.ndarray:
    """Boolean mask of the bands within ``range_db`` of the loudest band."""
    return mean_db >= np.max(mean_db) - range_db


# ---------------------------------------------------------------------------------------------
# The stream


def _interp_index(centres_hz: np.ndarray, sr: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per FFT bin: (lower band index j, fraction t) so bin dB = (1 - t) dB[j] + t dB[j + 1],
    linear interpolation over log frequency (held flat below the first and above the last centre).
    Two gathers per frame instead of a (bands x bins) matrix product: no BLAS call on this path."""
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    lf = np.log(np.maximum(freqs, 1.0))
    lc = np.log(centres_hz)
    B = centres_hz.size
    if B == 1:
        return np.zeros(freqs.size, dtype=np.int64), np.zeros(freqs.size)
    j = np.clip(np.searchsorted(lc, lf) - 1, 0, B - 2)
    t = np.clip((lf - lc[j]) / (lc[j + 1] - lc[j]), 0.0, 1.0)
    return j, t


class MorphModel:
    """A loaded morph model: the ONNX decoder session plus its anchors, drift and calibration."""

    @forbidden("morph model loading")  # never on the audio thread (rt/guard.py)
    def __init__(self, path: str | Path | bytes) -> None:
        self.path = Path("<bytes>") if isinstance(path, bytes) else Path(path)
        try:
            data = path if isinstance(path, bytes) else self.path.read_bytes()
        except FileNotFoundError:
            raise ModelError(
                f"morph model '{self.path}': file not found; train it with `soundscape train morph`"
            ) from None
        except OSError as exc:
            raise ModelError(f"morph model '{self.path}': cannot read ({exc.strerror})") from None
        self.hash = sha256_bytes(data)
        self.sess = session(data, name=f"morph model '{self.path}'")
        ins, outs = self.sess.get_inputs(), self.sess.get_outputs()
        if len(ins) != 1 or ins[0].name != INPUT_NAME or len(outs) != 1 or outs[0].name != OUTPUT_NAME:
            raise ModelError(
                f"morph model '{self.path}': tensors {[i.name for i in ins]} -> {[o.name for o in outs]}; "
                f"expected '{INPUT_NAME}' -> '{OUTPUT_NAME}'"
            )
        meta = dict(self.sess.get_modelmeta().custom_metadata_map)
        if meta.get("kind") != KIND:
            raise ModelError(f"morph model '{self.path}': kind '{meta.get('kind')}', expected '{KIND}'")
        try:
            self.meta: dict[str, Any] = {k: json.loads(v) for k, v in meta.items() if k != "kind"}
            self.sr = int(self.meta["sample_rate"])
            self.edges = np.asarray(self.meta["band_edges_hz"], dtype=np.float64)
            self.means = np.asarray(self.meta["anchor_means"], dtype=np.float64)  # (S, L)
            self.chols = np.asarray(self.meta["anchor_chols"], dtype=np.float64)  # (S, L, L)
            self.calib = np.asarray(self.meta["anchor_calibration_db"], dtype=np.float64)  # (S, B)
            self.drift = np.asarray(self.meta["anchor_drift_scale"], dtype=np.float64)  # (S,)
            self.tau = float(self.meta["drift_tau_s"])
            self.slow_tau = float(self.meta.get("slow_drift_tau_s", 3.0))
            self.slow_amount = float(np.clip(self.meta.get("slow_drift_amount", 0.1), 0.0, 1.0))
            self.sources = list(self.meta.get("sources", []))
        except (KeyError, ValueError, TypeError) as exc:
            raise ModelError(f"morph model '{self.path}': metadata incomplete ({exc})") from None
        S, L = self.means.shape
        B = self.edges.size - 1
        shp_in, shp_out = ins[0].shape, outs[0].shape
        if len(shp_in) != 2 or shp_in[1] != L or len(shp_out) != 2 or shp_out[1] != B:
            raise ModelError(
                f"morph model '{self.path}': shapes {shp_in} -> {shp_out}; metadata says [N, {L}] -> [N, {B}]"
            )
        if self.chols.shape != (S, L, L) or self.calib.shape != (S, B) or self.drift.shape != (S,) or S < 1:
            raise ModelError(f"morph model '{self.path}': anchor metadata shapes do not agree")
        self.latent_dim, self.n_bands, self.n_anchors = L, B, S
        self.centres = np.sqrt(np.maximum(self.edges[:-1], self.edges[1] / 2) * self.edges[1:])
        self.label = {
            "model": self.meta.get("name", self.path.stem),
            "version": self.meta.get("version", 0),
            "hash": self.hash[:12],
        }

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Band levels (dB) for latents ``z`` (N, L): one onnxruntime call."""
        return self.sess.run(None, {INPUT_NAME: np.ascontiguousarray(z, dtype=np.float32)})[0]

    def anchor_weights(self, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For positions 0..1: (index of left anchor, index of right anchor, fraction between them)."""
        S = self.n_anchors
        if S == 1:
            zero = np.zeros(pos.shape, dtype=np.int64)
            return zero, zero, np.zeros(pos.shape)
        u = np.clip(pos, 0.0, 1.0) * (S - 1)
        i = np.minimum(np.floor(u).astype(np.int64), S - 2)
        return i, i + 1, u - i


class MorphStream:
    """One endless morphing texture: ``render(frames, position)`` -> (frames, 2) float32.

    ``position`` (0..1 along the sources) may change every call; it glides with a ``glide`` s time
    constant per frame, so a jumpy game parameter cannot click. Seeded: the same seed and the same
    calls give the same audio.
    """

    @forbidden("morph stream construction")  # never on the audio thread (rt/guard.py)
    def __init__(
        self,
        model: str | Path | MorphModel,
        sr: int = 48000,
        seed: int = 0,
        glide: float = 0.05,
        drift: float = 1.0,
        chunk_hops: int = 8,
    ) -> None:
        self.model = model if isinstance(model, MorphModel) else MorphModel(model)
        m = self.model
        self.sr = int(sr)
        self.n = frame_size(self.sr)
        self.hop = self.n // 2
        self.rng = np.random.default_rng(seed)
        # sqrt-Hann: its squares sum to 1 at 50 % overlap, so independent frames give stationary noise
        self.window = np.sqrt(np.hanning(self.n + 1)[: self.n]).astype(np.float32)
        # frames are made chunk_hops at a time (one onnxruntime call each): an engine block of 256
        # would otherwise pay the per-call overhead every 2 blocks. A position change is heard
        # at the next chunk (8 hops = 85 ms at 48 kHz), then glides.
        self.chunk_hops = max(1, int(chunk_hops))
        j, t = _interp_index(m.centres, self.sr, self.n)
        self.j0 = j
        self.j1 = np.minimum(j + 1, m.n_bands - 1)
        self.t1 = t.astype(np.float32)
        self.t0 = (1.0 - t).astype(np.float32)
        freqs = np.fft.rfftfreq(self.n, 1.0 / self.sr)
        # bins beyond the model's band range (a model trained at a lower rate) stay silent; DC is off.
        # Amplitude sqrt(n * D) for density D = 10^(dB/10): folded as sqrt(n) * exp(dB * ln10 / 20)
        inside = (freqs > 0) & (freqs <= m.edges[-1] * 1.0001)
        self.amp_scale = (math.sqrt(self.n) * inside).astype(np.float32)
        hop_s = self.hop / self.sr
        self.rho = np.array([math.exp(-hop_s / max(m.tau, 1e-3)), math.exp(-hop_s / max(m.slow_tau, 1e-3))])
        self.drift_amount = float(drift)
        self.e = self.rng.standard_normal((2, m.latent_dim))  # fast and slow OU states
        self.pos: float | None = None
        self.glide_coef = 1.0 - math.exp(-(self.hop / self.sr) / max(glide, 1e-4))
        self.tail = np.zeros(
            (self.hop, 2), dtype=np.float32
        )  # overlap-add memory: second half of the last frame
        self.buf = np.zeros((0, 2), dtype=np.float32)  # synthesised, not yet returned
        self.frames_out = 0

    def _frames(self, count: int, target: float) -> np.ndarray:
        """Synthesise ``count`` hops (count * hop output samples) at positions gliding to ``target``."""
        m = self.model
        L = m.latent_dim
        # positions per frame (glide), and the OU drift state per frame
        pos = np.empty(count)
        p = target if self.pos is None else self.pos
        for k in range(count):  # count is ~10-100 per call: a tiny loop over frames, not samples
            p += self.glide_coef * (target - p)
            pos[k] = p
        self.pos = p
        noise = self.rng.standard_normal((count, 2, L)) * np.sqrt(1.0 - self.rho**2)[None, :, None]
        e = np.empty((count, 2, L))
        cur = self.e
        rho = self.rho[:, None]
        for k in range(count):
            cur = rho * cur + noise[k]
            e[k] = cur
        self.e = cur
        i, j, t = m.anchor_weights(pos)
        tt = t[:, None]
        mean = (1 - tt) * m.means[i] + tt * m.means[j]
        chol = (1 - tt[:, :, None]) * m.chols[i] + tt[:, :, None] * m.chols[j]
        scale = ((1 - t) * m.drift[i] + t * m.drift[j]) * self.drift_amount
        # fast part: the sources' frame-to-frame life (calibrated); slow part: a small wander
        mix = scale[:, None] * e[:, 0] + (m.slow_amount * self.drift_amount) * e[:, 1]
        z = mean + np.einsum("kab,kb->ka", chol, mix)
        db = (m.decode(z) + ((1 - tt) * m.calib[i] + tt * m.calib[j])).astype(np.float32)
        # band dB -> per-bin dB (log-frequency interpolation) -> amplitude
        bins_db = db[:, self.j0] * self.t0 + db[:, self.j1] * self.t1
        amp = np.exp(bins_db * np.float32(math.log(10.0) / 20.0)) * self.amp_scale
        nb = amp.shape[1]
        # complex Gaussian excitation, E|x|^2 = 1, for both channels in one draw (float32: half the work)
        exc = self.rng.standard_normal((2, count, 2 * nb), dtype=np.float32).view(np.complex64)
        exc *= np.float32(math.sqrt(0.5))
        out = np.empty((count * self.hop, 2), dtype=np.float32)
        for c in range(2):
            frames = np.fft.irfft(amp * exc[c], n=self.n, axis=1) * self.window
            ola = np.zeros(((count + 1) * self.hop,), dtype=np.float32)
            ola[: self.hop] = self.tail[:, c]
            # frame k covers [k*hop, k*hop + n): add first halves and second halves in two strided adds
            first = frames[:, : self.hop].reshape(-1)
            second = frames[:, self.hop :].reshape(-1)
            ola[: count * self.hop] += first
            ola[self.hop :] += second
            out[:, c] = ola[: count * self.hop]
            self.tail[:, c] = ola[count * self.hop :]
        return out

    def start_producer(self, ahead_chunks: int = 2) -> None:
        """Synthesise on a worker thread, ``ahead_chunks`` chunks ahead of ``render``.

        Then ``render`` only copies from a queue (no onnxruntime or FFT on the caller's thread) and
        a position change is heard after the queued audio (2 chunks: ~170 ms at 48 kHz), gliding.
        If the worker falls behind, ``render`` synthesises what is missing itself.
        """
        import queue
        import threading

        if getattr(self, "_queue", None) is not None:
            return
        self._queue: queue.Queue | None = queue.Queue(maxsize=max(1, ahead_chunks))
        self._target = 0.0 if self.pos is None else self.pos
        self._halt = threading.Event()
        self._gen_lock = threading.Lock()
        q = self._queue

        def loop() -> None:
            while not self._halt.is_set():
                with self._gen_lock:
                    chunk = self._frames(self.chunk_hops, self._target)
                while not self._halt.is_set():
                    try:
                        q.put(chunk, timeout=0.05)
                        break
                    except queue.Full:
                        continue

        self._producer = threading.Thread(target=loop, name="morph-stream", daemon=True)
        self._producer.start()

    def stop_producer(self) -> None:
        if getattr(self, "_queue", None) is None:
            return
        self._halt.set()
        self._producer.join(timeout=1.0)
        self._queue = None

    def render(self, frames: int, position: float) -> np.ndarray:
        """The next ``frames`` samples, stereo float32, with the morph heading for ``position``."""
        q = getattr(self, "_queue", None)
        if q is not None:
            import queue

            if math.isfinite(position):
                self._target = min(max(float(position), 0.0), 1.0)
            parts = [self.buf]
            have = self.buf.shape[0]
            while have < frames:
                try:
                    chunk = q.get_nowait()
                except queue.Empty:  # the worker is late: make the missing audio here
                    with self._gen_lock:
                        chunk = self._frames(max(1, -(-(frames - have) // self.hop)), self._target)
                parts.append(chunk)
                have += chunk.shape[0]
            buf = np.concatenate(parts) if len(parts) > 1 else self.buf
            out, self.buf = buf[:frames], buf[frames:]
            self.frames_out += frames
            return out
        if not math.isfinite(position):
            position = 0.0 if self.pos is None else self.pos
        position = min(max(float(position), 0.0), 1.0)
        need = frames - self.buf.shape[0]
        if need > 0:
            count = max(-(-need // self.hop), self.chunk_hops)
            self.buf = np.concatenate([self.buf, self._frames(count, position)])
        out, self.buf = self.buf[:frames], self.buf[frames:]
        self.frames_out += frames
        return out


def render_morph(
    model: str | Path | MorphModel,
    seconds: float,
    position: float,
    sr: int = 48000,
    seed: int = 0,
    block: int = 4096,
) -> np.ndarray:
    """``seconds`` of morph at a fixed ``position`` (block by block, as a live stream would)."""
    stream = MorphStream(model, sr, seed)
    total = round(seconds * sr)
    out = np.empty((total, 2), dtype=np.float32)
    done = 0
    while done < total:
        k = min(block, total - done)
        out[done : done + k] = stream.render(k, position)
        done += k
    return out


def bake_morph(
    bank: Any,
    name: str,
    model: str | Path | MorphModel,
    position: float,
    seconds: float = 8.0,
    seed: int = 0,
    crossfade: float = 0.5,
) -> str:
    """Render ``seconds`` of morph at ``position`` into the engine's sample bank as a seamless loop.

    A scene can use a morph today this way (a looping sample voice). The last ``crossfade`` s are
    blended into the start with an equal-power fade (the two ends are uncorrelated noise), so the
    loop has no seam; it does repeat every ``seconds`` s, which the streaming voice avoids.
    """
    sr = int(bank.sample_rate)
    x = render_morph(model, seconds + crossfade, position, sr=sr, seed=seed).astype(np.float64)
    n = round(seconds * sr)
    k = round(crossfade * sr)
    if k > 0:
        t = (np.arange(k) + 0.5) / k
        head = x[:k] * np.sqrt(t)[:, None] + x[n : n + k] * np.sqrt(1 - t)[:, None]
        x = np.concatenate([head, x[k:n]])
    else:
        x = x[:n]
    bank.add(
        name,
        x.astype(np.float32),
        source=f"morph:{Path(str(getattr(model, 'path', model))).name}@{position:.3f}",
    )
    return name


def bake_morph_file(
    path: str | Path,
    model: str | Path | MorphModel,
    position: float,
    seconds: float = 8.0,
    sr: int = 48000,
    seed: int = 0,
    crossfade: float = 0.5,
) -> Path:
    """Like :func:`bake_morph`, into a 16-bit WAV file a scene can name as an ordinary looping sample."""
    import wave

    class _Bank:  # collects what bake_morph would add to an engine bank
        sample_rate = sr
        data: np.ndarray | None = None

        def add(self, name: str, x: np.ndarray, source: str = "") -> None:
            self.data = x

    bank = _Bank()
    bake_morph(bank, "baked", model, position, seconds, seed, crossfade)
    assert bank.data is not None
    pcm = np.round(np.clip(bank.data, -1.0, 1.0) * 32767.0).astype("<i2")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(out), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())
    return out


class MorphOverlay:
    """A ``Renderable`` that adds live morph streams to another one (a ScenePlayer): a stand-in
    for an engine streaming voice, so a scene can play a never-repeating morph today.

    Each stream follows a scene parameter (its value mapped from the parameter's range to 0..1),
    with a gain in dB ramped linearly across each block. It mixes after the engine's master (no
    bus, no limiter): that is the part a real streaming voice in the engine would fix.
    """

    def __init__(self, player: Any) -> None:
        self.player = player
        self.config = player.config
        self.streams: list[dict[str, Any]] = []

    def add(
        self,
        model: str | Path | MorphModel,
        param: str | None,
        gain_db: float = 0.0,
        seed: int = 0,
        threaded: bool = False,
    ) -> None:
        rt = self.player.runtime
        pdef = rt.scene.parameters.get(param) if param else None
        if param is not None and pdef is None:
            raise ModelError(f"morph overlay: unknown parameter '{param}'")
        stream = MorphStream(model, self.config.sample_rate, seed)
        if threaded:  # synthesis on its own thread: the render loop only copies
            stream.start_producer()
        g = 10.0 ** (gain_db / 20.0)
        self.streams.append({"stream": stream, "param": pdef, "gain": g, "last": g})

    def close(self) -> None:
        for s in self.streams:
            s["stream"].stop_producer()

    def render(self, frames: int) -> np.ndarray:
        out = self.player.render(frames)
        env = self.player.runtime.env
        for s in self.streams:
            p = s["param"]
            pos = (
                0.0 if p is None else (float(env.get(p.name, p.default)) - p.min) / max(p.max - p.min, 1e-12)
            )
            y = s["stream"].render(frames, pos)
            ramp = np.linspace(s["last"], s["gain"], frames, dtype=np.float32)[:, None]
            s["last"] = s["gain"]
            out += y * ramp
        return out
