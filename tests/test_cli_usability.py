"""The command line as a designer meets it: each test runs ``soundscape`` the way a user would (a
subprocess, or ``middleware.cli.main``) and checks what they would read or find on disk."""

from __future__ import annotations

import argparse
import ast
import json
import shlex
import shutil
import signal
import subprocess
import sys
import time
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


# ------------------------------------------------------------------ keyboard play needs a terminal
@pytest.mark.parametrize(
    "argv",
    [["-m", "middleware.cli", "demo", "--keyboard"], ["-m", "demo_game"]],
    ids=["soundscape demo --keyboard", "python -m demo_game"],
)
def test_keyboard_play_without_a_terminal_is_one_usage_line(tmp_path: Path, argv: list[str]) -> None:
    out = tmp_path / "out"
    r = subprocess.run(
        [sys.executable, *argv, "--out", str(out), "--backend", "null"],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert "needs a terminal" in line
    assert not out.exists()  # refused before a daemon or a session was started


# ------------------------------------------------------------------ against a real daemon
def start_daemon(scene: Path) -> tuple[subprocess.Popen, dict]:
    """``soundscape serve`` on the NULL device with OS-chosen ports (as tests/test_daemon.py does)."""
    cmd = [sys.executable, "-m", "middleware.cli", "serve", str(scene), "--backend", "null",
           "--bind", "tcp://127.0.0.1:0", "--pub", "tcp://127.0.0.1:0", "--json"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise RuntimeError("daemon did not start: " + proc.stderr.read())
    return proc, json.loads(line)


def stop_daemon(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 0, err


@pytest.fixture(scope="module")
def town():
    """A daemon on the town example (looping, positioned layers: the car follows object 'car')."""
    from middleware.tools.example_assets import ensure_example_assets

    ensure_example_assets()
    proc, info = start_daemon(ROOT / "scenes" / "town.yaml")
    yield info
    stop_daemon(proc)


def test_monitor_plain_prints_one_snapshot_per_interval_and_stops(town: dict) -> None:
    r = _run("monitor", "--plain", "--interval", "1", "--duration", "2.5", "--connect", town["pub"])
    assert r.returncode == 0, r.stderr
    heads = [ln for ln in r.stdout.splitlines() if ln.startswith("soundscape monitor")]
    assert len(heads) == 3  # at 1 s, 2 s and the end (2.5 s): ceil(2.5 / 1), no repeats at the end
    assert "[LIVE]" in heads[-1]
    one = _run("monitor", "--plain", "--interval", "1", "--duration", "0.5", "--connect", town["pub"])
    assert sum(ln.startswith("soundscape monitor") for ln in one.stdout.splitlines()) == 1


def test_monitor_plain_never_repeats_the_last_snapshot(town: dict, capsys: pytest.CaptureFixture) -> None:
    """The end of --duration, many times over (in-process, so each run is short): the last tick
    must print once even when the socket poll returns a hair early (it waits whole milliseconds)."""
    from middleware.cli import main

    counts = []
    for _ in range(12):
        assert (
            main(["monitor", "--plain", "--interval", "0.1", "--duration", "0.3", "--connect", town["pub"]])
            == 0
        )
        out = capsys.readouterr().out
        counts.append(sum(ln.startswith("soundscape monitor") for ln in out.splitlines()))
    assert counts == [3] * 12


def test_stats_prints_the_scene_as_a_table(town: dict) -> None:
    sent = _run("send", "object", "name=car", "position=[10,0,-10]", "--connect", town["bind"])
    assert sent.returncode == 0, sent.stderr
    time.sleep(0.5)  # scene telemetry reaches the network process every few blocks
    raw = json.loads(_run("stats", "--json", "--connect", town["bind"]).stdout)["scene"]
    r = _run("stats", "--connect", town["bind"])
    assert r.returncode == 0, r.stderr
    assert "{" not in r.stdout and '"' not in r.stdout  # no JSON, cut or whole
    lines = r.stdout.splitlines()
    assert any(ln.startswith("scene at frame ") for ln in lines)
    assert any(ln.split()[:2] == ["parameters", "traffic"] for ln in lines)
    rows = {ln.split()[0]: ln.split()[1:] for ln in lines if ln.startswith("  ") and "." in ln.split()[0]}
    assert set(raw["layers"]) <= set(rows)
    for uid, row in raw["layers"].items():
        assert float(rows[uid][0]) == pytest.approx(row["weight"], abs=0.005)  # printed with 2 decimals
    _weight, source, _gain, left, right = rows["car.engine"]
    assert source == "rule" and float(left) < float(right)  # the car is ahead on the right
    width = max(len(ln.split("  ")[0]) for ln in lines[: lines.index("")])
    assert all(ln[width : width + 2] == "  " for ln in lines[: lines.index("")])  # labels aligned


# ------------------------------------------------------------------ soundscape assets: every shipped scene
def _shipped_scenes() -> list[str]:
    """The scene files the repository ships (tracked by git) at the top of scenes/, as a shell's
    ``scenes/*.yaml`` sees them (git's pathspec ``*`` also crosses folders: scenes/profiles/ holds
    player profiles, not scenes)."""
    out = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "scenes/*.yaml"], capture_output=True, text=True, check=True
    ).stdout.split()
    return [Path(p).name for p in out if Path(p).parent == Path("scenes")]


def test_assets_make_every_shipped_scene_valid(tmp_path: Path) -> None:
    from middleware.tools.example_assets import ASSETS

    shipped = _shipped_scenes()
    assert {"forest.yaml", "dungeon.yaml", "town.yaml", "demo.yaml"} <= set(shipped)
    scenes = tmp_path / "scenes"
    shutil.copytree(ROOT / "scenes", scenes, ignore=shutil.ignore_patterns("*.wav"))  # models stay
    r = _run("assets", "--scenes", str(scenes))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{scenes}: wrote {len(ASSETS)} of {len(ASSETS)} example assets"
    v = _run("validate", *(str(scenes / name) for name in shipped))
    assert v.returncode == 0, v.stdout + v.stderr
    assert v.stdout.count(": ok, scene ") == len(shipped)
    again = _run("assets", "--scenes", str(scenes))
    assert again.stdout.strip() == f"{scenes}: all {len(ASSETS)} example assets present"
    (scenes / ASSETS[-1].relpath).unlink()
    one = _run("assets", "--scenes", str(scenes))
    assert (
        one.stdout.strip()
        == f"{scenes}: wrote 1 of {len(ASSETS)} example assets ({len(ASSETS) - 1} were present)"
    )


def test_the_example_scenes_doc_counts_the_shipped_scenes() -> None:
    words = {3: "three", 4: "four", 5: "five", 6: "six"}
    n = words[len(_shipped_scenes())]
    doc = (ROOT / "docs" / "example-scenes.md").read_text(encoding="utf-8")
    (line,) = [ln for ln in doc.splitlines() if ln.startswith("soundscape validate scenes/*.yaml")]
    assert f"all {n} are valid" in line
    assert doc.startswith(f"# Example scenes\n\n{n.capitalize()} scenes ship in `scenes/`")


# ------------------------------------------------------------------ training never replaces a model
def _forest_copy(tmp_path: Path) -> Path:
    """scenes/forest.yaml with its folder (shipped models, examples, sounds) in a temp folder."""
    from middleware.tools.example_assets import ensure_example_assets

    ensure_example_assets()
    shutil.copy(ROOT / "scenes" / "forest.yaml", tmp_path / "forest.yaml")
    shutil.copytree(ROOT / "scenes" / "forest", tmp_path / "forest")
    return tmp_path / "forest.yaml"


def _guide_command(what: str, scene: Path) -> list[str]:
    """The ``soundscape train WHAT`` line docs/ml-guide.md gives, on ``scene`` instead of scenes/."""
    doc = (ROOT / "docs" / "ml-guide.md").read_text(encoding="utf-8")
    (line,) = [
        ln
        for ln in doc.splitlines()
        if ln.startswith(f"soundscape train {what} ") and "--use" not in ln.split("#")[0]
    ]
    argv = shlex.split(line, comments=True)[1:]
    return [str(scene) if a == f"scenes/{scene.name}" else a for a in argv]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize(
    ("what", "model", "fast"),
    [
        ("director", "director", ["--steps", "100", "--no-loo", "--quiet"]),
        ("morph", "rain_morph", ["--steps", "30", "--quiet"]),
    ],
)
def test_retraining_writes_a_new_version_and_switches_only_when_asked(
    tmp_path: Path, what: str, model: str, fast: list[str]
) -> None:
    scene = _forest_copy(tmp_path)
    models = tmp_path / "forest" / "models"
    shipped, text = _files(models), scene.read_text()
    old_line = f"model: forest/models/{model}.onnx"
    (line_no,) = [i + 1 for i, ln in enumerate(text.splitlines()) if ln.strip() == old_line]

    r = _run(*_guide_command(what, scene), *fast, timeout=300)
    assert r.returncode == 0, r.stderr
    now = _files(models)
    assert {k: now[k] for k in shipped} == shipped  # the shipped model and card are untouched
    assert set(now) - set(shipped) == {f"{model}.v2.onnx", f"{model}.v2.card.json"}
    card = json.loads(now[f"{model}.v2.card.json"])
    assert card["version"] == 2 and card.get("file", f"{model}.v2.onnx") == f"{model}.v2.onnx"
    assert scene.read_text() == text  # the scene still names the shipped model
    assert f"set line {line_no} to 'model: forest/models/{model}.v2.onnx'" in r.stdout
    assert "--use" in r.stdout

    used = _run(*_guide_command(what, scene), *fast, "--use", timeout=300)
    assert used.returncode == 0, used.stderr
    assert {k: _files(models)[k] for k in shipped} == shipped
    after = scene.read_text().splitlines()
    changed = [(a, b) for a, b in zip(text.splitlines(), after, strict=True) if a != b]
    assert [b.strip() for _, b in changed] == [f"model: forest/models/{model}.v3.onnx"]
    assert f"{scene}:{line_no}: the scene now uses {model}.v3.onnx" in used.stdout
    v = _run("validate", str(scene))
    assert v.returncode == 0, v.stdout + v.stderr

    clash = _run("train", what, str(scene), *(["--layer", "rain_texture"] if what == "morph" else []),
                 "--output", str(models / f"{model}.onnx"), *fast)  # fmt: skip
    assert clash.returncode == 2 and "exists" in clash.stderr and "--force" in clash.stderr
    assert _files(models)[f"{model}.onnx"] == shipped[f"{model}.onnx"]


# ------------------------------------------------------------------ the designers' quickstart, run as written
SHELL_SECTION = "## 6. Switches, stingers and 3D from the shell"


def _doc_blocks(doc: Path, heading: str) -> list[list[str]]:
    """The ```bash blocks under ``heading`` (up to the next '## '), as lists of lines."""
    text = doc.read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    nxt = section.find("\n## ", len(heading))
    section = section if nxt < 0 else section[:nxt]
    blocks = section.split("```bash\n")[1:]
    return [b.split("```")[0].strip().splitlines() for b in blocks]


def _voice_sides(client, uids: list[str]) -> tuple[float, float]:
    """Summed (left, right) gain of the scene's voices ``uids``, from the daemon's stats."""
    voices = client.stats().get("scene", {}).get("voices", {})
    return (
        sum(voices.get(u, {}).get("gain_left", 0.0) for u in uids),
        sum(voices.get(u, {}).get("gain_right", 0.0) for u in uids),
    )


def test_quickstart_shell_commands_for_switches_stingers_and_3d_work_as_documented() -> None:
    from middleware.client import Client, Subscriber
    from middleware.scene.load import load_scene
    from middleware.tools.example_assets import ensure_example_assets

    ensure_example_assets()
    blocks = _doc_blocks(ROOT / "docs" / "quickstart-designers.md", SHELL_SECTION)
    sent = [
        shlex.split(ln, comments=True)[2] for b in blocks for ln in b if ln.startswith("soundscape send ")
    ]
    assert {"set_switch", "stinger", "object", "listener"} <= set(sent)
    for block in blocks:
        (serve,) = [shlex.split(ln, comments=True) for ln in block if ln.startswith("soundscape serve ")]
        scene = load_scene(ROOT / serve[2])
        proc, info = start_daemon(ROOT / serve[2])
        try:
            with Client(info["bind"], timeout=5.0) as client, Subscriber(info["pub"]) as sub:
                time.sleep(0.3)  # the subscription reaches the daemon
                followed: list[str] = []
                for line in block:
                    if not line.startswith("soundscape send "):
                        continue
                    argv = shlex.split(line, comments=True)
                    said = line.split("#", 1)[1] if "#" in line else ""
                    r = _run(*argv[1:], "--connect", info["bind"], cwd=ROOT)
                    assert r.returncode == 0, (line, r.stderr)
                    reply = json.loads(r.stdout)
                    assert reply["type"] == "ok" and reply["re"] == argv[2], (line, reply)
                    fields = dict(a.split("=", 1) for a in argv[3:])
                    if argv[2] == "object":
                        followed = [
                            ly.uid
                            for _, ly in scene.all_layers()
                            if getattr(scene.emitters.get(ly.uid.split(".")[0]), "follows", None)
                            == fields["name"]
                        ]
                        assert followed, line
                    if argv[2] == "trigger":
                        assert reply["instance"] >= 1
                    if argv[2] == "stinger":  # it lands on the beat or bar: within a bar at 100 BPM
                        got = sub.wait_for(
                            "stinger", 5.0, where=lambda p, n=fields["name"]: p["stinger"] == n
                        )
                        assert got is not None, line
                    for side in ("left", "right"):
                        if f"on your {side}" in said:
                            deadline, ok = time.monotonic() + 3.0, False
                            while not ok and time.monotonic() < deadline:
                                left, right = _voice_sides(client, followed)
                                ok = left > right if side == "left" else right > left
                                time.sleep(0.1)
                            assert ok, (line, left, right)
        finally:
            stop_daemon(proc)


def test_monitor_shows_the_last_stinger() -> None:
    """The quickstart says the monitor shows each stinger as it lands."""
    from middleware.monitor.state import MonitorState
    from middleware.monitor.view import render_lines

    st = MonitorState()
    st.feed("music_segment", {"v": 1, "segment": "combat", "frame": 0}, now=10.0)
    st.feed("stinger", {"v": 1, "stinger": "alarm", "frame": 0}, now=10.0)
    (music,) = [ln for ln in render_lines(st, 160, 40, now=11.5) if ln.startswith("MUSIC")]
    assert "combat" in music and "stinger alarm 1.5s ago" in music
