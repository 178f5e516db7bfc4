"""Field specs: one description of each scene field, read by both the loader and the JSON Schema.

A spec knows how to read a composed YAML node (keeping its ``line:column`` mark for every error)
and how to describe itself as JSON Schema. ``fields.py`` builds the scene's field table out of
these pieces; ``load.py`` walks YAML with it; ``schema.py`` prints it. Because validation and the
schema come from the same objects, an editor's autocomplete can never promise a key the loader
rejects, nor miss one it accepts.

Cross references (``bus: ambience``, ``param: intensity``) cannot be checked while walking, since
the name may be declared further down the file; specs record them in :class:`Ctx` and the loader
resolves them once everything is declared, with the mark of the use site.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from ..hints import did_you_mean
from ..transport.protocol import MAX_NAME_LEN
from . import expr as _expr
from .issues import RULES, SceneIssue

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
NAME_PATTERN = NAME_RE.pattern
UID_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*\.[A-Za-z][A-Za-z0-9_]*$"
MAX_NODES = 100_000
"""Most YAML nodes one scene may expand to (YAML aliases can multiply a small file)."""
MAX_DEPTH = 32
"""Deepest nesting of lists and mappings a scene may have (the format itself needs about 12); deeper
files are refused before Python's recursion limit could turn them into a traceback."""
MAX_FLOAT = 1.7976931348623157e308
"""The largest finite float: the JSON Schema's bound that catches YAML's ``.inf``."""

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")


class _Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


REQUIRED = _Sentinel("REQUIRED")
INVALID = _Sentinel("INVALID")
"""Returned by a spec whose node had an error (already reported); parents then skip building."""


class TooLarge(Exception):
    """Raised when a scene expands to more than MAX_NODES nodes; the loader reports it once."""


@dataclass
class Decl:
    """A declared name: where it was written and what it became (INVALID if it had errors)."""

    kind: str
    name: str
    mark: yaml.Mark
    value: Any


@dataclass
class RefUse:
    """A use of a declared name, resolved after the whole file has been read."""

    kind: str
    name: str
    mark: yaml.Mark
    scope: tuple[str, ...]


@dataclass
class ExprUse:
    """A parsed expression awaiting its type check against the scene's names."""

    ast: _expr.Node
    source: str
    node: ScalarNode
    scope: tuple[str, ...]
    want: str


@dataclass
class Ctx:
    """State of one load: issues found so far, declared names, deferred references."""

    file: str
    scene_dir: Path
    check_assets: bool = True
    lines: Sequence[str] = ()
    issues: list[SceneIssue] = field(default_factory=list)
    scope: tuple[str, ...] = ()
    declared: dict[str, dict[tuple[str, ...], dict[str, Decl]]] = field(default_factory=dict)
    refs: list[RefUse] = field(default_factory=list)
    exprs: list[ExprUse] = field(default_factory=list)
    after: list[Callable[[], None]] = field(default_factory=list)
    key: str = ""  # the record key being read, so value errors can name their field
    notes: dict[str, Any] = field(default_factory=dict)  # side tables for cross checks (e.g. bus parents)
    nodes: int = 0
    rule: str = "structure"  # the kind of rule being checked (issues.RULES): what errors are tagged with

    # -- reporting
    def error(
        self,
        where: Node | yaml.Mark | None,
        message: str,
        hint: str = "",
        col_shift: int = 0,
        snippet: str = "",
        rule: str | None = None,
    ) -> None:
        """Record one issue at a node's or mark's position (1-based line and column)."""
        mark = where.start_mark if isinstance(where, Node) else where
        line = mark.line + 1 if mark is not None else 1
        col = mark.column + 1 + col_shift if mark is not None else 1
        self.issues.append(SceneIssue(self.file, line, col, message, hint, snippet, rule or self.rule))

    @contextlib.contextmanager
    def checking(self, rule: str) -> Iterator[None]:
        """Tag the errors reported inside the block with ``rule`` (a key of ``issues.RULES``)."""
        assert rule in RULES, rule
        saved, self.rule = self.rule, rule
        try:
            yield
        finally:
            self.rule = saved

    @property
    def root(self) -> Path:
        """The scene's folder, resolved once (assets must stay inside it)."""
        if "root" not in self.notes:
            self.notes["root"] = self.scene_dir.resolve()
        return self.notes["root"]

    def count(self) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise TooLarge

    # -- names
    def declare(
        self,
        kind: str,
        name: str,
        mark: yaml.Mark,
        value: Any,
        scope: tuple[str, ...] | None = None,
        what: str | None = None,
    ) -> None:
        """Declare ``name`` of ``kind`` in ``scope`` (default: the current one); reports duplicates."""
        table = self.declared.setdefault(kind, {}).setdefault(self.scope if scope is None else scope, {})
        if name in table:
            first = table[name].mark
            self.error(
                mark,
                f"duplicate {what or kind} {name!r}",
                f"first defined on line {first.line + 1}",
                rule="names",
            )
            return
        table[name] = Decl(kind, name, mark, value)

    def visible(self, kind: str, scope: tuple[str, ...]) -> dict[str, Decl]:
        """Every name of ``kind`` visible from ``scope``: its own, its parents' and the global ones."""
        out: dict[str, Decl] = {}
        tables = self.declared.get(kind, {})
        for i in range(len(scope) + 1):  # global first, inner scopes shadow outer ones
            out.update(tables.get(scope[:i], {}))
        return out

    def ref(self, kind: str, name: str, node: Node | yaml.Mark) -> None:
        mark = node.start_mark if isinstance(node, Node) else node
        self.refs.append(RefUse(kind, name, mark, self.scope))


def node_kind(node: Node) -> str:
    """How a node reads to a designer: 'a mapping', 'a list', 'a number', 'text' ..."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    tag = node.tag.rsplit(":", 1)[-1]
    return {
        "int": "a number",
        "float": "a number",
        "bool": "a boolean",
        "null": "nothing (null)",
        "str": f"text {node.value!r}",
    }.get(tag, f"a {tag}")


# ---------------------------------------------------------------------------------------------
# Spec base and scalars


class Spec:
    """Base: ``load`` reads a node (reporting problems to ``ctx``), ``schema`` describes it."""

    description: str = ""

    def load(self, node: Node, ctx: Ctx) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def expected(self) -> str:
        """Short phrase for 'expected ...' messages."""
        return "a value"

    def _wrong(self, node: Node, ctx: Ctx, extra_hint: str = "") -> _Sentinel:
        ctx.error(node, f"{_field(ctx)}expected {self.expected()}, got {node_kind(node)}", extra_hint)
        return INVALID

    def _d(self, out: dict[str, Any]) -> dict[str, Any]:
        if self.description:
            out["description"] = self.description
        return out

    def _any_of(self, defs: dict[str, Any], options: list[dict[str, Any]]) -> dict[str, Any]:
        """One of ``options``; a titled spec is defined once under ``$defs`` and referenced."""
        out = self._d({"anyOf": options})
        if not self.title:
            return out
        defs.setdefault(self.title, out)
        return {"$ref": f"#/$defs/{self.title}"}


def _field(ctx: Ctx) -> str:
    return f"{ctx.key}: " if ctx.key else ""


def yaml12_int(text: str) -> int:
    """An integer as YAML 1.2's core schema reads it: decimal (010 is ten; 1_000 still a thousand),
    0o octal or 0x hex; never 1.1's leading-zero octal (the loader's resolver tags only these forms)."""
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text.replace("_", ""), 10)


def _scalar_value(node: ScalarNode) -> Any:
    if node.tag == "tag:yaml.org,2002:int":
        return yaml12_int(node.value)
    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)


def _is_number_node(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


def _is_text_node(node: Node) -> bool:
    # YAML 1.1 reads bare yes/no/on/off as booleans; where text is expected we take the words as written.
    return isinstance(node, ScalarNode) and (
        node.tag == "tag:yaml.org,2002:str" or (node.tag == "tag:yaml.org,2002:bool" and not node.style)
    )


@dataclass
class Number(Spec):
    """A finite number, optionally bounded. ``unit`` is part of the description (dB, s, Hz ...)."""

    description: str = ""
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    integer: bool = False

    def expected(self) -> str:
        return "a whole number" if self.integer else "a number"

    def load(self, node: Node, ctx: Ctx) -> Any:
        ctx.count()
        if not _is_number_node(node):
            if isinstance(node, ScalarNode) and not node.style and _looks_numeric(node.value):
                ctx.error(node, f"{_field(ctx)}{node.value} is not a finite number")  # plain inf, nan
                return INVALID
            hint = "remove the quotes" if isinstance(node, ScalarNode) and _looks_numeric(node.value) else ""
            return self._wrong(node, ctx, hint)
        value = _scalar_value(node)
        if isinstance(value, float) and not math.isfinite(value):
            ctx.error(
                node,
                f"{_field(ctx)}{node.value} is not a finite number",
                "" if node.value.lstrip("+-").startswith(".") else f"numbers are at most {MAX_FLOAT:.6g}",
            )
            return INVALID
        if self.integer and not isinstance(value, int):
            if float(value).is_integer():
                value = int(value)
            else:
                ctx.error(node, f"expected a whole number, got {value}")
                return INVALID
        if (
            (self.minimum is not None and value < self.minimum)
            or (self.maximum is not None and value > self.maximum)
            or (self.exclusive_minimum is not None and value <= self.exclusive_minimum)
        ):
            ctx.error(node, f"{_field(ctx)}value {value:g} is out of range", f"allowed: {self.range_text()}")
            return INVALID
        return value if self.integer else float(value)

    def range_text(self) -> str:
        lo = (
            f"> {self.exclusive_minimum:g}"
            if self.exclusive_minimum is not None
            else (f">= {self.minimum:g}" if self.minimum is not None else "")
        )
        hi = f"<= {self.maximum:g}" if self.maximum is not None else ""
        if self.minimum is not None and self.maximum is not None:
            return f"{self.minimum:g} .. {self.maximum:g}"
        return " and ".join(p for p in (lo, hi) if p) or "any number"

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "integer" if self.integer else "number"}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.exclusive_minimum is not None:
            out["exclusiveMinimum"] = self.exclusive_minimum
        out.setdefault("minimum", -MAX_FLOAT)  # JSON has no infinity; YAML's .inf is caught by these
        out.setdefault("maximum", MAX_FLOAT)
        out["not"] = NAN_SCHEMA
        return self._d(out)


NAN_SCHEMA = {
    "description": "NaN (YAML .nan): it passes every bound, since each comparison with it is false, "
    "so it is the one number that is both >= 0 and <= -1",
    "minimum": 0,
    "maximum": -1,
}
"""What numbers must ``not`` be: inlined (a $ref per number makes validating a scene ~2x slower)."""


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass
class Boolean(Spec):
    description: str = ""

    def expected(self) -> str:
        return "true or false"

    def load(self, node: Node, ctx: Ctx) -> Any:
        ctx.count()
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:bool":
            return bool(_scalar_value(node))
        return self._wrong(node, ctx)

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return self._d({"type": "boolean"})


@dataclass
class Text(Spec):
    """Text; with ``pattern`` NAME_PATTERN it is a name, capped at the protocol's MAX_NAME_LEN
    (the game could not address a longer one). ``max_length`` caps other text (object names)."""

    description: str = ""
    pattern: str | None = None
    pattern_hint: str = ""
    max_length: int | None = None
    min_length: int = 0

    def __post_init__(self) -> None:
        if self.pattern == NAME_PATTERN and self.max_length is None:
            self.max_length = MAX_NAME_LEN

    def expected(self) -> str:
        return "text"

    def load(self, node: Node, ctx: Ctx) -> Any:
        ctx.count()
        if not _is_text_node(node):
            return self._wrong(node, ctx)
        value = str(node.value)
        if self.max_length is not None and len(value) > self.max_length:
            ctx.error(node, *too_long(value, self.pattern_hint or ctx.key or "text", self.max_length))
            return INVALID
        if len(value) < self.min_length:
            ctx.error(node, f"{_field(ctx)}empty text", "write a name")
            return INVALID
        if self.pattern and not re.match(self.pattern, value):
            ctx.error(
                node,
                f"{value!r} is not a valid {self.pattern_hint or 'value here'}",
                "use letters, digits and '_', starting with a letter" if self.pattern == NAME_PATTERN else "",
            )
            return INVALID
        return value

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string"}
        if self.pattern:
            out["pattern"] = self.pattern
        if self.max_length is not None:
            out["maxLength"] = self.max_length
        if self.min_length:
            out["minLength"] = self.min_length
        return self._d(_or_plain_boolean(out))


def too_long(text: str, what: str, limit: int = MAX_NAME_LEN) -> tuple[str, str]:
    """(message, hint) for a name or text longer than ``limit`` characters."""
    return (
        f"{what} of {len(text)} characters is too long: {text[:24]!r}...",
        f"at most {limit} characters (the game sends names in messages of that limit)",
    )


def _or_plain_boolean(text_schema: dict[str, Any]) -> dict[str, Any]:
    """Where text is expected the loader takes YAML 1.1's plain yes/no/on/off/true/false as the words
    written (``_is_text_node``); in the data a YAML tool makes of them they are booleans. (pattern and
    length keywords apply to strings only, so booleans pass them.)"""
    return {**text_schema, "type": ["string", "boolean"]}


@dataclass
class Enum(Spec):
    values: tuple[str, ...] = ()
    description: str = ""

    def expected(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)

    def load(self, node: Node, ctx: Ctx) -> Any:
        ctx.count()
        if not _is_text_node(node):
            return self._wrong(node, ctx)
        if node.value not in self.values:
            ctx.error(
                node,
                f"{_field(ctx)}{node.value!r} is not one of {', '.join(self.values)}",
                did_you_mean(node.value, self.values),
            )
            return INVALID
        return node.value

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return self._d({"enum": list(self.values)})


@dataclass
class Ref(Spec):
    """The name of something declared elsewhere in the scene (a bus, parameter, layer ...)."""

    kind: str = ""
    description: str = ""

    def expected(self) -> str:
        return f"the name of a {self.kind.replace('_', ' ')}"

    def load(self, node: Node, ctx: Ctx) -> Any:
        ctx.count()
        if not _is_text_node(node):
            return self._wrong(node, ctx)
        ctx.ref(self.kind, node.value, node)
        return node.value

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        if self.kind == "layer_uid":
            out = {"type": "string", "pattern": UID_PATTERN, "maxLength": 2 * MAX_NAME_LEN + 1}
        else:
            out = {"type": "string", "pattern": NAME_PATTERN, "maxLength": MAX_NAME_LEN}
        return self._d(_or_plain_boolean(out))


@dataclass
class Asset(Spec):
    """A file path relative to the scene's folder. Paths may not leave that folder.

    Audio files are probed (miniaudio reads their header) when assets are checked, so a file that
    is not audio is reported at the scene line naming it, not later by the engine without one.
    """

    description: str = ""
    extensions: tuple[str, ...] = AUDIO_EXTENSIONS
    must_exist: bool = True  # False for files a tool makes later (trained models): checked where used

    def expected(self) -> str:
        return "a file path relative to the scene"

    def load(self, node: Node, ctx: Ctx) -> Any:
        ctx.count()
        if not _is_text_node(node):
            return self._wrong(node, ctx)
        raw = str(node.value)
        # resolving a path costs ~0.1 ms (realpath); scenes repeat paths, aliases repeat them a lot
        cache = ctx.notes.setdefault("assets", {})
        key = (raw, self.extensions, self.must_exist)
        if key not in cache:
            cache[key] = self._resolve(raw, ctx)
        result = cache[key]
        if isinstance(result, Path):
            return result
        message, hint, rule = result
        ctx.error(node, message, hint, rule=rule)
        return INVALID

    def _resolve(self, raw: str, ctx: Ctx) -> Path | tuple[str, str, str]:
        """The file's absolute path, or (message, hint, rule) saying why it cannot be used."""
        if not raw.strip():
            return "empty file path", "", "structure"
        if "\\" in raw:
            return (
                f"asset path '{raw}': a backslash is not a path separator here",
                f"write '{raw.replace(chr(92), '/')}': scenes use '/' on every system",
                "structure",
            )
        if len(raw) > MAX_PATH_LEN:
            return (*too_long(raw, "asset path", MAX_PATH_LEN), "structure")
        rel = Path(raw)
        if rel.is_absolute() or raw.startswith("~"):
            return (
                f"asset path {raw!r} must be relative to the scene's folder",
                "paths stay inside the scene's folder; write e.g. sounds/rain.wav",
                "structure",
            )
        if self.extensions and rel.suffix.lower() not in self.extensions:
            return (
                f"{raw!r} has an unsupported file type {rel.suffix or '(none)'!r}",
                "supported: " + ", ".join(self.extensions),
                "structure",
            )
        root = ctx.root
        try:
            target = (root / rel).resolve()
        except (OSError, ValueError) as exc:  # a NUL character, a name longer than the system allows ...
            return f"cannot use asset path {raw!r}: {getattr(exc, 'strerror', None) or exc}", "", "file"
        if not target.is_relative_to(root):
            return (
                f"asset path {raw!r} leaves the scene's folder",
                "paths stay inside the scene's folder; copy the file next to the scene",
                "file",
            )
        if not ctx.check_assets or not self.must_exist:
            return target
        try:
            exists = target.is_file()
        except OSError as exc:
            return f"cannot use asset path {raw!r}: {exc.strerror}", "", "file"
        if not exists:
            folder = target.parent
            if folder.is_dir():
                prefix = folder.relative_to(root).as_posix()
                prefix = "" if prefix == "." else prefix + "/"
                names = sorted(prefix + p.name for p in folder.iterdir() if p.is_file())
                hint = did_you_mean(prefix + target.name, names, f"files in {prefix or './'}")
            else:
                hint = f"folder {folder.relative_to(root).as_posix()!r} does not exist"
            return f"asset not found: {raw!r}", hint, "file"
        if set(self.extensions) <= set(AUDIO_EXTENSIONS):
            problem = probe_audio(target)
            if problem:
                return (
                    f"{raw!r} {problem}",
                    "supported: WAV, FLAC, OGG Vorbis, MP3 (is it another file renamed?)",
                    "file",
                )
        return target

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string", "maxLength": MAX_PATH_LEN}
        if self.extensions:
            exts = "|".join(
                "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in e[1:])
                for e in self.extensions
            )
            # relative (no leading / or ~), no backslash, and a last part with a name before its type
            out["pattern"] = rf"^(?![/~])([^\\]*/)?[^/\\]+\.({exts})$"
        return self._d(out)


MAX_PATH_LEN = 1024
"""Longest asset path (characters); every system's own limit on one path is at least this."""


def probe_audio(path: Path) -> str:
    """Why ``path`` cannot be played ('' if miniaudio reads its header and it holds audio frames).

    Reads the header only (~0.1 ms a file), so checking every asset of a scene stays cheap; the
    engine decodes the whole file later with the same library.
    """
    import miniaudio

    try:
        info = miniaudio.get_file_info(str(path))
    except (miniaudio.MiniaudioError, OSError, ValueError) as exc:
        return f"is not audio that can be decoded ({exc})"
    if info.num_frames < 2:
        return "holds no audio frames"
    return ""


@dataclass
class ExprSpec(Spec):
    """An expression in our safe language; ``want`` is the type it must produce ('bool')."""

    description: str = ""
    want: str = "bool"

    def expected(self) -> str:
        return "an expression in quotes"

    def load(self, node: Node, ctx: Ctx) -> Any:
        ctx.count()
        if not isinstance(node, ScalarNode) or node.tag not in ("tag:yaml.org,2002:str",):
            if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:bool":
                return _expr.condition("true" if _scalar_value(node) else "false")
            return self._wrong(node, ctx, 'write the condition as text, e.g. when: "intensity > 0.5"')
        source = str(node.value)
        try:
            ast = _expr.parse(source)
        except _expr.ExprError as exc:
            ctx.error(
                node,
                f"expression error: {exc.reason}",
                exc.hint,
                col_shift=expr_column(node, exc.pos),
                snippet=_expr.caret(source, exc.pos),
                rule="expression",
            )
            return INVALID
        ctx.exprs.append(ExprUse(ast, source, node, ctx.scope, self.want))
        cls = _expr.Condition if self.want == "bool" else _expr.Expression
        return cls(source, ast, _expr.names_in(ast), _expr.compile_node(ast))

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        # ``when: true`` / ``when: false`` (a YAML boolean) is the constant condition
        return self._d(_or_plain_boolean({"type": "string", "minLength": 1, "maxLength": _expr.MAX_LENGTH}))


def expr_column(node: ScalarNode, pos: int) -> int:
    """Columns from the node's start to character ``pos`` of its text (exact for one-line scalars)."""
    if node.start_mark.line != node.end_mark.line or node.style in ("|", ">"):
        return 0
    return pos + (1 if node.style in ("'", '"') else 0)


# ---------------------------------------------------------------------------------------------
# Containers


@dataclass
class ListOf(Spec):
    item: Spec = field(default_factory=Spec)
    description: str = ""
    min_items: int = 0
    max_items: int | None = None
    id_field: str | None = None  # items are records with this key; ids must be unique
    declares: str | None = None  # declare each item's id under this kind in the current scope

    def expected(self) -> str:
        return "a list"

    def load(self, node: Node, ctx: Ctx) -> Any:
        ctx.count()
        if not isinstance(node, SequenceNode):
            return self._wrong(
                node, ctx, "start each item with '- '" if isinstance(node, MappingNode) else ""
            )
        n = len(node.value)
        if n < self.min_items or (self.max_items is not None and n > self.max_items):
            want = (
                f"exactly {self.min_items}"
                if self.max_items == self.min_items
                else f"at least {self.min_items}"
                if self.max_items is None
                else f"{self.min_items} to {self.max_items}"
            )
            ctx.error(node, f"{_field(ctx)}expected {want} items, got {n}")
            return INVALID
        out, bad = [], False
        for child in node.value:
            v = self.item.load(child, ctx)
            bad |= v is INVALID
            if self.id_field is not None and isinstance(child, MappingNode):
                for k, vn in child.value:
                    if (
                        isinstance(k, ScalarNode)
                        and k.value == self.id_field
                        and _is_text_node(vn)
                        and self.declares
                    ):
                        ctx.declare(
                            self.declares,
                            vn.value,
                            vn.start_mark,
                            v,
                            what=self.declares.replace("_", " "),
                        )
            out.append(v)
        return INVALID if bad else tuple(out)

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "array", "items": self.item.schema(defs)}
        if self.min_items:
            out["minItems"] = self.min_items
        if self.max_items is not None:
            out["maxItems"] = self.max_items
        return self._d(out)


@dataclass
class MapOf(Spec):
    """A mapping from names to values: ``buses: {music: {...}, sfx: {...}}``.

    ``declares``: each key declares a name of that kind; ``scope``: while reading a value, names it
    declares (layers, local parameters) live in ``scope:key``; ``key_ref``: keys are references.
    """

    value: Spec = field(default_factory=Spec)
    description: str = ""
    declares: str | None = None
    scope: str | None = None
    key_ref: str | None = None
    pass_name: bool = True
    max_items: int | None = None

    def expected(self) -> str:
        return "a mapping of names"

    def load(self, node: Node, ctx: Ctx) -> Any:
        ctx.count()
        if not isinstance(node, MappingNode):
            if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
                return MappingProxyType({})
            return self._wrong(node, ctx)
        if self.max_items is not None and len(node.value) > self.max_items:
            ctx.error(node, f"{_field(ctx)}at most {self.max_items} entries, got {len(node.value)}")
            return INVALID
        out: dict[str, Any] = {}
        seen: dict[str, yaml.Mark] = {}
        bad = False
        for knode, vnode in node.value:
            if not isinstance(knode, ScalarNode):
                ctx.error(knode, "a name must be plain text")
                bad = True
                continue
            key = str(knode.value)
            if key in seen:
                ctx.error(
                    knode,
                    f"duplicate key {key!r}",
                    f"first defined on line {seen[key].line + 1}",
                    rule="names",
                )
                bad = True
                continue
            seen[key] = knode.start_mark
            if self.key_ref:
                ctx.ref(self.key_ref, key, knode)
            elif (self.declares or self.scope) and len(key) > MAX_NAME_LEN:
                ctx.error(knode, *too_long(key, "name"))
                bad = True
                continue
            elif (self.declares or self.scope) and (not NAME_RE.match(key) or key in _expr.KEYWORDS):
                ctx.error(
                    knode,
                    f"{key!r} cannot be used as a name",
                    "names use letters, digits and '_', start with a letter, and are not "
                    "and/or/not/in/true/false (expressions read them)",
                )
                bad = True
                continue
            saved = ctx.scope
            if self.scope:
                ctx.scope = (*ctx.scope, f"{self.scope}:{key}")
            try:
                v = load_named(self.value, vnode, ctx, key if self.pass_name else None)
            finally:
                ctx.scope = saved
            if self.declares:
                ctx.declare(self.declares, key, knode.start_mark, v, what=self.declares.replace("_", " "))
            bad |= v is INVALID
            out[key] = v
        return INVALID if bad else MappingProxyType(out)

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"type": ["object", "null"], "additionalProperties": self.value.schema(defs)}
        if self.max_items is not None:
            out["maxProperties"] = self.max_items
        if self.declares or self.scope:
            out["propertyNames"] = {
                "pattern": NAME_PATTERN,
                "maxLength": MAX_NAME_LEN,
                "not": {"enum": sorted(_expr.KEYWORDS)},
            }
        return self._d(out)


@dataclass
class Field:
    """One key of a record: its spec, default (REQUIRED if none) and a description with units."""

    name: str
    spec: Spec
    default: Any = REQUIRED
    description: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


Builder = Callable[[dict[str, Any], "Ctx"], Any]


@dataclass
class Record(Spec):
    """A mapping with a fixed set of keys, built into a frozen dataclass.

    ``check(values, nodes, ctx)`` runs cross-field rules (min < max, default inside range ...) and
    returns False if it reported a problem. ``shorthand`` names the field that a non-mapping node
    fills (``weather: [clear, rain]`` means ``weather: {values: [clear, rain]}``).
    """

    title: str = ""
    fields: list[Field] = field(default_factory=list)
    build: Builder | None = None
    description: str = ""
    check: Callable[[dict[str, Any], dict[str, Node], Ctx], bool] | None = None
    shorthand: str | None = None
    name_field: str | None = None
    key_hints: dict[str, str] = field(default_factory=dict)  # hints for likely wrong keys

    def expected(self) -> str:
        return f"a mapping ({self.title.lower()})"

    @property
    def by_name(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    def load(self, node: Node, ctx: Ctx, name: str | None = None) -> Any:
        ctx.count()
        if not isinstance(node, MappingNode):
            if self.shorthand is not None:
                node = MappingNode(
                    "tag:yaml.org,2002:map",
                    [
                        (
                            ScalarNode(
                                "tag:yaml.org,2002:str", self.shorthand, node.start_mark, node.start_mark
                            ),
                            node,
                        )
                    ],
                    node.start_mark,
                    node.end_mark,
                )
            else:
                return self._wrong(node, ctx)
        fields = self.by_name
        values: dict[str, Any] = {}
        nodes: dict[str, Node] = {}
        bad = False
        for knode, vnode in node.value:
            if not isinstance(knode, ScalarNode):
                ctx.error(knode, f"a key in {self.title.lower()} must be plain text")
                bad = True
                continue
            key = str(knode.value)
            if key in nodes:
                ctx.error(
                    knode,
                    f"duplicate key {key!r}",
                    f"first set on line {nodes[key].start_mark.line + 1}",
                    rule="names",
                )
                bad = True
                continue
            f = fields.get(key)
            if f is None:
                ctx.error(
                    knode,
                    f"unknown key {key!r} in {self.title.lower()}",
                    self.key_hints.get(key) or did_you_mean(key, list(fields), "keys"),
                )
                bad = True
                nodes[key] = knode
                continue
            nodes[key] = vnode
            saved_key, ctx.key = ctx.key, key
            try:
                v = f.spec.load(vnode, ctx)
            finally:
                ctx.key = saved_key
            bad |= v is INVALID
            values[key] = v
        for f in self.fields:
            if f.name in values or f.name == self.name_field:
                continue
            if f.required:
                ctx.error(
                    node,
                    f"{self.title.lower()} is missing required key {f.name!r}",
                    f"{f.name}: {f.description}" if f.description else "",
                )
                bad = True
            else:
                values[f.name] = f.default
        if bad:
            return INVALID
        if self.name_field is not None:
            values[self.name_field] = name
        with ctx.checking("relation"):
            if self.check is not None and not self.check(values, {**nodes, "": node}, ctx):
                return INVALID
            if self.build is None:
                return values
            try:
                return self.build(values, ctx)
            except ValueError as exc:  # a definition's own invariant; message already names the field
                ctx.error(node, str(exc))
                return INVALID

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        if self.title not in defs:
            defs[self.title] = {}  # placeholder: breaks recursion
            props: dict[str, Any] = {}
            for f in self.fields:
                if f.name == self.name_field:
                    continue
                s = dict(f.spec.schema(defs))
                if f.description:
                    s["description"] = f.description
                if not f.required and f.default is not None and _jsonable(f.default):
                    s["default"] = _to_json(f.default)
                props[f.name] = s
            body: dict[str, Any] = {
                "type": "object",
                "properties": props,
                "additionalProperties": False,
            }
            req = [f.name for f in self.fields if f.required and f.name != self.name_field]
            if req:
                body["required"] = req
            if self.description:
                body["description"] = self.description
            if self.shorthand is not None:
                short = self.by_name[self.shorthand].spec.schema(defs)
                desc = body.pop("description", "")
                body = {"anyOf": [short, body]}
                if desc:
                    body["description"] = desc
            defs[self.title] = body
        return {"$ref": f"#/$defs/{self.title}"}


def _jsonable(v: Any) -> bool:
    return isinstance(v, bool | int | float | str | tuple | list) and not isinstance(v, _Sentinel)


def _to_json(v: Any) -> Any:
    if isinstance(v, tuple | list):
        return [_to_json(x) for x in v]
    return v


@dataclass
class Option:
    """One branch of a :class:`Choice`: taken when ``test(node)`` holds."""

    test: Callable[[Node], bool]
    spec: Spec
    label: str


@dataclass
class Choice(Spec):
    """One of several shapes, picked by the node's form (number, text, list, mapping with key K)."""

    options: list[Option] = field(default_factory=list)
    description: str = ""
    title: str = ""

    def expected(self) -> str:
        return " or ".join(o.label for o in self.options)

    def load(self, node: Node, ctx: Ctx, name: str | None = None) -> Any:
        for o in self.options:
            if o.test(node):
                return load_named(o.spec, node, ctx, name)
        ctx.count()
        hint = ""
        if isinstance(node, MappingNode):
            keys = [o.label for o in self.options]
            hint = "expected " + " or ".join(keys)
            ctx.error(node, f"cannot tell which kind of {self.title.lower() or 'value'} this is", hint)
            return INVALID
        return self._wrong(node, ctx)

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return self._any_of(defs, [o.spec.schema(defs) for o in self.options])


@dataclass
class Tagged(Spec):
    """One of several records, picked by the text of key ``tag`` (``{type: eq, ...}``).

    Each record declares ``tag`` itself (an ``Enum`` of its one name), so the schema is the union of
    the records, each accepting only its own tag.
    """

    tag: str = "type"
    records: Mapping[str, Record] = field(default_factory=dict)
    description: str = ""
    title: str = ""

    def expected(self) -> str:
        return f"a mapping with {self.tag}: one of {', '.join(self.records)}"

    def load(self, node: Node, ctx: Ctx, name: str | None = None) -> Any:
        if not isinstance(node, MappingNode):
            ctx.count()
            return self._wrong(node, ctx)
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == self.tag:
                if _is_text_node(v) and v.value in self.records:
                    return self.records[v.value].load(node, ctx, name)
                ctx.count()
                shown = v.value if isinstance(v, ScalarNode) else node_kind(v)
                ctx.error(
                    v,
                    f"{self.tag} {shown!r} is not one of {', '.join(self.records)}",
                    did_you_mean(str(shown), list(self.records), f"{self.title.lower() or 'kind'}s"),
                )
                return INVALID
        ctx.count()
        ctx.error(
            node,
            f"{self.title.lower() or 'item'} is missing required key {self.tag!r}",
            f"{self.tag}: one of {', '.join(self.records)}",
        )
        return INVALID

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return self._any_of(defs, [r.schema(defs) for r in self.records.values()])


def is_number(node: Node) -> bool:
    return _is_number_node(node)


def is_text(node: Node) -> bool:
    return _is_text_node(node)


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def is_list(node: Node) -> bool:
    return isinstance(node, SequenceNode)


def is_map(node: Node) -> bool:
    return isinstance(node, MappingNode)


def has_key(*keys: str) -> Callable[[Node], bool]:
    def test(node: Node) -> bool:
        return isinstance(node, MappingNode) and any(
            isinstance(k, ScalarNode) and k.value in keys for k, _ in node.value
        )

    return test


@dataclass
class Null(Spec):
    """Explicit ``null`` (e.g. ``lowpass_hz: null`` means no filter)."""

    description: str = ""

    def expected(self) -> str:
        return "null"

    def load(self, node: Node, ctx: Ctx) -> Any:
        ctx.count()
        return None if is_null(node) else self._wrong(node, ctx)

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return self._d({"type": "null"})


def nullable(spec: Spec, description: str = "") -> Choice:
    """``spec`` or null."""
    return Choice(
        [Option(is_null, Null(), "null"), Option(lambda n: True, spec, spec.expected())],
        description=description,
    )


def node_at(nodes: Mapping[str, Node], key: str) -> Node:
    """The node of ``key`` in a record, or the record itself when the key was defaulted."""
    return nodes.get(key, nodes[""])


@dataclass
class Convert(Spec):
    """Load with ``inner``, then turn the value into a definition with ``fn(value, ctx)``."""

    inner: Spec = field(default_factory=Spec)
    fn: Callable[[Any, Ctx], Any] = lambda v, ctx: v
    description: str = ""

    def expected(self) -> str:
        return self.inner.expected()

    def load(self, node: Node, ctx: Ctx, name: str | None = None) -> Any:
        v = load_named(self.inner, node, ctx, name)
        return INVALID if v is INVALID else self.fn(v, ctx)

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        out = self.inner.schema(defs)
        return self._d(dict(out)) if self.description else out


def load_named(spec: Spec, node: Node, ctx: Ctx, name: str | None) -> Any:
    """Load ``node`` with ``spec``, passing the mapping key ``name`` to specs that build named things."""
    if isinstance(spec, Record | Choice | Convert | Tagged):
        return spec.load(node, ctx, name=name)
    return spec.load(node, ctx)
