"""Training the director: a small MLP from the designer's examples, exported to ONNX, with a card.

The network: inputs (parameters scaled 0..1, states one-hot) -> tanh hidden layers -> sigmoid
weights, trained by masked mean squared error (an example teaches only the weights it gives) with
Adam and a little weight decay. Seeded: the same examples and seed give the same model bytes.

It must earn its place, so training also runs leave-one-out over the examples and compares the
held-out error with two baselines a designer could use without any learning: the nearest example,
and inverse-distance interpolation between all examples. The table goes to stdout and into the card.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from ..scene.model import SceneDef
from .cards import card_path, code_version, plan_output, sha256_bytes, sha256_file, utc_now, write_card
from .director import INPUT_NAME, KIND, OUTPUT_NAME
from .examples import Example, FeatureSpec, example_files, examples_digest, load_examples, to_arrays
from .nn import MLP, Adam, Progress, train
from .onnx_export import mlp_to_onnx, verify

ONNX_TOLERANCE = 1e-5


@dataclass
class DirectorConfig:
    hidden: tuple[int, ...] = (16, 16)
    steps: int = 2000
    lr: float = 0.01
    weight_decay: float = 1e-4
    seed: int = 0
    loo: bool = True
    loo_steps: int | None = None  # default: same as steps


def fit(
    X: np.ndarray,
    Y: np.ndarray,
    M: np.ndarray,
    cfg: DirectorConfig,
    progress: Progress | None = None,
    steps: int | None = None,
) -> tuple[MLP, list[float]]:
    """Train one network on rows X -> Y where mask M is 1 (seeded by ``cfg.seed``)."""
    rng = np.random.default_rng(cfg.seed)
    sizes = [X.shape[1], *cfg.hidden, Y.shape[1]]
    net = MLP.init(sizes, ["tanh"] * len(cfg.hidden) + ["sigmoid"], rng)
    denom = max(1.0, float(M.sum()))

    def loss_grad(pred: np.ndarray, idx: np.ndarray) -> tuple[float, np.ndarray]:
        r = (pred - Y[idx]) * M[idx]
        return float((r * r).sum() / denom), 2.0 * r / denom

    opt = Adam(lr=cfg.lr, weight_decay=cfg.weight_decay)
    hist = train(net, loss_grad, X, steps or cfg.steps, opt, rng, progress=progress)
    return net, hist


def _nearest(Xtr: np.ndarray, Ytr: np.ndarray, Mtr: np.ndarray, x: np.ndarray) -> np.ndarray:
    out = np.zeros(Ytr.shape[1])
    d = np.sqrt(((Xtr - x) ** 2).sum(axis=1))
    for j in range(Ytr.shape[1]):
        have = Mtr[:, j] > 0
        out[j] = Ytr[have, j][np.argmin(d[have])] if have.any() else 0.5
    return out


def _idw(Xtr: np.ndarray, Ytr: np.ndarray, Mtr: np.ndarray, x: np.ndarray, power: float = 2.0) -> np.ndarray:
    out = np.zeros(Ytr.shape[1])
    d = np.sqrt(((Xtr - x) ** 2).sum(axis=1))
    for j in range(Ytr.shape[1]):
        have = Mtr[:, j] > 0
        if not have.any():
            out[j] = 0.5
            continue
        dj = d[have]
        if np.any(dj < 1e-9):
            out[j] = Ytr[have, j][np.argmin(dj)]  # an example at the very same inputs
            continue
        w = 1.0 / dj**power
        out[j] = float((w * Ytr[have, j]).sum() / w.sum())
    return out


@dataclass
class LooResult:
    """Held-out absolute errors per example and output, for the model and each baseline."""

    errors: dict[str, np.ndarray] = field(default_factory=dict)  # method -> (n, K) |err| (nan if unknown)

    def mae(self, method: str) -> float:
        return float(np.nanmean(self.errors[method]))

    def mae_per_output(self, method: str) -> np.ndarray:
        return np.nanmean(self.errors[method], axis=0)


def leave_one_out(
    X: np.ndarray, Y: np.ndarray, M: np.ndarray, cfg: DirectorConfig, progress: Progress | None = None
) -> LooResult:
    n, k = Y.shape
    res = LooResult({m: np.full((n, k), np.nan) for m in ("model", "nearest", "idw")})
    for i in range(n):
        keep = np.arange(n) != i
        if M[keep].sum() == 0:
            continue
        net, _ = fit(X[keep], Y[keep], M[keep], cfg, steps=cfg.loo_steps)
        preds = {
            "model": net.forward(X[i : i + 1])[0],
            "nearest": _nearest(X[keep], Y[keep], M[keep], X[i]),
            "idw": _idw(X[keep], Y[keep], M[keep], X[i]),
        }
        known = M[i] > 0
        for m, p in preds.items():
            res.errors[m][i, known] = np.abs(p - Y[i])[known]
        if progress is not None:
            progress.update(i + 1)
    return res


def _describe(e: Example) -> str:
    return ", ".join(f"{k}={v}" for k, v in e.inputs.items()) or "(defaults)"


def loo_report(res: LooResult, outputs: Sequence[str], examples: Sequence[Example]) -> tuple[str, dict]:
    """A printable table and the card's ``evaluation`` section: where the model wins and loses."""
    methods = ("model", "nearest", "idw")
    width = max(12, *(len(o) for o in outputs))
    lines = [f"{'held-out MAE':<{width}} " + " ".join(f"{m:>9}" for m in methods)]
    per = {m: res.mae_per_output(m) for m in methods}
    for j, uid in enumerate(outputs):
        lines.append(f"{uid:<{width}} " + " ".join(f"{per[m][j]:9.4f}" for m in methods))
    lines.append(f"{'all':<{width}} " + " ".join(f"{res.mae(m):9.4f}" for m in methods))
    ex_err = {m: np.nanmean(res.errors[m], axis=1) for m in methods}
    wins = {}
    for base in ("nearest", "idw"):
        ok = ~np.isnan(ex_err["model"])
        wins[base] = {
            "model_better": int(np.sum(ex_err["model"][ok] < ex_err[base][ok] - 1e-9)),
            "baseline_better": int(np.sum(ex_err["model"][ok] > ex_err[base][ok] + 1e-9)),
            "examples": int(ok.sum()),
        }
    best_base = np.fmin(ex_err["nearest"], ex_err["idw"])
    margin = ex_err["model"] - best_base
    order = np.argsort(np.nan_to_num(margin, nan=0.0))
    wins_at = [
        {"example": examples[i].where, "inputs": _describe(examples[i]), "margin": round(float(margin[i]), 4)}
        for i in order[:3]
        if margin[i] < 0
    ]
    loses_at = [
        {"example": examples[i].where, "inputs": _describe(examples[i]), "margin": round(float(margin[i]), 4)}
        for i in order[::-1][:3]
        if margin[i] > 0
    ]
    for base, w in wins.items():
        lines.append(
            f"model vs {base}: better on {w['model_better']}/{w['examples']} held-out examples, "
            f"worse on {w['baseline_better']}"
        )
    for title, rows in (("model wins most at", wins_at), ("model loses most at", loses_at)):
        for r in rows:
            lines.append(f"  {title}: {r['inputs']} ({r['example']}, {r['margin']:+.4f} vs best baseline)")
    winner_per_output = {
        uid: methods[int(np.nanargmin([per[m][j] for m in methods]))] for j, uid in enumerate(outputs)
    }
    section = {
        "method": "leave-one-out over the examples (a model retrained without each example)",
        "metric": "mean absolute error of the weight (linear 0..1)",
        "mae": {m: round(res.mae(m), 5) for m in methods},
        "mae_per_output": {
            m: {uid: round(float(per[m][j]), 5) for j, uid in enumerate(outputs)} for m in methods
        },
        "best_per_output": winner_per_output,
        "model_vs_baselines": wins,
        "model_wins_most_at": wins_at,
        "model_loses_most_at": loses_at,
    }
    return "\n".join(lines), section


@dataclass
class DirectorTraining:
    net: MLP
    model_path: Path
    card: dict[str, Any]
    report: str


def train_director(
    scene: SceneDef,
    cfg: DirectorConfig | None = None,
    out: Path | None = None,
    progress: bool = True,
    examples: Sequence[Example] | None = None,
    overwrite: bool = False,
) -> DirectorTraining:
    """Train, export, verify and document the scene's director. Returns the model path and card.

    The model goes to ``out``, or else beside the scene's model as the next version
    (``cards.plan_output``): an existing model is only replaced with ``overwrite``."""
    cfg = cfg or DirectorConfig()
    d = scene.director
    if d is None:
        raise ModelError(f"{scene.file}: no 'director:' section; add inputs, outputs, model and examples")
    if not d.outputs:
        raise ModelError(f"{scene.file}: director has no outputs (layer uids to drive)")
    current = Path(d.model) if d.model else scene.root / "models" / f"{scene.name}.director.onnx"
    path, version = plan_output(current, out, overwrite)
    files = example_files(scene)
    exs = list(examples) if examples is not None else load_examples(scene, files)
    if len(exs) < 2:
        raise ModelError(
            f"{scene.file}: director needs at least 2 examples, found {len(exs)} in "
            f"{', '.join(map(str, files)) or '(no examples file)'}"
        )
    spec = FeatureSpec.from_scene(scene)
    X, Y, M = to_arrays(scene, exs)
    bar = Progress(cfg.steps, "train director", enabled=progress)
    net, hist = fit(X, Y, M, cfg, progress=bar)
    report, evaluation = "", None
    if cfg.loo and len(exs) >= 3:
        res = leave_one_out(X, Y, M, cfg, Progress(len(exs), "leave-one-out ", enabled=progress))
        report, evaluation = loo_report(res, d.outputs, exs)
    name = f"{scene.name}/director"
    meta = {
        "kind": KIND,
        "name": name,
        "version": str(version),
        "scene": scene.name,
        "inputs": list(d.inputs),
        "features": list(spec.names),
        "outputs": list(d.outputs),
        "examples_sha256": examples_digest(exs),
    }
    blob = mlp_to_onnx(net, INPUT_NAME, OUTPUT_NAME, meta, graph_name="director")
    # check on the examples and on random rows across the whole input space
    probe = np.vstack([X, np.random.default_rng(cfg.seed + 1).uniform(0, 1, (256, X.shape[1]))])
    err = verify(net, blob, probe, ONNX_TOLERANCE)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)
    fitted = net.as_float32().forward(X)
    train_mae = float(np.abs(fitted - Y)[M > 0].mean())
    card = {
        "model": name,
        "kind": KIND,
        "version": version,
        "file": path.name,
        "sha256": sha256_bytes(blob),
        "size_bytes": len(blob),
        "date": utc_now(),
        "code_version": code_version(),
        "scene": {"name": scene.name, "file": scene.file.name},
        "inputs": [{"name": n, "encoding": k} for n, (k, _) in zip(d.inputs, spec.kinds, strict=True)],
        "features": list(spec.names),
        "input_tensor": {"name": INPUT_NAME, "shape": ["N", spec.width], "type": "float32"},
        "outputs": list(d.outputs),
        "output_tensor": {
            "name": OUTPUT_NAME,
            "shape": ["N", len(d.outputs)],
            "type": "float32",
            "range": "0..1 (sigmoid), linear layer weight",
        },
        "architecture": {
            "hidden": list(cfg.hidden),
            "activations": ["tanh"] * len(cfg.hidden) + ["sigmoid"],
            "parameters": net.n_params,
        },
        "training": {
            "steps": cfg.steps,
            "lr": cfg.lr,
            "weight_decay": cfg.weight_decay,
            "seed": cfg.seed,
            "optimizer": "Adam",
            "loss": "masked mean squared error",
            "final_loss": round(hist[-1], 6),
            "train_mae": round(train_mae, 5),
        },
        "examples": {
            "count": len(exs),
            "sha256": examples_digest(exs),
            "files": [{"file": f.name, "sha256": sha256_file(f)} for f in files if f.is_file()],
            "items": [e.to_json() for e in exs],
        },
        "onnx_check": {"max_abs_diff": err, "tolerance": ONNX_TOLERANCE, "rows": int(probe.shape[0])},
        "evaluation": evaluation,
    }
    write_card(path, card)
    return DirectorTraining(net, path, card, report)


def summary(t: DirectorTraining) -> str:
    c = t.card
    lines = [
        f"wrote {t.model_path} ({c['size_bytes']} bytes, version {c['version']}) "
        f"and {card_path(t.model_path).name}",
        f"examples: {c['examples']['count']}, train MAE {c['training']['train_mae']:.4f}, "
        f"ONNX check max |diff| {c['onnx_check']['max_abs_diff']:.2e}",
    ]
    if t.report:
        lines.append(t.report)
    return "\n".join(lines)


def dumps_card(card: dict) -> str:
    return json.dumps(card, indent=2)
