"""The ML director at run time: an ONNX model picking layer weights from the game state.

Run time uses onnxruntime only (one thread, a few microseconds per tick). The model must match the
scene it plays: input ``features`` shaped (N, columns), output ``weights`` shaped (N, layers), and
the column and layer names stored in its metadata equal to what the scene's ``director:`` section
asks for. Anything else (no file, corrupt bytes, another scene's model) raises :class:`ModelError`
at load, and the caller keeps the scene's rules: the sound never stops for a model.

Designer constraints sit on top of the model, in this order: the model's output is smoothed (a
one-pole glide, so a jumpy input never zips the mix), clamped to the layer's ``min``/``max``, and
replaced by ``lock`` when the layer is locked. The runtime's live overrides then win over all of it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from ..scene.model import SceneDef
from .cards import sha256_bytes
from .examples import FeatureSpec
from .sessions import session

INPUT_NAME = "features"
OUTPUT_NAME = "weights"
KIND = "soundscape.director"


@dataclass(frozen=True)
class Constraint:
    """A designer's limits on one layer's director weight (linear 0..1)."""

    min: float = 0.0
    max: float = 1.0
    lock: float | None = None

    def __post_init__(self) -> None:
        for name, v in (("min", self.min), ("max", self.max), ("lock", self.lock)):
            if v is not None and not (math.isfinite(v) and 0.0 <= v <= 1.0):
                raise ModelError(f"constraint {name}={v!r}: must be within 0..1")
        if self.min > self.max:
            raise ModelError(f"constraint min={self.min} > max={self.max}: min must not exceed max")

    def apply(self, w: float) -> float:
        if self.lock is not None:
            return self.lock
        return min(max(w, self.min), self.max)


def _shape(arg: Any) -> list:
    return list(arg.shape) if arg.shape is not None else []


def _open(path: Path, scene: SceneDef):
    """Load and check the model file against the scene; returns (session, metadata, sha256)."""
    d = scene.director
    assert d is not None
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ModelError(
            f"director model '{path}': file not found; train it with `soundscape train director {scene.file}`"
        ) from None
    except OSError as exc:
        raise ModelError(f"director model '{path}': cannot read ({exc.strerror})") from None
    sess = session(data, name=f"director model '{path}'")
    spec = FeatureSpec.from_scene(scene)
    ins, outs = sess.get_inputs(), sess.get_outputs()
    if len(ins) != 1 or ins[0].name != INPUT_NAME:
        raise ModelError(
            f"director model '{path}': inputs {[i.name for i in ins]}; expected one input '{INPUT_NAME}'"
        )
    if len(outs) != 1 or outs[0].name != OUTPUT_NAME:
        raise ModelError(
            f"director model '{path}': outputs {[o.name for o in outs]}; expected one output '{OUTPUT_NAME}'"
        )
    shp = _shape(ins[0])
    if len(shp) != 2 or shp[1] != spec.width:
        raise ModelError(
            f"director model '{path}': input '{INPUT_NAME}' has shape {shp}; the scene's inputs "
            f"({', '.join(d.inputs)}) need [N, {spec.width}]"
        )
    shp = _shape(outs[0])
    if len(shp) != 2 or shp[1] != len(d.outputs):
        raise ModelError(
            f"director model '{path}': output '{OUTPUT_NAME}' has shape {shp}; the scene's "
            f"{len(d.outputs)} outputs need [N, {len(d.outputs)}]"
        )
    if "float" not in ins[0].type:
        raise ModelError(f"director model '{path}': input type {ins[0].type}; expected tensor(float)")
    meta = dict(sess.get_modelmeta().custom_metadata_map)
    if meta.get("kind", KIND) != KIND:
        raise ModelError(f"director model '{path}': kind '{meta.get('kind')}', expected '{KIND}'")
    for key, want in (("features", list(spec.names)), ("outputs", list(d.outputs))):
        if key not in meta:
            continue
        try:
            got = json.loads(meta[key])
        except ValueError:
            raise ModelError(f"director model '{path}': metadata '{key}' is not JSON") from None
        if got != want:
            raise ModelError(
                f"director model '{path}': trained for {key} {got}, the scene has {want}; retrain it"
            )
    return sess, meta, sha256_bytes(data)


class Director:
    """Satisfies the runtime's ``LayerDirector`` protocol (``rate_hz``, ``label``, ``evaluate``)."""

    def __init__(
        self,
        path: Path,
        scene: SceneDef,
        constraints: Mapping[str, Constraint | Mapping[str, float]] | None = None,
        smoothing: float = 0.15,
    ) -> None:
        d = scene.director
        if d is None:
            raise ModelError(f"scene '{scene.name}' has no director section")
        self.path = Path(path)
        self.sess, self.meta, digest = _open(self.path, scene)
        self.spec = FeatureSpec.from_scene(scene)
        self.outputs = tuple(d.outputs)
        self.rate_hz = float(d.rate_hz)
        self.label = {
            "model": self.meta.get("name", self.path.stem),
            "version": int(self.meta.get("version", 0) or 0),
            "hash": digest[:12],
        }
        self.constraints: dict[str, Constraint] = {}
        for uid, c in (constraints or {}).items():
            if uid not in self.outputs:
                raise ModelError(
                    f"constraint for '{uid}': not a director output; outputs: {', '.join(self.outputs)}"
                )
            self.constraints[uid] = c if isinstance(c, Constraint) else Constraint(**c)
        # smoothing: time constant in seconds of the one-pole glide applied per tick (0 = none)
        self.alpha = 1.0 if smoothing <= 0 else 1.0 - math.exp(-1.0 / (self.rate_hz * smoothing))
        self._x = np.zeros((1, self.spec.width), dtype=np.float32)
        self._row = np.zeros(self.spec.width, dtype=np.float64)
        self._y: np.ndarray | None = None
        self.last_inputs: dict[str, Any] = {}
        self.last_raw: dict[str, float] = {}
        self.last_weights: dict[str, float] = {}
        self.evaluate(scene.default_env())  # fails here (at load) rather than on the first tick
        self._y = None

    def raw(self, env: Mapping[str, Any]) -> np.ndarray:
        """The model's output for ``env`` (no smoothing, no constraints): one onnxruntime call."""
        self._x[0] = self.spec.encode_into(env, self._row)
        y = self.sess.run(None, {INPUT_NAME: self._x})[0][0]
        return np.asarray(y, dtype=np.float64)

    def evaluate(self, env: Mapping[str, Any]) -> dict[str, float]:
        """Weights for the director's layers: model -> glide -> min/max -> lock."""
        y = self.raw(env)
        if not np.all(np.isfinite(y)):
            raise ModelError(f"director model '{self.path}': produced non-finite weights {y.tolist()}")
        self._y = y if self._y is None else self._y + self.alpha * (y - self._y)
        out = {}
        for uid, w in zip(self.outputs, self._y, strict=True):
            c = self.constraints.get(uid)
            out[uid] = c.apply(float(w)) if c is not None else min(max(float(w), 0.0), 1.0)
        self.last_inputs = {k: env.get(k) for k in self.spec.inputs}
        self.last_raw = dict(zip(self.outputs, (float(v) for v in y), strict=True))
        self.last_weights = out
        return out

    def telemetry(self) -> dict[str, Any]:
        """Inputs and outputs of the last tick, plus the label: what a profiler view shows."""
        return {"inputs": self.last_inputs, "raw": self.last_raw, "weights": self.last_weights, **self.label}


def load_director(
    scene: SceneDef,
    constraints: Mapping[str, Constraint | Mapping[str, float]] | None = None,
    smoothing: float = 0.15,
) -> Director | None:
    """The scene's director, or None when the scene has none (or names no model).

    Raises ModelError for a missing, corrupt or mismatched model: callers report it and keep the
    rules (``runtime.attach_director(None)``).
    """
    d = scene.director
    if d is None or d.model is None:
        return None
    return Director(Path(d.model), scene, constraints=constraints, smoothing=smoothing)


def check_director(scene: SceneDef) -> list[str]:
    """Problems with the scene's director model, one message each (empty: fine or no director).

    For ``soundscape validate``: the same checks as :func:`load_director`, never raising.
    """
    d = scene.director
    if d is None:
        return []
    problems = []
    if not d.outputs:
        problems.append("director: no outputs (list the layer uids it drives)")
    flagged = {layer.uid for _, layer in scene.all_layers() if layer.director}
    for uid in d.outputs:
        if uid not in flagged:
            problems.append(
                f"director output '{uid}': that layer lacks 'director: true', "
                "so the model's weight is ignored"
            )
    if d.model is None:
        return problems
    try:
        Director(Path(d.model), scene, smoothing=0.0)
    except ModelError as exc:
        problems.append(str(exc))
    return problems


def check_morphs(scene: SceneDef) -> list[str]:
    """Problems with the scene's morph layers' models (for ``soundscape validate``), never raising."""
    from ..scene.model import MorphSource
    from .morph import MorphModel

    problems = []
    for _, layer in scene.all_layers():
        src = layer.source
        if not isinstance(src, MorphSource) or src.model is None:
            continue
        try:
            m = MorphModel(src.model)
        except ModelError as exc:
            problems.append(f"layer '{layer.uid}': {exc}")
            continue
        if m.n_anchors != len(src.sources):
            problems.append(
                f"layer '{layer.uid}': morph model has {m.n_anchors} sources, the layer lists "
                f"{len(src.sources)}; retrain with `soundscape train morph {scene.file} --layer {layer.uid}`"
            )
    return problems


def model_notes(scene: SceneDef) -> list[str]:
    """Warnings (not errors): models older than what they were trained from, per their cards."""
    from ..scene.model import MorphSource
    from .cards import card_path, read_card, sha256_file
    from .examples import example_files, examples_digest, load_examples

    notes = []
    d = scene.director
    if d is not None and d.model is not None and card_path(Path(d.model)).is_file():
        try:
            card = read_card(Path(d.model))
            if card.get("examples", {}).get("sha256") != examples_digest(
                load_examples(scene, example_files(scene))
            ):
                notes.append(
                    f"director model '{Path(d.model).name}' is stale: the examples changed since it was "
                    f"trained; run `soundscape train director {scene.file}`"
                )
        except ModelError as exc:
            notes.append(f"director: {exc}")
    for _, layer in scene.all_layers():
        src = layer.source
        if not isinstance(src, MorphSource) or src.model is None or not card_path(Path(src.model)).is_file():
            continue
        try:
            card = read_card(Path(src.model))
            trained = [s.get("sha256") for s in card.get("sources", [])]
            now = [sha256_file(s.file) if s.file.is_file() else None for s in src.sources]
            if trained != now:
                notes.append(
                    f"layer '{layer.uid}': morph model is stale (its sources changed since training); "
                    f"run `soundscape train morph {scene.file} --layer {layer.uid}`"
                )
        except ModelError as exc:
            notes.append(f"layer '{layer.uid}': {exc}")
    return notes


class ThreadedDirector:
    """Runs a director's model on its own thread, off the render loop (design: ML never on the
    audio path's critical path).

    ``evaluate(env)`` hands ``env`` to the worker and returns the weights of the *previous*
    evaluation at once (one tick of latency: 50 ms at 20 Hz), so the render thread never waits for
    onnxruntime. The first call evaluates synchronously. An exception on the worker is re-raised by
    the next ``evaluate``, so the runtime's fallback to rules still happens.
    """

    def __init__(self, director: Any) -> None:
        import threading

        self.inner = director
        self.rate_hz = director.rate_hz
        self.label = director.label
        self._env: Mapping[str, Any] | None = None
        self._weights: Mapping[str, float] | None = None
        self._error: BaseException | None = None
        self._wake = threading.Event()
        self._stop = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="director", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stop:
                return
            with self._lock:
                env, self._env = self._env, None
            if env is None:
                continue
            try:
                w = self.inner.evaluate(env)
            except Exception as exc:  # handed to the render thread's next evaluate
                self._error = exc
                continue
            self._weights = w

    def evaluate(self, env: Mapping[str, Any]) -> Mapping[str, float]:
        if self._error is not None:
            err, self._error = self._error, None
            raise err
        if self._weights is None:
            self._weights = self.inner.evaluate(env)
            return self._weights
        with self._lock:
            self._env = dict(env)
        self._wake.set()
        return self._weights

    def telemetry(self) -> dict[str, Any]:
        return self.inner.telemetry() if hasattr(self.inner, "telemetry") else dict(self.label)

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join(timeout=1.0)
