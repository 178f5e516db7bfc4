"""Where a retrained model goes and which version its card records (``cards.plan_output``).

The studio asks for ``--out models/director.v2.onnx`` when the scene plays version 1: that file is
version 2 (it used to be numbered 3, max(current, named) + 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from middleware.errors import ModelError
from middleware.ml.cards import card_path, plan_output


def _model(path: Path, version: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"onnx")
    if version is not None:
        card_path(path).write_text(json.dumps({"version": version}))
    return path


def test_first_training_goes_where_the_scene_points(tmp_path: Path) -> None:
    assert plan_output(tmp_path / "director.onnx") == (tmp_path / "director.onnx", 1)


def test_retraining_goes_beside_as_the_next_version(tmp_path: Path) -> None:
    cur = _model(tmp_path / "director.onnx", 1)
    assert plan_output(cur) == (tmp_path / "director.v2.onnx", 2)
    _model(tmp_path / "director.v2.onnx", 2)
    assert plan_output(cur) == (tmp_path / "director.v3.onnx", 3)


def test_an_explicit_versioned_name_is_that_version(tmp_path: Path) -> None:
    cur = _model(tmp_path / "director.onnx", 1)
    assert plan_output(cur, tmp_path / "director.v2.onnx") == (tmp_path / "director.v2.onnx", 2)
    assert plan_output(cur, tmp_path / "mine.onnx") == (tmp_path / "mine.onnx", 2)
    # a name that claims an older version than the current one still gets a newer number
    cur5 = _model(tmp_path / "d5.onnx", 5)
    assert plan_output(cur5, tmp_path / "d5.v2.onnx")[1] == 6


def test_an_existing_output_is_refused_unless_forced_and_then_supersedes_it(tmp_path: Path) -> None:
    cur = _model(tmp_path / "director.onnx", 1)
    taken = _model(tmp_path / "director.v4.onnx", 4)
    with pytest.raises(ModelError, match="exists"):
        plan_output(cur, taken)
    assert plan_output(cur, taken, overwrite=True) == (taken, 5)
