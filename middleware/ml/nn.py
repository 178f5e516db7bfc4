"""A tiny multilayer perceptron in numpy: forward, backward, Adam. Training code only.

Why our own: the director and the morph autoencoder are a few thousand weights each, trained on
tens to thousands of rows. numpy trains them in seconds on one core, keeps the run-time dependency
list at onnxruntime, and makes the exported graph (MatMul, Add, Tanh, Sigmoid) an exact mirror of
``forward`` here, so the ONNX check compares two implementations of the same arithmetic.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

ACTIVATIONS = ("tanh", "sigmoid", "linear")


def _act(name: str, x: np.ndarray) -> np.ndarray:
    if name == "tanh":
        return np.tanh(x)
    if name == "sigmoid":
        return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic
    return x


def _act_grad(name: str, y: np.ndarray) -> np.ndarray:
    """Derivative expressed through the activation's output ``y``."""
    if name == "tanh":
        return 1.0 - y * y
    if name == "sigmoid":
        return y * (1.0 - y)
    return np.ones_like(y)


@dataclass
class MLP:
    """Dense layers ``W[i]`` (in, out), ``b[i]`` (out,), each followed by ``acts[i]``."""

    W: list[np.ndarray]
    b: list[np.ndarray]
    acts: list[str]

    @classmethod
    def init(cls, sizes: Sequence[int], acts: Sequence[str], rng: np.random.Generator) -> MLP:
        """Glorot-uniform weights, zero biases (seeded: same seed, same network)."""
        if len(acts) != len(sizes) - 1:
            raise ValueError("one activation per layer")
        W, b = [], []
        for n_in, n_out in itertools.pairwise(sizes):
            lim = np.sqrt(6.0 / (n_in + n_out))
            W.append(rng.uniform(-lim, lim, (n_in, n_out)))
            b.append(np.zeros(n_out))
        return cls(W, b, list(acts))

    @property
    def n_params(self) -> int:
        return int(sum(w.size + c.size for w, c in zip(self.W, self.b, strict=True)))

    def params(self) -> list[np.ndarray]:
        return [p for pair in zip(self.W, self.b, strict=True) for p in pair]

    def forward(self, x: np.ndarray, keep: bool = False) -> np.ndarray | tuple[np.ndarray, list]:
        """Outputs for rows ``x``; with ``keep`` also every layer's output (for ``backward``)."""
        h = np.asarray(x, dtype=np.float64)
        outs = [h]
        for W, c, a in zip(self.W, self.b, self.acts, strict=True):
            h = _act(a, h @ W + c)
            outs.append(h)
        return (h, outs) if keep else h

    def backward(self, outs: list, grad_out: np.ndarray) -> list[np.ndarray]:
        """Gradients (same order as ``params``) of a loss whose gradient w.r.t. the output is ``grad_out``."""
        grads: list[np.ndarray] = []
        g = grad_out
        for i in range(len(self.W) - 1, -1, -1):
            g = g * _act_grad(self.acts[i], outs[i + 1])
            grads.append(g.sum(axis=0))
            grads.append(outs[i].T @ g)
            if i > 0:
                g = g @ self.W[i].T
        grads.reverse()  # now W0, b0, W1, b1 ...
        return grads

    def as_float32(self) -> MLP:
        """The network exactly as exported (float32 weights, float64 arithmetic in ``forward``)."""
        return MLP(
            [w.astype(np.float32).astype(np.float64) for w in self.W],
            [c.astype(np.float32).astype(np.float64) for c in self.b],
            list(self.acts),
        )


@dataclass
class Adam:
    """Adam with optional decoupled weight decay (AdamW) on weight matrices only."""

    lr: float = 1e-2
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    t: int = 0
    m: list = field(default_factory=list)
    v: list = field(default_factory=list)

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        if not self.m:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.t += 1
        c1 = 1.0 - self.beta1**self.t
        c2 = 1.0 - self.beta2**self.t
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            self.m[i] = self.beta1 * self.m[i] + (1 - self.beta1) * g
            self.v[i] = self.beta2 * self.v[i] + (1 - self.beta2) * g * g
            if self.weight_decay and p.ndim == 2:
                p -= self.lr * self.weight_decay * p
            p -= self.lr * (self.m[i] / c1) / (np.sqrt(self.v[i] / c2) + self.eps)


class Progress:
    """A plain stderr progress bar (no dependency); silent when ``enabled`` is False."""

    def __init__(self, total: int, label: str, enabled: bool = True, width: int = 30) -> None:
        self.total = max(1, total)
        self.label = label
        self.enabled = enabled
        self.width = width
        self.t0 = time.perf_counter()
        self._last = -1.0

    def update(self, done: int, note: str = "") -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if done < self.total and now - self._last < 0.1:
            return
        self._last = now
        frac = min(1.0, done / self.total)
        bar = "#" * int(frac * self.width) + "-" * (self.width - int(frac * self.width))
        sys.stderr.write(f"\r{self.label} [{bar}] {100 * frac:5.1f}% {now - self.t0:5.1f}s {note}")
        if done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def train(
    net: MLP,
    loss_grad: Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]],
    x: np.ndarray,
    steps: int,
    opt: Adam,
    rng: np.random.Generator,
    batch: int | None = None,
    extra: Callable[[MLP], tuple[float, list[np.ndarray]]] | None = None,
    progress: Progress | None = None,
) -> list[float]:
    """Minimise ``loss_grad(pred, rows) -> (loss, dloss/dpred)`` over ``x``.

    Full batch when ``batch`` is None.

    ``extra(net) -> (loss, grads)`` adds a regulariser computed on its own (the morph's
    interpolation term). Returns the loss history (one value per step).
    """
    hist = []
    n = x.shape[0]
    for s in range(steps):
        idx = np.arange(n) if batch is None or batch >= n else rng.choice(n, batch, replace=False)
        pred, outs = net.forward(x[idx], keep=True)
        loss, g = loss_grad(pred, idx)
        grads = net.backward(outs, g)
        if extra is not None:
            l2, g2 = extra(net)
            loss += l2
            grads = [a + c for a, c in zip(grads, g2, strict=True)]
        opt.step(net.params(), grads)
        hist.append(float(loss))
        if progress is not None:
            progress.update(s + 1, f"loss {loss:.5f}")
    return hist
