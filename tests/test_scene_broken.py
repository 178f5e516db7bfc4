"""The broken-scene corpus: each file is one kind of mistake, with the line and message it must get.

The expected result lives in the file's first line, ``# expect: LINE: message fragment`` optionally
followed by ``| hint: hint fragment``, so the corpus documents itself and a new case is one file.
Every file must fail with a SceneError (never another exception) and report the exact line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from middleware.cli import main as cli_main
from middleware.errors import SceneError
from middleware.scene.load import load_scene

CORPUS = Path(__file__).parent / "broken_scenes"
FILES = sorted(CORPUS.glob("*.yaml"))
HEADER = re.compile(r"# expect: (\d+): (.*?)(?: \| hint: (.*))?$")


def _expectation(path: Path) -> tuple[int, str, str | None]:
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    m = HEADER.match(first)
    assert m, f"{path.name}: first line must be '# expect: LINE: message'"
    return int(m.group(1)), m.group(2).strip(), m.group(3)


def test_corpus_is_large_enough():
    assert len(FILES) >= 20
    kinds = {p.stem.split("_", 1)[1] for p in FILES}
    assert len(kinds) == len(FILES)  # one kind of mistake per file


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_broken_scene_reports_line_and_message(path: Path):
    line, fragment, hint = _expectation(path)
    with pytest.raises(SceneError) as info:
        load_scene(path)
    issues = info.value.errors
    assert issues, "SceneError must carry the issues"
    for issue in issues:
        assert issue.file == str(path)
        assert issue.line >= 1 and issue.col >= 1
    got = [(i.line, i.message, i.hint) for i in issues]
    match = [
        i for i in issues if i.line == line and fragment in i.message and (hint is None or hint in i.hint)
    ]
    assert match, f"expected line {line}: {fragment!r} (hint {hint!r}); got {got}"
    # one mistake per file: nothing else is reported, so the messages are not noise
    assert len(issues) == 1, got


def test_validate_command_prints_every_error(capsys):
    rc = cli_main(["validate", *map(str, FILES[:5])])
    out = capsys.readouterr().out
    assert rc == 1
    for path in FILES[:5]:
        line, fragment, _ = _expectation(path)
        assert re.search(rf"^{re.escape(str(path))}:{line}:\d+: error: .*{re.escape(fragment)}", out, re.M), (
            out
        )


def test_errors_are_collected_not_stopped_at_first(tmp_path):
    text = "\n".join(
        [
            "buses:",
            "  sfx: {gian_db: 1}",  # line 2
            "emitters:",
            "  a:",
            "    bus: sfxx",  # line 5
            "    layers:",
            "      - {id: x, source: nope.wav, fade_in: -2}",  # line 7 (two problems)
            "      - {id: x, source: nope.wav, mode: oneshot, when: 'a >'}",  # line 8
        ]
    )
    (tmp_path / "s.yaml").write_text(text)
    with pytest.raises(SceneError) as info:
        load_scene(tmp_path / "s.yaml")
    lines = [i.line for i in info.value.errors]
    assert lines == sorted(lines)
    assert {2, 5, 7, 8} <= set(lines)
    assert sum(1 for n in lines if n == 7) == 2
    assert "s.yaml:2:" in str(info.value)  # the one-line summary names the first problem
