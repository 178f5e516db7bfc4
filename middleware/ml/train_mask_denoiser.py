"""Train the mask denoiser on synthesised clean + noise pairs and export it to ONNX.

    python -m middleware.ml.train_mask_denoiser [--steps 4000] [--clips 240] [--out DIR]

Everything is made here: clean material from :mod:`middleware.tools.signals` (speech-like,
music-like) and the formant voice (:mod:`middleware.voice`, several presets and random word
strings); noise is white, pink, brown, band-limited or amplitude-modulated, mixed at -5..25 dB SNR.
The MLP is trained in plain numpy (Adam, MSE on the ideal band ratio mask), so training needs only
numpy; the export needs the ``onnx`` package (the ``train`` extra). Deterministic for a given seed.
Writes ``mask_denoiser.onnx`` and the measured figures into the model card's results section.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ..tools import mask_denoiser as M
from ..tools import signals as S

_WORD_TEXT = (
    "the bridge north gate village stranger bread water fire river stone guard king forest night "
    "dragon gold sword shield tavern road storm wolf castle tower light dark quick slow help run "
    "listen look behind you beware come here go away we must leave now they are coming"
)
WORDS = _WORD_TEXT.split()
HIDDEN = 128
VERSION = "1"


def _noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    seed = int(rng.integers(1 << 30))
    if kind == "white":
        x = S.white_noise(n, 0.0, seed)
    elif kind == "pink":
        x = S.pink_noise(n, 0.0, seed)
    elif kind == "brown":
        x = np.cumsum(np.random.default_rng(seed).standard_normal(n))
        x -= np.convolve(x, np.ones(2001) / 2001, mode="same")
    elif kind == "band":
        spec = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
        f = np.fft.rfftfreq(n, 1 / M.SR)
        lo = rng.uniform(50, 4000)
        spec[(f < lo) | (f > lo * rng.uniform(1.5, 6))] *= 0.05
        x = np.fft.irfft(spec, n)
    else:  # modulated (wind-ish, fan-ish)
        base = S.pink_noise(n, 0.0, seed).astype(np.float64)
        t = np.arange(n) / M.SR
        x = base * (1 + 0.6 * np.sin(2 * np.pi * rng.uniform(0.2, 3) * t + rng.uniform(0, 6)))
    x = np.asarray(x, np.float64)
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


def _clean(i: int, rng: np.random.Generator, seconds: float) -> np.ndarray:
    kind = i % 4
    if kind == 0:
        return S.speech_like(seconds, M.SR, seed=1000 + i).astype(np.float64)
    if kind == 1:
        return S.music_like(seconds, M.SR, seed=2000 + i).astype(np.float64)
    from ..voice import render_line

    preset = ["neutral", "child", "ogre", "elder", "goblin", "whisper"][int(rng.integers(6))]
    text = " ".join(rng.choice(WORDS, size=int(rng.integers(5, 12)))) + "."
    y, _ = render_line(text, preset, M.SR, use_cache=False)
    return y.astype(np.float64)


def make_dataset(clips: int, seed: int, seconds: float = 2.5) -> tuple[np.ndarray, np.ndarray]:
    """Features and target masks for ``clips`` random clean + noise mixtures."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    kinds = ("white", "pink", "brown", "band", "modulated")
    for i in range(clips):
        clean = _clean(i, rng, seconds)
        clean *= rng.uniform(0.05, 0.5) / (np.max(np.abs(clean)) + 1e-12)
        noise = _noise(kinds[int(rng.integers(len(kinds)))], clean.size, rng)
        snr = rng.uniform(-5, 25)
        noise *= np.sqrt(np.mean(clean**2)) / 10 ** (snr / 20)
        cs, ns = M.stft(clean), M.stft(noise)
        feats = M.features(M.band_energy(cs + ns))
        xs.append(feats)
        ys.append(M.ideal_band_mask(cs, ns))
    return np.concatenate(xs), np.concatenate(ys)


def init_params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    def he(i: int, o: int) -> np.ndarray:
        return (rng.standard_normal((i, o)) * np.sqrt(2.0 / i)).astype(np.float32)

    return {
        "w1": he(M.N_FEATURES, HIDDEN), "b1": np.zeros(HIDDEN, np.float32),
        "w2": he(HIDDEN, HIDDEN), "b2": np.zeros(HIDDEN, np.float32),
        "w3": he(HIDDEN, M.N_BANDS) * 0.5, "b3": np.zeros(M.N_BANDS, np.float32),
    }  # fmt: skip


def forward(p: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, tuple]:
    h1 = np.maximum(x @ p["w1"] + p["b1"], 0)
    h2 = np.maximum(h1 @ p["w2"] + p["b2"], 0)
    z = h2 @ p["w3"] + p["b3"]
    out = 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))
    return out, (x, h1, h2, out)


def train(x: np.ndarray, y: np.ndarray, steps: int, seed: int, batch: int = 512) -> dict[str, np.ndarray]:
    """Adam on MSE(mask); returns the parameters."""
    rng = np.random.default_rng(seed)
    p = init_params(rng)
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(v) for k, v in p.items()}
    b1, b2, eps = 0.9, 0.999, 1e-8
    for step in range(1, steps + 1):
        lr = 1e-3 * (0.1 ** (step / steps))  # exponential decay to 1e-4
        idx = rng.integers(0, x.shape[0], batch)
        xb, yb = x[idx], y[idx]
        out, (x0, h1, h2, o) = forward(p, xb)
        d_out = 2.0 * (o - yb) / yb.size
        dz = d_out * o * (1 - o)
        g = {"w3": h2.T @ dz, "b3": dz.sum(0)}
        dh2 = (dz @ p["w3"].T) * (h2 > 0)
        g["w2"], g["b2"] = h1.T @ dh2, dh2.sum(0)
        dh1 = (dh2 @ p["w2"].T) * (h1 > 0)
        g["w1"], g["b1"] = x0.T @ dh1, dh1.sum(0)
        for k in p:
            m[k] = b1 * m[k] + (1 - b1) * g[k]
            v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
            mh, vh = m[k] / (1 - b1**step), v[k] / (1 - b2**step)
            p[k] = (p[k] - lr * mh / (np.sqrt(vh) + eps)).astype(np.float32)
        if step % 500 == 0 or step == 1:
            print(f"step {step:5d}  mse {float(np.mean((out - yb) ** 2)):.5f}", flush=True)
    return p


def export_onnx(p: dict[str, np.ndarray], path: Path, meta: dict[str, str]) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in p.items()]
    nodes = [
        helper.make_node("MatMul", ["features", "w1"], ["m1"]),
        helper.make_node("Add", ["m1", "b1"], ["a1"]),
        helper.make_node("Relu", ["a1"], ["h1"]),
        helper.make_node("MatMul", ["h1", "w2"], ["m2"]),
        helper.make_node("Add", ["m2", "b2"], ["a2"]),
        helper.make_node("Relu", ["a2"], ["h2"]),
        helper.make_node("MatMul", ["h2", "w3"], ["m3"]),
        helper.make_node("Add", ["m3", "b3"], ["a3"]),
        helper.make_node("Sigmoid", ["a3"], ["gains"]),
    ]
    graph = helper.make_graph(
        nodes,
        "mask_denoiser",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["frames", M.N_FEATURES])],
        [helper.make_tensor_value_info("gains", TensorProto.FLOAT, ["frames", M.N_BANDS])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="soundscape")
    model.ir_version = 8
    for k, val in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, val
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--clips", type=int, default=240)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=M.MODEL_PATH)
    args = ap.parse_args()
    t0 = time.time()
    x, y = make_dataset(args.clips, args.seed)
    print(f"dataset: {x.shape[0]} frames from {args.clips} clips in {time.time() - t0:.0f} s", flush=True)
    t1 = time.time()
    p = train(x, y, args.steps, args.seed)
    meta = {
        "version": VERSION,
        "trained_on": f"{args.clips} synthesised clips x 2.5 s, seed {args.seed}, {args.steps} Adam steps",
        "features": json.dumps({"sr": M.SR, "n_fft": M.N_FFT, "hop": M.HOP, "bands": M.N_BANDS,
                                "context": list(M.CONTEXT)}),
    }  # fmt: skip
    export_onnx(p, args.out, meta)
    print(f"trained in {time.time() - t1:.0f} s; wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
