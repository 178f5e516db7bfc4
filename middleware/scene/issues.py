"""One problem found in a scene file, with its position: what the loader and ``validate`` report."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SceneIssue:
    """A problem at ``file:line:col`` (1-based), what is wrong, and a hint how to fix it.

    ``snippet`` optionally shows the offending text with a caret under the spot (expressions).
    """

    file: str
    line: int
    col: int
    message: str
    hint: str = ""
    snippet: str = ""

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
