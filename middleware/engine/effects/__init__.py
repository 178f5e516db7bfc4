"""Bus effects as a chain of instances: a registry of effect definitions, one module per effect.

Adding an effect: write ``engine/effects/<name>.py`` with an :class:`~.base.Effect` subclass and
its :class:`~.base.EffectType` in ``DEFINITIONS``, then add the module's name to ``EFFECT_MODULES``
below. Its scene fields, JSON Schema entry, snapshot overrides and engine checks all follow from
the definition's parameter table.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType

from .base import Effect, EffectSpec, EffectType, Group, Param, blend_chain, effect_type

EFFECT_MODULES = ("filters", "reverb", "eq", "compressor", "delay")  # the registration line


def _registry() -> Mapping[str, EffectType]:
    out: dict[str, EffectType] = {}
    for name in EFFECT_MODULES:
        for kind in importlib.import_module(f".{name}", __name__).DEFINITIONS:
            assert kind.name not in out, f"effect type {kind.name!r} registered twice"
            out[kind.name] = kind
    return MappingProxyType(out)


REGISTRY = _registry()
"""Effect type name -> definition."""

__all__ = ["REGISTRY", "Effect", "EffectSpec", "EffectType", "Group", "Param", "blend_chain", "effect_type"]


def warm_up() -> None:
    """Run every registered effect's compiled paths once (steady, then gliding to mid-range values),
    so numba loads them from its cache now, not on the render thread at a scene's first effect."""
    import numpy as np

    x = np.zeros((64, 2), dtype=np.float32)
    for kind in REGISTRY.values():
        group = {kind.group.name: ({},)} if kind.group is not None else {}
        fx = kind.instance(EffectSpec(kind.name, group))
        fx.prepare(48000, 64)
        fx.process(x)
        mid = _midpoints(kind.params)
        if kind.group is not None:
            mid[kind.group.name] = (_midpoints(kind.group.params),)
        fx.update(EffectSpec(kind.name, mid))
        fx.process(x)
        fx.process(x)
        fx.reset()


def _midpoints(params: tuple[Param, ...]) -> dict[str, float]:
    return {p.name: (p.bounds.lo + p.bounds.hi) / 2 for p in params if p.bounds is not None}
