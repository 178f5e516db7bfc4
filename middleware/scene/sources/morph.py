"""A neural texture: the morph decoder (``middleware.ml.morph``) streamed into a voice, its position
in the model's latent blend following a scene parameter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..model import LayerDef, MorphSource
from ..state import LayerInstance, Vec3
from .base import LayerSource, Owner

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

    def start(
        self,
        li: LayerInstance,
        owner: Owner,
        pos: Vec3 | None,
        vel: Vec3,
        env: Mapping[str, Any],
        *,
        loop: bool,
        fade_in: float,
        start_frame: int | None,
        bus: str | None,
    ) -> int | None:
        rt = self.rt
        src: MorphSource = li.layer.source
        if src.model is None:
            rt.events.append(("error", {"layer": li.layer.uid, "message": "morph layer has no model yet"}))
            return None
        try:
            from ...ml.morph import MorphStream

            model = self._models.get(src.model, src.model)  # opened by prepare() when it could be
            stream = _MorphFeed(MorphStream(model, rt.sr, seed=int(rt.rng.integers(0, 2**31 - 1))))
        except Exception as exc:  # missing/corrupt model: report, the rest of the scene plays on
            rt.events.append(("error", {"layer": li.layer.uid, "message": f"morph model: {exc}"}))
            return None
        stream.position = self._position(src, env)
        h = rt.voices.play_stream(li, owner, stream, pos, vel, env, fade_in, start_frame, bus)
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
    """Adapts a MorphStream (``render(frames, position)``) to the engine's stream interface."""

    channels = 2

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.position = 0.5
        meta = getattr(getattr(stream, "model", None), "meta", {}) or {}
        self.label = {"model": meta.get("name", "morph"), "version": meta.get("version", 0)}

    def render(self, frames: int) -> np.ndarray:
        return self.stream.render(frames, self.position)
