"""One problem found in a scene file, with its position: what the loader and ``validate`` report."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

RULES = MappingProxyType(
    {
        "structure": "types, ranges, enums, keys, list lengths and name patterns of one value",
        "yaml": "the file is not YAML a scene can be read from (syntax, nesting depth, size after aliases)",
        "names": "a key or name given twice, in one mapping or across sections the game addresses by name",
        "reference": "a name that must be declared elsewhere in the file, or references forming a cycle",
        "relation": "values of one record that must agree (min below max, default inside the range ...)",
        "expression": "condition syntax, and types of the names a condition reads",
        "file": "asset files: they exist, stay inside the scene's folder and hold decodable audio",
    }
)
"""Each kind of rule the loader applies, by the name a :class:`SceneIssue` carries in ``rule``."""

SCHEMA_BLIND = frozenset(RULES) - {"structure"}
"""Rules the JSON Schema cannot express: it sees one value at a time, not the rest of the file,
expressions or files, and an unparsable file gives it nothing to look at. Every other rule is in the
schema too (``tests/test_schema_loader_agree.py`` holds the two to the same verdict)."""


@dataclass(frozen=True)
class SceneIssue:
    """A problem at ``file:line:col`` (1-based), what is wrong, and a hint how to fix it.

    ``snippet`` optionally shows the offending text with a caret under the spot (expressions).
    ``rule`` names the kind of rule broken (a key of :data:`RULES`).
    """

    file: str
    line: int
    col: int
    message: str
    hint: str = ""
    snippet: str = ""
    rule: str = "structure"

    def format(self) -> str:
        """Compiler-style text: ``file:line:col: error: message`` then ``hint: ...`` and the snippet."""
        out = f"{self.file}:{self.line}:{self.col}: error: {self.message}"
        if self.snippet:
            out += "\n" + self.snippet
        if self.hint:
            out += f"\n    hint: {self.hint}"
        return out

    def __str__(self) -> str:
        return self.format()
