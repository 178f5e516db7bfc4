"""Bus effect chains end to end: scene YAML -> engine instances, side-chains between buses, snapshot
overrides that glide, the master bus's hosting slot, file:line:col errors and schema agreement."""

from __future__ import annotations

import math
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from conftest import SR, sine
from test_schema_loader_agree import verdict

from middleware.config import EngineConfig
from middleware.engine import BusSpec, Engine
from middleware.engine.effects import REGISTRY, EffectSpec
from middleware.errors import EngineError
from middleware.player import ScenePlayer
from middleware.scene.load import check_scene_text, load_scene_text
from middleware.scene.schema import scene_schema

CHAIN = """
buses:
  dialogue: {gain_db: -120}
  music:
    effects:
      - {type: eq, bands: [{kind: lowshelf, freq_hz: 120, gain_db: 3}, {freq_hz: 2500, gain_db: -4, q: 1.5}]}
      - {type: compressor, sidechain: dialogue, threshold_db: -30, ratio: 4}
      - {type: delay, time: 0.25, feedback: 0.4, mix: 0.3}
snapshots:
  muffled:
    blend: 0.5
    buses:
      music:
        effects:
          eq: {bands: [{gain_db: -6}]}
          delay: {mix: 0.8}
"""


def _bus(eng: Engine, name: str):
    return eng.buses.buses[eng.buses.index(name)]


def test_scene_chain_builds_instances_in_order(tmp_path: Path) -> None:
    scene = load_scene_text(CHAIN, str(tmp_path / "s.yaml"), tmp_path)
    player = ScenePlayer(scene, EngineConfig(block=256), seed=1)
    player.render(512)
    music = _bus(player.engine, "music")
    assert [fx.spec.type for fx in music.effects] == ["eq", "compressor", "delay"]
    assert music.chain[-3:] == music.effects  # after the bus's own filters (and reverb)
    comp = music.effects[1]
    assert comp.key is player.engine.buses.keys[player.engine.buses.index("dialogue")]
    order = player.engine.buses.order
    assert order.index(player.engine.buses.index("dialogue")) < order.index(
        player.engine.buses.index("music")
    )


def test_snapshot_glides_effect_parameters_to_its_overrides(tmp_path: Path) -> None:
    scene = load_scene_text(CHAIN, str(tmp_path / "s.yaml"), tmp_path)
    player = ScenePlayer(scene, EngineConfig(block=256), seed=1)
    player.render(256)
    delay = _bus(player.engine, "music").effects[2]
    eq = _bus(player.engine, "music").effects[0]
    mix_i = 2  # time, feedback, mix
    assert delay.params.value[mix_i] == pytest.approx(0.3)
    player.runtime.snapshot("muffled", True)
    seen = []
    for _ in range(int(0.6 * SR) // 256):
        player.render(256)
        seen.append(delay.params.value[mix_i])
    assert seen[-1] == pytest.approx(0.8, abs=1e-9)
    steps = np.diff([0.3, *seen])
    assert np.all(steps >= -1e-12) and np.max(steps) < 0.05  # a glide, never a jump
    assert eq.params.value[2] == pytest.approx(-6.0)  # band 1's gain_db (kind, freq, gain, q)
    assert eq.params.value[4 + 2] == pytest.approx(-4.0)  # band 2 untouched
    player.runtime.snapshot("muffled", False)
    player.render(SR)
    assert delay.params.value[mix_i] == pytest.approx(0.3, abs=1e-9)


def test_sidechain_compresses_music_while_dialogue_plays() -> None:
    """Music's reduction with a 0.5 peak sine on dialogue equals the static curve at that peak level
    (attack 1 ms, release 2 s: the smoothed gain rests at the peaks' reduction; 0.3 dB covers the
    sine's between-peak recovery over one period)."""

    def music_level(with_dialogue: bool) -> float:
        eng = Engine(EngineConfig(block=256, max_voices=8, voice_limit=8))
        eng.add_bus(BusSpec("music", gain_db=0.0))
        comp = EffectSpec(
            "compressor",
            {
                "sidechain": "dialogue",
                "threshold_db": -30.0,
                "ratio": 4.0,
                "knee_db": 0.0,
                "attack": 0.001,
                "release": 2.0,
            },
        )
        eng.set_bus("music", effects=(comp,))
        eng.add_bus(BusSpec("dialogue", gain_db=-120.0))  # added after music: the graph reorders
        eng.bank.add("m", sine(440.0, 2.0, amp=0.05))
        eng.bank.add("d", sine(200.0, 2.0, amp=0.5 * math.sqrt(2)))  # mono -> equal-power centre
        eng.play("m", bus="music", loop=True)
        if with_dialogue:
            eng.play("d", bus="dialogue", loop=True)
        out = eng.render(SR).astype(np.float64)
        return 10 * np.log10(np.mean(out[SR // 2 :] ** 2))

    expected = (1 / 4 - 1) * (20 * math.log10(0.5) - -30.0)  # -17.97 dB
    assert music_level(True) - music_level(False) == pytest.approx(expected, abs=0.3)


def test_same_shape_glides_other_shape_swaps_instances() -> None:
    eng = Engine(EngineConfig(block=256))
    eng.add_bus(BusSpec("fx", effects=(EffectSpec("delay"),)))
    eng.render(256)
    first = _bus(eng, "fx").effects[0]
    eng.set_bus("fx", effects=(EffectSpec("delay", {"mix": 0.9}),))
    eng.render(256)
    assert _bus(eng, "fx").effects[0] is first and first.params.target[2] == 0.9
    eng.set_bus("fx", effects=(EffectSpec("delay"), EffectSpec("eq", {"bands": [{}]})))
    eng.render(256)
    assert [f.spec.type for f in _bus(eng, "fx").effects] == ["delay", "eq"]
    assert _bus(eng, "fx").effects[0] is not first
    with pytest.raises(EngineError, match="two effects named"):
        eng.set_bus("fx", effects=(EffectSpec("delay"), EffectSpec("delay")))


class HalfGain:
    """What the hearing-compensation helper plugs in: prepare/process/reset, in place."""

    def __init__(self) -> None:
        self.prepared: tuple[float, int] | None = None

    def prepare(self, sample_rate: float, block: int) -> None:
        self.prepared = (sample_rate, block)

    def process(self, x: np.ndarray) -> None:
        x *= np.float32(0.5)

    def reset(self) -> None:
        pass


def test_master_slot_hosts_an_instance_before_the_limiter() -> None:
    def render(slot: object | None, remove: bool = False) -> np.ndarray:
        eng = Engine(EngineConfig(block=256))
        eng.bank.add("t", sine(500.0, 1.0, amp=0.1))
        eng.play("t", loop=True)
        if slot is not None:
            eng.set_master_effect("hearing", slot)
            if remove:
                eng.set_master_effect("hearing", None)
        return eng.render(SR // 2)

    plain = render(None)
    fx = HalfGain()
    halved = render(fx)
    assert fx.prepared == (SR, 256)
    assert np.max(np.abs(halved - 0.5 * plain)) < 1e-6  # the limiter is transparent at this level
    assert np.max(np.abs(render(HalfGain(), remove=True) - plain)) < 1e-7
    with pytest.raises(EngineError, match="has no prepare"):
        Engine(EngineConfig(block=256)).set_master_effect("x", object())


@pytest.mark.parametrize(
    ("text", "where", "fragment"),
    [
        ("buses: {m: {effects: [{type: eqq}]}}", (1, 30), "not one of"),
        ("buses:\n  m:\n    effects:\n      - {type: delay, feedback: 1.2}\n", (4, 33), "out of range"),
        ("buses: {m: {effects: [{time: 0.2}]}}", (1, 23), "missing required key 'type'"),
        ("buses: {m: {effects: [{type: delay}, {type: delay}]}}", (1, 38), "two effects named"),
        ("buses: {m: {effects: [{type: eq, bands: []}]}}", (1, 41), "expected"),
        ("buses: {m: {effects: [{type: compressor, sidechain: voice}]}}", (1, 53), "unknown bus"),
        (
            "buses: {m: {effects: [{type: delay}]}}\n"
            "snapshots: {s: {buses: {m: {effects: {dealy: {mix: 1}}}}}}",
            (2, 39),
            "no effect named 'dealy'",
        ),
        (
            "buses: {m: {effects: [{type: delay}]}}\n"
            "snapshots: {s: {buses: {m: {effects: {delay: {mix: 2}}}}}}",
            (2, 52),
            "out of range",
        ),
        (
            "buses: {m: {effects: [{type: delay}]}}\n"
            "snapshots: {s: {buses: {m: {effects: {delay: {tim: 1}}}}}}",
            (2, 47),
            "no parameter 'tim'",
        ),
    ],
)
def test_bad_effects_are_reported_at_their_line_and_column(tmp_path: Path, text, where, fragment) -> None:
    _, issues = check_scene_text(text, "fx.yaml", tmp_path)
    hits = [i for i in issues if fragment in i.message]
    assert hits, [i.format() for i in issues]
    assert (hits[0].line, hits[0].col) == where, hits[0].format()


@pytest.mark.parametrize(
    "text",
    [
        CHAIN,
        "buses: {m: {effects: [{type: eqq}]}}",
        "buses: {m: {effects: [{type: delay, feedback: 1.2}]}}",
        "buses: {m: {effects: [{time: 0.2}]}}",
        "buses: {m: {effects: [{type: eq, bands: [{kind: peak, freq_hz: 1000, gain_db: 30}]}]}}",
        "buses: {m: {effects: [{type: eq, bands: [{kind: tilt}]}]}}",
        "buses: {m: {effects: [{type: delay, mix: .nan}]}}",
        "buses: {m: {effects: [{type: delay, colour: red}]}}",
        "buses: {m: {effects: {type: delay}}}",
        "buses: {master: {effects: [{type: compressor, threshold_db: -12, ratio: 20}]}}",
        "buses: {m: {effects: [{type: delay}]}}\nsnapshots: {s: {buses: {m: {effects: {delay: {mix: x}}}}}}",
    ],
)
def test_schema_and_loader_agree_on_effects(tmp_path: Path, text: str) -> None:
    validator = jsonschema.Draft202012Validator(scene_schema())
    outcome, detail = verdict(validator, text, tmp_path)
    assert outcome == "agree", detail


def test_every_effect_parameter_is_in_the_schema_with_its_range_and_unit() -> None:
    defs = scene_schema()["$defs"]
    assert {r["$ref"].rsplit("/", 1)[1] for r in defs["Effect"]["anyOf"]} == {
        n.capitalize() + "Effect" for n in REGISTRY
    }
    for name, kind in REGISTRY.items():
        props = defs[name.capitalize() + "Effect"]["properties"]
        for p in kind.params:
            assert p.name in props, (name, p.name)
            if p.bounds is not None and not p.optional:
                assert props[p.name]["minimum"] == p.bounds.lo and props[p.name]["maximum"] == p.bounds.hi
                assert props[p.name]["default"] == p.default
                assert p.unit in props[p.name]["description"]


def test_the_format_reference_documents_every_effect_parameter_with_its_range() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "scene-format.md").read_text(encoding="utf-8")
    section = doc.split("## Bus effects", 1)[1].split("\n## ", 1)[0]
    for name, kind in REGISTRY.items():
        assert f"`{name}`" in section, name
        params = list(kind.params) + (list(kind.group.params) if kind.group else [])
        for p in params:
            assert f"`{p.name}`" in section, (name, p.name)
            if p.bounds is not None and name not in ("reverb",):
                assert f"{p.bounds.lo:g}..{p.bounds.hi:g}" in section, (name, p.name)


def test_sidechain_loops_fall_back_to_the_previous_block_and_late_buses_are_wired_when_added() -> None:
    """music's compressor keyed by its own parent (a loop: the parent is mixed after music): the
    graph keeps children-before-parents and the key is the parent's previous block. A side-chain
    naming a bus not added yet listens to its own input until that bus arrives."""
    eng = Engine(EngineConfig(block=256))
    eng.add_bus(BusSpec("group"))
    comp = EffectSpec("compressor", {"sidechain": "group", "threshold_db": -40.0, "attack": 0.0})
    eng.add_bus(BusSpec("music", parent="group", effects=(comp,)))
    late = EffectSpec("compressor", {"sidechain": "later", "threshold_db": -40.0}, name="late")
    eng.add_bus(BusSpec("sfx", effects=(late,)))
    eng.bank.add("t", sine(300.0, 1.0, amp=0.5))
    eng.play("t", bus="music", loop=True)
    out = eng.render(SR // 4)
    g = eng.buses
    order = g.order
    assert order.index(g.index("music")) < order.index(g.index("group")) < order.index(0)
    music = _bus(eng, "music").effects[0]
    assert music.key is g.keys[g.index("group")] and music.reduction_db < -10.0
    assert np.all(np.isfinite(out))
    assert _bus(eng, "sfx").effects[0].key is None
    eng.add_bus(BusSpec("later"))
    eng.render(256)
    assert _bus(eng, "sfx").effects[0].key is g.keys[g.index("later")]


def test_hot_reload_glides_a_changed_chain_and_swaps_a_reshaped_one(tmp_path: Path) -> None:
    scene = load_scene_text(CHAIN, str(tmp_path / "s.yaml"), tmp_path)
    player = ScenePlayer(scene, EngineConfig(block=256), seed=1)
    player.render(512)
    before = list(_bus(player.engine, "music").effects)
    player.reload(load_scene_text(CHAIN.replace("mix: 0.3", "mix: 0.5"), str(tmp_path / "s.yaml"), tmp_path))
    player.render(512)
    after = _bus(player.engine, "music").effects
    assert after == before  # the same instances (state kept), gliding to the new value
    assert after[2].params.target[2] == pytest.approx(0.5)
    reshaped = CHAIN.replace("      - {type: delay, time: 0.25, feedback: 0.4, mix: 0.3}\n", "")
    reshaped = reshaped.replace("          delay: {mix: 0.8}\n", "")
    player.reload(load_scene_text(reshaped, str(tmp_path / "s.yaml"), tmp_path))
    player.render(512)
    assert [f.spec.type for f in _bus(player.engine, "music").effects] == ["eq", "compressor"]
    buses_only = CHAIN.split("snapshots:")[0]  # master goes at the end of the buses section
    master_chain = buses_only + "  master:\n    effects: [{type: compressor, threshold_db: -12}]\n"
    player.reload(load_scene_text(master_chain, str(tmp_path / "s.yaml"), tmp_path))
    player.render(512)
    assert [f.spec.type for f in _bus(player.engine, "master").effects] == ["compressor"]
