"""A procedural layer: a generator (``middleware.generators``) streamed into a voice, its parameters
following the scene's curves; a one-shot layer gets a new seeded variation per hit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...errors import SoundscapeError
from ..model import GeneratorSource, LayerDef, ValueDef
from ..state import LayerInstance, Vec3
from .base import LayerSource, Owner

if TYPE_CHECKING:
    from ..runtime import SceneRuntime


class GeneratorLayerSource(LayerSource):
    model = GeneratorSource
    streamed = True

    def __init__(self, rt: SceneRuntime) -> None:
        super().__init__(rt)
        self._warm: set[str] = set()  # generator names run once already (compiled-code caches)

    def prepare(self, layer: LayerDef) -> None:
        src: GeneratorSource = layer.source
        if src.name in self._warm:
            return
        rt = self.rt
        try:
            from ...generators import create_generator

            gen = create_generator(src.name, sample_rate=rt.sr, seed=0)
            if getattr(gen, "oneshot", False) and hasattr(gen, "trigger"):
                gen.trigger()
            gen.render(rt.engine.block)
            self._warm.add(src.name)
        except Exception as exc:
            rt.events.append(("error", {"layer": layer.uid, "message": f"generator: {exc}"}))

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
        """A generator instance streamed into a voice (one per hit for one-shots)."""
        from ...generators import create_generator

        rt = self.rt
        src: GeneratorSource = li.layer.source
        li.variations += 1
        seed = int(rt.rng.integers(0, 2**31 - 1))
        try:
            gen = create_generator(
                src.name, sample_rate=rt.sr, seed=seed, params=_params(src, env), variation=li.variations
            )
        except SoundscapeError as exc:
            rt.events.append(("error", {"layer": li.layer.uid, "message": str(exc)}))
            return None
        if getattr(gen, "oneshot", False) and hasattr(gen, "trigger"):
            gen.trigger()
        h = rt.voices.play_stream(li, owner, gen, pos, vel, env, fade_in, start_frame, bus)
        if loop:
            li.stream = gen
        meta = {"layer": li.layer.uid, "generator": src.name, "seed": seed, "variation": li.variations}
        rt.events.append(("generated", meta))
        return h

    def refresh(self, li: LayerInstance, env: Mapping[str, Any]) -> None:
        if li.stream is None:
            return
        try:
            li.stream.set_params(_params(li.layer.source, env))
        except SoundscapeError as exc:
            self.rt.events.append(("error", {"layer": li.layer.uid, "message": str(exc)}))


def _params(src: GeneratorSource, env: Mapping[str, Any]) -> dict[str, Any]:
    """The generator's parameters now: constants as written, bound ones evaluated."""
    return {k: (v.evaluate(env) if isinstance(v, ValueDef) else v) for k, v in src.params.items()}
