"""The command line as a designer meets it: each test runs ``soundscape`` the way a user would (a
subprocess, or ``middleware.cli.main``) and checks what they would read or find on disk."""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from pathlib import Path

import pytest

from middleware.cli import build_parser
from middleware.commands._common import SCENE_DESTS

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str, timeout: float = 120, stdin: int | None = subprocess.DEVNULL, cwd: Path | None = None):
    return subprocess.run(
        [sys.executable, "-m", "middleware.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=stdin,
        cwd=cwd,
    )


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (group,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(group.choices)


# ------------------------------------------------------------------ "did you mean": one rule everywhere
def test_unknown_preset_suggests_only_a_close_match_else_lists_the_presets(tmp_path: Path) -> None:
    from middleware.voice import PRESETS

    far = _run("say", "hello", "--preset", "troll", "-o", str(tmp_path / "a.wav"))
    assert far.returncode == 2 and len(far.stderr.strip().splitlines()) == 1, far.stderr
    assert "did you mean" not in far.stderr  # troll is not a misspelling of neutral (ratio 0.5)
    assert all(name in far.stderr for name in PRESETS)
    near = _run("say", "hello", "--preset", "robt", "-o", str(tmp_path / "b.wav"))
    assert near.returncode == 2 and "did you mean 'robot'" in near.stderr


@pytest.mark.parametrize(
    ("call", "near", "far"),
    [
        ("preset", ("orge", "ogre"), "troll"),
        ("generator", ("wnd", "wind"), "xylophone"),
        ("message", ("set_parm", "set_param"), "teleport"),
        ("bus", ("mastr", "master"), "zz_top"),
    ],
)
def test_every_unknown_name_follows_the_same_rule(call: str, near: tuple[str, str], far: str) -> None:
    from middleware.config import EngineConfig
    from middleware.engine import BusSpec, Engine
    from middleware.errors import SoundscapeError
    from middleware.generators import create_generator
    from middleware.transport import protocol as P
    from middleware.voice import get_preset

    def message(word: str) -> None:
        P.validate({"v": 1, "type": word})

    def bus(word: str) -> None:
        Engine(EngineConfig(block=256, max_voices=4, voice_limit=4)).add_bus(BusSpec("sfx", parent=word))

    fn = {"preset": get_preset, "generator": create_generator, "message": message, "bus": bus}[call]
    with pytest.raises(SoundscapeError) as close:
        fn(near[0])
    assert f"did you mean {near[1]!r}" in str(close.value)
    with pytest.raises(SoundscapeError) as other:
        fn(far)
    assert "did you mean" not in str(other.value)


def test_no_module_matches_names_its_own_way() -> None:
    """Only middleware/hints.py calls difflib: every other "did you mean" goes through it."""
    offenders = []
    for folder in ("middleware", "demo_game"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name == "hints.py" and path.parent.name == "middleware":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                if any(n.split(".")[0] == "difflib" for n in names):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


# ------------------------------------------------------------------ a missing scene reads the same everywhere
def _scene_commands() -> dict[str, argparse.ArgumentParser]:
    """Every subcommand with a positional argument that names a scene file, found by what its help
    says (independently of the SCENE_DESTS convention the CLI checks by)."""
    out = {}
    for name, sub in _subparsers().items():
        for action in sub._actions:
            text = f"{action.dest} {action.metavar or ''} {action.help or ''}".lower()
            if not action.option_strings and "scene" in text:
                out[name] = sub
    return out


def test_the_scene_commands_are_all_found() -> None:
    found = _scene_commands()
    assert {"validate", "play", "render", "serve", "train"} <= set(found)
    for name, sub in found.items():  # each one is checked by the CLI (it follows the convention)
        assert any(not a.option_strings and a.dest in SCENE_DESTS for a in sub._actions), name


def _argv_for(sub: argparse.ArgumentParser, scene: str) -> list[str]:
    """Positional arguments up to the scene: the first choice for each (``train director``)."""
    argv = []
    for action in sub._actions:
        if action.option_strings or isinstance(action, argparse._SubParsersAction):
            continue
        if action.dest in SCENE_DESTS:
            return [*argv, scene]
        argv.append(next(iter(action.choices)) if action.choices else "x")
    raise AssertionError("no scene argument")


@pytest.mark.parametrize("command", sorted(_scene_commands()))
@pytest.mark.parametrize("kind", ["missing", "folder"])
def test_a_missing_scene_is_one_usage_error_with_one_wording(tmp_path: Path, command: str, kind: str) -> None:
    scene = tmp_path / "nope.yaml"
    if kind == "folder":
        scene.mkdir()
    sub = _scene_commands()[command]
    r = _run(command, *_argv_for(sub, str(scene)), timeout=60)
    assert r.returncode == 2, (r.stdout, r.stderr)
    what = "scene file not found" if kind == "missing" else "is a folder, not a scene file"
    assert r.stderr.strip() == f"soundscape {command}: error: {scene}: {what}"
    assert r.stdout == ""
