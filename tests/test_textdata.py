"""Files users write besides scenes (event timelines, director example sets) are read by the scene's
rules: nesting capped with a clear error naming file and line (was a RecursionError traceback), and
YAML 1.2 numbers (``5e1``) read as numbers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from middleware.errors import ModelError
from middleware.ml.examples import _rows
from middleware.scene.spec import MAX_DEPTH
from middleware.textdata import loads_json, loads_yaml

ROOT = Path(__file__).resolve().parents[1]
DEEP = "[" * 5000 + "]" * 5000


def test_json_nesting_is_capped_with_a_value_error() -> None:
    ok = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert loads_json(ok) == loads_json(ok)  # at the cap: read
    for text in ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), DEEP, '{"a":' * 3000 + "1" + "}" * 3000):
        with pytest.raises(ValueError, match=f"nested deeper than {MAX_DEPTH} levels"):
            loads_json(text)


def test_yaml_reads_numbers_as_a_scene_does_and_caps_nesting() -> None:
    assert loads_yaml("a: 5e1\nb: 1e308") == {"a": 50.0, "b": 1e308}
    with pytest.raises(Exception, match="nested deeper"):
        loads_yaml(DEEP)


def test_examples_files_report_deep_nesting_at_their_line(tmp_path: Path) -> None:
    f = tmp_path / "x.examples.jsonl"
    f.write_text('{"inputs": {}, "outputs": {}}\n' + DEEP + "\n")
    with pytest.raises(ModelError, match=r"x\.examples\.jsonl:2: .*nested deeper"):
        _rows(f, f.read_text())
    y = tmp_path / "x.yaml"
    y.write_text("examples:\n  - {inputs: {rain: 5e-1}, outputs: {}}\n")
    assert _rows(y, y.read_text()) == [(1, {"inputs": {"rain": 0.5}, "outputs": {}})]  # 5e-1 a number


def test_render_with_a_deeply_nested_events_line_is_one_clear_error(tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text('{"t": 0, "type": "set_param", "name": "rain", "value": 0.5}\n' + DEEP + "\n")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "middleware.cli",
            "render",
            str(ROOT / "scenes" / "forest.yaml"),
            "--events",
            str(events),
            "--seconds",
            "1",
            "-o",
            str(tmp_path / "o.wav"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert run.returncode != 0
    assert "Traceback" not in run.stderr and "RecursionError" not in run.stderr, run.stderr[-2000:]
    assert "e.jsonl:2:" in run.stderr and "nested deeper" in run.stderr, run.stderr[-2000:]
