"""The package's layers import only downward (issue 14, item 6).

Every import is read from the source with ``ast``, lazy ones inside functions included, so a rule
cannot be dodged by importing late. The rules follow the data flow in ``docs/architecture.md``:
the engine and the sinks share only ``middleware.rt`` (real-time primitives) and import neither each
other nor tools; run-time ML never imports training code; restoration tools never import training.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "middleware"

TRAINING = ("middleware.ml.train", "middleware.ml.onnx_export", "middleware.ml.nn", "onnx")

# module-name prefixes that a layer must never import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "middleware.engine": (
        "middleware.sinks",
        "middleware.tools",
        "middleware.scene",
        "middleware.ml",
        "middleware.daemon",
        "middleware.transport",
        "middleware.control",
        "middleware.commands",
        "onnx",
    ),
    "middleware.sinks": (
        "middleware.engine",
        "middleware.tools",
        "middleware.scene",
        "middleware.ml",
        "middleware.daemon",
        "middleware.transport",
    ),
    "middleware.rt": ("middleware.engine", "middleware.sinks", "middleware.tools", "middleware.scene"),
    # run-time ML: what a daemon loads to run a model
    "middleware.ml.director": (
        "middleware.ml.train",
        "middleware.ml.onnx_export",
        "middleware.ml.nn",
        "onnx",
    ),
    "middleware.ml.morph": ("middleware.ml.train", "middleware.ml.onnx_export", "middleware.ml.nn", "onnx"),
    "middleware.ml.sessions": (
        "middleware.ml.train",
        "middleware.ml.onnx_export",
        "middleware.ml.nn",
        "onnx",
    ),
    "middleware.ml.cards": ("middleware.ml.train", "middleware.ml.onnx_export", "middleware.ml.nn", "onnx"),
    "middleware.tools": ("middleware.ml.train", "middleware.ml.onnx_export", "middleware.ml.nn", "onnx"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, mod: str) -> list[tuple[int, str]]:
    """Every absolute module name ``path`` (module ``mod``) imports, with its line (relative imports
    resolved)."""
    package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # `from . import x` / `from .. import tools` name modules in the names, too
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return found


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".") or name.startswith(prefix + "_")


def violations_in(path: Path, mod: str) -> list[str]:
    out = []
    for layer, banned in FORBIDDEN.items():
        if not (mod == layer or mod.startswith(layer + ".")):
            continue
        for line, name in imports_of(path, mod):
            if any(_matches(name, b) for b in banned):
                out.append(f"{path.name}:{line}: {mod} imports {name} ({layer} may not)")
    return out


def test_layers_import_only_downward() -> None:
    found = [v for path in sorted(PKG.rglob("*.py")) for v in violations_in(path, _module_name(path))]
    assert found == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from ..sinks.ring import FrameRing\n", "middleware.sinks.ring"),
        ("def f():\n    from ..tools.loudness import LoudnessMeter\n", "middleware.tools.loudness"),
        ("import onnx\n", "onnx"),
    ],
)
def test_the_checker_sees_what_it_must(tmp_path: Path, source: str, expected: str) -> None:
    """The checker itself can fail: module-level, lazy and absolute imports are all read."""
    probe = tmp_path / "probe.py"
    probe.write_text(source, encoding="utf-8")
    assert expected in [name for _, name in imports_of(probe, "middleware.engine.probe")]
    assert violations_in(probe, "middleware.engine.probe")  # every case is banned for the engine
