"""Load a scene YAML file into definitions, reporting every problem with ``file:line:column``.

The file is *composed* (not constructed) with PyYAML's SafeLoader, so every node keeps its
position; the field table in ``fields.py`` then reads the nodes. Problems are collected, not
raised one at a time: a designer fixing a file wants the whole list. Three passes:

1. structure: types, ranges, enums, unknown or missing keys, duplicates, asset paths, expression
   syntax (all while walking the nodes, with the node's own mark);
2. names: every reference (bus, parameter, state, emitter, layer ...) is resolved once the whole
   file is read, so order in the file does not matter; conditions are type-checked against the
   declared parameters, states and switches;
3. graph: bus cycles, curves that never move, switch values.

Only SafeLoader is used (no Python tags, no arbitrary objects), and asset paths may not leave the
scene's folder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from ..errors import SceneError
from . import expr as _expr
from .fields import SCENE
from .issues import SceneIssue
from .model import SceneDef
from .spec import (
    INVALID,
    MAX_DEPTH,
    MAX_NAME_LEN,
    Ctx,
    Decl,
    TooLarge,
    did_you_mean,
    expr_column,
    too_long,
    yaml12_int,
)

KIND_WORDS = {
    "parameter": ("parameter", "parameters"),
    "state": ("state group", "state groups"),
    "switch": ("switch group", "switch groups"),
    "bus": ("bus", "buses"),
    "emitter": ("emitter", "emitters"),
    "event": ("event", "events"),
    "snapshot": ("snapshot", "snapshots"),
    "segment": ("music segment", "segments"),
    "stinger": ("stinger", "stingers"),
    "layer": ("layer", "layers here"),
    "layer_uid": ("layer uid", "layer uids (emitter.layer)"),
    "input": ("parameter, state or switch", "names"),
}

ADDRESSED_KINDS = ("parameter", "state", "switch", "event", "emitter", "snapshot")
"""Kinds of name the game sends in messages and conditions read: one namespace across them, since a
parameter and a state both called ``weather`` would be one value of two types to the runtime."""

__all__ = [
    "SceneCLoader",
    "SceneIssue",
    "SceneLoader",
    "check_scene",
    "check_scene_text",
    "compose_scene",
    "load_scene",
    "load_scene_text",
]

# YAML 1.1 (PyYAML's resolver) reads 5e1 and 1e308 as text: its floats need a dot. A designer means a
# number, as YAML 1.2 (and every editor) reads it; this adds 1.2's float forms on our own loader
# classes only. .inf and .nan stay floats, which the loader refuses as not finite.
YAML12_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")


class SceneLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 floats and a nesting cap (the pure-Python composer recurses)."""

    def compose_node(self, parent: Node | None, index: object) -> Node | None:
        depth = getattr(self, "_depth", 0) + 1
        if depth > MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark
            )
        self._depth = depth
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth = depth - 1


_CSafeLoader = getattr(yaml, "CSafeLoader", None)
SceneCLoader: type | None = None
if _CSafeLoader is not None:

    class SceneCLoader(_CSafeLoader):  # type: ignore[no-redef]
        """libyaml's safe loader (5-10x faster) with YAML 1.2 floats; its depth is checked after."""


# YAML 1.1 also reads 010 as octal 8 and 1:30 as sexagesimal 90; YAML 1.2's core schema (and a
# designer) reads 010 as ten and 1:30 as text. Integers are decimal (1_000 still reads as before),
# 0o octal or 0x hex.
YAML12_INT = re.compile(r"^(?:[-+]?[0-9][0-9_]*|0o[0-7]+|0x[0-9a-fA-F]+)$")
_INT_TAG = "tag:yaml.org,2002:int"


def _construct_int12(loader: yaml.constructor.SafeConstructor, node: yaml.ScalarNode) -> int:
    return yaml12_int(loader.construct_scalar(node))


for _cls in (SceneLoader, SceneCLoader):
    if _cls is not None:
        _cls.add_implicit_resolver("tag:yaml.org,2002:float", YAML12_FLOAT, list("-+0123456789."))
        _cls.yaml_implicit_resolvers = {  # 1.2's int rule in place of 1.1's, tried before floats
            ch: ([(_INT_TAG, YAML12_INT)] if ch in "-+0123456789" else [])
            + [(tag, rx) for tag, rx in rules if tag != _INT_TAG]
            for ch, rules in _cls.yaml_implicit_resolvers.items()
        }
        _cls.add_constructor(_INT_TAG, _construct_int12)


def load_scene(path: str | Path, *, check_assets: bool = True) -> SceneDef:
    """Load and validate a scene file; raise :class:`SceneError` listing every problem.

    ``check_assets=False`` skips the existence check of audio files (paths must still stay inside
    the scene's folder), for tools that edit a scene before its assets exist.
    """
    scene, issues = check_scene(path, check_assets=check_assets)
    if issues or scene is None:
        raise _error(issues)
    return scene


def load_scene_text(
    text: str, file: str = "<scene>", scene_dir: str | Path = ".", *, check_assets: bool = True
) -> SceneDef:
    """Load a scene from a string (assets resolve against ``scene_dir``)."""
    scene, issues = check_scene_text(text, file, scene_dir, check_assets=check_assets)
    if issues or scene is None:
        raise _error(issues)
    return scene


def check_scene_text(
    text: str, file: str = "<scene>", scene_dir: str | Path = ".", *, check_assets: bool = True
) -> tuple[SceneDef | None, list[SceneIssue]]:
    """Like :func:`check_scene` for a string: ``(scene or None, issues)`` without raising."""
    return _check_text(text, file, Path(scene_dir), check_assets)


def check_scene(path: str | Path, *, check_assets: bool = True) -> tuple[SceneDef | None, list[SceneIssue]]:
    """Load ``path`` and return ``(scene or None, issues)`` without raising (what ``validate`` prints)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [SceneIssue(str(path), 1, 1, "scene file not found", "check the path")]
    except UnicodeDecodeError as exc:
        return None, [SceneIssue(str(path), 1, 1, f"scene file is not UTF-8 text ({exc.reason})")]
    except OSError as exc:
        return None, [SceneIssue(str(path), 1, 1, f"cannot read scene file: {exc.strerror}")]
    return _check_text(text, str(path), p.parent, check_assets)


def _error(issues: list[SceneIssue]) -> SceneError:
    first = issues[0] if issues else SceneIssue("<scene>", 1, 1, "invalid scene")
    n = len(issues)
    more = f" (and {n - 1} more)" if n > 1 else ""
    return SceneError(f"{first.file}:{first.line}:{first.col}: {first.message}{more}", errors=issues)


def _check_text(
    text: str, file: str, scene_dir: Path, check_assets: bool
) -> tuple[SceneDef | None, list[SceneIssue]]:
    ctx = Ctx(file=file, scene_dir=scene_dir, check_assets=check_assets, lines=text.splitlines())
    try:
        with ctx.checking("yaml"):
            root = compose_scene(text)
    except yaml.MarkedYAMLError as exc:
        _yaml_error(ctx, exc, text)
        return None, ctx.issues
    except yaml.YAMLError as exc:
        ctx.error(None, f"YAML error: {exc}", rule="yaml")
        return None, ctx.issues
    if root is None:
        ctx.error(None, "scene file is empty", "start with e.g. 'parameters:' or 'emitters:'")
        return None, ctx.issues
    if not isinstance(root, yaml.MappingNode):
        ctx.error(root, "a scene must be a mapping of sections (parameters:, buses:, emitters: ...)")
        return None, ctx.issues
    try:
        scene = SCENE.load(root, ctx)
    except TooLarge:
        ctx.error(
            root,
            "scene is too large (more than 100000 YAML nodes after expanding aliases)",
            "YAML aliases (*name) may be multiplying the file",
            rule="yaml",
        )
        return None, _sorted(ctx.issues)
    if "master" not in ctx.declared.get("bus", {}).get((), {}):
        ctx.declare("bus", "master", root.start_mark, None)
    with ctx.checking("names"):
        _check_shared_names(ctx)
    with ctx.checking("reference"):
        _resolve_refs(ctx)
        _check_bus_cycles(ctx)
        _check_director_outputs(ctx)
        for fn in ctx.after:
            fn()
    with ctx.checking("expression"):
        _check_expressions(ctx)
    issues = _sorted(ctx.issues)
    if issues or scene is INVALID:
        return None, issues
    return scene, []


def _yaml_error(ctx: Ctx, exc: yaml.MarkedYAMLError, text: str) -> None:
    """Explain a YAML syntax error at its mark, with a hint for the usual causes."""
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or ""
    msg = f"YAML syntax error: {problem or exc.context}"
    hint = ""
    if exc.context and problem:
        hint = exc.context
        if exc.context_mark is not None and exc.context_mark is not mark:
            hint += f" (line {exc.context_mark.line + 1})"
    if "nested deeper than" in problem:
        msg, hint = f"the file is {problem}", "a scene needs about 12 levels; look for runaway [ or {"
    elif "expected <block end>" in problem or "mapping values are not allowed" in problem:
        hint = "check the indentation: items of one mapping or list must line up"
        key = _long_key_before(text, mark)
        if key is not None:  # YAML gives up on keys longer than 1024 characters with this message
            col, name = key
            msg, hint = too_long(name, "name")
            ctx.issues.append(SceneIssue(ctx.file, mark.line + 1, col + 1, msg, hint, rule="yaml"))
            return
    if "\t" in text and ("tab" in problem.lower() or "'\\t'" in problem):
        hint = "YAML indents with spaces, not tabs"
    ctx.error(mark, msg, hint, rule="yaml")


def _long_key_before(text: str, mark: yaml.Mark | None) -> tuple[int, str] | None:
    """(column, key) when the text before ``mark`` on its line ends in a key longer than a name may be."""
    if mark is None:
        return None
    lines = text.splitlines()
    if mark.line >= len(lines):
        return None
    before = lines[mark.line][: mark.column]
    tail = re.search(r"[^\[\]{},:]*$", before)
    seg = tail.group(0) if tail else ""
    key = seg.lstrip(" -?")
    if len(key.rstrip()) <= MAX_NAME_LEN:
        return None
    return tail.start() + len(seg) - len(key), key.rstrip()


def compose_scene(text: str) -> yaml.Node | None:
    """The YAML node tree of a scene, as the loader reads it (YAML 1.2 floats, nesting capped).

    Composes with libyaml's safe loader when present (5-10x faster); on a syntax error, composes
    again with the pure-Python loader, whose messages and marks are the ones we explain."""
    if SceneCLoader is not None:
        try:
            root = yaml.compose(text, Loader=SceneCLoader)
        except yaml.YAMLError:
            pass  # (libyaml also refuses nesting beyond 1000 levels: the pure-Python one says where)
        else:
            _check_depth(root)
            return root
    return yaml.compose(text, Loader=SceneLoader)


def _check_depth(root: Node | None) -> None:
    """Raise the same error as SceneLoader's composer when a node lies deeper than MAX_DEPTH."""
    stack = [(root, 1)] if root is not None else []
    seen: set[int] = set()
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:  # an alias: its node is walked once
            continue
        seen.add(id(node))
        if depth > MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nested deeper than {MAX_DEPTH} levels", node.start_mark
            )
        if isinstance(node, SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, MappingNode):
            for k, v in node.value:
                stack.append((k, depth + 1))
                stack.append((v, depth + 1))


def _sorted(issues: list[SceneIssue]) -> list[SceneIssue]:
    seen: set[tuple] = set()
    out = []
    for i in sorted(issues, key=lambda i: (i.line, i.col)):
        key = (i.line, i.col, i.message)
        if key not in seen:
            seen.add(key)
            out.append(i)
    return out


def _candidates(ctx: Ctx, kind: str, scope: tuple[str, ...]) -> dict[str, Decl]:
    if kind == "input":
        out: dict[str, Decl] = {}
        for k in ("parameter", "state", "switch"):
            out.update(ctx.visible(k, ()))
        return out
    if kind == "layer":  # layers are only visible inside their own emitter/event
        return dict(ctx.declared.get("layer", {}).get(scope, {}))
    return ctx.visible(kind, scope)


def _resolve_refs(ctx: Ctx) -> None:
    for use in ctx.refs:
        names = _candidates(ctx, use.kind, use.scope)
        if use.name in names:
            continue
        word, plural = KIND_WORDS.get(use.kind, (use.kind, use.kind + "s"))
        hint = did_you_mean(use.name, list(names), f"declared {plural}")
        if use.kind == "bus" and use.name != "master" and not names.keys() - {"master"}:
            hint = f"declare it under buses: (e.g. buses: {{{use.name}: {{parent: master}}}})"
        ctx.error(use.mark, f"unknown {word} {use.name!r}", hint)


def _check_shared_names(ctx: Ctx) -> None:
    """One namespace across ADDRESSED_KINDS: the second declaration of a name is the error."""
    decls = [d for kind in ADDRESSED_KINDS for d in ctx.declared.get(kind, {}).get((), {}).values()]
    first: dict[str, Decl] = {}
    for d in sorted(decls, key=lambda d: (d.mark.line, d.mark.column)):
        prior = first.setdefault(d.name, d)
        if prior is d:
            continue
        ctx.error(
            d.mark,
            f"{KIND_WORDS[d.kind][0]} {d.name!r} has the name of the {KIND_WORDS[prior.kind][0]} "
            f"{d.name!r} on line {prior.mark.line + 1}",
            "the game and conditions address parameters, states, switches, events, emitters and "
            "snapshots by name alone: rename one of them",
        )
    # An event's own parameter may stand in for a global parameter (the trigger's value wins), but one
    # named like a global state or switch would hide it from the event's conditions and curves.
    for scope, local in ctx.declared.get("parameter", {}).items():
        for d in local.values() if scope else ():
            prior = first.get(d.name)
            if prior is not None and prior.kind != "parameter":
                ctx.error(
                    d.mark,
                    f"event parameter {d.name!r} hides the {KIND_WORDS[prior.kind][0]} {d.name!r} "
                    f"on line {prior.mark.line + 1}",
                    "rename the event's parameter: inside the event its conditions and curves would "
                    f"read the parameter, never the {KIND_WORDS[prior.kind][0]}",
                )


def _check_director_outputs(ctx: Ctx) -> None:
    """Each director output names a layer that says ``director: true`` (else its weight is ignored)."""
    for uid, node in ctx.notes.get("director_outputs", ()):
        owner, _, layer_id = uid.partition(".")
        for kind in ("emitter", "event"):
            decl = ctx.declared.get("layer", {}).get((f"{kind}:{owner}",), {}).get(layer_id)
            if decl is not None and decl.value is not INVALID and not decl.value.director:
                ctx.error(
                    node,
                    f"director output {uid!r}: that layer lacks 'director: true', so the model's "
                    "weight would be ignored",
                    f"add director: true to layer {layer_id!r} (line {decl.mark.line + 1}) "
                    "or remove it from outputs",
                )


def _scope_names(ctx: Ctx, scope: tuple[str, ...]) -> tuple[dict[str, _expr.NameInfo], set[str]]:
    """Names an expression in ``scope`` may read, and the ones declared with errors (not checkable)."""
    out: dict[str, _expr.NameInfo] = {}
    broken: set[str] = set()
    for kind in ("state", "switch", "parameter"):
        for name, decl in ctx.visible(kind, scope).items():
            if decl.value is INVALID and kind != "parameter":
                broken.add(name)
                continue
            values = getattr(decl.value, "values", None) if kind != "parameter" else None
            local = kind == "parameter" and not _is_global(ctx, kind, name)
            out[name] = _expr.NameInfo(
                "local parameter" if local else kind, tuple(values) if values else None
            )
    return out, broken


def _is_global(ctx: Ctx, kind: str, name: str) -> bool:
    return name in ctx.declared.get(kind, {}).get((), {})


def _check_expressions(ctx: Ctx) -> None:
    for use in ctx.exprs:
        scope, broken = _scope_names(ctx, use.scope)
        if _expr.names_in(use.ast) & broken:
            continue  # the group itself has errors already reported
        for p in _expr.check(use.ast, scope, use.want):
            ctx.error(
                use.node,
                p.message,
                p.hint,
                col_shift=expr_column(use.node, p.pos),
                snippet=_expr.caret(use.source, p.pos),
            )


def _check_bus_cycles(ctx: Ctx) -> None:
    decls: Mapping[str, Decl] = ctx.declared.get("bus", {}).get((), {})
    parent_nodes = ctx.notes.get("bus_parent_nodes", {})
    parents = {
        n: getattr(d.value, "parent", None) for n, d in decls.items() if d.value not in (None, INVALID)
    }
    reported: set[frozenset[str]] = set()
    for start in sorted(parents):
        chain = [start]
        cur = parents.get(start)
        while cur is not None and cur in parents and cur not in chain:
            chain.append(cur)
            cur = parents.get(cur)
        if cur is not None and cur in chain:
            cycle = chain[chain.index(cur) :]
            key = frozenset(cycle)
            if key in reported:
                continue
            reported.add(key)
            first = min(cycle, key=lambda n: decls[n].mark.line)
            i = cycle.index(first)
            loop = [*cycle[i:], *cycle[:i], first]
            ctx.error(
                parent_nodes.get(first, decls[first].mark),
                "bus cycle: " + " -> ".join(loop),
                "a bus cannot (indirectly) mix into itself; point one parent towards master",
            )
