"""The ML director: training, ONNX export, model card, run-time constraints, teach mode, fallbacks.

Everything is real: numpy training, the onnx package writing the graph, onnxruntime running it,
the scene runtime and engine playing the scene. Models are tiny so the file stays fast.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from middleware.config import EngineConfig
from middleware.errors import ModelError
from middleware.ml.director import Director, check_director, load_director
from middleware.ml.examples import TeachRecorder, examples_digest, load_examples, teach_path
from middleware.ml.nn import MLP
from middleware.ml.onnx_export import mlp_to_onnx
from middleware.ml.sessions import session
from middleware.ml.train_director import DirectorConfig, train_director
from middleware.player import ScenePlayer
from middleware.scene.load import load_scene
from middleware.tools.example_assets import write_wav

SCENE = """
name: demo
parameters:
  intensity: {range: [0, 1], default: 0.3}
  danger: {range: [0, 10], default: 0}
states:
  weather: {values: [clear, rain, storm], default: clear}
emitters:
  bed:
    layers:
      - {id: calm, source: sounds/a.wav, director: true, fade_in: 0.01}
      - {id: rain, source: sounds/b.wav, director: true, fade_in: 0.01}
      - {id: storm, source: sounds/c.wav, director: true, fade_in: 0.01}
director:
  inputs: [intensity, danger, weather]
  outputs: [bed.calm, bed.rain, bed.storm]
  model: models/director.onnx
  examples: director.examples.jsonl
  rate_hz: 50
"""

FAST = DirectorConfig(hidden=(12, 12), steps=600, lr=0.02, seed=3, loo=False)


def _targets(intensity: float, weather: str) -> dict[str, float]:
    """A designer's intended mix: calm fades as it gets worse; rain, then storm, take over."""
    calm = {"clear": 1 - 0.5 * intensity, "rain": 0.4 - 0.3 * intensity, "storm": 0.05}[weather]
    rain = {"clear": 0.0, "rain": 0.3 + 0.6 * intensity, "storm": 0.5}[weather]
    storm = {"clear": 0.0, "rain": 0.1 * intensity, "storm": 0.4 + 0.6 * intensity}[weather]
    return {"bed.calm": round(calm, 3), "bed.rain": round(rain, 3), "bed.storm": round(storm, 3)}


def make_scene(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for name in ("a", "b", "c"):
        write_wav(root / "sounds" / f"{name}.wav", 0.1 * rng.standard_normal(9600))
    lines = [
        json.dumps({"inputs": {"intensity": i, "weather": w}, "weights": _targets(i, w)})
        for w in ("clear", "rain", "storm")
        for i in (0.0, 0.5, 1.0)
    ]
    (root / "director.examples.jsonl").write_text("\n".join(lines) + "\n")
    path = root / "demo.yaml"
    path.write_text(SCENE)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("director")
    scene = load_scene(make_scene(root), check_assets=False)
    t = train_director(scene, FAST, progress=False)
    return root, load_scene(root / "demo.yaml"), t


def test_onnx_output_equals_training_forward_pass(trained):
    t = trained[2]
    sess = session(t.model_path)
    x = np.random.default_rng(7).uniform(0, 1, (500, 5)).astype(np.float32)
    got = sess.run(None, {"features": x})[0]
    ref = t.net.as_float32().forward(x.astype(np.float64))
    assert np.max(np.abs(got - ref)) <= 1e-5  # tolerance: float32 arithmetic vs float64 reference
    assert t.card["onnx_check"]["max_abs_diff"] <= 1e-5


def test_director_fits_the_examples_and_card_documents_them(trained):
    _, scene, t = trained
    d = Director(t.model_path, scene, smoothing=0.0)
    for e in load_examples(scene):
        got = d.evaluate({**scene.default_env(), **e.inputs})
        for uid, w in e.weights.items():
            assert abs(got[uid] - w) < 0.08, (e.inputs, uid, got[uid], w)
    c = t.card
    assert c["outputs"] == ["bed.calm", "bed.rain", "bed.storm"]
    assert c["features"] == ["intensity", "danger", "weather=clear", "weather=rain", "weather=storm"]
    assert c["examples"]["count"] == 9
    assert c["examples"]["sha256"] == examples_digest(load_examples(scene))
    assert c["sha256"] and c["date"].endswith("Z") and c["code_version"]
    assert d.label["hash"] == c["sha256"][:12] and d.label["version"] == c["version"]


def test_leave_one_out_table_against_baselines(tmp_path):
    scene = load_scene(make_scene(tmp_path), check_assets=False)
    cfg = DirectorConfig(hidden=(8, 8), steps=300, lr=0.03, seed=1, loo=True)
    t = train_director(scene, cfg, progress=False)
    ev = t.card["evaluation"]
    assert set(ev["mae"]) == {"model", "nearest", "idw"}
    for m, v in ev["mae"].items():
        assert 0.0 <= v < 0.6, m
    # the nearest-example baseline, computed here independently for the first held-out example
    exs = load_examples(scene)
    assert ev["model_vs_baselines"]["nearest"]["examples"] == len(exs)
    assert "held-out MAE" in t.report and "model vs idw" in t.report


def test_constraints_and_overrides_beat_the_model(trained):
    scene = trained[1]
    player = ScenePlayer(scene, EngineConfig(block=256, max_voices=32, voice_limit=32), seed=1)
    rt = player.runtime
    d = load_director(scene, constraints={"bed.calm": {"max": 0.3}, "bed.storm": {"lock": 0.5}}, smoothing=0)
    rt.attach_director(d)
    rt.set_state("weather", "clear")
    rt.set_param("intensity", 0.0)
    player.render(4800)
    # the model wants calm ~1.0 and storm ~0.0 here; the designer's limits win
    assert d.raw({"intensity": 0.0, "weather": "clear"})[0] > 0.8
    assert rt.director_weights["bed.calm"] == pytest.approx(0.3)
    assert rt.director_weights["bed.storm"] == pytest.approx(0.5)
    layers = rt.emitters["bed"].layers
    assert layers["calm"].weight_source == "director" and layers["calm"].weight == pytest.approx(0.3)
    # a live override beats model and constraints alike, and shows in the engine gain
    rt.override("bed.calm", 0.05)
    player.render(4800)
    assert layers["calm"].weight_source == "override" and layers["calm"].weight == pytest.approx(0.05)
    assert layers["calm"].sent["gain_db"] == pytest.approx(20 * np.log10(0.05), abs=0.01)
    rt.override("bed.calm", None)
    player.render(4800)
    assert layers["calm"].weight_source == "director"
    ticks = [p for topic, p in rt.events if topic == "director_tick"]
    assert ticks and ticks[-1]["hash"] == d.label["hash"]


def test_teach_mode_records_examples_and_retraining_follows_them(tmp_path):
    scene = load_scene(make_scene(tmp_path), check_assets=False)
    t1 = train_director(scene, FAST, progress=False)
    scene = load_scene(tmp_path / "demo.yaml")
    env = {**scene.default_env(), "intensity": 0.2, "weather": "storm"}
    before = Director(t1.model_path, scene, smoothing=0).evaluate(env)["bed.calm"]
    assert before < 0.3  # the examples say: little calm in a storm

    player = ScenePlayer(scene, EngineConfig(block=256, max_voices=32, voice_limit=32))
    rt = player.runtime
    rt.attach_director(load_director(scene))
    rec = TeachRecorder.for_scene(scene, interval=0.05)
    rt.on_override = rec.record
    rt.set_state("weather", "storm")
    rt.set_param("intensity", 0.2)
    player.render(512)
    for w in (0.5, 0.7, 0.9):  # a slider drag: one example (the last value) for this situation
        rt.override("bed.calm", w)
        player.render(256)
    rt.set_param("intensity", 0.8)
    player.render(256)
    rt.override("bed.calm", 0.85)
    player.render(256)
    rec.close()
    lines = [json.loads(s) for s in teach_path(scene).read_text().splitlines()]
    assert [(ln["inputs"]["intensity"], ln["weights"]["bed.calm"]) for ln in lines] == [
        (0.2, 0.9),
        (0.8, 0.85),
    ]
    assert all(ln["inputs"]["weather"] == "storm" and ln["source"] == "teach" for ln in lines)

    t2 = train_director(scene, FAST, progress=False)
    assert t2.card["examples"]["count"] == 11 and t2.card["version"] == t1.card["version"] + 1
    after = Director(t2.model_path, scene, smoothing=0).evaluate(env)["bed.calm"]
    assert after > before + 0.4, (before, after)


def _write_model(path: Path, n_in: int, n_out: int, input_name: str = "features") -> None:
    net = MLP.init([n_in, 4, n_out], ["tanh", "sigmoid"], np.random.default_rng(0))
    path.write_bytes(mlp_to_onnx(net, input_name, "weights", {"kind": "soundscape.director"}, "g"))


BROKEN = {
    "missing file": lambda p: p.unlink(),
    "corrupt bytes": lambda p: p.write_bytes(b"\x08\x07garbage" + bytes(range(200))),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:100]),
    "wrong input name": lambda p: _write_model(p, 5, 3, input_name="x"),
    "wrong input shape": lambda p: _write_model(p, 4, 3),
    "wrong output shape": lambda p: _write_model(p, 5, 2),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_broken_model_raises_model_error_and_runtime_keeps_playing(tmp_path, kind):
    scene_file = make_scene(tmp_path)
    model = tmp_path / "models" / "director.onnx"
    model.parent.mkdir()
    _write_model(model, 5, 3)
    BROKEN[kind](model)
    scene = load_scene(scene_file, check_assets=False)
    with pytest.raises(ModelError) as err:
        load_director(scene)
    assert "director model" in str(err.value) or "cannot load" in str(err.value)
    problems = check_director(scene)
    assert len(problems) == 1 and problems[0] == str(err.value)

    player = ScenePlayer(scene, EngineConfig(block=256, max_voices=32, voice_limit=32))
    rt = player.runtime
    try:
        rt.attach_director(load_director(scene))
    except ModelError:
        rt.attach_director(None)  # what the daemon does: report, keep the rules
    out = player.render(9600)
    assert np.sqrt(np.mean(out[4800:] ** 2)) > 0.01  # the rule-based mix plays (all layers at weight 1)
    assert ("director", {"status": "rules", "model": None, "fallback": "rules"}) in rt.events


def test_examples_are_checked_with_file_and_line(tmp_path):
    scene_file = make_scene(tmp_path)
    ex = tmp_path / "director.examples.jsonl"
    ex.write_text(ex.read_text() + '{"inputs": {"intensty": 0.5}, "weights": {"bed.calm": 1}}\n')
    scene = load_scene(scene_file, check_assets=False)
    with pytest.raises(ModelError, match=r"director.examples.jsonl:10: unknown input 'intensty'"):
        load_examples(scene)
    ex.write_text('{"inputs": {"weather": "snow"}, "weights": {"bed.calm": 1}}\n')
    with pytest.raises(ModelError, match=r":1: input 'weather'='snow': must be one of clear, rain, storm"):
        load_examples(scene)
    ex.write_text('{"inputs": {}, "weights": {"bed.calm": 1.5}}\n')
    with pytest.raises(ModelError, match=r"must be a number within 0..1"):
        load_examples(scene)


FOREST_DIRECTOR = """
director:
  inputs: [intensity, weather, time_of_day]
  outputs: [weather_bed.rain, weather_bed.downpour, weather_bed.wind]
  model: forest/models/director.onnx
  examples: forest/director.examples.jsonl
  rate_hz: 20
"""


def test_committed_forest_models_match_their_cards_and_the_scene():
    from middleware.ml.cards import read_card, sha256_file
    from middleware.ml.morph import MorphModel
    from middleware.scene.load import load_scene_text
    from middleware.tools.example_assets import default_scenes_dir, ensure_example_assets

    root = default_scenes_dir()
    text = (root / "forest.yaml").read_text()
    if "\ndirector:" not in text:  # until forest.yaml declares it (see docs/ml-guide.md)
        text += FOREST_DIRECTOR
    scene = load_scene_text(text, file=str(root / "forest.yaml"), scene_dir=root, check_assets=False)
    model = root / "forest" / "models" / "director.onnx"
    card = read_card(model)
    assert card["sha256"] == sha256_file(model)
    assert card["examples"]["sha256"] == examples_digest(load_examples(scene))  # not stale
    d = Director(model, scene, smoothing=0)
    storm = d.evaluate({**scene.default_env(), "weather": "storm", "intensity": 1.0})
    clear = d.evaluate({**scene.default_env(), "weather": "clear", "intensity": 0.0})
    assert storm["weather_bed.downpour"] > 0.8 > 0.1 > clear["weather_bed.downpour"]
    ev = card["evaluation"]["mae"]
    assert ev["model"] < min(ev["nearest"], ev["idw"])  # it earns its place on these examples
    ensure_example_assets()
    morph = root / "forest" / "models" / "rain_morph.onnx"
    mcard = read_card(morph)
    assert mcard["sha256"] == sha256_file(morph) and mcard["size_bytes"] < 1_000_000
    for s in mcard["sources"]:
        assert s["sha256"] == sha256_file(root / "forest" / "sounds" / s["file"]), s["file"]
    assert MorphModel(morph).n_anchors == 2


def test_event_rate_signal_feeds_the_director(tmp_path):
    """A derived input: the rate of an event over a window, filled in before each evaluation."""
    from middleware.ml.signals import EventRate, SignalDirector

    scene_file = make_scene(tmp_path)
    # 'danger' stands in for a derived signal: explosions per second over 4 s, range 0..10
    exs = [
        json.dumps(
            {"inputs": {"danger": d, "weather": "clear", "intensity": 0.5}, "weights": {"bed.storm": w}}
        )
        for d, w in ((0, 0.0), (1, 0.3), (2, 0.6), (4, 0.9), (10, 1.0))
    ]
    (tmp_path / "director.examples.jsonl").write_text("\n".join(exs) + "\n")
    scene = load_scene(scene_file, check_assets=False)
    train_director(scene, FAST, progress=False)
    scene = load_scene(scene_file)
    now = [0.0]
    sd = SignalDirector(
        load_director(scene, smoothing=0), scene, {"danger": EventRate("boom", 4.0)}, lambda: now[0]
    )
    env = {**scene.default_env(), "intensity": 0.5}
    quiet = sd.evaluate(env)["bed.storm"]
    for k in range(12):  # 12 booms in 4 s -> 3 per second
        sd.note("boom", t=k / 3)
    now[0] = 4.0
    assert sd.values() == {"danger": pytest.approx(3.0, abs=0.3)}
    busy = sd.evaluate(env)["bed.storm"]
    now[0] = 20.0  # the window has passed: back to calm
    assert quiet < 0.2 and busy > 0.6 and sd.evaluate(env)["bed.storm"] == pytest.approx(quiet, abs=1e-6)
    with pytest.raises(ModelError, match="declare it as a parameter"):
        SignalDirector(sd.inner, scene, {"boom_rate": EventRate("boom")}, lambda: 0.0)


def test_model_notes_flag_a_stale_director_and_check_morphs(trained, tmp_path):
    from middleware.ml.director import check_morphs, model_notes

    root, scene, _ = trained
    assert model_notes(scene) == [] and check_morphs(scene) == []
    ex = root / "director.examples.jsonl"
    old = ex.read_text()
    try:
        ex.write_text(old + '{"inputs": {"intensity": 0.1}, "weights": {"bed.rain": 0.2}}\n')
        notes = model_notes(scene)
        assert len(notes) == 1 and "stale" in notes[0]
    finally:
        ex.write_text(old)
    (tmp_path / "sounds").mkdir()
    for n in ("a", "b"):
        write_wav(tmp_path / "sounds" / f"{n}.wav", np.zeros(4800))
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "m.onnx").write_bytes(b"junk")
    (tmp_path / "s.yaml").write_text(
        "emitters:\n  e:\n    layers:\n      - id: t\n        source: {morph: [sounds/a.wav, sounds/b.wav],"
        " model: models/m.onnx}\n"
    )
    problems = check_morphs(load_scene(tmp_path / "s.yaml"))
    assert (
        len(problems) == 1
        and problems[0].startswith("layer 'e.t': morph model")
        and "cannot load" in problems[0]
    )


def test_training_is_seeded(tmp_path):
    scene = load_scene(make_scene(tmp_path), check_assets=False)
    a = train_director(scene, FAST, out=tmp_path / "a.onnx", progress=False)
    b = train_director(scene, FAST, out=tmp_path / "b.onnx", progress=False)
    c = train_director(
        scene, DirectorConfig(**{**FAST.__dict__, "seed": 4}), out=tmp_path / "c.onnx", progress=False
    )
    assert a.model_path.read_bytes() == b.model_path.read_bytes()
    assert a.model_path.read_bytes() != c.model_path.read_bytes()


def test_threaded_director_returns_the_previous_tick_and_passes_errors_on(trained):
    from middleware.ml.director import ThreadedDirector

    scene = trained[1]
    inner = load_director(scene, smoothing=0)
    td = ThreadedDirector(inner)
    calm = {**scene.default_env(), "weather": "clear", "intensity": 0.0}
    storm = {**scene.default_env(), "weather": "storm", "intensity": 1.0}
    first = td.evaluate(calm)  # synchronous the first time
    assert first["bed.calm"] > 0.8
    assert td.evaluate(storm) == first  # returns the last result at once, works on the new env
    for _ in range(200):
        if td.evaluate(storm)["bed.calm"] < 0.3:
            break
        time.sleep(0.005)
    assert td.evaluate(storm)["bed.storm"] > 0.8

    class Boom:
        rate_hz, label = 10.0, {"model": "boom"}

        def evaluate(self, env):
            raise RuntimeError("model exploded")

    td.inner = Boom()
    td.evaluate(calm)
    for _ in range(200):
        try:
            td.evaluate(calm)
        except RuntimeError as exc:
            assert "exploded" in str(exc)
            break
        time.sleep(0.005)
    else:
        raise AssertionError("the worker's error never reached evaluate")
    td.close()
