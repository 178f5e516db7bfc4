"""Mixing ranges and defaults are declared once (engine/specs.py) and the scene format derives them.

Before, they were written twice and disagreed: a ducking ``amount_db`` of -90 validated (the scene
allowed -96..0) and then failed at render (the engine allowed -80..0), and a ``reverb: {}`` got
room_size 0.5 / wet 0.3 from the scene but 0.7 / 0.33 from ``ReverbSpec()``. These tests compare
every range and default that both sides expose, then play a scene at the edges of every range
through the real runtime and engine.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from middleware.config import EngineConfig
from middleware.engine import Engine
from middleware.engine.specs import (
    BUS_BOUNDS,
    DUCK_BOUNDS,
    LOUDNESS_TARGET,
    REVERB_BOUNDS,
    BusSpec,
    DuckSpec,
    ReverbSpec,
    defaults,
)
from middleware.errors import EngineError, SceneError
from middleware.player import ScenePlayer
from middleware.scene import fields as F
from middleware.scene import model as m
from middleware.scene.load import load_scene_text
from middleware.scene.spec import Choice, Convert, Null, Number, Record
from middleware.tools.example_assets import write_wav


def number_of(record: Record, key: str) -> Number:
    """The Number spec behind a record's field (through ``nullable`` and converters)."""
    spec: Any = record.by_name[key].spec
    while not isinstance(spec, Number):
        if isinstance(spec, Choice):
            spec = next(o.spec for o in spec.options if not isinstance(o.spec, Null))
        elif isinstance(spec, Convert):
            spec = spec.inner
        else:
            raise AssertionError(f"{record.title}.{key} is not a number field")
    return spec


# scene record, scene key -> (engine bounds, engine dataclass or None, engine field)
PAIRS = [
    *((F.REVERB, k, REVERB_BOUNDS[k], ReverbSpec, k) for k in REVERB_BOUNDS),
    *((F.DUCK, k, DUCK_BOUNDS[k], DuckSpec, k) for k in DUCK_BOUNDS),
    *((F.BUS, k, BUS_BOUNDS[k], BusSpec, k) for k in BUS_BOUNDS),
    (F.BUS, "loudness_lufs", LOUDNESS_TARGET, None, None),
    *((F.BUS_OVERRIDE, k, BUS_BOUNDS[k], None, None) for k in BUS_BOUNDS),
    (F.BUS_OVERRIDE, "reverb_wet", REVERB_BOUNDS["wet"], None, None),
    (F.BUS_OVERRIDE, "reverb_room_size", REVERB_BOUNDS["room_size"], None, None),
]


@pytest.mark.parametrize(
    ("record", "key", "bounds", "cls", "field"), PAIRS, ids=[f"{p[0].title}.{p[1]}" for p in PAIRS]
)
def test_scene_field_has_the_engines_range_and_default(record, key, bounds, cls, field):
    num = number_of(record, key)
    assert (num.minimum, num.maximum) == (bounds.lo, bounds.hi)
    if cls is not None:
        assert record.by_name[key].default == defaults(cls)[field]


def test_every_engine_bound_is_read_by_the_scene():
    compared = {(id(p[2]), p[4] or p[1]) for p in PAIRS}
    for table in (REVERB_BOUNDS, DUCK_BOUNDS, BUS_BOUNDS):
        for k, b in table.items():
            assert (id(b), k) in compared, k


def test_scene_definitions_take_the_engines_defaults():
    assert m.ReverbDef is ReverbSpec
    duck = defaults(DuckSpec)
    assert {k: v for k, v in defaults(m.DuckDef).items() if k != "by"} == {
        k: duck[k] for k in ("amount_db", "threshold_db", "attack", "release")
    }
    bus = defaults(BusSpec)
    assert all(defaults(m.BusDef)[k] == bus[k] for k in ("gain_db", "lowpass_hz", "highpass_hz"))


def test_engine_checks_match_the_declared_bounds():
    # the engine's own entry points (set_bus, set_loudness_target) refuse exactly outside the bounds
    eng = Engine(EngineConfig(block=256, max_voices=4, voice_limit=4), _warm=False)
    for b, call in (
        (BUS_BOUNDS["gain_db"], lambda v: eng.set_bus("master", gain_db=v)),
        (LOUDNESS_TARGET, eng.set_loudness_target),
        (DUCK_BOUNDS["amount_db"], lambda v: DuckSpec("a", "b", amount_db=v)),
        (DUCK_BOUNDS["release"], lambda v: DuckSpec("a", "b", release=v)),
        (REVERB_BOUNDS["wet"], lambda v: ReverbSpec(wet=v)),
    ):
        call(b.lo)
        call(b.hi)
        step = 1e-6 * max(1.0, abs(b.hi - b.lo))
        for outside in (b.lo - step, b.hi + step, math.nan):
            with pytest.raises(EngineError):
                call(outside)


def _edge_scene(duck: dict[str, float], reverb: str = "{}") -> str:
    rule = ", ".join(f"{k}: {v:g}" for k, v in duck.items())
    return (
        "buses:\n"
        f"  voice: {{gain_db: {BUS_BOUNDS['gain_db'].lo:g}}}\n"
        f"  ambience: {{reverb: {reverb}, duck: [{{by: voice, {rule}}}],"
        f" loudness_lufs: {LOUDNESS_TARGET.lo:g}}}\n"
        "emitters:\n"
        "  bed: {bus: ambience, layers: [{id: a, source: a.wav}]}\n"
        "  talk: {bus: voice, layers: [{id: a, source: a.wav}]}\n"
    )


@pytest.mark.parametrize("edge", ["lo", "hi"])
def test_a_scene_at_every_edge_validates_and_renders(tmp_path, edge):
    write_wav(tmp_path / "a.wav", 0.1 * np.random.default_rng(0).standard_normal(4800))
    duck = {k: getattr(b, edge) for k, b in DUCK_BOUNDS.items()}
    reverb = "{" + ", ".join(f"{k}: {getattr(b, edge):g}" for k, b in REVERB_BOUNDS.items()) + "}"
    scene = load_scene_text(_edge_scene(duck, reverb), "edge.yaml", tmp_path)
    player = ScenePlayer(scene, EngineConfig(block=256, max_voices=8, voice_limit=8))
    out = player.render(4096)  # before: amount_db -96 validated, then DuckSpec refused it here
    assert np.isfinite(out).all()


def test_duck_amount_beyond_the_engine_is_refused_by_the_loader_not_the_render(tmp_path):
    write_wav(tmp_path / "a.wav", np.zeros(480))
    lo = DUCK_BOUNDS["amount_db"].lo
    with pytest.raises(SceneError) as info:
        load_scene_text(_edge_scene({"amount_db": lo - 1}), "edge.yaml", tmp_path)
    (issue,) = info.value.errors
    assert issue.line == 3 and f"value {lo - 1:g} is out of range" in issue.message


def test_an_empty_reverb_plays_the_engines_default_reverb(tmp_path):
    write_wav(tmp_path / "a.wav", np.zeros(480))
    scene = load_scene_text(_edge_scene({}), "edge.yaml", tmp_path)
    player = ScenePlayer(scene, EngineConfig(block=256, max_voices=8, voice_limit=8))
    player.render(512)
    graph = player.engine.buses
    assert graph.buses[graph.index("ambience")].spec.reverb == ReverbSpec()


def _limits_scene(points: int, sends: int) -> str:
    curve = ", ".join(f"[{i}, {-i:g}]" for i in range(points))
    buses = ", ".join(f"fx{i}: {{}}" for i in range(sends))
    send_map = ", ".join(f"fx{i}: -6" for i in range(sends))
    return (
        f"buses: {{{buses}}}\n"
        "emitters:\n"
        "  e:\n"
        "    position: [2, 0, 0]\n"
        f"    attenuation: {{min: 0.5, max: 40, curve: [{curve}]}}\n"
        f"    layers: [{{id: a, source: a.wav, sends: {{{send_map}}}}}]\n"
    )


def test_scene_limits_are_the_engines_own_constants():
    from middleware.engine import specs, targets, voices

    assert voices.MAX_SENDS is specs.MAX_SENDS
    assert targets.MAX_TABLE_POINTS is specs.MAX_ROLLOFF_POINTS


def test_sends_and_rolloff_points_at_the_engines_limits_render(tmp_path):
    from middleware.engine.specs import MAX_ROLLOFF_POINTS, MAX_SENDS

    write_wav(tmp_path / "a.wav", 0.1 * np.random.default_rng(0).standard_normal(4800))
    scene = load_scene_text(_limits_scene(MAX_ROLLOFF_POINTS, MAX_SENDS), "limits.yaml", tmp_path)
    out = ScenePlayer(scene, EngineConfig(block=256, max_voices=8, voice_limit=8)).render(2048)
    assert np.abs(out).max() > 0


@pytest.mark.parametrize(("points", "sends", "line"), [(17, 1, 5), (2, 5, 6)], ids=["rolloff", "sends"])
def test_one_more_than_the_engine_takes_is_refused_at_its_line(tmp_path, points, sends, line):
    # before: both validated, then the engine refused them while playing ("rolloff table: at most 16
    # points", "sends: at most 4 per voice") with no scene line
    write_wav(tmp_path / "a.wav", np.zeros(480))
    with pytest.raises(SceneError) as info:
        load_scene_text(_limits_scene(points, sends), "limits.yaml", tmp_path)
    (issue,) = info.value.errors
    assert issue.line == line and ("at most 4 entries" in issue.message or "1 to 16 items" in issue.message)
