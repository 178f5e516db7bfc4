"""A neural texture: the morph decoder (``middleware.ml.morph``) streamed into a voice, its position
in the model's latent blend following a scene parameter.

The decoder is a model: in real time (the runtime has a ``background`` worker) the stream is built
and rendered on that worker, ``AHEAD_FRAMES`` ahead, and the render path only copies its frames out
of a ring (a position change is heard that much later). Offline it runs inline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ...rt.worker import WorkerStream
from ..model import LayerDef, MorphSource
from ..state import LayerInstance
from .base import LayerSource, Start

AHEAD_FRAMES = 1024
"""Frames the worker keeps decoded ahead of a morph voice (21 ms at 48 kHz): its slack, and the delay
with which the voice follows its parameter."""

if TYPE_CHECKING:
    from ..runtime import SceneRuntime


class MorphLayerSource(LayerSource):
    model = MorphSource
    streamed = True

    def __init__(self, rt: SceneRuntime) -> None:
        super().__init__(rt)
        self._models: dict[Any, Any] = {}  # model path -> opened MorphModel (by ``prepare``)

    def prepare(self, layer: LayerDef) -> None:
        src: MorphSource = layer.source
        if src.model is None or src.model in self._models:
            return
        try:
            from ...ml.morph import MorphModel, MorphStream

            model = MorphModel(src.model)
            MorphStream(model, self.rt.sr, seed=0).render(2048, 0.5)
            self._models[src.model] = model
        except Exception as exc:  # reported again when the layer plays; the scene loads
            self.rt.events.append(("error", {"layer": layer.uid, "message": f"morph model: {exc}"}))

    def start(self, li: LayerInstance, at: Start) -> int | None:
        rt = self.rt
        src: MorphSource = li.layer.source
        if src.model is None:
            rt.events.append(("error", {"layer": li.layer.uid, "message": "morph layer has no model yet"}))
            return None
        try:
            from ...ml.morph import MorphStream

            model = self._models.get(src.model, src.model)  # opened by prepare() when it could be
            seed = int(rt.rng.integers(0, 2**31 - 1))
            stream = _MorphFeed(lambda: MorphStream(model, rt.sr, seed=seed), model, rt.background)
        except Exception as exc:  # missing/corrupt model: report, the rest of the scene plays on
            rt.events.append(("error", {"layer": li.layer.uid, "message": f"morph model: {exc}"}))
            return None
        stream.position = self._position(src, at.env)
        h = rt.voices.play_stream(li, stream, at)
        li.stream = stream
        rt.events.append(("generated", {"layer": li.layer.uid, "morph": str(src.model.name), **stream.label}))
        return h

    def refresh(self, li: LayerInstance, env: Mapping[str, Any]) -> None:
        if li.stream is not None:
            li.stream.position = self._position(li.layer.source, env)

    def _position(self, src: MorphSource, env: Mapping[str, Any]) -> float:
        """The blend position 0..1: the bound parameter's place in its range (0.5 when unbound)."""
        p = self.rt.scene.parameters.get(src.param) if src.param else None
        if p is None or p.max <= p.min:
            return 0.5
        return (float(env.get(src.param, p.default)) - p.min) / (p.max - p.min)


class _MorphFeed:
    """Adapts a MorphStream (``render(frames, position)``) to the engine's stream interface: built and
    rendered inline (``worker`` None), or on the worker, ahead (see the module docstring)."""

    channels = 2

    def __init__(self, build: Any, model: Any, worker: Any = None) -> None:
        self.position = 0.5
        self.ahead: WorkerStream | None = None
        if worker is None:
            self.stream = build()
            model = self.stream.model
        else:
            self.stream = None
            self.ahead = WorkerStream(worker, build, ahead=AHEAD_FRAMES, render_fn=self._decode)
        meta = getattr(model, "meta", {}) or {}
        self.label = {"model": meta.get("name", "morph"), "version": meta.get("version", 0)}

    def _decode(self, stream: Any, frames: int) -> np.ndarray:
        return stream.render(frames, self.position)

    def render(self, frames: int) -> np.ndarray:
        if self.ahead is not None:
            return self.ahead.render(frames)
        return self.stream.render(frames, self.position)
