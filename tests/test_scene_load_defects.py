"""Scenes that used to pass `validate` and then crash (or be refused without a line) at render or play.

Each test names the defect it covers; every error must carry ``file:line:col`` of the scene line at
fault. The commands are run for real (``soundscape validate/render`` through the CLI entry point) on
files written to a temporary folder, with real audio files made by ``soundfile``.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile
import yaml

from middleware.cli import main as cli_main
from middleware.errors import SceneError
from middleware.scene import load as scene_load
from middleware.scene.load import ADDRESSED_KINDS, check_scene, load_scene_text
from middleware.scene.spec import MAX_DEPTH, MAX_NAME_LEN
from middleware.transport.protocol import MAX_NAME_LEN as PROTOCOL_MAX_NAME_LEN


def _write_audio(path: Path, frames: int = 4800) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = 0.1 * np.random.default_rng(1).standard_normal((frames, 1))
    soundfile.write(path, noise, 48000, format=path.suffix[1:].upper())


def _scene(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    _write_audio(tmp_path / "sounds" / "rain.wav")
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _validate(capsys, path: Path) -> tuple[int, str]:
    rc = cli_main(["validate", str(path)])
    return rc, capsys.readouterr().out


def _run(capsys, *argv: str) -> tuple[int, str]:
    """Run a ``soundscape`` command in-process: (exit status, what it printed on stderr)."""
    rc = cli_main(list(argv))
    return rc, capsys.readouterr().err


def _located(out: str, path: Path, line: int, fragment: str) -> bool:
    return bool(re.search(rf"^{re.escape(str(path))}:{line}:\d+: error: .*{re.escape(fragment)}", out, re.M))


# ---------------------------------------------------------------------------------------------
# 1. One name, two kinds: a state and a parameter called `weather` crashed the parameter glide


CLASH = """\
parameters:
  weather: {range: [0, 1], seek: 1}
states:
  weather: [clear, rain]
emitters:
  rain:
    layers:
      - id: loop
        source: sounds/rain.wav
        gain: {param: weather, curve: [[0, -20], [1, 0]]}
"""


def test_state_and_parameter_of_one_name_are_refused_naming_both(tmp_path, capsys):
    path = _scene(tmp_path, CLASH)
    rc, out = _validate(capsys, path)
    assert rc == 1
    assert _located(
        out, path, 4, "state group 'weather' has the name of the parameter 'weather' on line 2"
    ), out
    # render refuses it the same way (before: TypeError in the parameter glide, a traceback)
    events = tmp_path / "e.jsonl"
    events.write_text('{"t": 0.05, "type": "set_param", "name": "weather", "value": 0.5}\n')
    out = str(tmp_path / "o.wav")
    rc, err = _run(capsys, "render", str(path), "--events", str(events), "--seconds", "0.2", "-o", out)
    assert rc == 2 and f"{path}:4:3: state group 'weather'" in err, err


DECLARE = {
    "parameter": "parameters:\n  {name}: {{range: [0, 1]}}\n",
    "state": "states:\n  {name}: [a, b]\n",
    "switch": "switches:\n  {name}: [a, b]\n",
    "event": "events:\n  {name}: {{layers: [{{id: hit, source: sounds/rain.wav}}]}}\n",
    "emitter": "emitters:\n  {name}: {{layers: [{{id: bed, source: sounds/rain.wav}}]}}\n",
    "snapshot": "snapshots:\n  {name}: {{buses: {{master: {{gain_db: -6}}}}}}\n",
}


@pytest.mark.parametrize(("first", "second"), list(itertools.combinations(ADDRESSED_KINDS, 2)))
def test_every_pair_of_addressed_kinds_shares_one_namespace(tmp_path, first, second):
    text = DECLARE[first].format(name="thing") + DECLARE[second].format(name="thing")
    _write_audio(tmp_path / "sounds" / "rain.wav")
    with pytest.raises(SceneError) as info:
        load_scene_text(text, "s.yaml", tmp_path)
    (issue,) = info.value.errors
    assert issue.line == 4  # the second declaration: line 2 of its two-line section
    assert f"{scene_load.KIND_WORDS[first][0]} 'thing' on line 2" in issue.message, issue.message
    assert issue.message.startswith(scene_load.KIND_WORDS[second][0]), issue.message


def test_same_name_in_unaddressed_sections_is_still_fine(tmp_path):
    # buses and layers are not named by the game: a bus `rain` next to an emitter `rain` is allowed
    text = "buses: {rain: {}}\nemitters: {rain: {bus: rain, layers: [{id: rain, source: sounds/rain.wav}]}}\n"
    _write_audio(tmp_path / "sounds" / "rain.wav")
    assert load_scene_text(text, "s.yaml", tmp_path).emitters["rain"].bus == "rain"


# ---------------------------------------------------------------------------------------------
# 2. Assets are probed: a text file named .wav, an empty file, a file without frames


NOT_AUDIO = """\
emitters:
  rain:
    layers:
      - id: loop
        source: sounds/notes.wav
"""


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"just some notes, saved as .wav\n", "is not audio that can be decoded"),
        (b"", "is not audio that can be decoded"),
        (None, "holds no audio frames"),  # a valid WAV header with zero frames
    ],
    ids=["text", "empty", "no-frames"],
)
def test_validate_probes_every_audio_file_at_its_scene_line(tmp_path, capsys, content, fragment):
    path = _scene(tmp_path, NOT_AUDIO)
    target = tmp_path / "sounds" / "notes.wav"
    if content is None:
        soundfile.write(target, np.zeros((0, 1)), 48000)
    else:
        target.write_bytes(content)
    rc, out = _validate(capsys, path)
    assert rc == 1
    assert re.search(rf"^{re.escape(str(path))}:5:17: error: 'sounds/notes.wav' {fragment}", out, re.M), out
    # render names the same scene line (before: "cannot decode audio" with the file's path only)
    rc, err = _run(capsys, "render", str(path), "--seconds", "0.1", "-o", str(tmp_path / "o.wav"))
    assert rc == 2 and f"{path}:5:17: 'sounds/notes.wav' {fragment}" in err, err


@pytest.mark.parametrize("ext", [".wav", ".flac", ".ogg", ".mp3"])
def test_real_audio_of_every_supported_type_passes_the_probe(tmp_path, ext):
    _write_audio(tmp_path / "sounds" / f"bed{ext}")
    scene = load_scene_text(
        f"emitters: {{e: {{layers: [{{id: a, source: sounds/bed{ext}}}]}}}}", "s.yaml", tmp_path
    )
    assert scene.asset_files() == ((tmp_path / "sounds" / f"bed{ext}").resolve(),)


def test_music_and_random_container_assets_are_probed_too(tmp_path):
    (tmp_path / "sounds").mkdir()
    (tmp_path / "sounds" / "bad.wav").write_text("text")
    _write_audio(tmp_path / "sounds" / "good.wav")
    text = (
        "emitters:\n"
        "  e:\n"
        "    layers:\n"
        "      - {id: a, source: {random: [sounds/good.wav, {sample: sounds/bad.wav, weight: 2}]}}\n"
        "music:\n"
        "  tempo: 120\n"
        "  segments: {calm: {sample: sounds/bad.wav}}\n"
    )
    _, issues = scene_load.check_scene_text(text, "s.yaml", tmp_path)
    assert [(i.line, i.rule) for i in issues] == [(4, "file"), (7, "file")], issues


def test_no_assets_skips_the_probe(tmp_path, capsys):
    path = _scene(tmp_path, NOT_AUDIO)
    (tmp_path / "sounds" / "notes.wav").write_text("text")
    assert cli_main(["validate", "--no-assets", str(path)]) == 0


# ---------------------------------------------------------------------------------------------
# 3. Nesting depth is capped (a thousand '[' ended in RecursionError)


@pytest.mark.parametrize("fast", [True, False], ids=["libyaml", "pure-python"])
@pytest.mark.parametrize(
    "text",
    [
        "emitters: " + "[" * 1000 + "]" * 1000 + "\n",
        "emitters: " + "[" * 40 + "]" * 40 + "\n",
        "emitters:\n" + "".join("  " * i + "k:\n" for i in range(1, 45)) + "  " * 45 + "v\n",
        "emitters: " + "{a: " * 300 + "1" + "}" * 300 + "\n",
    ],
    ids=["flow-1000", "flow-40", "block-45", "mapping-300"],
)
def test_deep_nesting_is_a_located_error_with_either_yaml_library(tmp_path, monkeypatch, fast, text):
    if not fast:
        monkeypatch.setattr(scene_load, "SceneCLoader", None)
    elif scene_load.SceneCLoader is None:
        pytest.skip("libyaml is not installed")
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    scene, issues = check_scene(path)
    assert scene is None
    (issue,) = issues
    assert f"nested deeper than {MAX_DEPTH} levels" in issue.message
    assert issue.line >= 1 and issue.col >= 1 and issue.rule == "yaml"


def test_both_yaml_libraries_place_the_depth_error_at_the_same_spot(tmp_path, monkeypatch):
    if scene_load.SceneCLoader is None:
        pytest.skip("libyaml is not installed")
    text = "emitters:\n  e:\n" + "".join("  " * i + "- \n" for i in range(2, 40)) + "  " * 40 + "x\n"
    fast = scene_load.check_scene_text(text, "d.yaml")[1]
    monkeypatch.setattr(scene_load, "SceneCLoader", None)
    slow = scene_load.check_scene_text(text, "d.yaml")[1]
    assert [(i.line, i.col, i.message) for i in fast] == [(i.line, i.col, i.message) for i in slow]


@pytest.mark.parametrize("command", ["render", "play"])
def test_render_and_play_refuse_deep_files_without_a_traceback(tmp_path, capsys, command):
    path = tmp_path / "deep.yaml"
    path.write_text("emitters: " + "[" * 1000 + "]" * 1000 + "\n")
    extra = ["-o", str(tmp_path / "o.wav")] if command == "render" else ["--seconds", "0.1", "--quiet"]
    rc, err = _run(capsys, command, str(path), *extra)
    assert rc == 2
    assert f"{path}:1:" in err and "nested deeper than" in err and "Traceback" not in err


def test_the_format_itself_stays_well_inside_the_depth_cap():
    def depth(node, d=1):
        children = node.value if isinstance(node, yaml.SequenceNode) else []
        if isinstance(node, yaml.MappingNode):
            children = [v for _, v in node.value]
        return max([d, *(depth(c, d + 1) for c in children)])

    root = Path(__file__).resolve().parents[1]
    deepest = max(
        depth(yaml.compose(p.read_text(), Loader=yaml.SafeLoader)) for p in root.glob("scenes/*.yaml")
    )
    assert deepest <= MAX_DEPTH // 2, deepest


# ---------------------------------------------------------------------------------------------
# 4. YAML 1.2 numbers: 5e1 and 1e308 are numbers, .inf/.nan stay floats the loader refuses


@pytest.mark.parametrize(
    ("written", "value"),
    [("5e1", 50.0), ("1e308", 1e308), ("1E-3", 0.001), ("-2.5e+2", -250.0), (".5e1", 5.0), ("3.", 3.0)],
)
def test_exponent_numbers_read_as_numbers(written, value):
    scene = load_scene_text(
        f"parameters: {{p: {{range: [-1e300, 0], default: 0}}, q: {{range: [-300, {written}]}}}}"
    )
    assert scene.parameters["q"].max == value


def test_exponent_numbers_were_text_to_plain_yaml_11():
    # what the loader used to see: PyYAML's own SafeLoader keeps YAML 1.1, where a float needs a dot
    assert yaml.safe_load("a: 5e1")["a"] == "5e1"
    assert yaml.load("a: 5e1", Loader=scene_load.SceneLoader)["a"] == 50.0
    assert yaml.safe_load("a: 5e1")["a"] == "5e1"  # the resolver was added to our class only


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        (".inf", ".inf"),
        ("-.inf", "-.inf"),
        (".nan", ".nan"),
        (".NaN", ".NaN"),
        ("1e309", "1e309"),
        ("inf", "inf"),
    ],
)
def test_non_finite_numbers_stay_refused_with_what_was_written(written, shown):
    with pytest.raises(SceneError) as info:
        load_scene_text(f"parameters:\n  p: {{range: [0, 1], default: 0, seek: {written}}}\n")
    (issue,) = info.value.errors
    assert (issue.line, issue.col) == (2, 40)
    assert issue.message == f"seek: {shown} is not a finite number"


def test_quoted_numbers_still_get_the_quote_hint():
    with pytest.raises(SceneError) as info:
        load_scene_text("parameters:\n  p: {range: [0, '5e1']}\n")
    assert info.value.errors[0].hint == "remove the quotes"


@pytest.mark.parametrize("loader", ["SceneLoader", "SceneCLoader"])
def test_both_yaml_libraries_resolve_numbers_alike(loader):
    cls = getattr(scene_load, loader)
    if cls is None:
        pytest.skip("libyaml is not installed")
    got = yaml.load("[5e1, 1e308, .inf, .nan, 1.5, 7, 0x10, 1_000, text, 1e5x, .e1, e5]", Loader=cls)
    assert got[:2] == [50.0, 1e308] and got[2] == float("inf") and got[3] != got[3]
    assert got[4:] == [1.5, 7, 16, 1000, "text", "1e5x", ".e1", "e5"]


@pytest.mark.parametrize("loader", ["SceneLoader", "SceneCLoader"])
def test_integers_are_yaml_12_no_octal_010_nor_sexagesimal_1_30(loader):
    """YAML 1.1 reads 010 as 8 and 1:30 as 90; a designer (and YAML 1.2) means ten and a text."""
    cls = getattr(scene_load, loader)
    if cls is None:
        pytest.skip("libyaml is not installed")
    got = yaml.load("[010, 1:30, 0o17, 0x1F, -5, +3, 1_000, 012.5]", Loader=cls)
    assert got == [10, "1:30", 15, 31, -5, 3, 1000, 12.5]
    assert [type(v) for v in got[:1]] == [int]
    assert yaml.safe_load("[010, 1:30]") == [8, 90]  # PyYAML's own loader is left as it was


def test_a_time_of_day_written_010_is_ten_and_1_30_is_refused_at_its_line():
    scene = load_scene_text("parameters:\n  hour: {range: [0, 24], default: 010}\n")
    assert scene.parameters["hour"].default == 10
    with pytest.raises(SceneError) as info:
        load_scene_text("parameters:\n  hour: {range: [0, 24], default: 1:30}\n")
    (issue,) = info.value.errors
    assert issue.line == 2 and "1:30" in issue.message


@pytest.mark.parametrize("kind", ["states", "switches"])
def test_an_event_parameter_may_not_hide_a_global_state_or_switch(kind):
    text = (
        f"{kind}: {{weather: [dry, wet]}}\n"
        "parameters: {speed: {range: [0, 1]}}\n"
        "events:\n"
        "  boom:\n"
        "    parameters: {weather: {range: [0, 1]}, speed: {range: [0, 2]}}\n"
        "    layers: [{id: a, source: {generator: impact}}]\n"
    )
    with pytest.raises(SceneError) as info:
        load_scene_text(text)
    (issue,) = info.value.errors  # shadowing the global *parameter* speed stays allowed
    assert (issue.line, issue.col) == (5, text.splitlines()[4].index("weather") + 1)
    assert "hides the" in issue.message and "'weather' on line 1" in issue.message


# ---------------------------------------------------------------------------------------------
# 5. Backslashes, name length, director outputs without director: true


def test_backslash_paths_are_explained_not_called_absolute(tmp_path):
    _write_audio(tmp_path / "sounds" / "b.wav")
    text = "emitters: {e: {layers: [{id: a, source: 'sounds\\b.wav'}]}}"
    with pytest.raises(SceneError) as info:
        load_scene_text(text, "s.yaml", tmp_path)
    (issue,) = info.value.errors
    assert "backslash is not a path separator" in issue.message and "relative" not in issue.message
    assert issue.hint.startswith("write 'sounds/b.wav'")
    assert (issue.line, issue.col) == (1, text.index("'sounds") + 1)


def test_name_cap_is_the_protocols():
    assert MAX_NAME_LEN == PROTOCOL_MAX_NAME_LEN  # one declaration: a longer name could never be sent


@pytest.mark.parametrize("length", [MAX_NAME_LEN + 1, 2000, 100_000])
@pytest.mark.parametrize(
    "template",
    [
        "parameters:\n  {name}: {{range: [0, 1]}}\n",
        "states:\n  weather: [{name}, clear]\n",
        "emitters:\n  e:\n    layers: [{{id: {name}, source: sounds/rain.wav}}]\n",
        "emitters:\n  e: {{follows: {name}, layers: [{{id: a, source: sounds/rain.wav}}]}}\n",
    ],
    ids=["key", "value", "layer-id", "object"],
)
def test_overlong_names_get_one_clear_error(tmp_path, template, length):
    _write_audio(tmp_path / "sounds" / "rain.wav")
    text = template.format(name="n" * length)
    _, issues = scene_load.check_scene_text(text, "s.yaml", tmp_path)
    (issue,) = issues
    assert f"of {length} characters is too long" in issue.message, issue.message
    assert f"at most {MAX_NAME_LEN} characters" in issue.hint
    at = text.index("n" * length)  # not the YAML indentation message, not somewhere else
    assert (issue.line, issue.col) == (text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at))


def test_a_name_at_the_cap_is_fine(tmp_path):
    name = "n" * MAX_NAME_LEN
    assert name in load_scene_text(f"parameters: {{{name}: {{range: [0, 1]}}}}").parameters


def test_director_output_without_director_flag_is_an_error_at_its_line(tmp_path, capsys):
    text = (
        "parameters: {intensity: {range: [0, 1]}}\n"
        "emitters:\n"
        "  rain:\n"
        "    layers:\n"
        "      - {id: loop, source: sounds/rain.wav}\n"
        "      - {id: hiss, source: sounds/rain.wav, director: true}\n"
        "director:\n"
        "  inputs: [intensity]\n"
        "  outputs: [rain.hiss, rain.loop]\n"
    )
    path = _scene(tmp_path, text)
    rc, out = _validate(capsys, path)
    assert rc == 1
    fragment = "error: director output 'rain.loop': that layer lacks 'director: true'"
    assert re.search(rf"^{re.escape(str(path))}:9:24: {fragment}", out, re.M), out
    assert "add director: true to layer 'loop' (line 5)" in out
    assert "rain.hiss" not in out


def test_director_without_outputs_is_a_missing_key_at_its_line(tmp_path):
    with pytest.raises(SceneError) as info:
        load_scene_text("parameters: {i: {range: [0, 1]}}\ndirector:\n  inputs: [i]\n")
    (issue,) = info.value.errors
    assert (issue.line, issue.message) == (3, "director is missing required key 'outputs'")


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [("a\\0b.wav", "cannot use asset path"), ("x" * 300 + ".wav", "cannot use asset path")],
    ids=["nul", "long-part"],
)
def test_unusable_paths_are_errors_not_tracebacks(tmp_path, raw, fragment):
    _, issues = scene_load.check_scene_text(
        f'emitters: {{e: {{layers: [{{id: a, source: "{raw}"}}]}}}}', "s.yaml", tmp_path
    )
    (issue,) = issues
    assert fragment in issue.message and issue.line == 1


def test_model_problems_in_validate_carry_the_line_of_their_model(tmp_path, capsys):
    # a director model that is not there, and a morph model that is not ONNX: errors of the models,
    # found after the scene loads, placed at the scene line that names each model
    _write_audio(tmp_path / "sounds" / "b.wav")
    (tmp_path / "morph.onnx").write_text("not a model")
    text = (
        "parameters: {tension: {range: [0, 1]}}\n"
        "emitters:\n"
        "  bed:\n"
        "    layers:\n"
        "      - {id: calm, source: sounds/rain.wav, director: true}\n"
        "      - id: texture\n"
        "        source: {morph: [sounds/rain.wav, sounds/b.wav], param: tension, model: morph.onnx}\n"
        "director:\n"
        "  inputs: [tension]\n"
        "  outputs: [bed.calm]\n"
        "  model: models/director.onnx\n"
    )
    path = _scene(tmp_path, text)
    rc, out = _validate(capsys, path)
    assert rc == 1
    lines = [ln for ln in out.splitlines() if ": error: " in ln]
    assert any(ln.startswith(f"{path}:11:10: error: director model") for ln in lines), out
    assert any(ln.startswith(f"{path}:7:81: error: layer 'bed.texture'") for ln in lines), out
