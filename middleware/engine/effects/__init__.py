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
