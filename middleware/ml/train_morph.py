"""Training a morph model: a small autoencoder over the sources' band-level frames, decoder to ONNX.

Steps (all numpy, seeded):
1. Analyse every source (each channel) into per-frame band levels (dB), the same analysis the
   stream's output is measured with (:func:`middleware.ml.morph.band_levels`).
2. Train an autoencoder bands -> tanh -> latent -> tanh -> bands on the normalised levels, with an
   *interpolation* term: decoding a point on the segment between two sources' latent centroids
   should give the dB-linear blend of their decodings. That keeps the morph monotonic per band
   (the decoder is close to linear along the path the stream walks).
3. Per source: the latent centroid (anchor), the latents' spread (Cholesky factor of their
   covariance), and the drift time constant (from the latents' lag-1 autocorrelation).
4. Calibrate by measurement: render the stream at each anchor, re-analyse, set the drift scale so
   the band spread over time matches the source's, then the per-band offset so the mean matches.
5. Export the decoder (denormalisation folded into its last layer) to ONNX with the anchors in its
   metadata; check onnxruntime against the training forward pass; write the model card.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.bank import decode_file
from ..errors import ModelError
from ..scene.model import MorphSource, SceneDef
from .cards import (
    card_path,
    code_version,
    model_version,
    plan_output,
    sha256_bytes,
    sha256_file,
    utc_now,
    write_card,
)
from .morph import (
    INPUT_NAME,
    KIND,
    OUTPUT_NAME,
    MorphModel,
    audible_bands,
    band_edges,
    band_levels,
    band_stats,
    render_morph,
)
from .nn import MLP, Adam, Progress
from .onnx_export import mlp_to_onnx, verify

ONNX_TOLERANCE_DB = 1e-3
FLOOR_BELOW_DB = 60.0
SLOW_DRIFT_TAU_S = 4.0
SLOW_DRIFT_AMOUNT = 0.1  # slow wander, as a fraction of each source's latent spread


@dataclass
class MorphConfig:
    latent: int = 4
    hidden: int = 32
    n_bands: int = 32
    steps: int = 3000
    batch: int = 256
    lr: float = 3e-3
    interp_weight: float = 1.0
    seed: int = 0
    sample_rate: int = 48000
    calib_seconds: float = 10.0


@dataclass
class MorphTraining:
    model_path: Path
    card: dict[str, Any]
    decoder: MLP
    seconds: float


def _decoder(net: MLP) -> MLP:
    """The decoder half, sharing arrays with ``net`` (so optimiser steps on ``net`` move it too)."""
    return MLP(net.W[2:], net.b[2:], net.acts[2:])


def _encode(net: MLP, x: np.ndarray) -> np.ndarray:
    return MLP(net.W[:2], net.b[:2], net.acts[:2]).forward(x)


def fit_autoencoder(
    feats: Sequence[np.ndarray], cfg: MorphConfig, progress: Progress | None = None
) -> tuple[MLP, np.ndarray, np.ndarray, list[float]]:
    """Train on per-source frame matrices (frames, bands); returns (net, mu, sd, loss history)."""
    rng = np.random.default_rng(cfg.seed)
    allx = np.vstack(feats)
    mu = allx.mean(axis=0)
    sd = np.maximum(allx.std(axis=0), 0.5)  # dB: a near-constant band is not blown up
    xs = [(f - mu) / sd for f in feats]
    x = np.vstack(xs)
    owner = np.concatenate([np.full(len(f), i) for i, f in enumerate(xs)])
    B = x.shape[1]
    net = MLP.init([B, cfg.hidden, cfg.latent, cfg.hidden, B], ["tanh", "linear", "tanh", "linear"], rng)
    dec = _decoder(net)
    opt = Adam(lr=cfg.lr)
    S = len(xs)
    hist = []
    n = len(x)
    for step in range(cfg.steps):
        idx = rng.choice(n, min(cfg.batch, n), replace=False)
        pred, outs = net.forward(x[idx], keep=True)
        r = pred - x[idx]
        loss = float(np.mean(r * r))
        grads = net.backward(outs, 2.0 * r / r.size)
        if S > 1 and cfg.interp_weight > 0:
            # centroids of this batch's latents per source (treated as constants)
            z = outs[2]
            cents = [z[owner[idx] == s].mean(axis=0) for s in range(S) if np.any(owner[idx] == s)]
            if len(cents) > 1:
                k = len(cents)
                a = rng.integers(0, k - 1, 64)
                t = rng.uniform(0, 1, (64, 1))
                ca, cb = np.asarray(cents)[a], np.asarray(cents)[a + 1]
                ya, yb = dec.forward(ca), dec.forward(cb)
                ym, douts = dec.forward((1 - t) * ca + t * cb, keep=True)
                ri = ym - ((1 - t) * ya + t * yb)
                loss += cfg.interp_weight * float(np.mean(ri * ri))
                g2 = dec.backward(douts, cfg.interp_weight * 2.0 * ri / ri.size)
                for q, g in enumerate(g2):
                    grads[4 + q] = grads[4 + q] + g
        opt.step(net.params(), grads)
        hist.append(loss)
        if progress is not None:
            progress.update(step + 1, f"loss {loss:.4f}")
    return net, mu, sd, hist


def _export_decoder(net: MLP, mu: np.ndarray, sd: np.ndarray) -> MLP:
    """Decoder whose last layer outputs dB directly (denormalisation folded into W and b)."""
    dec = _decoder(net)
    W = [w.copy() for w in dec.W]
    b = [c.copy() for c in dec.b]
    W[-1] = W[-1] * sd[None, :]
    b[-1] = b[-1] * sd + mu
    return MLP(W, b, list(dec.acts))


def _tau(z: np.ndarray, hop_s: float) -> float:
    """Drift time constant from the latents' mean lag-1 autocorrelation (clipped to 0.05..2 s)."""
    zc = z - z.mean(axis=0)
    num = (zc[1:] * zc[:-1]).sum(axis=0)
    den = (zc * zc).sum(axis=0) + 1e-12
    rho = float(np.clip(np.mean(num / den), 1e-3, 0.999))
    return float(np.clip(-hop_s / np.log(rho), 0.05, 2.0))


def _blob(dec: MLP, meta: dict[str, Any]) -> bytes:
    """ONNX bytes; every metadata value JSON-encoded (strings too), so the loader can decode all."""
    enc = {k: (v if k == "kind" else json.dumps(v)) for k, v in meta.items()}
    return mlp_to_onnx(dec, INPUT_NAME, OUTPUT_NAME, enc, graph_name="morph_decoder")


def train_morph_files(
    sources: Sequence[Path],
    out: Path,
    cfg: MorphConfig | None = None,
    name: str = "morph",
    progress: bool = True,
    param: str | None = None,
    version: int | None = None,
) -> MorphTraining:
    """Train a morph between audio files ``sources`` (in morph order) and write ``out`` + its card.

    ``version`` goes into the card (default: one more than the card already at ``out``)."""
    cfg = cfg or MorphConfig()
    t0 = time.perf_counter()
    if not sources:
        raise ModelError("morph: needs at least one source")
    sr = cfg.sample_rate
    edges = band_edges(sr, cfg.n_bands)
    audio = [decode_file(p, sr) for p in sources]
    stats = [band_stats(a.astype(np.float64), sr, edges) for a in audio]
    # a floor FLOOR_BELOW_DB under each source's loudest band: deeper levels are leakage and
    # quantisation noise, and modelling their wild swings would waste the model on the inaudible
    floors = [float(np.max(m) - FLOOR_BELOW_DB) for m, _ in stats]
    feats = [
        np.maximum(
            np.vstack([band_levels(a[:, c].astype(np.float64), sr, edges) for c in range(a.shape[1])]), fl
        )
        for a, fl in zip(audio, floors, strict=True)
    ]
    per_channel = [
        np.maximum(band_levels(a[:, 0].astype(np.float64), sr, edges), fl)
        for a, fl in zip(audio, floors, strict=True)
    ]
    net, mu, sd, hist = fit_autoencoder(feats, cfg, Progress(cfg.steps, "train morph", enabled=progress))
    # anchors: centroid, spread and drift time constant of each source's latents
    hop_s = band_frame_hop(sr) / sr
    means, chols, taus = [], [], []
    for f, ch0 in zip(feats, per_channel, strict=True):
        z = _encode(net, (f - mu) / sd)
        means.append(z.mean(axis=0))
        cov = np.cov(z.T) + 1e-6 * np.eye(cfg.latent)
        chols.append(np.linalg.cholesky(cov))
        taus.append(_tau(_encode(net, (ch0 - mu) / sd), hop_s))
    dec = _export_decoder(net, mu, sd)
    S = len(sources)
    meta: dict[str, Any] = {
        "kind": KIND,
        "name": name,
        "version": 1,
        "sample_rate": sr,
        "band_edges_hz": [round(float(e), 4) for e in edges],
        "anchor_means": np.asarray(means).tolist(),
        "anchor_chols": np.asarray(chols).tolist(),
        "anchor_calibration_db": np.zeros((S, edges.size - 1)).tolist(),
        "anchor_drift_scale": [1.0] * S,
        "drift_tau_s": float(np.median(taus)),
        "slow_drift_tau_s": SLOW_DRIFT_TAU_S,
        "slow_drift_amount": SLOW_DRIFT_AMOUNT,
        "sources": [Path(p).name for p in sources],
        "param": param,
    }
    # calibration by measurement, per anchor: drift scale for the spread, then offsets for the mean
    positions = [0.0] if S == 1 else [i / (S - 1) for i in range(S)]
    calib = np.zeros((S, edges.size - 1))
    drift = np.ones(S)

    def measure(pos: float, scale: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
        meta["anchor_drift_scale"] = [scale] * S
        meta["anchor_calibration_db"] = calib.tolist()
        y = render_morph(MorphModel(_blob(dec, meta)), cfg.calib_seconds, pos, sr=sr, seed=seed)
        return band_stats(y.astype(np.float64), sr, edges)

    for i, pos in enumerate(positions):
        src_mean, src_spread = stats[i]
        _, s0 = measure(pos, 0.0, 101 + i)
        _, s1 = measure(pos, 1.0, 202 + i)
        v0, v1, vs = s0**2, s1**2, src_spread**2
        ok = ((v1 - v0) > 0.05) & audible_bands(src_mean)
        k2 = float(np.median((vs[ok] - v0[ok]) / (v1[ok] - v0[ok]))) if ok.any() else 0.0
        drift[i] = float(np.sqrt(np.clip(k2, 0.0, 4.0)))
        gen_mean, _ = measure(pos, drift[i], 303 + i)
        calib[i] = src_mean - gen_mean
    meta["anchor_drift_scale"] = drift.tolist()
    meta["anchor_calibration_db"] = np.round(calib, 4).tolist()
    if version is None:
        version = model_version(out) + 1 if card_path(out).is_file() else 1
    meta["version"] = version
    blob = _blob(dec, meta)
    probe = np.vstack(
        [np.asarray(means), np.random.default_rng(cfg.seed + 7).normal(0, 1, (256, cfg.latent))]
    )
    err = verify(dec, blob, probe, ONNX_TOLERANCE_DB)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(blob)
    # measured endpoint match with a fresh seed (what the card promises)
    endpoint = []
    for i, pos in enumerate(positions):
        y = render_morph(MorphModel(blob), cfg.calib_seconds, pos, sr=sr, seed=999 + i)
        gm, gs = band_stats(y.astype(np.float64), sr, edges)
        aud = audible_bands(stats[i][0])
        endpoint.append(
            {
                "source": Path(sources[i]).name,
                "position": pos,
                "audible_bands": int(aud.sum()),
                "mean_abs_diff_db": round(float(np.mean(np.abs(gm - stats[i][0])[aud])), 3),
                "max_abs_diff_db": round(float(np.max(np.abs(gm - stats[i][0])[aud])), 3),
                "spread_source_db": round(float(np.mean(stats[i][1][aud])), 3),
                "spread_model_db": round(float(np.mean(gs[aud])), 3),
                "spread_max_abs_diff_db": round(float(np.max(np.abs(gs - stats[i][1])[aud])), 3),
            }
        )
    seconds = time.perf_counter() - t0
    card = {
        "model": name,
        "kind": KIND,
        "version": meta["version"],
        "file": out.name,
        "sha256": sha256_bytes(blob),
        "size_bytes": len(blob),
        "date": utc_now(),
        "code_version": code_version(),
        "param": param,
        "sources": [
            {
                "file": Path(p).name,
                "sha256": sha256_file(Path(p)),
                "seconds": round(len(a) / sr, 3),
                "position": pos,
            }
            for p, a, pos in zip(sources, audio, positions, strict=True)
        ],
        "input_tensor": {"name": INPUT_NAME, "shape": ["N", cfg.latent], "type": "float32"},
        "output_tensor": {
            "name": OUTPUT_NAME,
            "shape": ["N", edges.size - 1],
            "type": "float32",
            "unit": "dB per band (power density)",
        },
        "analysis": {
            "sample_rate": sr,
            "frame": int(2 * band_frame_hop(sr)),
            "hop": band_frame_hop(sr),
            "window": "Hann",
            "bands": edges.size - 1,
            "band_edges_hz": meta["band_edges_hz"],
        },
        "synthesis": "noise-excited spectral shaping, sqrt-Hann overlap-add at 50 %, "
        "independent L/R excitation",
        "architecture": {
            "autoencoder": [edges.size - 1, cfg.hidden, cfg.latent, cfg.hidden, edges.size - 1],
            "exported": "decoder only (latent -> band dB); anchors in metadata",
            "decoder_parameters": dec.n_params,
        },
        "training": {
            "steps": cfg.steps,
            "batch": cfg.batch,
            "lr": cfg.lr,
            "seed": cfg.seed,
            "interp_weight": cfg.interp_weight,
            "final_loss": round(float(np.mean(hist[-50:])), 5),
            "frames": int(sum(len(f) for f in feats)),
            "seconds": round(seconds, 2),
        },
        "drift": {"tau_s": meta["drift_tau_s"], "scale_per_anchor": [round(float(d), 4) for d in drift]},
        "calibration_db_mean_abs": [round(float(np.mean(np.abs(c))), 3) for c in calib],
        "endpoint_match": endpoint,
        "onnx_check": {
            "max_abs_diff_db": err,
            "tolerance_db": ONNX_TOLERANCE_DB,
            "rows": int(probe.shape[0]),
        },
    }
    write_card(out, card)
    return MorphTraining(out, card, dec, seconds)


def band_frame_hop(sr: int) -> int:
    from .morph import frame_size

    return frame_size(sr) // 2


def find_morph_layer(scene: SceneDef, layer: str):
    """The morph layer named ``emitter.layer`` (or a unique layer id)."""
    found = [ly for _, ly in scene.all_layers() if layer in (ly.uid, ly.id)]
    if not found:
        morphs = [ly.uid for _, ly in scene.all_layers() if isinstance(ly.source, MorphSource)]
        raise ModelError(f"layer '{layer}' not found; morph layers: {', '.join(morphs) or '(none)'}")
    if len(found) > 1:
        raise ModelError(
            f"layer id '{layer}' is ambiguous: {', '.join(ly.uid for ly in found)}; use emitter.layer"
        )
    ly = found[0]
    if not isinstance(ly.source, MorphSource):
        raise ModelError(f"layer '{ly.uid}' is not a morph layer (its source needs 'morph: [sources]')")
    return ly


def train_morph(
    scene: SceneDef,
    layer: str,
    cfg: MorphConfig | None = None,
    out: Path | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> MorphTraining:
    """Train the morph of a scene layer. The model goes to ``out``, or else beside the layer's
    ``model`` as the next version (``cards.plan_output``): an existing model is only replaced with
    ``overwrite``."""
    ly = find_morph_layer(scene, layer)
    src: MorphSource = ly.source
    current = Path(src.model) if src.model else scene.root / "models" / f"{ly.uid}.morph.onnx"
    path, version = plan_output(current, out, overwrite)
    return train_morph_files(
        [s.file for s in src.sources],
        path,
        cfg,
        name=f"{scene.name}/{ly.uid}",
        progress=progress,
        param=src.param,
        version=version,
    )


def morph_summary(t: MorphTraining) -> str:
    c = t.card
    lines = [f"wrote {t.model_path} ({c['size_bytes']} bytes, version {c['version']}) in {t.seconds:.1f} s"]
    for e in c["endpoint_match"]:
        lines.append(
            f"  {e['source']} @ {e['position']:.2f}: band mean |diff| {e['mean_abs_diff_db']:.2f} dB "
            f"(max {e['max_abs_diff_db']:.2f}), "
            f"spread {e['spread_model_db']:.2f} vs {e['spread_source_db']:.2f} dB"
        )
    lines.append(f"  ONNX check max |diff| {c['onnx_check']['max_abs_diff_db']:.2e} dB")
    return "\n".join(lines)


def dumps(card: dict) -> str:
    return json.dumps(card, indent=2)
