"""The wire protocol: one definition per message, from which validation, docs and the schema derive.

Every message is a msgpack map. The daemon knows nothing about its clients beyond this message set
(like scsynth): the table :data:`MESSAGES` *is* the contract. ``docs/protocol.md`` embeds
:func:`messages_markdown` verbatim (a test checks they match) and :func:`json_schema` gives the same
definitions to tools, so the docs, the schema and the validator cannot drift apart.

Numeric codes of messages and the error codes are only ever appended, never renumbered, so an old
client keeps working against a newer daemon of the same protocol version.

Validation here is *structural*: types, finiteness, generic limits and unknown keys. Whether a
parameter, state or event exists in the loaded scene, and a parameter's own range, is checked by the
server against the scene's catalogue (:class:`Catalog`), because only it knows the scene.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgpack

from ..config import MAX_MESSAGE_BYTES
from ..errors import ProtocolError
from ..hints import suggestion

PROTOCOL_VERSION = 1
"""Bumped only for incompatible changes; additions (messages, optional fields, codes) keep it."""

DEFAULT_MAX_MESSAGE_BYTES = MAX_MESSAGE_BYTES  # declared in config: the daemon's options read it too

MAX_NAME_LEN = 128
MAX_COORD = 1.0e6  # metres: any game world fits; rejects garbage that would overflow distance maths
MAX_SPEED = 1.0e4  # metres per second
MAX_PARAMS = 32
MAX_BATCH = 1024
MAX_GAME_TIME = 1.0e9  # seconds (about 31 years of game time)
MAX_ID = 2**32 - 1
MIN_AXIS = 1.0e-6
"""Least length of a listener's ``forward``, and of the part of its ``up`` not parallel to forward. The
engine refuses below 1e-9 (it cannot orthonormalise such axes); checking a stricter bound here, before
the reply, means an ``ok`` listener is never refused later."""
MAX_ERROR_TEXT = 8192
"""Characters of an error's ``message`` at most (and ``MAX_FIELD_TEXT`` of its ``field``): input echoed
in an error is clipped (see ``_show``), and this bounds the rest, so a reply stays far below the frame
limit whatever a client sent."""
MAX_FIELD_TEXT = 256

RESERVED = ("v", "type", "id", "t")
"""Envelope keys every top-level message may carry (``v`` and ``type`` are required)."""

# Error codes (append only). The reply's ``code`` is one of these strings.
ERROR_CODES: dict[str, str] = {
    "bad_msgpack": "the frame is not a complete msgpack value (or a string in it is not UTF-8)",
    "not_a_map": "the message is not a msgpack map with string keys",
    "bad_version": "`v` is missing or not a protocol version this daemon speaks",
    "unknown_type": "`type` names no message",
    "missing_field": "a required field is absent",
    "unknown_field": "a key the message does not define (a typo?)",
    "wrong_type": "a field has the wrong msgpack type",
    "not_finite": "a number is NaN or infinite",
    "out_of_range": "a number is outside its allowed range",
    "too_long": "a string, map or list is longer than allowed",
    "unknown_name": "a parameter, state, switch, event, object, snapshot or instance the scene does not have",
    "limit": "a cap was reached (live instances, game objects, scheduled messages); the message was dropped",
    "rejected": "the scene runtime refused the command (the message says why)",
    "scene_error": "load_scene failed (the previous scene keeps playing), or a part of the scene failed "
    "while playing (the message names it)",
    "busy": "the audio process did not answer in time",
    "internal": "a bug in the daemon; please report it with the message",
}


# ----------------------------------------------------------------------------------- definitions
@dataclass(frozen=True)
class Field:
    """One field of a message: its msgpack type, unit, limits and meaning."""

    name: str
    kind: str  # name | string | number | int | bool | vec3 | params | switches | map | items
    doc: str
    required: bool = False
    unit: str = ""
    lo: float | None = None
    hi: float | None = None
    default: Any = None
    max_len: int = MAX_NAME_LEN

    @property
    def type_text(self) -> str:
        return {
            "name": "str",
            "string": "str",
            "number": "float",
            "int": "int",
            "bool": "bool",
            "vec3": "[float, float, float]",
            "params": "map str -> float",
            "switches": "map str -> str",
            "map": "map",
            "items": "array of maps",
        }[self.kind]

    @property
    def limits_text(self) -> str:
        if self.kind in ("name", "string"):
            return f"1..{self.max_len} chars"
        if self.kind == "params":
            return f"<= {MAX_PARAMS} entries, values finite"
        if self.kind in ("switches", "map"):
            return f"<= {MAX_PARAMS} entries"
        if self.kind == "items":
            return f"1..{MAX_BATCH} items"
        if self.lo is not None and self.hi is not None:
            lo = _num_text(self.lo)
            hi = _num_text(self.hi)
            return f"each in {lo}..{hi}" if self.kind == "vec3" else f"{lo}..{hi}"
        return ""


def _checker(f: Field) -> Callable[[Any, str], Any]:
    """A specialised checker for one field (closures keep the hot path free of branching on kind)."""
    kind, lo, hi = f.kind, f.lo, f.hi
    if kind == "number":

        def check_number(value: Any, where: str) -> float:
            if value.__class__ is float:
                if value - value == 0.0 and lo <= value <= hi:
                    return value
            elif value.__class__ is int and lo <= value <= hi:
                return float(value)
            return _number(value, where, lo, hi)

        return check_number
    if kind == "vec3":

        def check_vec3(value: Any, where: str) -> tuple[float, float, float]:
            vec = _vec3(value, lo, hi)  # the common case; anything else gets the full check and message
            return vec if vec is not None else _check_field(f, value, where)

        return check_vec3
    if kind == "name":
        max_len = f.max_len

        def check_name(value: Any, where: str) -> str:
            if value.__class__ is str and 0 < len(value) <= max_len:
                return value
            return _check_field(f, value, where)

        return check_name
    return lambda value, where: _check_field(f, value, where)


def _num_text(x: float) -> str:
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x)}" if abs(x) < 1e5 else f"{x:.0e}".replace("e+0", "e").replace("e+", "e")
    return f"{x:g}"


@dataclass(frozen=True)
class Message:
    """A message definition: name, append-only numeric code, fields, reply and possible errors."""

    name: str
    code: int
    doc: str
    fields: tuple[Field, ...] = ()
    reply: str = "`{}` (empty ok)"
    errors: tuple[str, ...] = ()
    example: Mapping[str, Any] = field(default_factory=dict)
    in_batch: bool = True  # may appear as an item of `batch`
    coalesce_key: tuple[str, ...] | None = None  # latest-wins per block when untimed
    rule: Callable[[dict[str, Any], str], None] | None = None  # a check across fields (raises)

    def __post_init__(self) -> None:
        # Precomputed once: validation runs up to 100k times a second.
        object.__setattr__(self, "field_map", {f.name: f for f in self.fields})
        object.__setattr__(self, "allowed", frozenset(self.field_map) | frozenset(RESERVED))
        object.__setattr__(self, "item_allowed", frozenset(self.field_map) | {"type"})
        object.__setattr__(
            self, "plan", tuple((f.name, f.required, f.default, _checker(f)) for f in self.fields)
        )


_V3 = {"lo": -MAX_COORD, "hi": MAX_COORD}

MESSAGES: dict[str, Message] = {}


def _add(msg: Message) -> None:
    assert msg.name not in MESSAGES and all(m.code != msg.code for m in MESSAGES.values())
    MESSAGES[msg.name] = msg


_add(
    Message(
        "hello",
        1,
        "Introduce the client and learn what the loaded scene offers. Send it first; it is optional "
        "but the reply is how a client discovers parameter ranges, states, switches and events.",
        (Field("name", "name", "client name shown in logs and telemetry", max_len=64),),
        reply="`protocol` (int), `daemon` (str, version), `sample_rate` (int), `block` (int frames), "
        "`frame` (int, engine frame when the reply was made), `max_message_bytes` (int), `scene` (map "
        "from the scene runtime: `name` (the scene's name; also under `scene`), "
        "`parameters` {name: {min, max, default}}, `states` "
        "{group: [values]}, `switches` {group: [values]}, `events` [names], `snapshots` [names], "
        "`emitters` [names], `event_parameters` {event: {name: {min, max}}} (an event's own parameters), "
        "`stingers` [names]), `messages` {name: code}",
        example={"v": 1, "type": "hello", "id": 1, "name": "my-game"},
        in_batch=False,
    )
)
_add(
    Message(
        "set_param",
        2,
        "Set a global game parameter (an RTPC). The scene smooths it at its own seek speed.",
        (
            Field("name", "name", "parameter name declared in the scene", required=True),
            Field(
                "value",
                "number",
                "new value, within the parameter's declared range",
                required=True,
                lo=-1e9,
                hi=1e9,
            ),
        ),
        errors=("unknown_name", "out_of_range"),
        example={"v": 1, "type": "set_param", "name": "intensity", "value": 0.8},
        coalesce_key=("name",),
    )
)
_add(
    Message(
        "set_state",
        3,
        "Select the value of an exclusive state group (e.g. `weather` = `storm`).",
        (
            Field("group", "name", "state group declared in the scene", required=True),
            Field("value", "name", "one of the group's values", required=True),
        ),
        errors=("unknown_name",),
        example={"v": 1, "type": "set_state", "group": "weather", "value": "storm"},
    )
)
_add(
    Message(
        "set_switch",
        4,
        "Select a switch value, globally or for one game object (e.g. footstep `surface` = `gravel`).",
        (
            Field("group", "name", "switch group declared in the scene", required=True),
            Field("value", "name", "one of the group's values", required=True),
            Field("object", "name", "game object the switch applies to (absent: global)"),
        ),
        errors=("unknown_name",),
        example={"v": 1, "type": "set_switch", "group": "surface", "value": "gravel", "object": "player"},
    )
)
_add(
    Message(
        "trigger",
        5,
        "Start an instance of an event. The reply (when `id` is given) carries the instance id, "
        "allocated by the daemon at once, so the client can `stop` it later.",
        (
            Field("event", "name", "event name declared in the scene", required=True),
            Field("position", "vec3", "world position of this instance", unit="m", **_V3),
            Field("params", "params", "instance parameters {name: value}"),
            Field("object", "name", "game object the instance follows"),
            Field("switches", "switches", "switch values for this instance only {group: value}"),
        ),
        reply="`instance` (int >= 1)",
        errors=("unknown_name", "out_of_range", "limit"),
        example={"v": 1, "type": "trigger", "id": 7, "event": "door_open", "position": [2.0, 0.0, -3.5]},
    )
)
_add(
    Message(
        "stop",
        6,
        "Stop an event instance, with its release (fade) or at once.",
        (
            Field("instance", "int", "id from the trigger reply", required=True, lo=1, hi=2**53),
            Field("release", "bool", "true: fade out with the event's release; false: cut", default=True),
        ),
        errors=("unknown_name",),
        example={"v": 1, "type": "stop", "instance": 12, "release": True},
    )
)
_add(
    Message(
        "listener",
        7,
        "Move the listener (camera or head). OpenGL axes: -Z forward, +Y up, metres.",
        (
            Field("position", "vec3", "listener position", required=True, unit="m", **_V3),
            Field(
                "forward",
                "vec3",
                "facing direction (need not be normalised, must not be zero)",
                default=(0.0, 0.0, -1.0),
                lo=-MAX_COORD,
                hi=MAX_COORD,
            ),
            Field(
                "up",
                "vec3",
                "up direction (must not be zero or parallel to forward)",
                default=(0.0, 1.0, 0.0),
                lo=-MAX_COORD,
                hi=MAX_COORD,
            ),
            Field(
                "velocity",
                "vec3",
                "for Doppler",
                unit="m/s",
                default=(0.0, 0.0, 0.0),
                lo=-MAX_SPEED,
                hi=MAX_SPEED,
            ),
        ),
        errors=("out_of_range",),
        example={"v": 1, "type": "listener", "position": [0, 1.7, 0], "forward": [0, 0, -1]},
        coalesce_key=(),
        rule=lambda fields, where: _listener_axes(fields["forward"], fields["up"], where),
    )
)
_add(
    Message(
        "object",
        8,
        "Move a game object; emitters and instances attached to it follow.",
        (
            Field("name", "name", "game object name (created on first use)", required=True),
            Field("position", "vec3", "object position", required=True, unit="m", **_V3),
            Field("forward", "vec3", "facing direction", lo=-MAX_COORD, hi=MAX_COORD),
            Field("velocity", "vec3", "for Doppler", unit="m/s", lo=-MAX_SPEED, hi=MAX_SPEED),
        ),
        errors=("limit",),
        example={"v": 1, "type": "object", "name": "car1", "position": [10.0, 0.0, -4.0]},
        coalesce_key=("name",),
    )
)
_add(
    Message(
        "snapshot",
        9,
        "Blend a named mix snapshot in (`on`: true) or out, over the snapshot's own time.",
        (
            Field("name", "name", "snapshot declared in the scene", required=True),
            Field("on", "bool", "true: blend in; false: blend out", required=True),
        ),
        errors=("unknown_name",),
        example={"v": 1, "type": "snapshot", "name": "underwater", "on": True},
    )
)
_add(
    Message(
        "load_scene",
        10,
        "Replace the scene with another file from the daemon's scene folder (hot reload: matching "
        "layers keep playing). The reply comes once it is loaded; on failure the old scene keeps playing. "
        "Validation switches with the sound, at once: every message handled before the swap is checked "
        "against the old scene and plays in it, every one after against the new scene.",
        (
            Field(
                "path",
                "string",
                "scene file, relative to the folder of the daemon's first scene",
                required=True,
                max_len=1024,
            ),
        ),
        reply="`scene` (the new scene's description, as in `hello`)",
        errors=("scene_error", "busy"),
        example={"v": 1, "type": "load_scene", "id": 3, "path": "dungeon.yaml"},
        in_batch=False,
    )
)
_add(
    Message(
        "stats",
        11,
        "Live counters of the daemon: engine, device, network, scene.",
        (),
        reply="`stats` (map: `audio` {frame, voices_real, voices_virtual, cpu_load, underruns, "
        "callback_interval_p99_ms, ...}, `net` {received, invalid, dropped, replies, replies_dropped, "
        "clients, instances_live, objects, scheduled_pending, internal_errors, ...}, `scene` {runtime "
        "telemetry}); at most 0.1 s old. `net.dropped` sums what the network process could not deliver: "
        "replies a client did not read (`replies_dropped`), replies to clients that left "
        "(`replies_unroutable`), commands the audio process could not take (`dropped_to_audio`) and "
        "publications (`pub_dropped`)",
        example={"v": 1, "type": "stats", "id": 4},
        in_batch=False,
    )
)
_add(
    Message(
        "batch",
        12,
        "Several messages applied in the same audio block (atomic: if any item is invalid, none is "
        "applied and the error names the item). A `t` on the batch schedules all items together.",
        (
            Field(
                "items",
                "items",
                "messages without `v`, `id` or `t` (no hello, stats, load_scene, sync, batch)",
                required=True,
            ),
        ),
        reply="`results`: array, one entry per item (`{}` or e.g. `{instance: 12}` for a trigger)",
        errors=("wrong_type", "limit"),
        example={
            "v": 1,
            "type": "batch",
            "id": 9,
            "items": [
                {"type": "set_state", "group": "area", "value": "cave"},
                {"type": "trigger", "event": "stinger"},
            ],
        },
        in_batch=False,
    )
)
_add(
    Message(
        "sync",
        13,
        "A barrier and clock anchor: the reply comes after everything this client sent before it has "
        "been applied by the audio process. With `t`, it also re-anchors the client's game clock now.",
        (),
        reply="`frame` (int, the engine block start at which earlier messages took effect), "
        "`sample_rate` (int)",
        errors=("busy",),
        example={"v": 1, "type": "sync", "id": 5, "t": 12.25},
        in_batch=False,
    )
)

_add(
    Message(
        "say",
        14,
        "Speak a synthetic character line (our formant synthesiser, or espeak-ng when installed) on the "
        "scene's `voice` bus, from an emitter's place or a position (2D when neither is given). Lines are "
        "cached by (text, preset); telemetry topic `say` labels each one `synthetic: true`. Checked before "
        "the reply: the preset, the emitter, the text's size in UTF-8 bytes, that it has something to "
        "pronounce, and the client's rate of text (a token bucket of bytes per client: `limit` beyond; "
        "figures in docs/voices.md). Lines are synthesised by a worker process through a bounded queue "
        "and kept within the daemon's voice memory budget (`soundscape serve --voice-budget`): a line "
        "that finds the queue full, or the budget held by lines still playing, comes back later as an "
        "`error` (`limit`) carrying the request's `id` and the client's name.",
        (
            Field("text", "string", "what to say (UTF-8, 1..4096 bytes)", required=True, max_len=4096),
            Field(
                "preset",
                "name",
                "voice preset: neutral, ogre, child, robot, radio, ghost, whisper, goblin, elder",
                default="neutral",
            ),
            Field("emitter", "name", "emitter whose place the line comes from"),
            Field("position", "vec3", "world position of the speaker", unit="m", **_V3),
        ),
        errors=("unknown_name", "too_long", "rejected", "limit"),
        example={"v": 1, "type": "say", "text": "The bridge is out, stranger.", "preset": "ogre"},
    )
)
_add(
    Message(
        "stinger",
        15,
        "Play a music stinger by name, quantised to its beat or bar (as the scene declares).",
        (Field("name", "name", "stinger declared in the scene's music", required=True),),
        errors=("unknown_name", "rejected"),
        example={"v": 1, "type": "stinger", "name": "victory"},
    )
)

_add(
    Message(
        "set_weight",
        16,
        "Hold a layer's weight (0..1) whatever its rules or director say, or hand it back with `weight` "
        "absent or nil. What the studio's teach mode and layer overrides send, so a designer hears the "
        "weight they set; telemetry shows the layer's `source` as `OVERRIDE` while it is held.",
        (
            Field("layer", "name", "layer uid (`emitter.layer` or `event.layer`)", required=True),
            Field("weight", "number", "the weight to hold; absent or nil: release", lo=0.0, hi=1.0),
        ),
        errors=("unknown_name", "out_of_range"),
        example={"v": 1, "type": "set_weight", "layer": "door_open.creak", "weight": 0.0},
    )
)


def _profile_fields() -> tuple[Field, ...]:
    """The ``profile`` message's fields: the player profile's own (``accessibility.profile.FIELDS``),
    each optional (a missing one takes the profile's default); ranges and choices are checked by
    ``profile_from_dict`` in the message's rule, so they are declared only there."""
    from ..accessibility.profile import FIELDS

    kinds = {"text": "name", "number": "number", "bool": "bool", "choice": "name"}
    kinds |= {"audiogram": "map", "volumes": "params", "preferences": "params"}
    out = []
    for pf in FIELDS:
        doc = pf.doc + (f" ({' | '.join(pf.choices)})" if pf.choices else "")
        number = pf.kind == "number"
        out.append(
            Field(
                pf.name,
                kinds[pf.kind],
                doc,
                unit=pf.unit,
                lo=pf.lo if number else None,
                hi=pf.hi if number else None,
            )
        )
    return tuple(out)


def _profile_rule(fields: dict[str, Any], where: str) -> None:
    from ..accessibility.profile import ProfileError, profile_from_dict

    try:
        profile_from_dict(fields)
    except ProfileError as exc:
        raise _err("out_of_range", where + exc.where, f"profile: {exc}") from None


_add(
    Message(
        "profile",
        17,
        "Apply a player profile (docs/accessibility.md): hearing compensation, mono, dynamic range, "
        "the player's volume per group of buses, the dialogue boost and the preferences a scene's "
        "director reads. Each message is a complete profile: a field it leaves "
        "out takes its default. Checked before the reply (a bad value: `out_of_range` naming the field "
        "path, e.g. `audiogram.left.4000`); the daemon designs the new compensation off the audio "
        "thread and glides to it over 100 ms.",
        _profile_fields(),
        errors=("out_of_range",),
        example={"v": 1, "type": "profile", "name": "late night", "mono": True, "dynamic_range": "night"},
        in_batch=False,
        rule=_profile_rule,
    )
)

CODE_TO_NAME: dict[int, str] = {m.code: m.name for m in MESSAGES.values()}


def _axes_problem(forward: Any, up: Any) -> tuple[str, str] | None:
    """(field, text) if the listener's axes cannot be orthonormalised (see ``MIN_AXIS``), else None."""
    fx, fy, fz = forward
    fn = math.sqrt(fx * fx + fy * fy + fz * fz)
    if not fn >= MIN_AXIS:
        return "forward", f"length {fn:.3g}: must not be the zero vector (at least {MIN_AXIS:g})"
    ux, uy, uz = up
    d = (ux * fx + uy * fy + uz * fz) / fn
    px, py, pz = ux - fx / fn * d, uy - fy / fn * d, uz - fz / fn * d
    if not math.sqrt(px * px + py * py + pz * pz) >= MIN_AXIS:
        return "up", "must not be zero or parallel to forward"
    return None


def _listener_axes(forward: Any, up: Any, where: str) -> None:
    problem = _axes_problem(forward, up)
    if problem is not None:
        name, text = problem
        raise _err(
            "out_of_range",
            where + name,
            f"{where}{name}={_show(list(up if name == 'up' else forward))}: {text}",
        )


# ------------------------------------------------------------------------------------ validation
def _err(code: str, where: str, text: str) -> ProtocolError:
    return ProtocolError(text, code=code, where=where)


def _suggest(word: str, choices) -> str:
    close = suggestion(word, choices)
    return f" ({close})" if close else ""


def _number(value: Any, where: str, lo: float | None, hi: float | None) -> float:
    # bool is an int subclass in Python but a distinct msgpack type: reject it as a number.
    if value.__class__ is float:
        x = value
    elif value.__class__ is int:
        x = float(value)
    else:
        raise _err("wrong_type", where, f"{where}={_show(value)}: expected a number")
    if x - x != 0.0:  # NaN or +-inf, without a function call
        raise _err("not_finite", where, f"{where}={value!r}: must be finite (not NaN or infinity)")
    if (lo is not None and not x >= lo) or (hi is not None and not x <= hi):
        raise _err(
            "out_of_range", where, f"{where}={value!r}: must be within {_num_text(lo)}..{_num_text(hi)}"
        )
    return x


def _show(value: Any) -> str:
    """A client's value as quoted in an error, clipped (input is never echoed whole)."""
    text = repr(value[:64] if value.__class__ in (str, bytes, list) else value)
    return text if len(text) <= 40 else text[:37] + "..."


def _key(key: Any) -> str:
    """A client's map key as part of a field path, clipped like ``_show``."""
    text = str(key)
    return text if len(text) <= MAX_NAME_LEN else text[: MAX_NAME_LEN - 3] + "..."


def _check_field(f: Field, value: Any, where: str) -> Any:
    kind = f.kind
    if kind == "name" or kind == "string":
        if value.__class__ is not str:
            raise _err("wrong_type", where, f"{where}={_show(value)}: expected a string")
        if not value or len(value) > f.max_len:
            raise _err("too_long", where, f"{where}: length {len(value)} must be within 1..{f.max_len}")
        return value
    if kind == "number":
        return _number(value, where, f.lo, f.hi)
    if kind == "vec3":
        if (value.__class__ is not list and value.__class__ is not tuple) or len(value) != 3:
            raise _err("wrong_type", where, f"{where}={_show(value)}: expected an array of 3 numbers")
        lo, hi = f.lo, f.hi
        return (
            _number(value[0], where + "[0]", lo, hi),
            _number(value[1], where + "[1]", lo, hi),
            _number(value[2], where + "[2]", lo, hi),
        )
    if kind == "int":
        if value.__class__ is not int:
            raise _err("wrong_type", where, f"{where}={_show(value)}: expected an integer")
        if value < f.lo or value > f.hi:
            raise _err("out_of_range", where, f"{where}={value}: must be within {f.lo:g}..{f.hi:g}")
        return value
    if kind == "bool":
        if value.__class__ is not bool:
            raise _err("wrong_type", where, f"{where}={_show(value)}: expected true or false")
        return value
    if kind == "params":
        if value.__class__ is not dict:
            raise _err("wrong_type", where, f"{where}={_show(value)}: expected a map of name -> number")
        if len(value) > MAX_PARAMS:
            raise _err("too_long", where, f"{where}: {len(value)} entries, at most {MAX_PARAMS}")
        out = {}
        for k, x in value.items():
            if k.__class__ is not str or not k or len(k) > MAX_NAME_LEN:
                raise _err("wrong_type", where, f"{where}: key {_show(k)} must be a name string")
            out[k] = _number(x, f"{where}.{k}", -1e9, 1e9)
        return out
    if kind == "switches":
        if value.__class__ is not dict:
            raise _err("wrong_type", where, f"{where}={_show(value)}: expected a map of group -> value")
        if len(value) > MAX_PARAMS:
            raise _err("too_long", where, f"{where}: {len(value)} entries, at most {MAX_PARAMS}")
        for k, x in value.items():
            if k.__class__ is not str or not k or len(k) > MAX_NAME_LEN:
                raise _err("wrong_type", where, f"{where}: key {_show(k)} must be a name string")
            if x.__class__ is not str or not x or len(x) > MAX_NAME_LEN:
                raise _err("wrong_type", f"{where}.{k}", f"{where}.{k}={_show(x)}: expected a name string")
        return dict(value)
    if kind == "map":  # its entries are the message rule's to check (a profile's audiogram)
        if value.__class__ is not dict:
            raise _err("wrong_type", where, f"{where}={_show(value)}: expected a map")
        if len(value) > MAX_PARAMS:
            raise _err("too_long", where, f"{where}: {len(value)} entries, at most {MAX_PARAMS}")
        return value
    raise AssertionError(kind)  # pragma: no cover  ("items" is handled by validate_batch)


@dataclass(slots=True)
class Request:
    """A validated message: its definition, its fields (defaults filled in) and its envelope."""

    msg: Message
    fields: dict[str, Any]
    id: int | None = None
    t: float | None = None
    items: list[Request] | None = None  # for batch

    @property
    def name(self) -> str:
        return self.msg.name


def _type_of(raw: Mapping, where: str) -> Message:
    name = raw.get("type")
    if name.__class__ is str:
        msg = MESSAGES.get(name)
        if msg is None:
            raise _err(
                "unknown_type",
                where + "type",
                f"{where}type={_show(name)}: unknown message{_suggest(name, MESSAGES)}",
            )
        return msg
    if name.__class__ is int and name in CODE_TO_NAME:
        return MESSAGES[CODE_TO_NAME[name]]
    if name is None:
        raise _err(
            "missing_field", where + "type", f"{where}type: missing (the message name, e.g. 'set_param')"
        )
    raise _err("unknown_type", where + "type", f"{where}type={_show(name)}: not a message name or code")


def _fields_of(msg: Message, raw: Mapping, where: str, envelope: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not raw.keys() <= (msg.allowed if envelope is _ENVELOPE else msg.item_allowed):
        _unknown_key(msg, raw, where, envelope)
    for name, required, default, check in msg.plan:
        value = raw.get(name)
        if value is None:
            if required:
                f = msg.field_map[name]
                raise _err(
                    "missing_field", where + name, f"{msg.name}: {where}{name} is required ({f.type_text})"
                )
            if default is not None:
                out[name] = default
            continue
        out[name] = check(value, where + name if where else name)
    return out


def _unknown_key(msg: Message, raw: Mapping, where: str, envelope: tuple[str, ...]) -> None:
    fmap = msg.field_map
    for key in raw:
        if key in fmap or key in envelope:
            continue
        if key.__class__ is not str:
            raise _err("not_a_map", where + "?", f"{where}: key {_show(key)} is not a string")
        allowed = [*fmap, *envelope]
        raise _err(
            "unknown_field",
            where + _key(key),
            f"{msg.name}: unknown field {_show(key)}{_suggest(key, allowed)}; allowed: {', '.join(allowed)}",
        )


_ENVELOPE = RESERVED
_ITEM_ENVELOPE = ("type",)


def validate(raw: Any) -> Request:
    """Check a decoded message and return it as a :class:`Request`; raise ProtocolError otherwise.

    The error's ``code`` is one of :data:`ERROR_CODES` and its ``where`` names the field
    (``items[3].value`` inside a batch), so a reply can point at the exact spot.
    """
    if raw.__class__ is not dict:
        raise _err("not_a_map", "", f"message is a {type(raw).__name__}, expected a msgpack map")
    v = raw.get("v")
    if v != PROTOCOL_VERSION or v.__class__ is not int:
        raise _err(
            "bad_version", "v", f"v={_show(v)}: this daemon speaks protocol version {PROTOCOL_VERSION}"
        )
    msg = _type_of(raw, "")
    rid = raw.get("id")
    if rid is not None and (rid.__class__ is not int or not 0 <= rid <= MAX_ID):
        raise _err("wrong_type", "id", f"id={_show(rid)}: expected an integer within 0..{MAX_ID}")
    t = raw.get("t")
    if t is not None:
        t = _number(t, "t", -MAX_GAME_TIME, MAX_GAME_TIME)
    if msg.name == "batch":
        return Request(msg, {}, rid, t, _batch_items(raw))
    fields = _fields_of(msg, raw, "", _ENVELOPE)
    if msg.rule is not None:
        msg.rule(fields, "")
    return Request(msg, fields, rid, t)


def _batch_items(raw: Mapping) -> list[Request]:
    for key in raw:
        if key != "items" and key not in _ENVELOPE:
            raise _err(
                "unknown_field",
                _key(key),
                f"batch: unknown field {_show(key)}; allowed: items, v, type, id, t",
            )
    items = raw.get("items")
    if items is None:
        raise _err("missing_field", "items", "batch: items is required (array of maps)")
    if items.__class__ is not list:
        raise _err("wrong_type", "items", f"items={_show(items)}: expected an array of maps")
    if not 1 <= len(items) <= MAX_BATCH:
        raise _err("too_long", "items", f"items: {len(items)} entries, must be within 1..{MAX_BATCH}")
    out = []
    for i, item in enumerate(items):
        where = f"items[{i}]."
        if item.__class__ is not dict:
            raise _err("wrong_type", f"items[{i}]", f"items[{i}]={_show(item)}: expected a map")
        msg = _type_of(item, where)
        if not msg.in_batch:
            raise _err(
                "wrong_type", where + "type", f"items[{i}].type={msg.name!r}: not allowed inside a batch"
            )
        fields = _fields_of(msg, item, where, _ITEM_ENVELOPE)
        if msg.rule is not None:
            msg.rule(fields, where)
        out.append(Request(msg, fields))
    return out


# ------------------------------------------------------------------------------ fast path
# The daemon's network process may take 100k+ untimed `object`, `set_param` and `listener` updates a
# second, one per message. `fast_update` accepts the common, well-formed shape of those three with no
# function call per field; anything else (ints in a vec3, a `t`, a missing field, a typo...) returns
# None and goes through `validate`, so errors and their messages come from one place only. What it
# accepts, `validate` accepts with equal fields (tests/test_protocol_fastpath.py checks both ways).


def _limits(msg: str, fname: str, kind: str) -> tuple[float, float, int]:
    f = MESSAGES[msg].field_map[fname]
    assert f.kind == kind, (msg, fname, f.kind)  # the fast path below is written for these kinds
    return f.lo, f.hi, f.max_len  # type: ignore[return-value]


def _fast_plan_is(msg: str, plan: tuple[tuple[str, bool, Any], ...]) -> None:
    have = tuple((name, required, default) for name, required, default, _ in MESSAGES[msg].plan)
    assert have == plan, f"fast_update is out of date for {msg}: {have}"


_fast_plan_is("object", (("name", True, None), ("position", True, None), ("forward", False, None),
                         ("velocity", False, None)))  # fmt: skip
_fast_plan_is("set_param", (("name", True, None), ("value", True, None)))
_fast_plan_is("listener", (("position", True, None), ("forward", False, (0.0, 0.0, -1.0)),
                           ("up", False, (0.0, 1.0, 0.0)), ("velocity", False, (0.0, 0.0, 0.0))))  # fmt: skip
_, _, _OBJ_NAME_LEN = _limits("object", "name", "name")
_OBJ_POS_LO, _OBJ_POS_HI, _ = _limits("object", "position", "vec3")
_OBJ_FWD_LO, _OBJ_FWD_HI, _ = _limits("object", "forward", "vec3")
_OBJ_VEL_LO, _OBJ_VEL_HI, _ = _limits("object", "velocity", "vec3")
_, _, _PARAM_NAME_LEN = _limits("set_param", "name", "name")
_PARAM_LO, _PARAM_HI, _ = _limits("set_param", "value", "number")
_LIS_POS_LO, _LIS_POS_HI, _ = _limits("listener", "position", "vec3")
_LIS_FWD_LO, _LIS_FWD_HI, _ = _limits("listener", "forward", "vec3")
_LIS_UP_LO, _LIS_UP_HI, _ = _limits("listener", "up", "vec3")
_LIS_VEL_LO, _LIS_VEL_HI, _ = _limits("listener", "velocity", "vec3")
_LIS_FWD_DEFAULT = MESSAGES["listener"].field_map["forward"].default
_LIS_UP_DEFAULT = MESSAGES["listener"].field_map["up"].default
_LIS_VEL_DEFAULT = MESSAGES["listener"].field_map["velocity"].default
_OBJ_ALLOWED = MESSAGES["object"].allowed
_PARAM_ALLOWED = MESSAGES["set_param"].allowed
_LIS_ALLOWED = MESSAGES["listener"].allowed


def _vec3(value: Any, lo: float, hi: float) -> tuple[float, float, float] | None:
    """A list of 3 finite floats within lo..hi as a tuple (NaN fails every comparison), else None."""
    if value.__class__ is list and len(value) == 3:
        x, y, z = value
        if (
            x.__class__ is float
            and y.__class__ is float
            and z.__class__ is float
            and lo <= x <= hi
            and lo <= y <= hi
            and lo <= z <= hi
        ):
            return (x, y, z)
    return None


def fast_update(raw: Any) -> tuple[str, Any, dict[str, Any]] | None:
    """``(type, coalesce key, fields)`` of a plain untimed object/set_param/listener update, else None.

    Equivalent to ``validate(raw)`` for what it accepts (same fields, defaults filled in, same
    types); None means "not this common shape", never "invalid": the caller then runs ``validate``,
    which accepts or raises with the usual message. The key is ``type`` for a listener and
    ``(type, name)`` otherwise (``Message.coalesce_key``). The scene catalogue is not consulted.

    The barest shapes (``{v, type, name, position}``, ``{v, type, name, value}``, ``{v, type,
    position}``) are recognised by the map's length alone: with those keys found non-nil, no other
    key can be there, so no subset test and no ``id``/``t`` lookups are needed.
    """
    if raw.__class__ is not dict:
        return None
    v = raw.get("v")
    if v.__class__ is not int or v != PROTOCOL_VERSION:
        return None
    kind = raw.get("type")
    if kind != "object" and kind != "set_param" and kind != "listener":
        return None
    hit = _bare_update(raw, kind, len(raw) - 2)  # keys besides v and type
    return hit if hit is not None else _fast_update_full(raw, kind)


def _bare_update(raw: dict, kind: str, extra: int) -> tuple[str, Any, dict[str, Any]] | None:
    """`fast_update` of a map holding only the required fields (``extra`` of them) besides its envelope."""
    if kind == "object":
        name = raw.get("name")
        pos = raw.get("position")
        if (
            extra == 2
            and name.__class__ is str
            and 0 < len(name) <= _OBJ_NAME_LEN
            and pos.__class__ is list
            and len(pos) == 3
        ):
            x, y, z = pos
            if (
                x.__class__ is float
                and y.__class__ is float
                and z.__class__ is float
                and _OBJ_POS_LO <= x <= _OBJ_POS_HI
                and _OBJ_POS_LO <= y <= _OBJ_POS_HI
                and _OBJ_POS_LO <= z <= _OBJ_POS_HI
            ):
                return "object", ("object", name), {"name": name, "position": (x, y, z)}
    elif kind == "set_param":
        name = raw.get("name")
        x = raw.get("value")
        if (
            extra == 2
            and name.__class__ is str
            and 0 < len(name) <= _PARAM_NAME_LEN
            and x.__class__ is float
            and x - x == 0.0
            and _PARAM_LO <= x <= _PARAM_HI
        ):
            return "set_param", ("set_param", name), {"name": name, "value": x}
    elif kind == "listener":
        pos = raw.get("position")
        if extra == 1 and pos.__class__ is list and len(pos) == 3:
            x, y, z = pos
            if (
                x.__class__ is float
                and y.__class__ is float
                and z.__class__ is float
                and _LIS_POS_LO <= x <= _LIS_POS_HI
                and _LIS_POS_LO <= y <= _LIS_POS_HI
                and _LIS_POS_LO <= z <= _LIS_POS_HI
            ):
                fields = {"position": (x, y, z), "forward": _LIS_FWD_DEFAULT, "up": _LIS_UP_DEFAULT,
                          "velocity": _LIS_VEL_DEFAULT}  # fmt: skip
                return "listener", "listener", fields
    return None


_BATCH_ALLOWED = MESSAGES["batch"].allowed


def fast_batch(raw: Any) -> list[tuple[str, Any, dict[str, Any]]] | None:
    """The items of an untimed ``batch`` made only of bare object/set_param/listener updates, else None.

    Each item as ``fast_update`` gives it (the item's map holds ``type`` and the required fields,
    nothing else). Like ``fast_update``, None only means "not this shape": ``validate`` decides.
    """
    items = fast_batch_items(raw)
    if items is None:
        return None
    out = []
    for item in items:
        if item.__class__ is not dict:
            return None
        hit = _bare_update(item, item.get("type"), len(item) - 1)  # keys besides type
        if hit is None:
            return None
        out.append(hit)
    return out


def fast_batch_items(raw: Any) -> list | None:
    """The ``items`` of a well-formed untimed ``batch`` envelope (``v``, ``type``, optional ``id``,
    1..MAX_BATCH items in a list), else None; the items themselves are not looked at."""
    if raw.__class__ is not dict:
        return None
    v = raw.get("v")
    if (
        v.__class__ is not int
        or v != PROTOCOL_VERSION
        or raw.get("type") != "batch"
        or raw.get("t") is not None
    ):
        return None
    rid = raw.get("id")
    if rid is not None and (rid.__class__ is not int or not 0 <= rid <= MAX_ID):
        return None
    items = raw.get("items")
    if not raw.keys() <= _BATCH_ALLOWED or items.__class__ is not list or not 1 <= len(items) <= MAX_BATCH:
        return None
    return items


def _fast_update_full(raw: dict, kind: str) -> tuple[str, Any, dict[str, Any]] | None:
    """``fast_update`` for the same three types with any of their optional fields and ``id``."""
    if raw.get("t") is not None:
        return None
    rid = raw.get("id")
    if rid is not None and (rid.__class__ is not int or not 0 <= rid <= MAX_ID):
        return None
    if kind == "object":
        if not raw.keys() <= _OBJ_ALLOWED:
            return None
        name = raw.get("name")
        if name.__class__ is not str or not 0 < len(name) <= _OBJ_NAME_LEN:
            return None
        pos = _vec3(raw.get("position"), _OBJ_POS_LO, _OBJ_POS_HI)
        if pos is None:
            return None
        fields: dict[str, Any] = {"name": name, "position": pos}
        value = raw.get("forward")
        if value is not None:
            vec = _vec3(value, _OBJ_FWD_LO, _OBJ_FWD_HI)
            if vec is None:
                return None
            fields["forward"] = vec
        value = raw.get("velocity")
        if value is not None:
            vec = _vec3(value, _OBJ_VEL_LO, _OBJ_VEL_HI)
            if vec is None:
                return None
            fields["velocity"] = vec
        return "object", ("object", name), fields
    if kind == "set_param":
        if not raw.keys() <= _PARAM_ALLOWED:
            return None
        name = raw.get("name")
        if name.__class__ is not str or not 0 < len(name) <= _PARAM_NAME_LEN:
            return None
        x = raw.get("value")
        if x.__class__ is float:
            if not (x - x == 0.0 and _PARAM_LO <= x <= _PARAM_HI):
                return None
        elif x.__class__ is int and _PARAM_LO <= x <= _PARAM_HI:
            x = float(x)
        else:
            return None
        return "set_param", ("set_param", name), {"name": name, "value": x}
    if kind == "listener":
        if not raw.keys() <= _LIS_ALLOWED:
            return None
        pos = _vec3(raw.get("position"), _LIS_POS_LO, _LIS_POS_HI)
        if pos is None:
            return None
        value = raw.get("forward")
        fwd = _LIS_FWD_DEFAULT if value is None else _vec3(value, _LIS_FWD_LO, _LIS_FWD_HI)
        value = raw.get("up")
        up = _LIS_UP_DEFAULT if value is None else _vec3(value, _LIS_UP_LO, _LIS_UP_HI)
        value = raw.get("velocity")
        vel = _LIS_VEL_DEFAULT if value is None else _vec3(value, _LIS_VEL_LO, _LIS_VEL_HI)
        if fwd is None or up is None or vel is None:
            return None
        if (fwd is not _LIS_FWD_DEFAULT or up is not _LIS_UP_DEFAULT) and _axes_problem(fwd, up) is not None:
            return None  # validate says what is wrong with the axes
        return "listener", "listener", {"position": pos, "forward": fwd, "up": up, "velocity": vel}
    return None


# --------------------------------------------------------------------------------- encode/decode
def unpack(payload: bytes) -> Any:
    """Decode one msgpack frame, refusing extension types (timestamps too) and non-string keys.

    When the frame is msgpack but not a message's shape (a string that is not UTF-8: ``bad_msgpack``;
    an extension type: ``wrong_type``; a map key that is not a string: ``not_a_map``), the error carries
    the value decoded leniently as ``raw``, so that a reply can still name the message and its ``id``:
    a request whose id can be read is always answered, even when nothing else of it is usable.
    """
    try:
        return msgpack.unpackb(payload, raw=False, strict_map_key=True, ext_hook=_no_ext, use_list=True)
    except Exception as exc:  # msgpack raises several types (ExtraData, ValueError, TypeError ...)
        first = exc
    try:  # only bad input gets here: is it msgpack with the wrong kind of string, key or type?
        raw = msgpack.unpackb(
            payload,
            raw=False,
            strict_map_key=False,
            use_list=False,  # tuples: hashable, so an array used as a map key still decodes
            unicode_errors="surrogateescape",
        )
    except Exception:
        if isinstance(first, ProtocolError):
            raise first from None
        raise _err(
            "bad_msgpack",
            "",
            f"not a valid msgpack value ({type(first).__name__}{': ' if str(first) else ''}{first})"[:200],
        ) from None
    if not _all_utf8(raw):
        err = _err("bad_msgpack", "", "a string in the message is not valid UTF-8")
    elif isinstance(first, ProtocolError):
        err = first
    else:
        key = _non_string_key(raw)
        kind = _MSGPACK_KINDS.get(type(key).__name__, type(key).__name__)
        err = _err("not_a_map", "", f"map key {_show(key)} is {kind}: every key must be a string")
    err.raw = _lists(raw)
    raise err


_MSGPACK_KINDS = {"int": "an integer", "float": "a float", "bool": "a boolean", "NoneType": "nil",
                  "tuple": "an array", "bytes": "binary"}  # fmt: skip


def _lists(value: Any) -> Any:
    """``value`` with its top-level tuples as lists (what ``peek_envelope`` and replies expect)."""
    if value.__class__ is dict:
        return {k: list(v) if v.__class__ is tuple else v for k, v in value.items()}
    return list(value) if value.__class__ is tuple else value


def _all_utf8(value: Any) -> bool:
    """False if a string anywhere in ``value`` (a key too) holds undecodable bytes (surrogate escapes)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if v.__class__ is str:
            if not _is_utf8(v):
                return False
        elif v.__class__ is dict:
            stack.extend(v.keys())
            stack.extend(v.values())
        elif v.__class__ is list or v.__class__ is tuple:
            stack.extend(v)
    return True


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _non_string_key(value: Any) -> Any:
    """The first map key (depth first) that is neither str nor bytes; None if there is none."""
    stack = [value]
    while stack:
        v = stack.pop()
        if v.__class__ is dict:
            for k, x in v.items():
                if k.__class__ is not str and k.__class__ is not bytes:
                    return k
                stack.append(x)
        elif v.__class__ is list or v.__class__ is tuple:
            stack.extend(v)
    return None


def _no_ext(code: int, data: bytes) -> Any:
    raise _err("wrong_type", "", f"msgpack extension type {code} is not allowed")


def decode(payload: bytes) -> Request:
    """``validate(unpack(payload))``."""
    return validate(unpack(payload))


_packer = msgpack.Packer(use_bin_type=True)


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def ok_reply(name: str, rid: int | None, result: Mapping[str, Any] | None = None) -> dict[str, Any]:
    out = {"v": PROTOCOL_VERSION, "type": "ok", "re": name, "id": rid}
    if result:
        out.update(result)
    return out


def error_reply(name: str | None, rid: int | None, code: str, where: str, message: str) -> dict[str, Any]:
    return {
        "v": PROTOCOL_VERSION,
        "type": "error",
        "re": name,
        "id": rid,
        "code": code,
        "field": clip(where, MAX_FIELD_TEXT) or None,
        "message": clip(message, MAX_ERROR_TEXT),
    }


def clip(text: str | None, limit: int) -> str | None:
    """``text`` cut to ``limit`` characters (marked with "..."): errors never grow with the input."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 3] + "..."


def peek_envelope(raw: Any) -> tuple[str | None, int | None]:
    """Best-effort (type name, id) of a message that failed validation, for the error reply."""
    if raw.__class__ is not dict:
        return None, None
    name = raw.get("type")
    if name.__class__ is int:
        name = CODE_TO_NAME.get(name)
    rid = raw.get("id")
    return (
        name if name.__class__ is str and len(name) <= MAX_NAME_LEN and _is_utf8(name) else None,
        rid if rid.__class__ is int and 0 <= rid <= MAX_ID else None,
    )


# ------------------------------------------------------------------------------------ catalogue
@dataclass
class Catalog:
    """What the loaded scene accepts, from ``SceneRuntime.describe()``; checked by the server.

    Unknown sections are permissive (an empty ``states`` means no state group exists, but ``None``
    for a section means "not described": the runtime checks those names itself).
    """

    name: str = ""
    parameters: dict[str, tuple[float, float]] | None = None
    states: dict[str, frozenset[str]] | None = None
    switches: dict[str, frozenset[str]] | None = None
    events: frozenset[str] | None = None
    snapshots: frozenset[str] | None = None
    event_parameters: dict[str, dict[str, tuple[float, float]]] | None = None  # an event's own parameters
    stingers: frozenset[str] | None = None
    layers: frozenset[str] | None = None  # layer uids (set_weight)

    @classmethod
    def from_describe(cls, d: Mapping[str, Any] | None) -> Catalog:
        if not d:
            return cls()

        def groups(key: str) -> dict[str, frozenset[str]] | None:
            sec = d.get(key)
            if sec is None:
                return None
            out = {}
            for g, spec in dict(sec).items():
                values = spec.get("values", spec) if isinstance(spec, Mapping) else spec
                out[str(g)] = frozenset(str(v) for v in values)
            return out

        def names(key: str) -> frozenset[str] | None:
            sec = d.get(key)
            return None if sec is None else frozenset(str(n) for n in sec)

        def ranges(sec: Any) -> dict[str, tuple[float, float]]:
            out = {}
            for n, spec in dict(sec).items():
                if isinstance(spec, Mapping):
                    rng = spec.get("range") or (spec.get("min", -math.inf), spec.get("max", math.inf))
                    out[str(n)] = (float(rng[0]), float(rng[1]))
                else:
                    out[str(n)] = (-math.inf, math.inf)
            return out

        params = None if d.get("parameters") is None else ranges(d["parameters"])
        own = d.get("event_parameters")
        return cls(
            str(d.get("scene", d.get("name", ""))),
            params,
            groups("states"),
            groups("switches"),
            names("events"),
            names("snapshots"),
            None if own is None else {str(e): ranges(p) for e, p in dict(own).items()},
            names("stingers"),
            names("layers"),
        )

    def check(self, req: Request, prefix: str = "") -> None:
        """Raise ProtocolError(unknown_name / out_of_range) for names or values the scene rejects."""
        f = req.fields
        name = req.msg.name
        if name == "set_param" and self.parameters is not None:
            rng = self.parameters.get(f["name"])
            if rng is None:
                raise _unknown(prefix + "name", "parameter", f["name"], self.parameters)
            lo, hi = rng
            x = f["value"]
            if not lo <= x <= hi:
                raise _err(
                    "out_of_range",
                    prefix + "value",
                    f"set_param {f['name']}: value={x:g} must be within {lo:g}..{hi:g}",
                )
        elif name in ("set_state", "set_switch"):
            table = self.states if name == "set_state" else self.switches
            if table is None:
                return
            values = table.get(f["group"])
            kind = "state group" if name == "set_state" else "switch group"
            if values is None:
                raise _unknown(prefix + "group", kind, f["group"], table)
            if f["value"] not in values:
                raise _unknown(prefix + "value", f"value of {kind} {f['group']!r}", f["value"], values)
        elif name == "trigger":
            if self.events is not None and f["event"] not in self.events:
                raise _unknown(prefix + "event", "event", f["event"], self.events)
            for group, value in (f.get("switches") or {}).items():
                if self.switches is None:
                    break
                values = self.switches.get(group)
                if values is None:
                    raise _unknown(prefix + "switches", "switch group", group, self.switches)
                if value not in values:
                    raise _unknown(
                        f"{prefix}switches.{group}", f"value of switch group {group!r}", value, values
                    )
            params = f.get("params")
            if params and self.event_parameters is not None and self.parameters is not None:
                self._check_instance_params(f["event"], params, prefix)
        elif name == "snapshot" and self.snapshots is not None and f["name"] not in self.snapshots:
            raise _unknown(prefix + "name", "snapshot", f["name"], self.snapshots)
        elif name == "stinger" and self.stingers is not None and f["name"] not in self.stingers:
            raise _unknown(prefix + "name", "stinger", f["name"], self.stingers)
        elif name == "set_weight" and self.layers is not None and f["layer"] not in self.layers:
            raise _unknown(prefix + "layer", "layer", f["layer"], self.layers)

    def _check_instance_params(self, event: str, params: Mapping[str, float], prefix: str) -> None:
        """A trigger's ``params``: each the event's own parameter or a scene parameter, within its range
        (the event's own declaration wins, as in the runtime)."""
        own = self.event_parameters.get(event, {})
        for k, x in params.items():
            rng = own.get(k) or self.parameters.get(k)
            if rng is None:
                raise _unknown(
                    f"{prefix}params", f"parameter of event {event!r}", k, [*own, *self.parameters]
                )
            lo, hi = rng
            if not lo <= x <= hi:
                raise _err(
                    "out_of_range",
                    f"{prefix}params.{k}",
                    f"trigger {event}: params.{k}={x:g} must be within {lo:g}..{hi:g}",
                )


def _unknown(where: str, kind: str, value: str, choices) -> ProtocolError:
    listed = sorted(choices)
    shown = ", ".join(listed[:12]) + (" ..." if len(listed) > 12 else "")
    return _err(
        "unknown_name",
        where,
        f"{where}={value!r}: no such {kind}{_suggest(value, listed)}; known: {shown or 'none'}",
    )


# ------------------------------------------------------------------------------ docs and schema
def json_schema() -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of every message, derived from :data:`MESSAGES`."""

    def field_schema(f: Field) -> dict[str, Any]:
        num: dict[str, Any] = {"type": "number"}
        if f.lo is not None:
            num["minimum"] = f.lo
        if f.hi is not None:
            num["maximum"] = f.hi
        s: dict[str, Any]
        if f.kind in ("name", "string"):
            s = {"type": "string", "minLength": 1, "maxLength": f.max_len}
        elif f.kind == "number":
            s = num
        elif f.kind == "int":
            s = {"type": "integer", "minimum": f.lo, "maximum": f.hi}
        elif f.kind == "bool":
            s = {"type": "boolean"}
        elif f.kind == "vec3":
            s = {"type": "array", "items": num, "minItems": 3, "maxItems": 3}
        elif f.kind == "params":
            s = {"type": "object", "additionalProperties": {"type": "number"}, "maxProperties": MAX_PARAMS}
        elif f.kind == "switches":
            s = {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": MAX_PARAMS}
        elif f.kind == "map":
            s = {"type": "object", "maxProperties": MAX_PARAMS}
        else:
            s = {"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": {"$ref": "#/$defs/item"}}
        s["description"] = f.doc + (f" ({f.unit})" if f.unit else "")
        if f.default is not None:
            s["default"] = list(f.default) if isinstance(f.default, tuple) else f.default
        return s

    defs: dict[str, Any] = {}
    for m in MESSAGES.values():
        props: dict[str, Any] = {
            "v": {"const": PROTOCOL_VERSION},
            "type": {"enum": [m.name, m.code]},
            "id": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
            "t": {"type": "number", "description": "game time in seconds (schedules the message)"},
        }
        props.update({f.name: field_schema(f) for f in m.fields})
        defs[m.name] = {
            "type": "object",
            "description": m.doc,
            "properties": props,
            "required": ["v", "type", *[f.name for f in m.fields if f.required]],
            "additionalProperties": False,
        }
    defs["item"] = {
        "oneOf": [
            {
                "type": "object",
                "properties": {
                    "type": {"enum": [m.name, m.code]},
                    **{f.name: field_schema(f) for f in m.fields},
                },
                "required": ["type", *[f.name for f in m.fields if f.required]],
                "additionalProperties": False,
            }
            for m in MESSAGES.values()
            if m.in_batch
        ]
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"soundscape protocol v{PROTOCOL_VERSION} (msgpack maps)",
        "oneOf": [{"$ref": f"#/$defs/{m.name}"} for m in MESSAGES.values()],
        "$defs": defs,
    }


def _example_text(obj: Any) -> str:
    import json

    return json.dumps(obj, separators=(", ", ": "))


def messages_markdown() -> str:
    """The per-message reference of docs/protocol.md (generated; a test keeps the doc in sync)."""
    lines: list[str] = []
    for m in MESSAGES.values():
        lines.append(f"### `{m.name}` (code {m.code})")
        lines.append("")
        lines.append(m.doc)
        lines.append("")
        if m.fields:
            lines.append("| field | type | unit | limits | required | meaning |")
            lines.append("|---|---|---|---|---|---|")
            for f in m.fields:
                req = (
                    "yes"
                    if f.required
                    else (f"no (default `{_default_text(f.default)}`)" if f.default is not None else "no")
                )
                unit, limits = f.unit or "-", f.limits_text or "-"
                lines.append(f"| `{f.name}` | {f.type_text} | {unit} | {limits} | {req} | {f.doc} |")
        else:
            lines.append("No fields besides the envelope.")
        lines.append("")
        lines.append(f"Reply: {m.reply}.  ")
        notes = []
        if m.errors:
            notes.append("Errors besides the structural ones: " + ", ".join(f"`{e}`" for e in m.errors) + ".")
        if not m.in_batch:
            notes.append("Not allowed inside `batch`.")
        if m.coalesce_key is not None:
            key = ", ".join(m.coalesce_key) or "none"
            notes.append(f"Coalesced when untimed: latest wins per block (key: {key}).")
        if notes:
            lines.append(" ".join(notes) + "  ")
        lines.append(f"Example: `{_example_text(m.example)}`")
        lines.append("")
    lines.append("### Error codes")
    lines.append("")
    lines.append("| code | meaning |")
    lines.append("|---|---|")
    for code, text in ERROR_CODES.items():
        lines.append(f"| `{code}` | {text} |")
    lines.append("")
    return "\n".join(lines)


def _default_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(f"{x:g}" for x in value) + "]"
    return str(value)


BEGIN_MARK = "<!-- BEGIN GENERATED: python -m middleware.transport.protocol --markdown -->"
END_MARK = "<!-- END GENERATED -->"

Handler = Callable[[Request], Any]


def _main(argv: list[str] | None = None) -> int:
    import argparse
    import json
    import sys

    p = argparse.ArgumentParser(description="Print the protocol reference or its JSON Schema.")
    p.add_argument("--markdown", action="store_true", help="print the generated message reference")
    p.add_argument("--schema", action="store_true", help="print the JSON Schema")
    p.add_argument("--update-doc", metavar="PATH", help="rewrite the generated part of PATH in place")
    a = p.parse_args(argv)
    if a.update_doc:
        from pathlib import Path

        path = Path(a.update_doc)
        text = path.read_text(encoding="utf-8")
        head, _, rest = text.partition(BEGIN_MARK)
        _, _, tail = rest.partition(END_MARK)
        path.write_text(f"{head}{BEGIN_MARK}\n\n{messages_markdown()}\n{END_MARK}{tail}", encoding="utf-8")
        return 0
    if a.schema:
        json.dump(json_schema(), sys.stdout, indent=2)
        print()
    else:
        print(messages_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
