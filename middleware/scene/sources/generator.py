"""A procedural layer: a generator (``middleware.generators``) streamed into a voice, its parameters
following the scene's curves; a one-shot layer gets a new seeded variation per hit.

In real time the generator is built on the runtime's ``background`` worker (its parameters checked
first, on the render path, so a bad value is still reported at once): the voice starts at once and
plays its frames from the block after they arrive (a block or two of silence first). Offline it is
built inline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...errors import SoundscapeError
from ...rt.worker import WorkerStream
from ..model import GeneratorSource, LayerDef, ValueDef
from ..state import LayerInstance
from .base import LayerSource, Start

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
            # Half a second, so that kernels a first block may not reach (the fire's crackles) are
            # compiled (or loaded from numba's cache on disk) here too, not when the layer plays.
            for _ in range(max(1, rt.sr // (2 * rt.engine.block))):
                gen.render(rt.engine.block)
            self._warm.add(src.name)
        except Exception as exc:
            rt.events.append(("error", {"layer": layer.uid, "message": f"generator: {exc}"}))

    def start(self, li: LayerInstance, at: Start) -> int | None:
        """A generator instance streamed into a voice (one per hit for one-shots)."""
        from ...generators import GENERATORS, create_generator

        rt = self.rt
        src: GeneratorSource = li.layer.source
        li.variations += 1
        seed = int(rt.rng.integers(0, 2**31 - 1))
        params, variation = _params(src, at.env), li.variations

        def build() -> Any:
            gen = create_generator(src.name, sample_rate=rt.sr, seed=seed, params=params, variation=variation)
            if getattr(gen, "oneshot", False) and hasattr(gen, "trigger"):
                gen.trigger()
            return gen

        try:
            if rt.background is None:
                gen = build()
            else:  # checked here (a name lookup and range checks), built on the worker
                cls = GENERATORS.get(src.name)
                if cls is None:
                    create_generator(src.name)  # raises the unknown-name error with its hint
                cls._validate(params)
                gen = WorkerStream(rt.background, build)
        except SoundscapeError as exc:
            rt.events.append(("error", {"layer": li.layer.uid, "message": str(exc)}))
            return None
        h = rt.voices.play_stream(li, gen, at)
        if at.loop:
            li.stream = gen
        meta = {"layer": li.layer.uid, "generator": src.name, "seed": seed, "variation": li.variations}
        rt.events.append(("generated", meta))
        return h

    def refresh(self, li: LayerInstance, env: Mapping[str, Any]) -> None:
        if li.stream is None:
            return
        try:
            params = _params(li.layer.source, env)
            if isinstance(li.stream, WorkerStream):  # checked here; applied when the generator is there
                from ...generators import GENERATORS

                GENERATORS[li.layer.source.name]._validate(params)
            li.stream.set_params(params)
        except SoundscapeError as exc:
            self.rt.events.append(("error", {"layer": li.layer.uid, "message": str(exc)}))


def _params(src: GeneratorSource, env: Mapping[str, Any]) -> dict[str, Any]:
    """The generator's parameters now: constants as written, bound ones evaluated."""
    return {k: (v.evaluate(env) if isinstance(v, ValueDef) else v) for k, v in src.params.items()}
