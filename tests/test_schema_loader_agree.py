"""The JSON Schema and the loader give the same verdict wherever the schema can see the rule.

``soundscape schema`` is what an editor checks a scene with; ``validate`` is what the daemon does.
The docs promise they never disagree. They did: ``when: true`` was refused by the schema and read by
the loader; ``.nan`` passed the schema (no bound catches NaN) and was refused by the loader.

This runs a corpus through both: the example scenes (valid), the broken-scene corpus, and variants
generated from the example scenes (each scalar replaced by a troublesome value, keys renamed,
dropped or added). The schema reads each file as the loader does (``compose_scene``: YAML 1.1
booleans, YAML 1.2 numbers; mapping keys as written).

The loader tags every issue with the kind of rule broken (``issues.RULES``). Rules the schema cannot
express are the declared list ``issues.SCHEMA_BLIND`` (cross references, names given twice,
relations between values, expressions, files, unreadable YAML); a file whose only problems are of
those kinds is skipped, and the test reports how many were skipped for which rule. Everywhere else:
the loader finds a structural problem exactly when the schema rejects the file.
"""

from __future__ import annotations

import collections
import functools
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from middleware.scene.issues import RULES, SCHEMA_BLIND
from middleware.scene.load import check_scene_text, compose_scene
from middleware.scene.schema import scene_schema

ROOT = Path(__file__).resolve().parents[1]
SCENES = sorted((ROOT / "scenes").glob("*.yaml"))
BROKEN = sorted((ROOT / "tests" / "broken_scenes").glob("*.yaml"))
DOCS = ROOT / "docs" / "scene-format.md"

# Values a designer (or a slip of the keyboard) puts where another value was.
MUTATIONS = [
    ".nan",
    ".inf",
    "-.inf",
    "5e1",
    "1e308",
    "-1e308",
    "1e309",
    "true",
    "yes",
    "off",
    "null",
    "'text'",
    "[]",
    "{}",
    "[1, 2]",
    "0",
    "-1",
    "0.5",
    "2",
    "1e9",
    "''",
    "1e-3",
    "n" * 129,
    "'sounds\\b.wav'",
    "'a/.wav'",
    "'x.wav'",
    "2024-01-01",
]
KEY_MUTATIONS = ["zzz_unknown", "and", "n" * 129, "'9lives'"]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = scene_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


class Unreadable(Exception):
    """The text gives the schema nothing to look at (not YAML, or aliases that loop)."""


def to_data(node: Node | None, depth: int = 0) -> Any:
    """JSON data of a node tree as the loader sees it (keys as written, scalars resolved)."""
    if depth > 100:
        raise Unreadable("recursive aliases")
    if node is None:
        return None
    if isinstance(node, MappingNode):
        return {
            (k.value if isinstance(k, ScalarNode) else repr(k)): to_data(v, depth + 1) for k, v in node.value
        }
    if isinstance(node, SequenceNode):
        return [to_data(c, depth + 1) for c in node.value]
    try:
        return yaml.constructor.SafeConstructor().construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        raise Unreadable(str(exc)) from None


def verdict(validator, text: str, scene_dir: Path, check_assets: bool = True) -> tuple[str, str]:
    """('agree' | 'skip:<rules>' | 'MISMATCH', detail) for one scene text."""
    _, issues = check_scene_text(text, "variant.yaml", scene_dir, check_assets=check_assets)
    structural = [i for i in issues if i.rule not in SCHEMA_BLIND]
    try:
        data = to_data(compose_scene(text))
    except (yaml.YAMLError, Unreadable) as exc:
        assert any(i.rule == "yaml" for i in issues), f"loader read what the schema could not: {exc}"
        return "skip:yaml", ""
    errors = list(validator.iter_errors(data))
    if (structural and errors) or (not issues and not errors):
        return "agree", ""
    if issues and not structural:
        return "skip:" + ",".join(sorted({i.rule for i in issues})), ""
    detail = (
        f"loader: {[i.format() for i in issues][:3]}\n"
        f"schema: {[f'{list(e.absolute_path)}: {e.message[:200]}' for e in errors][:3]}"
    )
    return "MISMATCH", detail


def _value_scalars(root: Node) -> list[ScalarNode]:
    """Every scalar that is a value (not a key) and not a block scalar, in file order."""
    out: list[ScalarNode] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, MappingNode):
            stack.extend(v for _, v in reversed(node.value))
        elif isinstance(node, SequenceNode):
            stack.extend(reversed(node.value))
        elif node.style not in ("|", ">"):
            out.append(node)
    return out


def _keys(root: Node) -> list[ScalarNode]:
    out: list[ScalarNode] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, MappingNode):
            out.extend(k for k, _ in node.value if isinstance(k, ScalarNode) and not k.style)
            stack.extend(v for _, v in node.value)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    return out


def _splice(text: str, node: Node, new: str) -> str:
    return text[: node.start_mark.index] + new + text[node.end_mark.index :]


def variants(path: Path, rng: random.Random) -> list[tuple[str, Callable[[], str]]]:
    """(label, make text) variants of one valid scene: scalar values and keys replaced, keys dropped or
    added. Texts are made only for the variants a run samples (dumping YAML is the slow part)."""
    text = path.read_text(encoding="utf-8")
    root = yaml.compose(text, Loader=yaml.SafeLoader)  # pure Python: marks index characters
    out: list[tuple[str, Callable[[], str]]] = []
    for i, node in enumerate(_value_scalars(root)):
        for new in (MUTATIONS[i % len(MUTATIONS)], rng.choice(MUTATIONS)):
            label = f"{path.name}:{node.start_mark.line + 1}:{node.value[:20]!r}->{new[:20]}"
            out.append((label, functools.partial(_splice, text, node, new)))
    for i, node in enumerate(_keys(root)):
        new = KEY_MUTATIONS[i % len(KEY_MUTATIONS)]
        label = f"{path.name}:{node.start_mark.line + 1}:key {node.value}->{new[:20]}"
        out.append((label, functools.partial(_splice, text, node, new)))
    data = to_data(root)
    for where, mapping in _mappings(data, ()):
        for key in list(mapping):
            if rng.random() < 0.5:
                dropped = {k: v for k, v in mapping.items() if k != key}
                out.append(
                    (f"{path.name}:{where}: drop {key}", functools.partial(_edit, data, where, dropped))
                )
        if rng.random() < 0.3:
            added = {**mapping, "zzz_unknown": 1}
            out.append((f"{path.name}:{where}: add a key", functools.partial(_edit, data, where, added)))
    return out


def _edit(data: Any, where: tuple, new: Any) -> str:
    return yaml.safe_dump(_replace(data, where, new), sort_keys=False, allow_unicode=True)


def _mappings(data: Any, where: tuple) -> list[tuple[tuple, dict]]:
    out = []
    if isinstance(data, dict):
        out.append((where, data))
        for k, v in data.items():
            out += _mappings(v, (*where, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _mappings(v, (*where, i))
    return out


def _replace(data: Any, where: tuple, new: Any) -> Any:
    if not where:
        return new
    head, rest = where[0], where[1:]
    if isinstance(data, dict):
        return {**data, head: _replace(data[head], rest, new)}
    return [_replace(v, rest, new) if i == head else v for i, v in enumerate(data)]


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SCENES + BROKEN, ids=[p.stem for p in SCENES + BROKEN])
def test_corpus_files_get_the_same_verdict(validator, path):
    outcome, detail = verdict(validator, path.read_text(encoding="utf-8"), path.parent)
    assert outcome != "MISMATCH", detail
    if path in SCENES:
        assert outcome == "agree"  # both accept the example scenes


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("emitters: {e: {layers: [{id: a, source: sounds/rain.wav, when: true}]}}", True),
        ("emitters: {e: {layers: [{id: a, source: sounds/rain.wav, when: no}]}}", True),
        ("parameters: {p: {range: [0, .nan]}}", False),
        ("parameters: {p: {range: [0, 1], seek: .nan}}", False),
        ("parameters: {p: {range: [0, 1], seek: .inf}}", False),
        ("parameters: {p: {range: [-.inf, 1]}}", False),
        ("parameters: {p: {range: [0, 5e1]}}", True),
        ("parameters: {p: {range: [0, 1e308]}}", True),
        ("states: {power: [on, off]}", True),
        ("emitters: {e: {follows: on, layers: [{id: a, source: sounds/rain.wav}]}}", True),
        ("emitters: {e: {layers: [{id: a, source: 'sounds\\rain.wav'}]}}", False),
        ("emitters: {e: {layers: [{id: a, source: sounds/.wav}]}}", False),
        ("director: {inputs: []}", False),
        ("buses: {b: {duck: [{by: master, amount_db: -96}]}}", True),
        ("buses: {b: {gain_db: -120}}", True),
        ("emitters: {e: {gain: {param: p, curve: [[0, -200]]}, layers: []}}", False),
    ],
)
def test_named_cases_agree(validator, text, valid):
    """The disagreements the issue found (when: true, .nan) and their neighbours, one by one."""
    sounds = ROOT / "tests" / "broken_scenes"
    _, issues = check_scene_text(text, "case.yaml", sounds)
    data = to_data(compose_scene(text))
    schema_valid = validator.is_valid(data)
    structural = [i for i in issues if i.rule not in SCHEMA_BLIND]
    assert schema_valid is valid, list(validator.iter_errors(data))
    if valid:
        assert not issues, issues
    else:
        assert structural, issues


SAMPLE = int(os.environ.get("SOUNDSCAPE_AGREE_VARIANTS", "300"))
"""Variants checked (seeded sample of ~3100; each costs ~40 ms, mostly jsonschema): 0 checks all."""


def test_generated_variants_get_the_same_verdict(validator):
    rng = random.Random(13)
    every = [(path, label, make) for path in SCENES for label, make in variants(path, rng)]
    chosen = rng.sample(every, SAMPLE) if 0 < SAMPLE < len(every) else every
    tally: collections.Counter[str] = collections.Counter()
    mismatches: list[str] = []
    for path, label, make in chosen:
        outcome, detail = verdict(validator, make(), path.parent, check_assets=False)
        tally[outcome] += 1
        if outcome == "MISMATCH":
            mismatches.append(f"{label}\n{detail}")
    total = sum(tally.values())
    print(f"\n{total} of {len(every)} variants: {dict(tally)}")
    assert not mismatches, f"{len(mismatches)} of {total}:\n\n" + "\n\n".join(mismatches[:8])
    # a test that could only skip would prove nothing: most variants are compared
    assert tally["agree"] >= 0.6 * total, tally
    skipped = {r for k in tally if k.startswith("skip:") for r in k[5:].split(",")}
    assert skipped <= SCHEMA_BLIND, skipped


def test_the_rules_the_schema_cannot_see_are_declared_and_documented():
    assert frozenset(RULES) - {"structure"} == SCHEMA_BLIND
    text = DOCS.read_text(encoding="utf-8")
    for rule in sorted(SCHEMA_BLIND):
        assert f"`{rule}`" in text, f"docs/scene-format.md does not name the rule kind {rule!r}"
