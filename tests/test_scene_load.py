"""Loading scenes into definitions: the documented examples, the definitions' helpers, and limits."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest

from middleware.cli import main as cli_main
from middleware.errors import SceneError
from middleware.scene.load import check_scene, load_scene, load_scene_text
from middleware.scene.model import (
    BusDef,
    MusicDef,
    PathDef,
    RandomSource,
    SampleSource,
    SceneDef,
    SegmentDef,
    SequenceSource,
    semitones_to_ratio,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "scene-format.md"
ASSET = re.compile(r"[\w/]+\.(?:wav|ogg|flac|mp3|onnx|jsonl)")


def doc_blocks() -> list[tuple[str, str]]:
    """Every ```yaml block of the format reference, with the heading it sits under."""
    text = DOCS.read_text(encoding="utf-8")
    out, heading = [], ""
    for part in re.split(r"(^## .*$)", text, flags=re.M):
        if part.startswith("## "):
            heading = part[3:].strip()
            continue
        out += [(heading, b) for b in re.findall(r"```yaml\n(.*?)```", part, re.S)]
    return out


def materialise(text: str, folder: Path) -> Path:
    """Write a scene and a file for every asset it names: 10 ms of silence in each audio format (the
    loader probes audio headers), empty models and examples (their own modules read those)."""
    import soundfile

    for rel in ASSET.findall(text):
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.suffix in (".wav", ".ogg", ".flac", ".mp3"):
            soundfile.write(p, np.zeros((480, 1)), 48000, format=p.suffix[1:].upper())
        else:
            p.write_bytes(b"")
    path = folder / "scene.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def complete_example(tmp_path: Path) -> SceneDef:
    (_, text) = next(b for b in doc_blocks() if b[0] == "Complete example")
    return load_scene(materialise(text, tmp_path))


BLOCKS = doc_blocks()


@pytest.mark.parametrize(("heading", "text"), BLOCKS, ids=[f"{i}-{h}" for i, (h, _) in enumerate(BLOCKS)])
def test_every_documented_example_loads(heading, text, tmp_path):
    scene = load_scene(materialise(text, tmp_path))
    assert "master" in scene.buses


def test_docs_have_an_example_per_feature():
    headings = {h for h, _ in BLOCKS}
    for feature in [
        "Parameters",
        "States and switches",
        "Buses",
        "Snapshots",
        "Emitters",
        "Layers",
        "Sources",
        "Curves and bound values",
        "Conditions",
        "Events",
        "Music",
        "Director",
    ]:
        assert feature in headings, feature


def test_complete_example_definitions(tmp_path):
    s = complete_example(tmp_path)
    assert s.name == "harbour"
    assert s.parameters["intensity"].seek == 0.5 and s.parameters["time_of_day"].default == 18
    assert s.states["weather"].values == ("clear", "rain", "storm") and s.states["weather"].default == "clear"
    assert s.states["area"].default == "dock"
    assert s.buses["music"].ducking[0].by == "voice" and s.buses["music"].ducking[0].amount_db == -9
    assert s.buses["ambience"].reverb.room_size == 0.8 and s.buses["master"].parent is None
    assert s.bus_order()[0].name == "master"
    assert s.snapshots["underwater"].buses["master"].lowpass_hz == 700
    assert s.snapshots["underwater"].blend_out == 0.8
    sea = s.emitters["sea"]
    assert not sea.spatial and s.emitters["gulls"].spatial and s.emitters["boat"].path is not None
    assert [layer.uid for layer in sea.layers] == ["sea.waves", "sea.rain"]
    gulls = s.emitters["gulls"].layers[0]
    assert gulls.mode == "scatter" and gulls.interval == (2.0, 7.0) and gulls.jitter == (30.0, 5.0, 30.0)
    assert isinstance(gulls.source, RandomSource)
    assert [i.weight for i in gulls.source.items] == [1.0, 1.0, 0.5]
    assert gulls.source.items[0].source.path == "sounds/gull1.wav"
    assert gulls.source.items[0].source.file == (tmp_path / "sounds/gull1.wav").resolve()
    fs = s.events["footstep"]
    assert fs.position is None and fs.follows == "player" and fs.parameters["speed"].max == 8
    assert [layer.id for layer in fs.layers_for("stone")] == ["cobbles"]
    assert isinstance(fs.layers[1].source, SequenceSource)
    assert s.events["door_open"].position == "instance"
    assert s.music.tempo == 96 and s.music.start == "calm" and s.music.stingers["hit"].at == "beat"
    assert s.music.transition("calm", "fight").stinger == "hit"
    assert s.music.transition("fight", "calm").at == "bar"
    assert s.director.outputs == ("sea.rain",)
    assert s.listener.position == (0.0, 1.7, 0.0)
    assert len(s.asset_files()) == len(set(s.asset_files())) == 14


def test_bound_values_follow_their_curves(tmp_path):
    s = complete_example(tmp_path)
    waves, rain = s.emitters["sea"].layers
    for w in np.linspace(0, 1, 11):
        env = {**s.default_env(), "wind": float(w), "intensity": 0.25}
        t = w * w * (3 - 2 * w)  # smoothstep between the two points
        assert waves.gain.evaluate(env) == pytest.approx(-12 + 12 * t)
        want = np.interp(0.25, [0, 1], [-40, 0]) + np.interp(w, [0, 1], [-3, 0])  # two bindings add in dB
        assert rain.gain.evaluate(env) == pytest.approx(want)
    assert waves.names == {"wind"}
    assert rain.names == {"weather", "intensity", "wind"}
    env = s.default_env()
    assert not rain.active(env) and rain.active({**env, "weather": "storm"})


def test_layer_condition_lists_names_and_evaluates(tmp_path):
    s = complete_example(tmp_path)
    calls = s.emitters["gulls"].layers[0]
    assert calls.when.names == {"weather", "time_of_day"}
    assert calls.when.evaluate({"weather": "clear", "time_of_day": 12.0})
    assert not calls.when.evaluate({"weather": "clear", "time_of_day": 23.0})


def test_definitions_are_immutable(tmp_path):
    s = complete_example(tmp_path)
    with pytest.raises(AttributeError):
        s.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.emitters["x"] = None  # type: ignore[index]


def test_music_grid_boundaries_are_exact_to_the_sample():
    music = MusicDef(
        segments={"a": SegmentDef("a", SampleSource("a.wav", Path("a.wav")))}, start="a", tempo=130
    )
    rate, origin = 48000, 1000
    bar = 60 / 130 * 4 * rate  # 88615.38... frames: not an integer
    for now in [origin, origin + 1, origin + 88615, origin + 88616, origin + 10 * int(bar) + 7]:
        got = music.next_boundary_frame(now, origin, "bar", rate)
        k = int(np.ceil((now - origin) / bar - 1e-9))
        assert got == origin + round(k * bar) or got == origin + round((k + 1) * bar)
        assert got >= now and got - now < bar + 1
    # after 1000 bars the grid has not drifted by more than half a frame
    assert music.next_boundary_frame(origin + round(999.5 * bar), origin, "bar", rate) == origin + round(
        1000 * bar
    )
    assert music.next_boundary_frame(5, 0, "beat", rate) == round(60 / 130 * rate)
    assert music.next_boundary_frame(123, 0, "immediate", rate) == 123


def test_path_motion():
    p = PathDef(((0.0, 0.0, 0.0), (10.0, 0.0, 0.0)), speed=2.0, loop=False)
    assert p.position_at(0) == (0.0, 0.0, 0.0)
    assert p.position_at(2.5) == pytest.approx((5.0, 0.0, 0.0))
    assert p.position_at(7.5) == pytest.approx((5.0, 0.0, 0.0))  # on its way back
    loop = PathDef(((0.0, 0.0, 0.0), (10.0, 0.0, 0.0), (10.0, 0.0, 10.0)), speed=1.0, loop=True)
    assert loop.length == pytest.approx(20 + 200**0.5)
    assert loop.position_at(loop.length + 15) == pytest.approx((10.0, 0.0, 5.0))


def test_semitones():
    assert semitones_to_ratio(12) == 2.0 and semitones_to_ratio(-12) == 0.5


def test_minimal_scene_gets_defaults(tmp_path):
    s = load_scene_text("emitters: {hum: {layers: [{id: a, source: {generator: wind}}]}}", "x.yaml", tmp_path)
    assert s.name == "x" and list(s.buses) == ["master"]
    layer = s.emitters["hum"].layers[0]
    assert (layer.mode, layer.fade_in, layer.gain.evaluate({}), layer.lowpass, layer.when) == (
        "loop",
        0.25,
        0.0,
        None,
        None,
    )
    assert s.buses["master"] == BusDef("master", parent=None)


def test_check_assets_false_still_keeps_paths_inside(tmp_path):
    text = "emitters: {e: {layers: [{id: a, source: missing.wav}, {id: b, source: ../out.wav}]}}"
    (tmp_path / "s.yaml").write_text(text)
    _, issues = check_scene(tmp_path / "s.yaml", check_assets=False)
    assert [i.line for i in issues] == [1]
    assert "leaves the scene's folder" in issues[0].message
    _, issues = check_scene(tmp_path / "s.yaml")
    assert len(issues) == 2


def test_symlink_out_of_the_folder_is_refused(tmp_path):
    outside = tmp_path / "outside.wav"
    outside.write_bytes(b"")
    scene_dir = tmp_path / "scene"
    scene_dir.mkdir()
    (scene_dir / "link.wav").symlink_to(outside)
    (scene_dir / "s.yaml").write_text("emitters: {e: {layers: [{id: a, source: link.wav}]}}")
    _, issues = check_scene(scene_dir / "s.yaml")
    assert issues and "leaves the scene's folder" in issues[0].message


def test_alias_expansion_is_bounded(tmp_path):
    items = ", ".join(["*s"] * 600)
    lines = [
        "emitters:",
        "  e:",
        "    layers:",
        f"      - {{id: l0, source: &src {{random: [&s a.wav, {items}]}}}}",
    ]
    lines += [f"      - {{id: l{i}, source: *src}}" for i in range(1, 200)]
    (tmp_path / "a.wav").write_bytes(b"")
    (tmp_path / "bomb.yaml").write_text("\n".join(lines))
    t0 = time.perf_counter()
    _, issues = check_scene(tmp_path / "bomb.yaml")
    assert time.perf_counter() - t0 < 10
    assert any("too large" in i.message for i in issues)


def test_recursive_alias_does_not_hang(tmp_path):
    (tmp_path / "r.yaml").write_text("emitters: &e\n  x:\n    layers: &l [*l]\n  y: *e\n")
    with pytest.raises(SceneError):
        load_scene(tmp_path / "r.yaml")


def test_python_tags_are_not_constructed(tmp_path):
    (tmp_path / "t.yaml").write_text("name: !!python/object/apply:os.system ['echo hacked']\n")
    _, issues = check_scene(tmp_path / "t.yaml")
    assert issues  # refused as a wrong type, never executed


def test_missing_file_is_an_issue_not_a_crash(tmp_path):
    _, issues = check_scene(tmp_path / "nope.yaml")
    assert issues[0].message == "scene file not found"


def test_validate_command_on_a_valid_scene(tmp_path, capsys):
    (_, text) = next(b for b in BLOCKS if b[0] == "Complete example")
    path = materialise(text, tmp_path)
    assert cli_main(["validate", str(path)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith(f"{path}: ok, scene 'harbour'")


def test_libyaml_and_pure_python_composers_report_the_same(monkeypatch):
    import yaml

    from middleware.scene import load as load_mod

    corpus = sorted((Path(__file__).parent / "broken_scenes").glob("*.yaml"))
    fast = {p: load_mod.check_scene(p)[1] for p in corpus}
    monkeypatch.delattr(yaml, "CSafeLoader", raising=False)
    slow = {p: load_mod.check_scene(p)[1] for p in corpus}
    assert fast == slow


def test_yaml_11_booleans_read_as_words_where_names_are_expected(tmp_path):
    s = load_scene_text(
        "states: {alarm: [on, off], answer: {values: [yes, no], default: no}}\n"
        "emitters: {e: {layers: [{id: a, source: {generator: wind}, when: \"alarm == 'on'\"}]}}",
        "b.yaml",
        tmp_path,
    )
    assert s.states["alarm"].values == ("on", "off") and s.states["answer"].default == "no"
