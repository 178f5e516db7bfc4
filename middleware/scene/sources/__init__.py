"""Layer source types, one module each behind one interface (``base.LayerSource``).

To add a source type: write ``sources/<kind>.py`` with a ``LayerSource`` subclass whose ``model`` is
the scene model's source class, and add the module's name to ``SOURCE_MODULES`` below (the registration
line). The runtime finds the type of a layer's source here and nowhere else.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ...errors import SceneError
from ..model import LayerDef, SceneDef
from .base import LayerSource

if TYPE_CHECKING:
    from ..runtime import SceneRuntime

SOURCE_MODULES = ("sample", "random", "sequence", "generator", "morph")  # the registration line


def _types() -> tuple[type[LayerSource], ...]:
    """The ``LayerSource`` classes each registered module defines (not the ones it imports)."""
    out = []
    for name in SOURCE_MODULES:
        module = importlib.import_module(f".{name}", __name__)
        out += [
            v
            for v in vars(module).values()
            if isinstance(v, type) and issubclass(v, LayerSource) and v.__module__ == module.__name__
        ]
    return tuple(out)


SOURCE_TYPES: tuple[type[LayerSource], ...] = _types()
"""Every layer source type, in registration order (one per scene source kind)."""

__all__ = ["SOURCE_TYPES", "LayerSource", "SourceSet"]


class SourceSet:
    """One object per registered source type for one runtime, found by a layer's source class."""

    def __init__(self, rt: SceneRuntime) -> None:
        self._by_model: dict[type, LayerSource] = {t.model: t(rt) for t in SOURCE_TYPES}

    def of(self, layer: LayerDef) -> LayerSource:
        """The source type that plays ``layer``; a SceneError when none is registered for it."""
        src = self._by_model.get(type(layer.source))
        if src is None:
            raise SceneError(
                f"layer '{layer.uid}': source type {type(layer.source).__name__} is not playable yet "
                "by this runtime"
            )
        return src

    def get(self, layer: LayerDef) -> LayerSource | None:
        """The source type that plays ``layer``, or None when none is registered for it."""
        return self._by_model.get(type(layer.source))

    def streamed(self, layer: LayerDef) -> bool:
        """Whether ``layer`` plays through a stream voice (False for a type nobody registered)."""
        src = self._by_model.get(type(layer.source))
        return src is not None and src.streamed

    def prepare(self, scene: SceneDef) -> None:
        """Every layer's slow work, in the caller's thread (types nobody registered are skipped:
        they are reported when the layer plays)."""
        for _, layer in scene.all_layers():
            src = self._by_model.get(type(layer.source))
            if src is not None:
                src.prepare(layer)

    def reload(self, old: SceneDef, new: SceneDef) -> None:
        for src in self._by_model.values():
            src.reload(old, new)
