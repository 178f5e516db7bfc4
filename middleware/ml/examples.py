"""The director's inputs as numbers, and the designer's examples: reading them and recording them live.

Feature encoding (shared by training and run time, so they cannot disagree): a parameter becomes
one column scaled to 0..1 over its declared range (clamped), a state or switch group becomes one
column per value (one-hot). Column names (``intensity``, ``weather=rain``) go into the ONNX file's
metadata, so a model trained for another version of the scene is refused at load.

Examples are plain files a designer can read, edit, diff and commit: JSON lines (one example per
line), a JSON or YAML list, or CSV (header: input names and layer uids). Each example is a game
situation and the wanted layer weights; an example may give only some weights (teach mode records
one layer at a time), and training only learns from the weights that are given.

    {"inputs": {"intensity": 0.8, "weather": "storm"}, "weights": {"weather_bed.downpour": 0.9}}
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..errors import ModelError
from ..scene.model import DirectorDef, SceneDef
from ..textdata import loads_json, loads_yaml
from .cards import sha256_bytes, utc_now

TEACH_SUFFIX = ".teach.jsonl"


# ---------------------------------------------------------------------------------------------
# Features


@dataclass(frozen=True)
class FeatureSpec:
    """How ``env`` (parameter/state values) becomes the model's input row."""

    inputs: tuple[str, ...]
    names: tuple[str, ...]  # one per column
    kinds: tuple[tuple[str, Any], ...]  # per input: ("param", (min, max, default)) | ("onehot", values)

    @classmethod
    def from_scene(cls, scene: SceneDef, inputs: Sequence[str] | None = None) -> FeatureSpec:
        d = scene.director
        names: list[str] = []
        kinds: list[tuple[str, Any]] = []
        inputs = tuple(inputs if inputs is not None else (d.inputs if d else ()))
        for name in inputs:
            if name in scene.parameters:
                p = scene.parameters[name]
                kinds.append(("param", (p.min, p.max, p.default)))
                names.append(name)
            else:
                group = scene.states.get(name) or scene.switches.get(name)
                if group is None:
                    raise ModelError(
                        f"director input '{name}': not a parameter, state or switch of scene '{scene.name}'"
                    )
                kinds.append(("onehot", (group.values, group.default)))
                names.extend(f"{name}={v}" for v in group.values)
        return cls(inputs, tuple(names), tuple(kinds))

    @property
    def width(self) -> int:
        return len(self.names)

    def encode_into(self, env: Mapping[str, Any], out: np.ndarray) -> np.ndarray:
        """Fill ``out`` (width,) in place: no allocation, so it is cheap at control rate."""
        j = 0
        for name, (kind, info) in zip(self.inputs, self.kinds, strict=True):
            if kind == "param":
                lo, hi, default = info
                v = env.get(name, default)
                try:
                    v = float(v)
                except (TypeError, ValueError):
                    v = default
                if not math.isfinite(v):
                    v = default
                out[j] = min(max((v - lo) / (hi - lo), 0.0), 1.0) if hi > lo else 0.0
                j += 1
            else:
                values, default = info
                v = env.get(name, default)
                for val in values:
                    out[j] = 1.0 if val == v else 0.0
                    j += 1
        return out

    def encode(self, env: Mapping[str, Any]) -> np.ndarray:
        return self.encode_into(env, np.zeros(self.width, dtype=np.float64))

    def check_value(self, name: str, value: Any) -> str | None:
        """Why ``value`` is not valid for input ``name`` (None when it is)."""
        if name not in self.inputs:
            return f"unknown input '{name}'; the director reads: {', '.join(self.inputs)}"
        kind, info = self.kinds[self.inputs.index(name)]
        if kind == "param":
            lo, hi, _ = info
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                return f"input '{name}'={value!r}: must be a number within {lo}..{hi}"
            if not lo <= value <= hi:
                return f"input '{name}'={value!r}: must be within {lo}..{hi}"
        elif value not in info[0]:
            return f"input '{name}'={value!r}: must be one of {', '.join(info[0])}"
        return None


# ---------------------------------------------------------------------------------------------
# Examples


@dataclass(frozen=True)
class Example:
    """One game situation and the layer weights the designer wants there."""

    inputs: Mapping[str, Any]
    weights: Mapping[str, float]
    source: str = "examples"  # "examples" (authored) | "teach" (recorded live)
    where: str = ""  # file:line, for messages

    def to_json(self) -> dict[str, Any]:
        return {"inputs": dict(self.inputs), "weights": dict(self.weights), "source": self.source}


def teach_path(scene: SceneDef) -> Path:
    """Where teach mode records: ``<scene>.teach.jsonl`` beside the scene file."""
    return scene.file.with_name(scene.file.stem + TEACH_SUFFIX)


def example_files(scene: SceneDef) -> list[Path]:
    """The files training reads: the director's ``examples`` file and the teach file, if they exist."""
    d = scene.director
    files = []
    if d is not None and d.examples is not None:
        files.append(Path(d.examples))
    t = teach_path(scene)
    if t.is_file() and all(t.resolve() != f.resolve() for f in files):
        files.append(t)
    return files


def _rows(path: Path, text: str) -> list[tuple[int, Any]]:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        rows = []
        for i, line in enumerate(text.splitlines(), 1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            try:
                rows.append((i, loads_json(s)))
            except ValueError as exc:
                raise ModelError(f"{path}:{i}: not valid JSON ({exc})") from None
        return rows
    if suffix in (".json", ".yaml", ".yml"):
        try:
            data = loads_json(text) if suffix == ".json" else loads_yaml(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise ModelError(f"{path}: cannot parse ({exc})") from None
        if isinstance(data, dict) and "examples" in data:
            data = data["examples"]
        if data is None:
            return []
        if not isinstance(data, list):
            raise ModelError(f"{path}: must hold a list of examples (or 'examples: [...]')")
        return [(i + 1, row) for i, row in enumerate(data)]
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        return [(i + 2, row) for i, row in enumerate(reader)]
    raise ModelError(f"{path}: unsupported examples file type '{suffix}'; use .jsonl, .json, .yaml or .csv")


def _csv_example(row: Mapping[str, str], spec: FeatureSpec, outputs: Sequence[str]) -> dict:
    inputs: dict[str, Any] = {}
    weights: dict[str, Any] = {}
    for k, v in row.items():
        if v is None or v == "":
            continue
        if k in outputs:
            weights[k] = float(v)
        elif k in spec.inputs and spec.kinds[spec.inputs.index(k)][0] == "param":
            inputs[k] = float(v)
        else:
            inputs[k] = v
    return {"inputs": inputs, "weights": weights}


def load_examples(scene: SceneDef, files: Sequence[Path] | None = None) -> list[Example]:
    """Every example in ``files`` (default: :func:`example_files`), checked against the scene.

    Raises ModelError naming ``file:line`` for an unknown input or layer, a value out of range,
    or a malformed row.
    """
    d = scene.director
    if d is None:
        raise ModelError(f"scene '{scene.name}' has no director section")
    spec = FeatureSpec.from_scene(scene)
    files = list(files) if files is not None else example_files(scene)
    out: list[Example] = []
    for path in files:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ModelError(f"{path}: cannot read examples ({exc.strerror})") from None
        shown = os.path.relpath(path, scene.root) if Path(path).is_absolute() else str(path)
        for line, row in _rows(Path(path), text):
            where = f"{shown}:{line}"
            if Path(path).suffix.lower() == ".csv":
                row = _csv_example(row, spec, d.outputs)
            if not isinstance(row, dict) or not isinstance(row.get("weights"), dict):
                raise ModelError(f"{where}: an example is {{inputs: {{...}}, weights: {{layer_uid: 0..1}}}}")
            inputs = row.get("inputs") or {}
            if not isinstance(inputs, dict):
                raise ModelError(f"{where}: 'inputs' must be a mapping of input name -> value")
            for k, v in inputs.items():
                problem = spec.check_value(k, v)
                if problem:
                    raise ModelError(f"{where}: {problem}")
            weights = {}
            for uid, w in row["weights"].items():
                if uid not in d.outputs:
                    raise ModelError(
                        f"{where}: weight for '{uid}', which is not a director output; "
                        f"outputs: {', '.join(d.outputs)}"
                    )
                if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0.0 <= w <= 1.0:
                    raise ModelError(f"{where}: weight '{uid}'={w!r}: must be a number within 0..1")
                weights[uid] = float(w)
            if not weights:
                raise ModelError(f"{where}: example gives no weights")
            src = row.get("source", "teach" if str(path).endswith(TEACH_SUFFIX) else "examples")
            out.append(Example(dict(inputs), weights, str(src), where))
    return out


def examples_digest(examples: Sequence[Example]) -> str:
    """sha256 of the examples' content (canonical JSON), independent of file layout."""
    blob = json.dumps([e.to_json() for e in examples], sort_keys=True).encode()
    return sha256_bytes(blob)


def to_arrays(scene: SceneDef, examples: Sequence[Example]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X features, Y weights, M mask: 1 where the example gives that weight)."""
    d = scene.director
    assert d is not None
    spec = FeatureSpec.from_scene(scene)
    defaults = scene.default_env()
    X = np.zeros((len(examples), spec.width))
    Y = np.zeros((len(examples), len(d.outputs)))
    M = np.zeros_like(Y)
    for i, e in enumerate(examples):
        X[i] = spec.encode({**defaults, **e.inputs})
        for j, uid in enumerate(d.outputs):
            if uid in e.weights:
                Y[i, j] = e.weights[uid]
                M[i, j] = 1.0
    return X, Y, M


# ---------------------------------------------------------------------------------------------
# Teach mode


@dataclass
class TeachRecorder:
    """Records each live override as an example, in ``<scene>.teach.jsonl`` beside the scene.

    Install with ``runtime.on_override = recorder.record``. ``record`` runs in the render loop, so
    it only appends to an in-memory list; a background thread writes the file every ``interval``
    seconds. A slider drag sends many overrides for one layer in one situation: consecutive
    overrides of the same layer with the same inputs collapse into one example (the last value).
    """

    path: Path
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    interval: float = 0.25
    _pending: list = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    written: int = 0

    @classmethod
    def for_scene(cls, scene: SceneDef, path: Path | None = None, interval: float = 0.25) -> TeachRecorder:
        d: DirectorDef | None = scene.director
        if d is None:
            raise ModelError(f"scene '{scene.name}' has no director section: nothing to teach")
        return cls(Path(path) if path is not None else teach_path(scene), d.inputs, d.outputs, interval)

    def record(self, uid: str, weight: float, env: Mapping[str, Any]) -> None:
        """The runtime's ``on_override`` hook: remember (uid, weight, inputs). Never blocks on I/O."""
        if uid not in self.outputs or weight is None:
            return
        inputs = {k: env[k] for k in self.inputs if k in env}
        for k, v in inputs.items():
            if isinstance(v, float):
                inputs[k] = round(v, 6)
        with self._lock:
            if self._pending and self._pending[-1][0] == uid and self._pending[-1][2] == inputs:
                self._pending[-1] = (uid, float(weight), inputs, utc_now())
            else:
                self._pending.append((uid, float(weight), inputs, utc_now()))
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="teach-recorder", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def flush(self) -> int:
        """Append pending examples to the file; returns how many were written."""
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return 0
        lines = [
            json.dumps(
                {"inputs": inputs, "weights": {uid: round(w, 6)}, "source": "teach", "time": t},
                sort_keys=False,
            )
            for uid, w, inputs, t in pending
        ]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        self.written += len(lines)
        return len(lines)

    def close(self) -> None:
        """Stop the writer thread and write what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self.flush()

    def wait_idle(self, timeout: float = 2.0) -> None:
        """Block until nothing is pending (tests, tools)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                if not self._pending:
                    return
            time.sleep(0.01)
