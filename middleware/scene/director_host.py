"""The ML director's seat in the runtime: load the scene's model, run it at its control rate, and
hand its weights to the flagged layers (``LayerVoices.update_weight``). A model that is missing,
corrupt or fails at run time leaves the scene's rules playing, with an ``error`` event saying why.

Threads: the model is opened by ``prepare`` in the caller's thread (reading the file and creating the
onnxruntime session never happen on the render path, not even when a scene is swapped in). In real
time (the runtime has a ``background`` worker) the model also *runs* on that worker: each tick takes
the answer to the previous tick's question (one control tick late: 50 ms at 20 Hz) and asks again;
offline it runs inline, so a render stays reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .runtime import SceneRuntime


class LayerDirector(Protocol):
    """What the runtime needs from an ML director (``middleware.ml``): weights for flagged layers.

    ``evaluate`` runs at control rate (``rate_hz``) and must be quick (a small onnxruntime
    session on one thread); ``label`` names the model and version for telemetry. Weights are linear
    0..1; the runtime clamps them and designer overrides always win.
    """

    rate_hz: float
    label: dict

    def evaluate(self, env: Mapping[str, Any]) -> Mapping[str, float]: ...


class DirectorHost:
    """The attached director (or None: the rules) and its latest weights."""

    def __init__(self, rt: SceneRuntime) -> None:
        self.rt = rt
        self.director: LayerDirector | None = None
        self.weights: dict[str, float] = {}  # layer uid -> weight 0..1, from the last evaluation
        self.inputs: Mapping[str, Any] = {}  # the environment those weights were computed from
        self._next_frame = 0
        self._prepared: tuple[Any, Any] | None = None  # (scene, its director | None | the load error)
        self._answer: tuple[Any, Any] | None = None  # (director, weights | error), set by the worker
        self._asking = False  # a question is with the worker

    def attach(self, director: LayerDirector | None) -> None:
        """Hand flagged layers to ``director`` (None: back to the scene's rules and curves)."""
        rt = self.rt
        self.director = director
        self.weights = {}
        self._next_frame = rt.frame
        rt.dirty = True
        label = director.label if director is not None else {"model": None, "fallback": "rules"}
        rt.events.append(("director", {"status": "attached" if director else "rules", **label}))

    def prepare(self, scene: Any) -> None:
        """Open ``scene``'s director model now, in the caller's thread; ``load_scene_director`` takes
        it when that scene plays."""
        self._prepared = (scene, _load(scene))

    def load_scene_director(self) -> None:
        """Load the scene's director model; a missing/corrupt/mismatched one leaves the rules playing.

        The player's preferences (``player_<name>`` parameters, from the profile the mixer holds) are
        set first, so a scene swapped in reads the player's values rather than its defaults."""
        rt = self.rt
        player = getattr(rt.mixer, "player", None)  # the profile's preferences, for this scene's inputs
        if player is not None:
            for name, value in player.params(rt.scene).items():
                rt.env[name] = rt.targets[name] = value
        d = rt.scene.director
        if d is None or d.model is None:
            if self.director is not None:
                self.attach(None)
            return
        prepared, self._prepared = self._prepared, None
        got = prepared[1] if prepared is not None and prepared[0] is rt.scene else _load(rt.scene)
        if isinstance(got, BaseException):
            rt.events.append(("error", {"director": str(d.model), "message": f"{got}; playing the rules"}))
            self.attach(None)
            return
        self.attach(got)

    def tick(self) -> None:
        """Evaluate the director when its next control-rate tick is due."""
        rt = self.rt
        d = self.director
        if d is None or rt.frame < self._next_frame:
            return
        self._next_frame = rt.frame + max(1, int(rt.sr / max(d.rate_hz, 1e-3)))
        try:
            if rt.background is None:
                weights = d.evaluate(rt.env)
            else:
                weights = self._ask(rt.background, d, rt.env)
                if weights is None:  # the first answer is not back yet
                    return
        except Exception as exc:  # a model failing at run time: fall back to the rules, keep playing
            rt.events.append(("error", {"director": d.label, "message": f"director failed: {exc}"}))
            self.attach(None)
            return
        clean = {}
        for uid, w in weights.items():
            w = float(w)
            clean[uid] = min(max(w, 0.0), 1.0) if math.isfinite(w) else 0.0
        if clean != self.weights:
            self.weights = clean
            self.inputs = dict(rt.env)
            rt.dirty = True
        tel = d.telemetry() if hasattr(d, "telemetry") else {"weights": clean, **d.label}
        if "inputs" not in tel and rt.scene.director is not None:
            tel = {**tel, "inputs": {k: rt.env.get(k) for k in rt.scene.director.inputs}}
        rt.events.append(("director_tick", {**tel, "weights": clean}))

    def _ask(self, worker: Any, d: LayerDirector, env: Mapping[str, Any]) -> Mapping[str, float] | None:
        """Real time: the answer to the previous question (None if none yet), and the next question
        (this tick's environment) handed to the worker."""
        got, self._answer = self._answer, None
        if not self._asking:
            self._asking = True
            question = dict(env)
            worker.post(lambda: self._answer_on_worker(d, question))
        if got is None or got[0] is not d:  # nothing yet, or the answer of a director detached since
            return None
        if isinstance(got[1], BaseException):
            raise got[1]
        return got[1]

    def _answer_on_worker(self, d: LayerDirector, env: Mapping[str, Any]) -> None:
        try:
            result: Any = d.evaluate(env)
        except Exception as exc:  # raised on the render path by the next tick: back to the rules
            result = exc
        self._answer = (d, result)
        self._asking = False


def _load(scene: Any) -> Any:
    """``scene``'s director, None when it names none, or the error that kept it from loading."""
    d = scene.director
    if d is None or d.model is None:
        return None
    from ..errors import ModelError

    try:
        from ..ml.director import load_director

        constraints = {uid: {"min": c.min, "max": c.max, "lock": c.lock} for uid, c in d.constraints.items()}
        return load_director(scene, constraints=constraints, smoothing=d.smoothing)
    except (ModelError, ImportError, OSError) as exc:
        return exc
