"""The scene runtime through the real engine: generators, events, scatter, overrides, director, errors."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from conftest import write_wav

from middleware.config import EngineConfig
from middleware.errors import SoundscapeError
from middleware.player import ScenePlayer
from middleware.scene.load import load_scene_text

SR = 48000

SCENE = """\
name: runtime-test
parameters:
  speed: {range: [0, 1], default: 0.1}
  threat: {range: [0, 1], default: 0}
states:
  area: [forest, cave]
switches:
  surface: [grass, stone]
buses:
  ambience: {parent: master}
  sfx: {parent: master}
emitters:
  air:
    bus: ambience
    layers:
      - id: wind
        source: {generator: wind, params: {speed: {param: speed, curve: [[0, 0], [1, 1]]}, gustiness: 0.0}}
        mode: loop
        fade_in: 0.05
      - id: drone
        source: sounds/tone.wav
        mode: loop
        gain: -12
        director: true
      - id: drips
        source: sounds/click.wav
        mode: scatter
        interval: [0.1, 0.1]
        when: area == 'cave'
events:
  step:
    bus: sfx
    position: instance
    switch: surface
    choose: {grass: [soft], stone: [hard]}
    layers:
      - id: soft
        source: sounds/click.wav
        mode: oneshot
        gain: -6
      - id: hard
        source: sounds/tone.wav
        mode: oneshot
"""


@pytest.fixture
def player(tmp_path: Path) -> ScenePlayer:
    (tmp_path / "sounds").mkdir()
    t = np.arange(SR // 2) / SR
    write_wav(tmp_path / "sounds" / "tone.wav", 0.3 * np.sin(2 * np.pi * 300 * t))
    click = np.zeros(480)
    click[:48] = 0.5
    write_wav(tmp_path / "sounds" / "click.wav", click)
    scene = load_scene_text(SCENE, str(tmp_path / "scene.yaml"), tmp_path)
    return ScenePlayer(scene, EngineConfig(block=256, max_voices=64, voice_limit=64), seed=3)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


def test_generator_layer_follows_its_parameter(player: ScenePlayer) -> None:
    rt = player.runtime
    rt.override("air.drone", 0.0)  # only the wind
    player.render(SR)
    calm = _rms(player.render(SR))
    rt.set_param("speed", 1.0)
    player.render(SR // 2)
    gale = _rms(player.render(SR))
    assert gale > 2 * calm > 0
    assert any(topic == "generated" and p["generator"] == "wind" for topic, p in rt.events)


def test_scatter_layer_fires_on_its_interval_when_its_condition_holds(player: ScenePlayer) -> None:
    rt = player.runtime
    rt.override("air.drone", 0.0)
    rt.override("air.wind", 0.0)
    player.render(SR // 2)
    started = player.engine.counters["voices_started"]
    rt.set_state("area", "cave")
    player.render(SR)
    fired = player.engine.counters["voices_started"] - started
    assert 9 <= fired <= 11  # every 0.1 s for a second


def test_event_switch_picks_layers_and_instances_end(player: ScenePlayer) -> None:
    rt = player.runtime
    a = rt.trigger("step", position=[1.0, 0.0, -2.0], switches={"surface": "stone"})
    b = rt.trigger("step", position=[-1.0, 0.0, -2.0])
    player.render(SR)
    ends = {p["id"] for topic, p in rt.events if topic == "instance_ended"}
    assert {a, b} <= ends
    with pytest.raises(SoundscapeError, match="unknown or finished instance"):
        rt.stop(a)


def test_override_beats_director_and_director_beats_rules(player: ScenePlayer) -> None:
    rt = player.runtime

    class Half:
        rate_hz = 100.0
        label: ClassVar[dict] = {"model": "test-director", "version": "1"}

        def evaluate(self, env):
            return {"air.drone": 0.5}

    rt.override("air.wind", 0.0)
    player.render(SR // 2)
    full = player.runtime.telemetry()["layers"]["air.drone"]
    assert full["source"] == "rule" and full["weight"] == 1.0
    rt.attach_director(Half())
    player.render(SR // 4)
    d = player.runtime.telemetry()["layers"]["air.drone"]
    assert d["source"] == "director" and d["weight"] == 0.5
    rt.override("air.drone", 0.9)
    player.render(SR // 4)
    o = player.runtime.telemetry()["layers"]["air.drone"]
    assert o["source"] == "override" and o["weight"] == 0.9
    rt.override("air.drone", None)
    player.render(SR // 4)
    assert player.runtime.telemetry()["layers"]["air.drone"]["source"] == "director"


def test_failing_director_falls_back_to_rules_and_keeps_playing(player: ScenePlayer) -> None:
    class Broken:
        rate_hz = 100.0
        label: ClassVar[dict] = {"model": "broken", "version": "0"}

        def evaluate(self, env):
            raise ValueError("shape mismatch")

    rt = player.runtime
    rt.attach_director(Broken())
    out = player.render(SR // 2)
    assert rt.director is None
    assert any(t == "error" and "director failed" in p["message"] for t, p in rt.events)
    assert _rms(out[SR // 4 :]) > 0.01


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda rt: rt.set_param("sped", 0.5), "did you mean 'speed'"),
        (lambda rt: rt.set_param("speed", 2.0), "within 0.0..1.0"),
        (lambda rt: rt.set_param("speed", float("nan")), "finite"),
        (lambda rt: rt.set_state("area", "desert"), "unknown value of state 'area'"),
        (lambda rt: rt.trigger("stomp"), "did you mean 'step'"),
        (lambda rt: rt.trigger("step", position=[0, float("inf"), 0]), "position[1]"),
        (lambda rt: rt.set_object("", [0, 0, 0]), "object name"),
        (lambda rt: rt.snapshot("underwater", True), "unknown snapshot"),
    ],
)
def test_bad_commands_get_clear_errors_and_the_scene_keeps_playing(
    player: ScenePlayer, call, fragment
) -> None:
    player.render(SR // 4)
    with pytest.raises(SoundscapeError) as err:
        call(player.runtime)
    assert fragment in str(err.value)
    assert _rms(player.render(SR // 4)) > 0.01


def test_say_plays_a_labelled_synthetic_line_and_ducks_ambience(tmp_path: Path) -> None:
    from middleware.scene.load import load_scene

    scenes = Path(__file__).resolve().parents[1] / "scenes"
    from middleware.tools.example_assets import ensure_example_assets

    ensure_example_assets()
    player = ScenePlayer(load_scene(scenes / "forest.yaml"), EngineConfig(seed=2), seed=2)
    rt = player.runtime
    player.render(SR)
    amb = player.engine.buses.buses[player.engine.buses.index("ambience")]
    assert amb.duck_db == pytest.approx(0.0, abs=0.5)
    label = rt.say("The bridge is out, stranger.", "ogre")
    assert label["synthetic"] is True and label["preset"] == "ogre"
    player.render(SR)
    said = [p for t, p in rt.events if t == "say"]
    assert said and said[0]["synthetic"] is True and said[0]["bus"] == "voice"
    # the offline path gives the line its subtitle too, as the daemon's does (docs/accessibility.md)
    subs = [p for t, p in rt.events if t == "caption" and p.get("subtitle")]
    assert [s["text"] for s in subs] == ["The bridge is out, stranger."] and subs[0]["speaker"] == "ogre"
    assert amb.duck_db < -5.0  # the voice bus ducks the ambience while it speaks
    with pytest.raises(SoundscapeError):
        rt.say("", "ogre")
    with pytest.raises(SoundscapeError, match="did you mean"):
        rt.say("hello", "orge")


def test_bulk_validated_objects_land_like_single_calls(player: ScenePlayer) -> None:
    """The daemon's bulk path (fields validated by its network process) gives the runtime exactly
    the transforms single set_object calls give, keeps what an update omits, and honours the cap."""
    import middleware.scene.runtime as runtime_mod

    rt = player.runtime
    rt.set_object("car", [1.0, 2.0, 3.0], forward=[1.0, 0.0, 0.0], velocity=[0.0, 0.0, 4.0])
    rt.set_object("door", [5.0, 0.0, 0.0])
    player.render(256)
    single = dict(rt.objects)
    rt.set_objects_validated(
        {"car": ([7.0, 0.0, 1.0], None, None), "lamp": ([0.0, 3.0, 0.0], [0.0, 0.0, 1.0], None)}
    )
    player.render(256)
    assert rt.objects["car"].position == (7.0, 0.0, 1.0)
    assert rt.objects["car"].forward == single["car"].forward == (1.0, 0.0, 0.0)  # omitted: kept
    assert rt.objects["car"].velocity == (0.0, 0.0, 4.0)
    assert rt.objects["lamp"].forward == (0.0, 0.0, 1.0) and rt.objects["door"] == single["door"]
    cap = runtime_mod.MAX_OBJECTS
    try:
        runtime_mod.MAX_OBJECTS = 4
        rt.set_objects_validated(
            {"a": ([0, 0, 0], None, None), "b": ([0, 0, 0], None, None), "car": ([1, 1, 1], None, None)}
        )
        player.render(256)
    finally:
        runtime_mod.MAX_OBJECTS = cap
    assert "a" in rt.objects and "b" not in rt.objects and rt.objects["car"].position == (1, 1, 1)
    assert rt.counters["objects_refused"] == 1
