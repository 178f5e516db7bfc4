"""What an effect is: a definition (its parameter table) and instances (the JUCE-like processor).

The DEFINITION (:class:`EffectType`) is the one declaration of an effect's parameters: name, range
and unit (a :class:`~middleware.engine.specs.Bounds`), default, ramp time and description. Everything
else derives from it: the scene's YAML record for ``effects: [{type: ...}]`` and its JSON Schema
entry (``scene/fields.py``), the snapshot override record, the engine-side check of an
:class:`EffectSpec`, and the flat parameter vector an instance ramps.

An INSTANCE (:class:`Effect`) follows JUCE's ``AudioProcessor`` lifecycle: ``prepare(sample_rate,
block)`` allocates everything (called off the audio thread where possible), ``process(x)`` works in
place on a float32 ``(frames, 2)`` block and allocates nothing, ``reset()`` clears tails and
memories. Parameter changes arrive as a new spec (``update``) and glide with the engine's one
:class:`~middleware.engine.ramp.Ramp`, each parameter over its declared ramp time.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from ...errors import EngineError
from ..ramp import Ramp
from ..specs import Bounds


@dataclass(frozen=True)
class Param:
    """One parameter of an effect.

    Numbers have ``bounds`` (range and unit); ``choices`` makes it a name from a list (stored as its
    index); ``ref`` makes it the name of something else in the engine (``"bus"``: a side-chain),
    which is not ramped. ``optional``: it may be left out / null (the effect then means "off" or
    "none"; a number's vector value is then 0). ``ramp`` is the glide time in seconds of a change.
    """

    name: str
    description: str
    bounds: Bounds | None = None
    default: Any = None
    ramp: float = 0.02
    choices: tuple[str, ...] = ()
    ref: str | None = None
    optional: bool = False

    @property
    def unit(self) -> str:
        return self.bounds.unit if self.bounds is not None else ""

    @property
    def numeric(self) -> bool:
        return self.bounds is not None

    def check(self, owner: str, value: Any) -> None:
        """Raise EngineError unless ``value`` is acceptable for this parameter."""
        if value is None:
            if not self.optional:
                raise EngineError(f"{owner}: {self.name} is required")
            return
        if self.bounds is not None:
            self.bounds.check(owner, self.name, value)
        elif self.choices and value not in self.choices:
            raise EngineError(f"{owner}: {self.name}={value!r} must be one of {', '.join(self.choices)}")
        elif self.ref is not None and not (isinstance(value, str) and value):
            raise EngineError(f"{owner}: {self.name}={value!r} must be the name of a {self.ref}")

    def code(self, value: Any) -> float:
        """The value as the instance's parameter vector holds it."""
        if value is None:
            return 0.0
        if self.choices:
            return float(self.choices.index(value))
        return float(value) if self.bounds is not None else 0.0


@dataclass(frozen=True)
class Group:
    """A list of records of parameters, e.g. an equaliser's ``bands`` (at most ``max_items``)."""

    name: str
    description: str
    params: tuple[Param, ...]
    max_items: int
    min_items: int = 0

    @functools.cached_property
    def names(self) -> frozenset[str]:
        return frozenset(p.name for p in self.params)


@dataclass(frozen=True)
class EffectType:
    """An effect's definition: its name in scenes, parameter table and instance class."""

    name: str
    description: str
    params: tuple[Param, ...]
    instance: Callable[[EffectSpec], Effect]
    group: Group | None = None
    check: Callable[[Mapping[str, Any]], str | None] | None = None  # cross-parameter rule: message

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @functools.cached_property
    def layout(self) -> tuple[tuple[str, int | None, Param], ...]:
        """Layout of the parameter vector: (name, group item or None, param) per entry."""
        out: list[tuple[str, int | None, Param]] = [(p.name, None, p) for p in self.params]
        if self.group is not None:
            for i in range(self.group.max_items):
                out += [(p.name, i, p) for p in self.group.params]
        return tuple(out)

    def ramp_seconds(self) -> np.ndarray:
        return np.array([p.ramp for _, _, p in self.layout], dtype=np.float64)


def _frozen(values: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True)
class EffectSpec:
    """One effect in a bus's chain, as a scene (or a caller) declares it. Checked when built.

    ``values``: parameter -> value (missing ones take the declared defaults); the group's items are a
    tuple of such mappings. ``name`` identifies it in the chain for snapshot overrides (default: the
    type; unique per bus). ``vector`` is the flat parameter vector an instance ramps (derived).
    """

    type: str
    values: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    name: str = ""
    vector: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        kind = effect_type(self.type)
        owner = f"effect '{self.name or self.type}'"
        vals = dict(self.values)
        known = {p.name for p in kind.params} | ({kind.group.name} if kind.group else set())
        for k in vals:
            if k not in known:
                raise EngineError(f"{owner}: unknown parameter {k!r} (known: {', '.join(sorted(known))})")
        for p in kind.params:
            vals.setdefault(p.name, p.default)
            p.check(owner, vals[p.name])
        if kind.group is not None:
            g = kind.group
            items = tuple(vals.get(g.name, ()))
            if not g.min_items <= len(items) <= g.max_items:
                raise EngineError(f"{owner}: {g.name} must have {g.min_items}..{g.max_items} items")
            full = []
            for i, item in enumerate(items):
                it = dict(item)
                for k in it:
                    if k not in g.names:
                        raise EngineError(f"{owner}: {g.name}[{i}]: unknown parameter {k!r}")
                for p in g.params:
                    it.setdefault(p.name, p.default)
                    p.check(f"{owner} {g.name}[{i}]", it[p.name])
                full.append(_frozen(it))
            vals[g.name] = tuple(full)
        if kind.check is not None:
            msg = kind.check(vals)
            if msg:
                raise EngineError(f"{owner}: {msg}")
        object.__setattr__(self, "values", _frozen(vals))
        object.__setattr__(self, "name", self.name or self.type)
        object.__setattr__(self, "vector", _vector(kind, vals))

    def __hash__(self) -> int:  # values is a mapping: hash what equal specs share
        return hash((self.type, self.name, self.vector.tobytes()))

    @property
    def kind(self) -> EffectType:
        return effect_type(self.type)

    def shape(self) -> tuple[Any, ...]:
        """What an instance cannot glide between (type, name, side-chain, number of bands): a spec
        of another shape needs a new instance."""
        kind = self.kind
        refs = tuple(self.values[p.name] for p in kind.params if p.ref is not None)
        items = len(self.values[kind.group.name]) if kind.group is not None else 0
        return (self.type, self.name, refs, items)

    def with_values(self, **changes: Any) -> EffectSpec:
        return EffectSpec(self.type, {**self.values, **changes}, self.name)

    def _blended(self, vals: dict[str, Any]) -> EffectSpec:
        """A copy holding ``vals``: complete, and inside the ranges because each number is a blend
        (clamped) of two checked values, so the checks are skipped (snapshot blends run per block)."""
        out = object.__new__(EffectSpec)
        group = self.kind.group
        if group is not None:
            vals[group.name] = tuple(_frozen(i) for i in vals[group.name])
        object.__setattr__(out, "type", self.type)
        object.__setattr__(out, "values", _frozen(vals))
        object.__setattr__(out, "name", self.name)
        object.__setattr__(out, "vector", _vector(self.kind, vals))
        return out


def _vector(kind: EffectType, vals: Mapping[str, Any]) -> np.ndarray:
    out = np.zeros(len(kind.layout), dtype=np.float64)
    j = 0
    for p in kind.params:
        out[j] = p.code(vals[p.name])
        j += 1
    if kind.group is not None:
        for item in vals[kind.group.name]:  # slots of absent items stay 0
            for p in kind.group.params:
                out[j] = p.code(item[p.name])
                j += 1
    return out


_REGISTRY: Mapping[str, EffectType] | None = None


def effect_type(name: str) -> EffectType:
    """The registered definition of effect type ``name`` (EngineError naming the known ones)."""
    global _REGISTRY
    if _REGISTRY is None:
        from . import REGISTRY

        _REGISTRY = REGISTRY
    try:
        return _REGISTRY[name]
    except KeyError:
        from ...hints import did_you_mean

        raise EngineError(
            f"unknown effect type {name!r} ({did_you_mean(name, _REGISTRY, 'effects')})"
        ) from None


class Effect:
    """Base of every effect instance (see the module docstring for the lifecycle).

    Subclasses implement ``_prepare`` (allocate), ``process`` (in place, no allocation) and
    ``_reset``. ``params`` is the :class:`Ramp` over the spec's vector; ``key`` the side-chain block
    the bus graph wires in for effects with a ``ref: bus`` parameter (None: the effect's own input).
    """

    definition: ClassVar[EffectType]

    def __init__(self, spec: EffectSpec) -> None:
        self.spec = spec
        self.sr = 0.0
        self.block = 0
        self.params: Ramp | None = None
        self.key: np.ndarray | None = None

    @property
    def sidechain(self) -> str | None:
        """Name of the bus whose signal drives this effect (None: its own input)."""
        for p in self.spec.kind.params:
            if p.ref == "bus":
                return self.spec.values[p.name]
        return None

    def prepare(self, sample_rate: float, block: int) -> None:
        """Allocate for ``block`` frames at ``sample_rate``; parameters start settled on the spec."""
        if not (math.isfinite(sample_rate) and sample_rate > 0 and block > 0):
            raise EngineError(f"effect prepare: sample_rate={sample_rate}, block={block} must be > 0")
        self.sr = float(sample_rate)
        self.block = int(block)
        self.params = Ramp(self.spec.vector, self.spec.kind.ramp_seconds(), self.sr)
        self._prepare()

    def update(self, spec: EffectSpec) -> None:
        """Glide to ``spec``'s parameter values (same shape: ``spec.shape() == self.spec.shape()``)."""
        self.spec = spec
        ramp = self.params
        assert ramp is not None, "prepare() first"
        v = spec.vector
        for i in range(v.shape[0]):
            if v[i] != ramp.target[i]:
                ramp.set(i, v[i])

    def reset(self) -> None:
        """Clear the signal state (tails, filter memories); parameters end their glides."""
        if self.params is not None:
            self.params.settle()
        self._reset()

    def process(self, x: np.ndarray) -> None:  # pragma: no cover - abstract
        """Process ``x`` (frames, 2) float32 in place."""
        raise NotImplementedError

    def _prepare(self) -> None:
        pass

    def _reset(self) -> None:
        pass


def blend_chain(
    chain: tuple[EffectSpec, ...], layers: list[tuple[float, Mapping[str, Mapping[str, Any]]]]
) -> tuple[EffectSpec, ...]:
    """``chain`` with snapshot overrides laid over it: ``layers`` is (amount 0..1, {effect name:
    {param: value, group: ({param: value}, ...)}}) in rising priority.

    Each number moves ``amount`` of the way from the value so far to the override's: linearly, or
    in log frequency for parameters in Hz (so a sweep sounds even). Values that are off (None) and
    non-numeric parameters are left alone. The result's instances then glide there (``Ramp``).
    """
    if not chain or not any(a > 0 and ov for a, ov in layers):
        return chain
    out = []
    for spec in chain:
        kind = spec.kind
        vals = dict(spec.values)
        group = kind.group
        items = [dict(i) for i in vals[group.name]] if group is not None else []
        touched = False
        for a, ov in layers:
            mine = ov.get(spec.name) if a > 0 else None
            if not mine:
                continue
            for k, target in mine.items():
                if group is not None and k == group.name:
                    for item, item_ov in zip(items, target, strict=False):
                        for ik, iv in item_ov.items():
                            p = _numeric(group.params, ik)
                            if p is not None and iv is not None and item.get(ik) is not None:
                                item[ik] = _blend(p, item[ik], iv, a)
                                touched = True
                    continue
                p = _numeric(kind.params, k)
                if p is not None and target is not None and vals.get(k) is not None:
                    vals[k] = _blend(p, vals[k], target, a)
                    touched = True
        if group is not None:
            vals[group.name] = tuple(items)
        out.append(spec._blended(vals) if touched else spec)
    return tuple(out)


def _numeric(params: tuple[Param, ...], name: str) -> Param | None:
    for p in params:
        if p.name == name and p.numeric:
            return p
    return None


def _blend(p: Param, v: float, target: float, a: float) -> float:
    if p.unit == "Hz" and v > 0 and target > 0:
        out = math.exp(math.log(v) + a * (math.log(target) - math.log(v)))
    else:
        out = v + a * (target - v)
    lo, hi = p.bounds.lo, p.bounds.hi  # type: ignore[union-attr]
    return min(max(out, lo), hi)  # float rounding of a full blend must not leave the range
