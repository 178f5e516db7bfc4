"""The scene format, field by field: the single definition the loader and the JSON Schema share.

Each record below lists its keys with their spec (type, range, enum), default and a description
that names the unit (dB, s, Hz, semitones, m). ``load.py`` walks a YAML file with ``SCENE`` and
``schema.py`` prints ``SCENE`` as JSON Schema; adding a key here adds it to both.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..config import MAX_INSTANCES
from ..engine.effects import REGISTRY as EFFECT_TYPES
from ..engine.effects import EffectSpec, EffectType, Param
from ..engine.specs import (
    BUS_BOUNDS,
    DUCK_BOUNDS,
    LOUDNESS_TARGET,
    MAX_EFFECTS,
    MAX_ROLLOFF_POINTS,
    MAX_SENDS,
    REVERB_BOUNDS,
    Bounds,
    DuckSpec,
    ReverbSpec,
)
from ..engine.specs import defaults as engine_defaults
from ..errors import EngineError
from . import model as m
from .curves import SHAPES, Curve
from .spec import (
    INVALID,
    MAX_NAME_LEN,
    NAME_PATTERN,
    REQUIRED,
    Asset,
    Boolean,
    Choice,
    Convert,
    Ctx,
    Enum,
    ExprSpec,
    Field,
    ListOf,
    MapOf,
    Null,
    Number,
    Option,
    Record,
    Ref,
    Spec,
    Tagged,
    Text,
    did_you_mean,
    has_key,
    is_list,
    is_map,
    is_null,
    is_number,
    is_text,
    node_at,
    nullable,
)

# ---------------------------------------------------------------------------------------------
# Small reusable specs

GAIN_DB = dict(minimum=-96.0, maximum=24.0)
HZ = dict(minimum=10.0, maximum=24000.0)
SEMITONES = dict(minimum=-48.0, maximum=48.0)


OBJECT_NAME = Text(min_length=1, max_length=MAX_NAME_LEN, pattern_hint="game object name")
"""A game object's name, as the game sends it in ``object`` messages (any text, 1..MAX_NAME_LEN)."""


def seconds(description: str, maximum: float = 600.0) -> Number:
    return Number(description, minimum=0.0, maximum=maximum)


def engine_number(bounds: Bounds) -> Number:
    """A number inside a range the engine declares (engine/specs.py): the scene never has its own copy."""
    return Number(minimum=bounds.lo, maximum=bounds.hi)


class Ordered(ListOf):
    """``[a, b]`` with ``a <= b`` (``strict``: ``a < b``), e.g. a range or a scatter interval."""

    def __init__(
        self, item: Number, description: str = "", strict: bool = False, what: str = "range"
    ) -> None:
        super().__init__(item=item, description=description, min_items=2, max_items=2)
        self.strict = strict
        self.what = what

    def expected(self) -> str:
        return "a list [low, high]"

    def load(self, node: Node, ctx: Ctx) -> Any:
        v = super().load(node, ctx)
        if v is INVALID:
            return v
        a, b = v
        if (a >= b) if self.strict else (a > b):
            word = "below" if self.strict else "at most"
            ctx.error(
                node.value[0],
                f"{self.what} start {a:g} must be {word} its end {b:g}",
                "write [low, high]",
                rule="relation",
            )
            return INVALID
        return (a, b)


class Vec3(ListOf):
    """``[x, y, z]`` in metres (OpenGL axes: +X right, +Y up, -Z forward)."""

    def __init__(self, description: str = "", minimum: float | None = None) -> None:
        super().__init__(item=Number(minimum=minimum), description=description, min_items=3, max_items=3)

    def expected(self) -> str:
        return "a list [x, y, z]"

    def load(self, node: Node, ctx: Ctx) -> Any:
        v = super().load(node, ctx)
        return v if v is INVALID else tuple(float(x) for x in v)


class CurveSpec(ListOf):
    """``[[x, y], ...]`` with strictly increasing ``x`` and ``y`` inside the field's range."""

    def __init__(
        self,
        description: str,
        y_min: float | None = None,
        y_max: float | None = None,
        x_min: float | None = None,
        y_unit: str = "",
        max_points: int | None = None,
    ) -> None:
        super().__init__(
            item=ListOf(Number(), min_items=2, max_items=2, description="[x, y]"),
            description=description,
            min_items=1,
            max_items=max_points,
        )
        self.y_min, self.y_max, self.x_min, self.y_unit = y_min, y_max, x_min, y_unit

    def expected(self) -> str:
        return "a curve [[x, y], ...]"

    def load(self, node: Node, ctx: Ctx) -> Any:
        v = super().load(node, ctx)
        if v is INVALID:
            return v
        bad = False
        for i in range(1, len(v)):
            if not v[i][0] > v[i - 1][0]:
                ctx.error(
                    node.value[i],
                    f"curve x must increase: point {i} has x={v[i][0]:g} after x={v[i - 1][0]:g}",
                    "sort the points by x; each x may appear once",
                    rule="relation",
                )
                bad = True
        for i, (x, y) in enumerate(v):
            if (self.y_min is not None and y < self.y_min) or (self.y_max is not None and y > self.y_max):
                ctx.error(
                    node.value[i].value[1],
                    f"curve value {y:g}{self.y_unit} is out of range",
                    f"allowed: {self.y_min:g} .. {self.y_max:g}{self.y_unit}",
                )
                bad = True
            if self.x_min is not None and x < self.x_min:
                ctx.error(node.value[i].value[0], f"curve x {x:g} is below {self.x_min:g}")
                bad = True
        return INVALID if bad else tuple((float(x), float(y)) for x, y in v)

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        x = Number(minimum=self.x_min).schema(defs)
        y = Number(minimum=self.y_min, maximum=self.y_max).schema(defs)
        point = {
            "type": "array",
            "prefixItems": [x, y],
            "items": False,
            "minItems": 2,
            "description": "[x, y]",
        }
        out = {"type": "array", "items": point, "minItems": self.min_items}
        if self.max_items is not None:
            out["maxItems"] = self.max_items
        return self._d(out)


def _name_check(values: dict[str, Any], nodes: dict[str, Node], ctx: Ctx) -> bool:
    return True


# ---------------------------------------------------------------------------------------------
# Parameters, states, switches


def _check_parameter(values: dict[str, Any], nodes: dict[str, Node], ctx: Ctx) -> bool:
    lo, hi = values["range"]
    if values["default"] is not None and not lo <= values["default"] <= hi:
        ctx.error(
            node_at(nodes, "default"),
            f"default {values['default']:g} is outside the range {lo:g} .. {hi:g}",
            "move the default into the range or widen the range",
        )
        return False
    return True


PARAMETER = Record(
    title="Parameter",
    description="A continuous game value (intensity, health, time_of_day ...) read by curves and conditions.",
    name_field="name",
    fields=[
        Field("range", Ordered(Number(), strict=True), description="[min, max]: the values the game may set"),
        Field("default", Number(), None, "value before the game sets one (default: the range minimum)"),
        Field(
            "seek",
            Number(minimum=0.0),
            0.0,
            "glide speed in units per second towards a newly set value (0 = jump at once)",
        ),
        Field("description", Text(), "", "free text for people reading the scene"),
    ],
    check=_check_parameter,
    build=lambda v, ctx: m.ParameterDef(
        v["name"],
        v["range"][0],
        v["range"][1],
        v["range"][0] if v["default"] is None else v["default"],
        v["seek"],
        v["description"],
    ),
)


def _group_record(title: str, cls: type, description: str) -> Record:
    def check(values: dict[str, Any], nodes: dict[str, Node], ctx: Ctx) -> bool:
        vals = values["values"]
        seen: set[str] = set()
        ok = True
        for i, v in enumerate(vals):
            if v in seen:
                ctx.error(
                    nodes["values"].value[i], f"duplicate value {v!r} in {title.lower()} {values['name']!r}"
                )
                ok = False
            seen.add(v)
        d = values["default"]
        if d is not None and d not in vals:
            ctx.error(
                nodes["default"],
                f"default {d!r} is not one of the values of {values['name']!r}",
                did_you_mean(d, vals, "values"),
            )
            ok = False
        return ok

    return Record(
        title=title,
        description=description,
        name_field="name",
        shorthand="values",
        fields=[
            Field(
                "values",
                ListOf(Text(pattern=NAME_PATTERN, pattern_hint="value name"), min_items=1),
                description="the allowed values, e.g. [clear, rain, storm]",
            ),
            Field("default", Text(), None, "starting value (default: the first value)"),
            Field("description", Text(), "", "free text"),
        ],
        check=check,
        build=lambda v, ctx: cls(
            v["name"], tuple(v["values"]), v["default"] or v["values"][0], v["description"]
        ),
    )


STATE = _group_record(
    "State",
    m.StateGroupDef,
    "An exclusive scene-wide state group; conditions compare it: weather == 'storm'.",
)
SWITCH = _group_record(
    "Switch",
    m.SwitchGroupDef,
    "A per-object choice (footstep surface): each emitter or event instance has its own value.",
)

# ---------------------------------------------------------------------------------------------
# Buses and snapshots

_REVERB_DEFAULT = engine_defaults(ReverbSpec)
_REVERB_TEXT = {
    "room_size": "larger rooms ring longer",
    "damping": "high-frequency damping of the tail",
    "wet": "reverb level",
    "dry": "direct level",
    "width": "stereo width of the tail",
}
REVERB = Record(
    title="Reverb",
    description="Freeverb-style reverb on a bus. All amounts 0..1.",
    fields=[
        Field(k, engine_number(b), _REVERB_DEFAULT[k], f"{b.lo:g}..{b.hi:g}: {_REVERB_TEXT[k]}")
        for k, b in REVERB_BOUNDS.items()
    ],
    build=lambda v, ctx: m.ReverbDef(**v),
)

_DUCK_DEFAULT = engine_defaults(DuckSpec)
DUCK = Record(
    title="Duck",
    description="Ducking: when bus `by` is louder than threshold_db, this bus is lowered by amount_db.",
    fields=[
        Field("by", Ref("bus"), description="the bus whose level triggers the ducking (e.g. voice)"),
        Field(
            "amount_db",
            engine_number(DUCK_BOUNDS["amount_db"]),
            _DUCK_DEFAULT["amount_db"],
            "gain reduction in dB (negative)",
        ),
        Field(
            "threshold_db",
            engine_number(DUCK_BOUNDS["threshold_db"]),
            _DUCK_DEFAULT["threshold_db"],
            "level of `by` in dBFS above which ducking starts",
        ),
        Field(
            "attack",
            engine_number(DUCK_BOUNDS["attack"]),
            _DUCK_DEFAULT["attack"],
            "seconds to reach full ducking",
        ),
        Field(
            "release",
            engine_number(DUCK_BOUNDS["release"]),
            _DUCK_DEFAULT["release"],
            "seconds to recover after `by` falls silent",
        ),
    ],
    build=lambda v, ctx: m.DuckDef(**v),
)


# Effects: every record below is derived from an effect's definition (engine/effects), so a new
# effect needs no line here.


def _param_spec(p: Param) -> Spec:
    if p.bounds is not None:
        s: Spec = engine_number(p.bounds)
    elif p.choices:
        s = Enum(p.choices)
    else:
        s = Ref(p.ref or "")
    return nullable(s) if p.optional else s


def _param_text(p: Param) -> str:
    if p.bounds is not None:
        unit = f" {p.unit}" if p.unit else ""
        return f"{p.description} ({p.bounds.lo:g}..{p.bounds.hi:g}{unit})"
    return p.description


def _param_field(p: Param) -> Field:
    default = p.default if p.default is not None or p.optional else REQUIRED
    return Field(p.name, _param_spec(p), default, _param_text(p))


def _effect_title(kind: EffectType) -> str:
    return kind.name.capitalize() + "Effect"


def _effect_record(kind: EffectType) -> Record:
    fields = [
        Field("type", Enum((kind.name,)), description=f"{kind.name}: {kind.description}"),
        Field(
            "name",
            nullable(Text(pattern=NAME_PATTERN, pattern_hint="effect name")),
            None,
            "what snapshots call it (default: its type; needed when a bus has two of a type)",
        ),
        *(_param_field(p) for p in kind.params),
    ]
    g = kind.group
    if g is not None:
        item = Record(
            title=_effect_title(kind)[: -len("Effect")] + g.name.capitalize()[:-1],
            description=g.description,
            fields=[_param_field(p) for p in g.params],
        )
        fields.append(
            Field(
                g.name,
                ListOf(item, min_items=g.min_items, max_items=g.max_items),
                REQUIRED if g.min_items else (),
                g.description,
            )
        )

    def build(v: dict[str, Any], ctx: Ctx) -> EffectSpec:
        name = v.pop("name") or ""
        v.pop("type")
        try:
            return EffectSpec(kind.name, v, name)
        except EngineError as exc:  # a cross-parameter rule of the effect: reported at the record
            raise ValueError(str(exc)) from None

    return Record(title=_effect_title(kind), description=kind.description, fields=fields, build=build)


EFFECT = Tagged(
    "type",
    {name: _effect_record(kind) for name, kind in EFFECT_TYPES.items()},
    title="Effect",
    description="One effect of a bus's chain: {type: eq|compressor|delay|..., its parameters}.",
)

_OVERRIDE_NUMBER = nullable(Number())
EFFECT_OVERRIDE = MapOf(
    Choice(
        [
            Option(is_list, ListOf(MapOf(_OVERRIDE_NUMBER)), "a list of bands"),
            Option(lambda n: True, _OVERRIDE_NUMBER, "a number"),
        ]
    ),
    description="parameter -> value while the snapshot is active (bands: a list, one mapping per band)",
)


def _check_effect_overrides(values: dict[str, Any], nodes: dict[str, Node], ctx: Ctx) -> bool:
    """Each overridden effect must exist on the bus, and each value be a number parameter of it,
    inside its range (checked once every bus has been read)."""
    if not values["effects"]:
        return True
    bus, overrides, node = values["bus"], values["effects"], nodes["effects"]

    def later() -> None:
        decl = ctx.declared.get("bus", {}).get((), {}).get(bus)
        bdef = decl.value if decl is not None else None
        if not isinstance(bdef, m.BusDef):
            return  # unknown or broken bus: reported where it is used or defined
        chain = {e.name: e for e in bdef.effects}
        for knode, vnode in node.value:
            name = str(knode.value)
            spec = chain.get(name)
            if spec is None:
                ctx.error(
                    knode,
                    f"bus {bus!r} has no effect named {name!r}",
                    did_you_mean(name, list(chain), "effects") if chain else f"bus {bus!r} has no effects",
                )
                continue
            _check_override_values(spec.kind, spec, overrides[name], vnode, ctx)

    ctx.after.append(later)
    return True


def _check_override_values(kind: EffectType, spec: EffectSpec, values: Any, node: Node, ctx: Ctx) -> None:
    group = kind.group
    numeric = {p.name: p for p in kind.params if p.numeric}
    pairs = [(k, v) for k, v in node.value] if isinstance(node, MappingNode) else []
    for knode, vnode in pairs:
        key = str(knode.value)
        val = values[key]
        if group is not None and key == group.name:
            if not isinstance(val, tuple):
                ctx.error(vnode, f"{key} must be a list, one mapping per band", rule="relation")
                continue
            have = len(spec.values[group.name])
            if len(val) > have:
                ctx.error(vnode, f"{key}: {len(val)} overrides for {have} bands", rule="relation")
            gp = {p.name: p for p in group.params if p.numeric}
            for item_node, item in zip(vnode.value, val, strict=False):
                for ik, iv in item_node.value:
                    _check_one(gp, str(ik.value), item[str(ik.value)], ik, iv, ctx)
            continue
        if isinstance(val, tuple):
            ctx.error(vnode, f"{key} is a single value", rule="relation")
            continue
        _check_one(numeric, key, val, knode, vnode, ctx)


def _check_one(params: dict[str, Param], key: str, val: Any, knode: Node, vnode: Node, ctx: Ctx) -> None:
    p = params.get(key)
    if p is None:
        ctx.error(
            knode, f"no parameter {key!r} a snapshot can set", did_you_mean(key, list(params), "parameters")
        )
    elif val is not None and not p.bounds.lo <= val <= p.bounds.hi:  # type: ignore[union-attr]
        ctx.error(
            vnode,
            f"{key} {val:g} is out of range",
            f"allowed: {p.bounds.lo:g} .. {p.bounds.hi:g} {p.unit}".rstrip(),  # type: ignore[union-attr]
            rule="relation",
        )


def _check_bus(values: dict[str, Any], nodes: dict[str, Node], ctx: Ctx) -> bool:
    name = values["name"]
    if name == "master":
        if "parent" in nodes and values["parent"] is not None:
            ctx.error(nodes["parent"], "the master bus has no parent", "remove parent: from master")
            return False
        values["parent"] = None
    elif values["parent"] is None:
        ctx.error(nodes["parent"], f"bus {name!r} needs a parent", "only master has none; use parent: master")
        return False
    ctx.notes.setdefault("bus_parent_nodes", {})[name] = node_at(nodes, "parent")
    seen: dict[str, int] = {}
    for i, e in enumerate(values["effects"]):
        if e.name in seen:
            ctx.error(
                nodes["effects"].value[i],
                f"bus {name!r} has two effects named {e.name!r}",
                f"give one a name: (the first is item {seen[e.name] + 1})",
                rule="names",
            )
            return False
        seen[e.name] = i
    lp, hp = values["lowpass_hz"], values["highpass_hz"]
    if lp is not None and hp is not None and lp <= hp:
        ctx.error(
            nodes["lowpass_hz"], f"lowpass_hz {lp:g} is not above highpass_hz {hp:g}: the bus would be silent"
        )
        return False
    return True


BUS = Record(
    title="Bus",
    description="A mixing bus. `master` always exists; every other bus has a parent (default master).",
    name_field="name",
    fields=[
        Field("parent", nullable(Ref("bus")), "master", "the bus this one mixes into"),
        Field("gain_db", engine_number(BUS_BOUNDS["gain_db"]), m.BusDef.gain_db, "bus gain in dB"),
        Field(
            "lowpass_hz",
            nullable(engine_number(BUS_BOUNDS["lowpass_hz"])),
            None,
            "low-pass cutoff in Hz (null = off)",
        ),
        Field(
            "highpass_hz",
            nullable(engine_number(BUS_BOUNDS["highpass_hz"])),
            None,
            "high-pass cutoff in Hz (null = off)",
        ),
        Field("reverb", nullable(REVERB), None, "reverb on this bus (null = none)"),
        Field("duck", ListOf(DUCK), (), "ducking rules: other buses that lower this one"),
        Field(
            "effects",
            ListOf(EFFECT, max_items=MAX_EFFECTS),
            (),
            f"effect chain after the bus's filters and reverb, in order (at most {MAX_EFFECTS}):"
            " eq, compressor, delay, lowpass, highpass, reverb",
        ),
        Field(
            "loudness_lufs",
            nullable(engine_number(LOUDNESS_TARGET)),
            None,
            "automatic mixing target in LUFS: every asset played on this bus is measured at load and"
            " its gain set so it reaches this integrated loudness (layers may opt out with"
            " normalize: false); on master, the whole mix is kept at this loudness by a slow automatic gain",
        ),
        Field("description", Text(), "", "free text"),
    ],
    check=_check_bus,
    build=lambda v, ctx: m.BusDef(
        v["name"],
        v["parent"],
        v["gain_db"],
        v["lowpass_hz"],
        v["highpass_hz"],
        v["reverb"],
        tuple(v["duck"]),
        v["description"],
        v["loudness_lufs"],
        tuple(v["effects"]),
    ),
)

BUS_OVERRIDE = Record(
    title="BusOverride",
    description="What a snapshot changes on one bus; keys left out keep the bus's own setting.",
    name_field="bus",
    check=_check_effect_overrides,
    fields=[
        Field(
            "gain_db",
            nullable(engine_number(BUS_BOUNDS["gain_db"])),
            None,
            "bus gain in dB while the snapshot is active",
        ),
        Field("lowpass_hz", nullable(engine_number(BUS_BOUNDS["lowpass_hz"])), None, "low-pass cutoff in Hz"),
        Field(
            "highpass_hz", nullable(engine_number(BUS_BOUNDS["highpass_hz"])), None, "high-pass cutoff in Hz"
        ),
        Field("reverb_wet", nullable(engine_number(REVERB_BOUNDS["wet"])), None, "reverb wet level 0..1"),
        Field(
            "reverb_room_size",
            nullable(engine_number(REVERB_BOUNDS["room_size"])),
            None,
            "reverb room size 0..1",
        ),
        Field(
            "effects",
            MapOf(EFFECT_OVERRIDE),
            MappingProxyType({}),
            "effect name -> {parameter: value}: glided there (each over its ramp time) as the snapshot"
            " blends in; bands: a list, one mapping per band",
        ),
    ],
    build=lambda v, ctx: m.BusOverride(**{k: x for k, x in v.items() if k != "bus"}),
)

SNAPSHOT = Record(
    title="Snapshot",
    description="A named mix preset (underwater, pause menu) blended in and out over time.",
    name_field="name",
    fields=[
        Field("buses", MapOf(BUS_OVERRIDE, key_ref="bus"), description="bus name -> overrides"),
        Field("blend", seconds("s", 60.0), 0.5, "seconds to blend in (and out, unless blend_out is set)"),
        Field("blend_out", nullable(seconds("s", 60.0)), None, "seconds to blend out (default: blend)"),
        Field(
            "when",
            nullable(ExprSpec()),
            None,
            "condition that activates it, e.g. \"area == 'underwater'\"; without it the game turns it on",
        ),
        Field(
            "priority",
            Number(integer=True, minimum=0, maximum=100),
            0,
            "when several snapshots set the same bus, the higher priority wins",
        ),
        Field("description", Text(), "", "free text"),
    ],
    build=lambda v, ctx: m.SnapshotDef(
        v["name"],
        v["buses"],
        v["blend"],
        v["blend"] if v["blend_out"] is None else v["blend_out"],
        v["when"],
        v["priority"],
        v["description"],
    ),
)

# ---------------------------------------------------------------------------------------------
# Values bound to parameters (gain, pitch, filters)


def _binding_record(title: str, unit: str, y_min: float, y_max: float) -> Record:
    def check(values: dict[str, Any], nodes: dict[str, Node], ctx: Ctx) -> bool:
        pts = values["curve"]
        scope = ctx.scope
        pnode = nodes["param"]

        def later() -> None:  # after every parameter is declared: does the curve ever move?
            decl = ctx.visible("parameter", scope).get(values["param"])
            if decl is None or decl.value is INVALID:
                return
            p: m.ParameterDef = decl.value
            lo, hi = pts[0][0], pts[-1][0]
            if hi < p.min or lo > p.max:
                ctx.error(
                    nodes["curve"],
                    f"curve x values {lo:g} .. {hi:g} lie outside the range {p.min:g} .. {p.max:g} "
                    f"of parameter {p.name!r}",
                    "the curve would never move; use x values inside the parameter's range",
                )

        del pnode
        ctx.after.append(later)
        return True

    return Record(
        title=title,
        description=f"A value in {unit} following a parameter through a curve (x = parameter, y = {unit}).",
        fields=[
            Field("param", Ref("parameter"), description="the parameter that drives the value"),
            Field(
                "curve",
                CurveSpec(
                    f"[[x, y], ...]: x = parameter value (strictly increasing), y in {unit}",
                    y_min,
                    y_max,
                    y_unit=f" {unit}" if unit != "semitones" else " st",
                ),
                description=f"[[x, y], ...]: x = parameter value (strictly increasing), y in {unit}",
            ),
            Field(
                "shape",
                Enum(SHAPES),
                "linear",
                "how the value moves between points: linear, smooth (smoothstep), step, exp (ease-in), "
                "log (ease-out)",
            ),
        ],
        check=check,
        build=lambda v, ctx: m.BindingDef(v["param"], Curve(v["curve"], v["shape"])),
    )


def value_spec(title: str, unit: str, lo: float, hi: float, combine: str, description: str) -> Choice:
    """A layer setting: a constant number, one binding, or a list of bindings (combined by ``combine``)."""
    binding = _binding_record(f"{title}Binding", unit, lo, hi)
    return Choice(
        [
            Option(
                is_number,
                Convert(Number(minimum=lo, maximum=hi), lambda v, ctx: m.ValueDef(v, (), combine)),
                "a number",
            ),
            Option(
                is_map,
                Convert(binding, lambda v, ctx: m.ValueDef(None, (v,), combine)),
                "{param, curve, shape}",
            ),
            Option(
                is_list,
                Convert(ListOf(binding, min_items=1), lambda v, ctx: m.ValueDef(None, tuple(v), combine)),
                "a list of {param, curve}",
            ),
        ],
        description=description,
        title=f"{title}Value",
    )


GAIN = value_spec(
    "Gain",
    "dB",
    -96.0,
    24.0,
    "sum",
    "gain in dB: a number, or {param, curve} (several bindings add up in dB)",
)
PITCH = value_spec(
    "Pitch",
    "semitones",
    -48.0,
    48.0,
    "sum",
    "pitch shift in semitones (0 = unchanged): a number or {param, curve}",
)
LOWPASS = value_spec(
    "Lowpass",
    "Hz",
    10.0,
    24000.0,
    "min",
    "low-pass cutoff in Hz: a number or {param, curve} (several: the lowest wins)",
)
HIGHPASS = value_spec(
    "Highpass",
    "Hz",
    10.0,
    24000.0,
    "max",
    "high-pass cutoff in Hz: a number or {param, curve} (several: the highest wins)",
)

# ---------------------------------------------------------------------------------------------
# Sources


def _sample(v: Any, ctx: Ctx, gain_db: float = 0.0) -> m.SampleSource:
    try:
        rel = v.relative_to(ctx.root).as_posix()
    except ValueError:  # pragma: no cover - Asset already refused paths outside the folder
        rel = str(v)
    return m.SampleSource(rel, v, gain_db)


AUDIO = Asset("audio file (wav, flac, ogg, mp3), relative to the scene's folder")

SAMPLE_RECORD = Record(
    title="Sample",
    description="One audio file with an optional gain.",
    fields=[
        Field("sample", AUDIO, description="audio file path relative to the scene's folder"),
        Field("gain_db", Number(**GAIN_DB), 0.0, "gain of this file in dB"),
    ],
    build=lambda v, ctx: _sample(v["sample"], ctx, v["gain_db"]),
)

SAMPLE = Choice(
    [
        Option(is_text, Convert(AUDIO, _sample), "a file path"),
        Option(has_key("sample"), SAMPLE_RECORD, "{sample: path}"),
    ],
    title="SampleRef",
    description="an audio file: a path, or {sample: path, gain_db: dB}",
)

RANDOM_ITEM_RECORD = Record(
    title="RandomItem",
    description="A file in a random container, with its relative weight.",
    fields=[
        Field("sample", AUDIO, description="audio file path"),
        Field("weight", Number(exclusive_minimum=0.0), 1.0, "relative chance of being picked (> 0)"),
        Field("gain_db", Number(**GAIN_DB), 0.0, "gain of this file in dB"),
    ],
    build=lambda v, ctx: m.RandomItem(_sample(v["sample"], ctx, v["gain_db"]), v["weight"]),
)

RANDOM_ITEM = Choice(
    [
        Option(is_text, Convert(AUDIO, lambda v, ctx: m.RandomItem(_sample(v, ctx))), "a file path"),
        Option(is_map, RANDOM_ITEM_RECORD, "{sample, weight}"),
    ],
)


def _check_random(values: dict[str, Any], nodes: dict[str, Node], ctx: Ctx) -> bool:
    n = len(values["random"])
    if values["no_repeat"] >= n and n > 0 and values["no_repeat"] > 0:
        ctx.error(
            nodes["no_repeat"],
            f"no_repeat {values['no_repeat']} needs more than {values['no_repeat']} items "
            f"(the container has {n})",
            f"use no_repeat: {max(0, n - 1)} or add items",
        )
        return False
    return True


RANDOM = Record(
    title="RandomSource",
    description="A random container: each play picks one file by weight, avoiding repeats, with jitter.",
    fields=[
        Field("random", ListOf(RANDOM_ITEM, min_items=1), description="files to pick from"),
        Field(
            "no_repeat",
            Number(integer=True, minimum=0, maximum=32),
            1,
            "never pick any of the last N picks again (0 = repeats allowed)",
        ),
        Field("pitch_jitter", Number(minimum=0.0, maximum=12.0), 0.0, "random pitch offset, ± semitones"),
        Field("gain_jitter_db", Number(minimum=0.0, maximum=24.0), 0.0, "random gain offset, ± dB"),
    ],
    check=_check_random,
    build=lambda v, ctx: m.RandomSource(
        tuple(v["random"]), v["no_repeat"], v["pitch_jitter"], v["gain_jitter_db"]
    ),
)

SEQUENCE = Record(
    title="SequenceSource",
    description="A sequence container: plays its files in order, one per trigger.",
    fields=[
        Field("sequence", ListOf(SAMPLE, min_items=1), description="files in playing order"),
        Field("loop", Boolean(), True, "start again after the last file"),
    ],
    build=lambda v, ctx: m.SequenceSource(tuple(v["sequence"]), v["loop"]),
)

GENERATOR_PARAM = Choice(
    [
        Option(is_number, Number(), "a number"),
        Option(lambda n: isinstance(n, ScalarNode) and n.tag.endswith(":bool"), Boolean(), "true/false"),
        Option(is_text, Text(), "text"),
        Option(
            is_map,
            Convert(
                _binding_record("GeneratorBinding", "units", -1e9, 1e9),
                lambda v, ctx: m.ValueDef(None, (v,), "sum"),
            ),
            "{param, curve}",
        ),
    ],
)


def _generator_registry() -> Mapping[str, Any] | None:
    """The generator registry (imported lazily: it compiles numba kernels), or None if unavailable."""
    try:
        from ..generators import GENERATORS
    except Exception:  # pragma: no cover - a broken generators package must not break validation
        return None
    return GENERATORS


def _check_generator(values: dict[str, Any], nodes: dict[str, Node], ctx: Ctx) -> bool:
    """Generator name and parameters against the generators' own ParamSpecs (only if a scene uses one)."""

    def later() -> None:
        registry = _generator_registry()
        if registry is None:
            return
        name = values["generator"]
        cls = registry.get(name)
        if cls is None:
            ctx.error(
                nodes["generator"],
                f"unknown generator {name!r}",
                did_you_mean(name, list(registry), "generators"),
            )
            return
        specs = getattr(cls, "PARAMS", {})
        pnode = nodes.get("params")
        if not isinstance(pnode, MappingNode):
            return
        for knode, vnode in pnode.value:
            key = str(knode.value)
            spec = specs.get(key)
            if spec is None:
                ctx.error(
                    knode,
                    f"generator {name!r} has no parameter {key!r}",
                    did_you_mean(key, list(specs), "parameters"),
                )
                continue
            v = values["params"].get(key)
            choices = getattr(spec, "choices", None)
            if choices:
                if not isinstance(v, str) or v not in choices:
                    ctx.error(
                        vnode,
                        f"{name}.{key} must be one of {', '.join(choices)}, got {v!r}",
                        did_you_mean(str(v), list(choices), "choices"),
                    )
                continue
            if isinstance(v, m.ValueDef):
                lo, hi = (
                    min(b.curve.y_range[0] for b in v.bindings),
                    max(b.curve.y_range[1] for b in v.bindings),
                )
            elif isinstance(v, float | int) and not isinstance(v, bool):
                lo = hi = float(v)
            else:
                ctx.error(vnode, f"{name}.{key} must be a number or {{param, curve}}, got {v!r}")
                continue
            if lo < spec.min or hi > spec.max:
                unit = f" {spec.unit}" if getattr(spec, "unit", "") not in ("", "norm", "choice") else ""
                ctx.error(
                    vnode,
                    f"{name}.{key} value {lo:g}{'' if lo == hi else f' .. {hi:g}'} is out of range",
                    f"allowed: {spec.min:g} .. {spec.max:g}{unit}",
                )

    ctx.after.append(later)
    return True


GENERATOR = Record(
    title="GeneratorSource",
    description="A procedural generator (rain, wind, fire, water, birds ...) with its parameters.",
    fields=[
        Field(
            "generator",
            Text(pattern=NAME_PATTERN, pattern_hint="generator name"),
            description="generator name",
        ),
        Field(
            "params",
            MapOf(GENERATOR_PARAM),
            MappingProxyType({}),
            "generator parameters: numbers, text, or {param, curve} bindings",
        ),
    ],
    check=_check_generator,
    build=lambda v, ctx: m.GeneratorSource(v["generator"], v["params"]),
)

MORPH = Record(
    title="MorphSource",
    description="A model-made texture morphing between sources (later issue).",
    fields=[
        Field("morph", ListOf(SAMPLE, min_items=1), description="the sources to morph between"),
        Field("param", nullable(Ref("parameter")), None, "parameter that drives the morph position"),
        Field("model", nullable(Asset("ONNX model", extensions=(".onnx",))), None, "ONNX model file"),
    ],
    build=lambda v, ctx: m.MorphSource(tuple(v["morph"]), v["param"], v["model"]),
)

SOURCE = Choice(
    [
        Option(is_text, Convert(AUDIO, _sample), "a file path"),
        Option(has_key("sample"), SAMPLE_RECORD, "{sample: ...}"),
        Option(has_key("random"), RANDOM, "{random: [...]}"),
        Option(has_key("sequence"), SEQUENCE, "{sequence: [...]}"),
        Option(has_key("generator"), GENERATOR, "{generator: name}"),
        Option(has_key("morph"), MORPH, "{morph: [...]}"),
    ],
    title="Source",
    description="what a layer plays: a file path, {sample}, {random: [...]}, {sequence: [...]}, "
    "{generator: name}, or {morph: [...]}",
)

# ---------------------------------------------------------------------------------------------
# Layers


def _owner(ctx: Ctx) -> str:
    return ctx.scope[-1].split(":", 1)[1] if ctx.scope else ""


def _check_layer(values: dict[str, Any], nodes: dict[str, Node], ctx: Ctx) -> bool:
    ok = True
    mode = values["mode"]
    if mode == "scatter" and values["interval"] is None:
        ctx.error(
            node_at(nodes, "mode"),
            "mode scatter needs an interval",
            "add interval: [min, max] seconds between triggers",
        )
        ok = False
    if mode != "scatter":
        for key in ("interval", "jitter"):
            if key in nodes:
                ctx.error(
                    nodes[key],
                    f"{key} only applies to mode: scatter (this layer is {mode})",
                    f"remove {key}: or set mode: scatter",
                )
                ok = False
    lp, hp = values["lowpass"], values["highpass"]
    if lp is not None and hp is not None and lp.is_constant and hp.is_constant and lp.constant <= hp.constant:
        ctx.error(
            nodes["lowpass"],
            f"lowpass {lp.constant:g} Hz is not above highpass {hp.constant:g} Hz: the layer would be silent",
        )
        ok = False
    if ok:
        uid = f"{_owner(ctx)}.{values['id']}"
        prior = ctx.declared.get("layer_uid", {}).get((), {}).get(uid)
        if prior is None or prior.value != ctx.scope:  # same owner: ListOf reports the duplicate id
            ctx.declare("layer_uid", uid, nodes["id"].start_mark, ctx.scope, scope=(), what="layer uid")
    return ok


def caption_fields(whose: str) -> list[Field]:
    """``caption`` and ``importance``, declared once for layers, emitters and events (captions.py)."""
    return [
        Field(
            "caption",
            nullable(Text(min_length=1, max_length=m.MAX_CAPTION_LEN)),
            None,
            f"text published on the `caption` topic when {whose} becomes audible (null = no caption)",
        ),
        Field(
            "importance", Enum(m.IMPORTANCE), "normal", "the caption's importance: " + ", ".join(m.IMPORTANCE)
        ),
    ]


LAYER = Record(
    title="Layer",
    description="One sound in a stack: a source, a mode, settings (constants or curves) and a condition.",
    fields=[
        Field(
            "id",
            Text(pattern=NAME_PATTERN, pattern_hint="layer id"),
            description="stable id, unique in its emitter/event; hot reload matches layers by it",
        ),
        Field("source", SOURCE, description="what to play"),
        Field(
            "mode",
            Enum(("loop", "oneshot", "scatter")),
            "loop",
            "loop: plays continuously while active; oneshot: plays once when it becomes active (or the event "
            "fires); scatter: re-triggered every interval seconds at jittered positions",
        ),
        Field(
            "interval",
            nullable(Ordered(Number(minimum=0.0), what="interval")),
            None,
            "scatter only: [min, max] seconds between triggers",
        ),
        Field(
            "jitter",
            Vec3(minimum=0.0),
            (0.0, 0.0, 0.0),
            "scatter only: [x, y, z] metres; each trigger lands up to ± this far from the emitter",
        ),
        Field("gain", GAIN, m.ValueDef(0.0), "gain in dB: a number or {param, curve, shape}"),
        Field(
            "pitch", PITCH, m.ValueDef(0.0), "pitch in semitones (0 = unchanged): a number or {param, curve}"
        ),
        Field(
            "lowpass",
            nullable(LOWPASS),
            None,
            "low-pass cutoff in Hz (null = off): a number or {param, curve}",
        ),
        Field(
            "highpass",
            nullable(HIGHPASS),
            None,
            "high-pass cutoff in Hz (null = off): a number or {param, curve}",
        ),
        Field(
            "when",
            nullable(ExprSpec()),
            None,
            "condition, e.g. \"weather == 'storm' and intensity > 0.4\"; the layer fades in/out with it",
        ),
        Field(
            "fade_in",
            seconds("s"),
            0.25,
            "seconds to fade in when the layer starts or its condition turns true",
        ),
        Field(
            "fade_out",
            seconds("s"),
            0.25,
            "seconds to fade out when the condition turns false or it is removed",
        ),
        Field("director", Boolean(), False, "hand this layer's weight to the ML director"),
        Field(
            "sends",
            MapOf(Number(**GAIN_DB), key_ref="bus", max_items=MAX_SENDS),
            MappingProxyType({}),
            f"send levels in dB to other buses (e.g. a reverb bus): {{bus: dB}}, at most {MAX_SENDS}",
        ),
        Field(
            "priority",
            Number(integer=True, minimum=0, maximum=100),
            0,
            "voice priority: higher keeps its voice when the voice limit is reached",
        ),
        Field("random_start", Boolean(), True, "loop mode: start at a random offset so copies do not phase"),
        Field(
            "normalize",
            Boolean(),
            True,
            "follow the bus's loudness_lufs target (false: the asset's own level)",
        ),
        Field("description", Text(), "", "free text"),
        *caption_fields("this layer's sound"),
    ],
    check=_check_layer,
    build=lambda v, ctx: m.LayerDef(
        id=v["id"],
        uid=f"{_owner(ctx)}.{v['id']}",
        source=v["source"],
        mode=v["mode"],
        interval=v["interval"],
        jitter=tuple(v["jitter"]),
        gain=v["gain"],
        pitch=v["pitch"],
        lowpass=v["lowpass"],
        highpass=v["highpass"],
        when=v["when"],
        fade_in=v["fade_in"],
        fade_out=v["fade_out"],
        director=v["director"],
        sends=v["sends"],
        priority=v["priority"],
        random_start=v["random_start"],
        normalize=v["normalize"],
        description=v["description"],
        caption=v["caption"],
        importance=v["importance"],
    ),
)

LAYERS = ListOf(LAYER, min_items=1, id_field="id", declares="layer", description="the layer stack")

# ---------------------------------------------------------------------------------------------
# Emitters and events


def _check_attenuation(values: dict[str, Any], nodes: dict[str, Node], ctx: Ctx) -> bool:
    if values["min"] >= values["max"]:
        ctx.error(
            node_at(nodes, "min"),
            f"attenuation min {values['min']:g} m must be below max {values['max']:g} m",
        )
        return False
    return True


ATTENUATION = Record(
    title="Attenuation",
    description="Distance attenuation: full level within min metres, fading to max metres along the curve.",
    fields=[
        Field("min", Number(exclusive_minimum=0.0), 1.0, "metres within which the level is full"),
        Field("max", Number(exclusive_minimum=0.0), 50.0, "metres beyond which the level stops falling"),
        Field(
            "curve",
            Choice(
                [
                    Option(is_text, Enum(("inverse", "linear")), "inverse or linear"),
                    Option(
                        is_list,
                        Convert(
                            CurveSpec(
                                "[[distance m, gain dB], ...]",
                                -96.0,
                                24.0,
                                x_min=0.0,
                                y_unit=" dB",
                                max_points=MAX_ROLLOFF_POINTS,
                            ),
                            lambda v, ctx: Curve(v, "linear"),
                        ),
                        "[[distance, dB], ...]",
                    ),
                ]
            ),
            "inverse",
            "inverse, linear, or a curve [[distance m, gain dB], ...]",
        ),
    ],
    check=_check_attenuation,
    build=lambda v, ctx: m.AttenuationDef(v["min"], v["max"], v["curve"]),
)


def _check_path(values: dict[str, Any], nodes: dict[str, Node], ctx: Ctx) -> bool:
    return True


PATH = Record(
    title="Path",
    description="Authored motion: travel through points at a speed (for scenes heard without a game).",
    fields=[
        Field("points", ListOf(Vec3(), min_items=1), description="[[x, y, z], ...] metres"),
        Field("speed", Number(minimum=0.0), 1.0, "metres per second"),
        Field("loop", Boolean(), True, "true: back to the first point; false: back and forth"),
    ],
    build=lambda v, ctx: m.PathDef(tuple(v["points"]), v["speed"], v["loop"]),
)


def _one_place(values: dict[str, Any], nodes: dict[str, Node], ctx: Ctx, keys: tuple[str, ...]) -> bool:
    given = [k for k in keys if k in nodes and values.get(k) is not None]
    if len(given) > 1:
        ctx.error(
            nodes[given[1]],
            f"give only one of {', '.join(keys)} (found {' and '.join(given)})",
            "an emitter is either fixed, follows a game object, or moves along a path",
        )
        return False
    return True


def _switch_values_later(ctx: Ctx, knodes: list[ScalarNode], group_of: Any) -> None:
    """After declarations: each key/value in ``knodes`` must be a value of the switch group."""

    def later() -> None:
        group = group_of()
        if group is None:
            return
        decl = ctx.visible("switch", ()).get(group)
        if decl is None or decl.value is INVALID:
            return
        for kn in knodes:
            if kn.value not in decl.value.values:
                ctx.error(
                    kn,
                    f"switch {group!r} has no value {kn.value!r}",
                    did_you_mean(kn.value, decl.value.values, "values"),
                )

    ctx.after.append(later)


def _check_emitter(values: dict[str, Any], nodes: dict[str, Node], ctx: Ctx) -> bool:
    if not _one_place(values, nodes, ctx, ("position", "follows", "path")):
        return False
    sw = nodes.get("switches")
    if isinstance(sw, MappingNode):
        for k, v in sw.value:
            _switch_values_later(ctx, [v], lambda k=k: k.value)
    return True


EMITTER = Record(
    title="Emitter",
    description="A persistent sound object: a bus, a place, attenuation and a stack of layers.",
    name_field="name",
    fields=[
        Field("bus", Ref("bus"), "master", "the bus it plays into"),
        Field(
            "position", nullable(Vec3()), None, "fixed [x, y, z] in metres (omit for a non-spatial 2D bed)"
        ),
        Field("follows", nullable(OBJECT_NAME), None, "name of a game object whose position it takes"),
        Field("path", nullable(PATH), None, "authored motion along points"),
        Field("attenuation", ATTENUATION, m.AttenuationDef(), "distance attenuation (3D emitters)"),
        Field("binaural", Boolean(), False, "render with the binaural head model (headphones, VR)"),
        Field("doppler", Number(minimum=0.0, maximum=10.0), 0.0, "Doppler factor (0 = off, 1 = physical)"),
        Field("gain_db", Number(**GAIN_DB), 0.0, "gain of the whole emitter in dB"),
        Field(
            "switches",
            MapOf(Text(), key_ref="switch"),
            MappingProxyType({}),
            "this emitter's switch values, e.g. {surface: stone}",
        ),
        Field("layers", LAYERS, description="the layer stack"),
        Field("description", Text(), "", "free text"),
        *caption_fields("one of its layers without a caption of its own"),
    ],
    check=_check_emitter,
    build=lambda v, ctx: m.EmitterDef(
        name=v["name"],
        bus=v["bus"],
        position=v["position"],
        follows=v["follows"],
        path=v["path"],
        attenuation=v["attenuation"],
        binaural=v["binaural"],
        doppler=v["doppler"],
        gain_db=v["gain_db"],
        switches=v["switches"],
        layers=tuple(v["layers"]),
        description=v["description"],
        caption=v["caption"],
        importance=v["importance"],
    ),
)

LAYER_IDS = Choice(
    [
        Option(is_text, Convert(Ref("layer"), lambda v, ctx: (v,)), "a layer id"),
        Option(
            is_list,
            Convert(ListOf(Ref("layer"), min_items=1), lambda v, ctx: tuple(v)),
            "a list of layer ids",
        ),
    ],
)


def _check_event(values: dict[str, Any], nodes: dict[str, Node], ctx: Ctx) -> bool:
    ok = True
    placed = [k for k in ("emitter", "follows") if values.get(k) is not None]
    if placed and "position" in nodes:
        ctx.error(
            nodes["position"],
            f"give either position or {placed[0]}, not both",
            f"{placed[0]}: places the event; remove position:",
        )
        ok = False
    if len(placed) > 1:
        ctx.error(nodes["follows"], "give either emitter or follows, not both")
        ok = False
    if placed:
        values["position"] = None
    if values["choose"] and values["switch"] is None:
        ctx.error(nodes["choose"], "choose needs a switch", "add switch: <switch group> next to choose:")
        ok = False
    ch = nodes.get("choose")
    if ok and isinstance(ch, MappingNode):
        _switch_values_later(ctx, [k for k, _ in ch.value], lambda: values["switch"])
    return ok


EVENT = Record(
    title="Event",
    description="A named trigger the game fires; each fire makes an instance with its own parameters.",
    name_field="name",
    fields=[
        Field("layers", LAYERS, description="the layers an instance can play"),
        Field("bus", Ref("bus"), "master", "the bus it plays into"),
        Field(
            "position",
            Choice(
                [
                    Option(is_null, Null(), "null"),
                    Option(is_text, Enum(("instance",)), "instance"),
                    Option(is_list, Vec3(), "[x, y, z]"),
                ]
            ),
            "instance",
            "instance: the game gives a position with each fire; [x, y, z]: fixed; null: non-spatial",
        ),
        Field("emitter", nullable(Ref("emitter")), None, "play at this emitter's place"),
        Field("follows", nullable(OBJECT_NAME), None, "play at this game object's place"),
        Field("attenuation", ATTENUATION, m.AttenuationDef(), "distance attenuation"),
        Field("binaural", Boolean(), False, "render with the binaural head model"),
        Field("doppler", Number(minimum=0.0, maximum=10.0), 0.0, "Doppler factor (0 = off)"),
        Field("gain_db", Number(**GAIN_DB), 0.0, "gain of each instance in dB"),
        Field(
            "parameters",
            MapOf(PARAMETER, declares="parameter"),
            MappingProxyType({}),
            "per-instance parameters (the game sets them when firing); layers of this event can read them",
        ),
        Field("switch", nullable(Ref("switch")), None, "switch group that chooses the layers"),
        Field(
            "choose",
            MapOf(LAYER_IDS),
            MappingProxyType({}),
            "switch value -> layer id(s) to play; values not listed play every layer",
        ),
        Field(
            "max_instances",
            Number(integer=True, minimum=1, maximum=MAX_INSTANCES),  # the runtime's cap, declared once
            16,
            "instances playing at once; the oldest is stopped beyond this",
        ),
        Field("description", Text(), "", "free text"),
        *caption_fields("one of its layers without a caption of its own"),
    ],
    check=_check_event,
    build=lambda v, ctx: m.EventDef(
        name=v["name"],
        layers=tuple(v["layers"]),
        bus=v["bus"],
        position=v["position"],
        emitter=v["emitter"],
        follows=v["follows"],
        attenuation=v["attenuation"],
        binaural=v["binaural"],
        doppler=v["doppler"],
        gain_db=v["gain_db"],
        parameters=v["parameters"],
        switch=v["switch"],
        choose=v["choose"],
        max_instances=v["max_instances"],
        description=v["description"],
        caption=v["caption"],
        importance=v["importance"],
    ),
)

# ---------------------------------------------------------------------------------------------
# Music

QUANTISE = Enum(("beat", "bar", "immediate"))
_AT_HINT = {"on": "did you mean 'at'? (transitions and stingers land at: beat, bar or immediate)"}

TRANSITION = Record(
    title="Transition",
    description="How to move to another segment: on the next beat, bar or immediately, with fades.",
    shorthand="at",
    key_hints=_AT_HINT,
    fields=[
        Field("at", QUANTISE, "bar", "when the change happens: next beat, next bar, or immediately"),
        Field("fade_out", seconds("s", 30.0), 0.05, "seconds for the old segment to fade out"),
        Field("fade_in", seconds("s", 30.0), 0.0, "seconds for the new segment to fade in"),
        Field("stinger", nullable(Ref("stinger")), None, "stinger to play on the boundary"),
    ],
    build=lambda v, ctx: v,
)


def _check_segment(values: dict[str, Any], nodes: dict[str, Node], ctx: Ctx) -> bool:
    if values["loop"] and values["next"] is not None:
        ctx.error(nodes["next"], "next only applies when loop is false", "set loop: false or remove next:")
        return False
    return True


SEGMENT = Record(
    title="Segment",
    description="A piece of music; loops, or continues with `next`. Transitions to others land on the grid.",
    name_field="name",
    fields=[
        Field("sample", SAMPLE, description="audio file of the segment (starts on a bar line)"),
        Field(
            "bars",
            nullable(Number(integer=True, minimum=1, maximum=4096)),
            None,
            "length in bars (default: the file's length)",
        ),
        Field("loop", Boolean(), True, "loop the segment until a transition"),
        Field("next", nullable(Ref("segment")), None, "segment to continue with when loop is false"),
        Field("gain", GAIN, m.ValueDef(0.0), "gain in dB: a number or {param, curve}"),
        Field(
            "when",
            nullable(ExprSpec()),
            None,
            "condition selecting this segment; the first segment (in file order) whose condition holds plays",
        ),
        Field(
            "transitions",
            MapOf(TRANSITION, key_ref="segment", pass_name=False),
            MappingProxyType({}),
            "target segment -> transition (default: music.transition)",
        ),
    ],
    check=_check_segment,
    build=lambda v, ctx: m.SegmentDef(
        v["name"],
        v["sample"],
        v["bars"],
        v["loop"],
        v["next"],
        v["gain"],
        v["when"],
        MappingProxyType({k: m.TransitionDef(k, **t) for k, t in v["transitions"].items()}),
    ),
)

STINGER = Record(
    title="Stinger",
    key_hints=_AT_HINT,
    description="A short phrase over the music, quantised to the grid; fired by the game or by a condition.",
    name_field="name",
    fields=[
        Field("sample", SAMPLE, description="audio file"),
        Field("at", QUANTISE, "beat", "quantise to the next beat, bar, or play immediately"),
        Field("gain_db", Number(**GAIN_DB), 0.0, "gain in dB"),
        Field("when", nullable(ExprSpec()), None, "play whenever this condition becomes true"),
    ],
    build=lambda v, ctx: m.StingerDef(v["name"], v["sample"], v["at"], v["gain_db"], v["when"]),
)


def _check_music(values: dict[str, Any], nodes: dict[str, Node], ctx: Ctx) -> bool:
    unit = values["time_signature"][1]
    if unit not in (1, 2, 4, 8, 16, 32):
        ctx.error(
            nodes["time_signature"].value[1],
            f"beat unit {unit} is not a power of two",
            "time_signature: [beats per bar, beat unit], e.g. [4, 4], [6, 8]",
        )
        return False
    if not values["segments"]:
        ctx.error(node_at(nodes, "segments"), "music needs at least one segment")
        return False
    return True


MUSIC = Record(
    title="Music",
    description="Interactive music on a tempo grid: segments, beat/bar-quantised transitions, stingers.",
    fields=[
        Field("bus", Ref("bus"), "master", "the bus music plays into"),
        Field("tempo", Number(minimum=20.0, maximum=400.0), description="beats per minute"),
        Field(
            "time_signature",
            ListOf(Number(integer=True, minimum=1, maximum=32), min_items=2, max_items=2),
            (4, 4),
            "[beats per bar, beat unit], e.g. [4, 4] or [6, 8]",
        ),
        Field("start", nullable(Ref("segment")), None, "segment to start with (default: the first)"),
        Field(
            "transition",
            TRANSITION,
            {"at": "bar", "fade_out": 0.05, "fade_in": 0.0, "stinger": None},
            "default transition between segments",
        ),
        Field("segments", MapOf(SEGMENT, declares="segment"), description="segment name -> segment"),
        Field(
            "stingers", MapOf(STINGER, declares="stinger"), MappingProxyType({}), "stinger name -> stinger"
        ),
    ],
    check=_check_music,
    build=lambda v, ctx: m.MusicDef(
        segments=v["segments"],
        start=v["start"] or next(iter(v["segments"])),
        bus=v["bus"],
        tempo=v["tempo"],
        beats_per_bar=v["time_signature"][0],
        beat_unit=v["time_signature"][1],
        default_transition=m.TransitionDef("", **v["transition"]),
        stingers=v["stingers"],
    ),
)

# ---------------------------------------------------------------------------------------------
# Director, listener, scene

CONSTRAINT = Record(
    title="Constraint",
    description="Limits on one director output (linear weight 0..1): the designer keeps the last word.",
    fields=[
        Field("min", Number(minimum=0.0, maximum=1.0), 0.0, "lowest weight the model may set"),
        Field("max", Number(minimum=0.0, maximum=1.0), 1.0, "highest weight the model may set"),
        Field("lock", nullable(Number(minimum=0.0, maximum=1.0)), None, "fixed weight, ignoring the model"),
    ],
    build=lambda v, ctx: m.ConstraintDef(v["min"], v["max"], v["lock"]),
)


def _check_director(values: dict[str, Any], nodes: dict[str, Node], ctx: Ctx) -> bool:
    # load.py checks, once every layer is read, that each output's layer says director: true
    outs = zip(values["outputs"], nodes["outputs"].value, strict=True)
    ctx.notes["director_outputs"] = list(outs)
    return True


DIRECTOR = Record(
    title="Director",
    check=_check_director,
    description="The ML director: reads inputs, sets weights of layers marked director: true "
    "(see docs/ml-guide.md; `soundscape train director` makes the model).",
    fields=[
        Field("inputs", ListOf(Ref("input")), (), "parameter, state or switch names the model reads"),
        Field(
            "outputs",
            ListOf(Ref("layer_uid"), min_items=1),
            description="layer uids (emitter.layer) whose weights it sets; each layer says director: true",
        ),
        Field(
            "model",
            nullable(Asset("ONNX model", extensions=(".onnx",), must_exist=False)),
            None,
            "ONNX model file (`soundscape train director` makes it; missing or broken: the rules play)",
        ),
        Field(
            "examples",
            nullable(Asset("examples file", extensions=(".jsonl", ".json", ".csv", ".yaml"))),
            None,
            "the designer's training examples",
        ),
        Field("rate_hz", Number(minimum=0.1, maximum=100.0), 10.0, "model evaluations per second"),
        Field(
            "constraints",
            MapOf(CONSTRAINT, key_ref="layer_uid", pass_name=False),
            MappingProxyType({}),
            "layer uid -> {min, max, lock}: limits that always beat the model",
        ),
        Field("smoothing", Number(minimum=0.0, maximum=10.0), 0.15, "seconds the model's weights glide over"),
    ],
    build=lambda v, ctx: m.DirectorDef(
        tuple(v["inputs"]),
        tuple(v["outputs"]),
        v["model"],
        v["examples"],
        v["rate_hz"],
        v["constraints"],
        v["smoothing"],
    ),
)

LISTENER = Record(
    title="Listener",
    description="Where the listener is when no game says otherwise (e.g. `soundscape play`).",
    fields=[
        Field("position", Vec3(), (0.0, 0.0, 0.0), "[x, y, z] metres"),
        Field("forward", Vec3(), (0.0, 0.0, -1.0), "facing direction (default -Z)"),
        Field("follows", nullable(OBJECT_NAME), None, "game object the listener follows"),
        Field("path", nullable(PATH), None, "authored motion"),
    ],
    check=lambda v, n, ctx: _one_place(v, n, ctx, ("follows", "path")),
    build=lambda v, ctx: m.ListenerDef(v["position"], v["forward"], v["follows"], v["path"]),
)


def _build_scene(v: dict[str, Any], ctx: Ctx) -> m.SceneDef:
    buses = dict(v["buses"])
    if "master" not in buses:
        buses = {"master": m.BusDef("master", parent=None), **buses}
    from pathlib import Path

    file = Path(ctx.file)
    return m.SceneDef(
        name=v["name"] or file.stem,
        file=file,
        root=ctx.scene_dir,
        version=v["version"],
        description=v["description"],
        parameters=v["parameters"],
        states=v["states"],
        switches=v["switches"],
        buses=MappingProxyType(buses),
        snapshots=v["snapshots"],
        emitters=v["emitters"],
        events=v["events"],
        music=v["music"],
        director=v["director"],
        listener=v["listener"],
    )


SCENE = Record(
    title="Scene",
    description="A soundscape scene: parameters, states, buses, emitters, events and music. "
    "Units: gains in dB, times in seconds, frequencies in Hz, pitch in semitones, distances in metres.",
    fields=[
        Field("name", nullable(Text()), None, "scene name (default: the file name)"),
        Field("version", Number(integer=True, minimum=1, maximum=1), 1, "format version (1)"),
        Field("description", Text(), "", "free text"),
        Field(
            "parameters",
            MapOf(PARAMETER, declares="parameter"),
            MappingProxyType({}),
            "continuous game values: name -> {range, default, seek}",
        ),
        Field(
            "states",
            MapOf(STATE, declares="state"),
            MappingProxyType({}),
            "exclusive scene-wide states: name -> [values] or {values, default}",
        ),
        Field(
            "switches",
            MapOf(SWITCH, declares="switch"),
            MappingProxyType({}),
            "per-object choices: name -> [values] or {values, default}",
        ),
        Field("buses", MapOf(BUS, declares="bus"), MappingProxyType({}), "mixing buses: name -> bus"),
        Field("snapshots", MapOf(SNAPSHOT, declares="snapshot"), MappingProxyType({}), "mix presets"),
        Field(
            "emitters",
            MapOf(EMITTER, declares="emitter", scope="emitter"),
            MappingProxyType({}),
            "persistent sound objects: name -> emitter",
        ),
        Field(
            "events",
            MapOf(EVENT, declares="event", scope="event"),
            MappingProxyType({}),
            "triggers the game fires: name -> event",
        ),
        Field("music", nullable(MUSIC), None, "interactive music"),
        Field("director", nullable(DIRECTOR), None, "ML director (next issue)"),
        Field("listener", LISTENER, m.ListenerDef(), "default listener placement"),
    ],
    build=_build_scene,
)
"""The whole format. ``load.py`` reads with it, ``schema.py`` prints it."""

__all__ = ["SCENE", "SequenceNode"]
