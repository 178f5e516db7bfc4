"""Sound captions in process: the real scene runtime and engine, scenes and sounds written by the test.

What the daemon adds (the topic on real sockets, timing, the town scene, spoken lines) is in
test_captions_daemon.py.
"""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np
import pytest

from middleware.config import EngineConfig
from middleware.errors import SceneError
from middleware.player import ScenePlayer
from middleware.scene.captions import AUDIBLE_DB, CaptionRules, direction_to
from middleware.scene.load import check_scene_text, load_scene_text
from middleware.scene.model import IMPORTANCE

SR = 48000
RULES = CaptionRules()


def _tone(path: Path, seconds: float, freq: float) -> None:
    n = int(SR * seconds)
    t = np.arange(n) / SR
    x = 0.3 * np.sin(2 * np.pi * freq * t) * np.minimum(1, np.minimum(t, t[::-1]) / 0.002)
    with wave.open(str(path), "wb") as h:
        h.setnchannels(1)
        h.setsampwidth(2)
        h.setframerate(SR)
        h.writeframes((x * 32767).astype("<i2").tobytes())


SCENE = """name: captions
parameters:
  level: {range: [0, 1], default: 1}
emitters:
  near:
    position: [0, 0, -2]
    caption: "bees buzzing"
    layers: [{id: a, source: hum.wav}]
  far:
    position: [40, 0, 0]
    attenuation: {min: 1, max: 200}
    caption: "river rushing"
    importance: low
    layers: [{id: a, source: hum.wav}]
  quiet:
    position: [-3, 0, 0]
    caption: "clock ticking"
    layers: [{id: a, source: hum.wav, gain: {param: level, curve: [[0, -90], [1, 0]]}}]
events:
  knock:
    position: instance
    caption: "knocking"
    layers: [{id: a, source: beep.wav, mode: oneshot}]
  crowd:
    position: null
    caption: "many things"
    layers:
"""
MANY = 12  # the `crowd` event: layers with their own captions, more than the burst lets through


def _scene_text() -> str:
    rows = [
        f'      - {{id: s{i}, source: beep.wav, mode: oneshot, caption: "thing {i}"'
        + (", importance: critical}" if i >= MANY - 2 else "}")
        for i in range(MANY)
    ]
    return SCENE + "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("captions")
    _tone(root / "hum.wav", 1.0, 220)
    _tone(root / "beep.wav", 0.2, 880)
    (root / "captions.yaml").write_text(_scene_text())
    return root


def _player(folder: Path, **cfg) -> ScenePlayer:
    scene = load_scene_text(_scene_text(), "captions.yaml", folder)
    return ScenePlayer(scene, EngineConfig(seed=3, **cfg), seed=3)


def _captions(p: ScenePlayer) -> list[dict]:
    out = [payload for topic, payload in p.runtime.events if topic == "caption"]
    p.runtime.events.clear()
    return out


def test_direction_convention_opengl_positive_right():
    """0 ahead, +90 right, -90 left, 180 behind, elevation positive up (listener at the origin
    facing -Z, up +Y; then turned to face +X, where -Z is on its left)."""
    facing_z = (0, 0, 0, 0, 0, -1, 0, 1, 0, 0, 0, 0)
    cases = {(0, 0, -5): 0.0, (5, 0, 0): 90.0, (-5, 0, 0): -90.0, (0, 0, 5): 180.0, (3, 0, -3): 45.0}
    for pos, az in cases.items():
        got = direction_to(pos, facing_z)
        assert abs((got[0] - az + 180) % 360 - 180) < 1e-9, (pos, got)
        assert got[2] == pytest.approx(math.dist(pos, (0, 0, 0)), abs=1e-12)
    facing_x = (0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0)
    assert direction_to((0, 0, -4), facing_x)[0] == pytest.approx(-90.0, abs=1e-9)
    assert direction_to((4, 4, 0), facing_x)[1] == pytest.approx(45.0, abs=1e-9)
    assert direction_to((0, 0, 0), facing_z) is None


def test_audible_loops_are_captioned_once_with_direction_distance_loudness(folder):
    p = _player(folder)
    p.runtime.set_param("level", 0.0)
    p.render(SR // 10)
    got = {c["text"]: c for c in _captions(p)}
    assert set(got) == {"bees buzzing", "river rushing"}  # the clock is at -90 dB: inaudible
    bees, river = got["bees buzzing"], got["river rushing"]
    assert bees["direction"] == pytest.approx(0.0, abs=1e-6) and bees["distance"] == pytest.approx(2.0)
    assert river["direction"] == pytest.approx(90.0, abs=1e-6) and river["distance"] == pytest.approx(40.0)
    assert river["importance"] == "low" and bees["importance"] == "normal"
    assert river["loudness_db"] < bees["loudness_db"] - 20  # inverse distance: 40 m vs 2 m, about 26 dB
    assert bees["synthetic"] is False and bees["count"] == 1 and bees["layer"] == "near.a"
    p.render(SR // 2)
    assert _captions(p) == []  # still audible: not again


def test_inaudible_sound_gets_a_caption_when_it_becomes_audible(folder):
    p = _player(folder)
    p.runtime.set_param("level", 0.0)
    p.render(SR // 10)
    assert "clock ticking" not in {c["text"] for c in _captions(p)}
    p.runtime.set_param("level", 1.0)
    p.render(SR // 10)
    got = [c for c in _captions(p) if c["text"] == "clock ticking"]
    assert len(got) == 1 and got[0]["loudness_db"] >= AUDIBLE_DB
    assert got[0]["direction"] == pytest.approx(-90.0, abs=1e-6)


def test_virtual_voice_gets_no_caption_until_it_is_real(folder):
    """With one real voice, the far river is virtual: no caption; walk up to it and it takes the
    voice from the bees (now far behind), and its caption comes then, from where it now is."""
    p = _player(folder, voice_limit=1)
    p.runtime.set_param("level", 0.0)
    p.render(SR // 10)
    assert {c["text"] for c in _captions(p)} == {"bees buzzing"}
    p.runtime.set_listener((38.0, 0.0, 0.0), (0.0, 0.0, -1.0))
    p.render(SR // 10)
    got = _captions(p)
    assert [c["text"] for c in got] == ["river rushing"]
    assert got[0]["direction"] == pytest.approx(90.0, abs=1e-6) and got[0]["distance"] == pytest.approx(2.0)


def test_repeats_merge_into_one_caption_with_their_count(folder):
    p = _player(folder)
    p.render(SR // 10)
    _captions(p)
    for i in range(5):  # five knocks within 0.5 s, the last one on the left
        p.runtime.trigger("knock", position=(-2.0, 0.0, 0.0) if i == 4 else (2.0, 0.0, 0.0))
        p.render(SR // 10)
    first = _captions(p)
    assert [(c["text"], c["count"]) for c in first] == [("knocking", 1)]
    assert first[0]["direction"] == pytest.approx(90.0, abs=1e-6)
    p.render(int(RULES.merge_s * SR))
    merged = _captions(p)
    assert [(c["text"], c["count"]) for c in merged] == [("knocking", 4)]
    assert merged[0]["direction"] == pytest.approx(-90.0, abs=1e-6)  # where the latest one was
    assert p.runtime.captioner.counters["captions_merged"] == 4
    p.render(int(RULES.merge_s * SR))
    assert _captions(p) == []  # nothing pending: nothing more
    p.runtime.trigger("knock", position=(2.0, 0.0, 0.0))
    p.render(SR // 10)
    assert [(c["text"], c["count"]) for c in _captions(p)] == [("knocking", 1)]


def test_rate_limit_lets_a_burst_through_and_critical_ones_always(folder):
    """Layers with their own captions override the event's; a burst beyond the bucket is dropped
    except the critical captions."""
    p = _player(folder)
    p.render(SR // 10)
    p.runtime.set_param("level", 0.0)
    spent = len(_captions(p))  # the loops' captions took tokens from the bucket
    p.runtime.trigger("crowd")
    p.render(SR // 10)
    texts = [c["text"] for c in _captions(p)]
    assert "many things" not in texts
    critical = {f"thing {i}" for i in range(MANY - 2, MANY)}
    assert critical <= set(texts)
    assert len(texts) == RULES.burst - spent + len(critical - set(texts[: RULES.burst - spent]))
    assert p.runtime.captioner.counters["captions_dropped"] == MANY - len(texts)


def test_scene_format_checks_caption_and_importance(folder):
    good = load_scene_text(_scene_text(), "c.yaml", folder)
    assert good.emitters["far"].importance == "low" and good.events["knock"].caption == "knocking"
    assert good.events["crowd"].layers[-1].importance == IMPORTANCE[-1]
    bad = _scene_text().replace("importance: low", "importance: urgent")
    _, issues = check_scene_text(bad, "c.yaml", folder)
    text = "\n".join(str(i) for i in issues)
    assert "c.yaml:" in text and "urgent" in text and "critical" in text
    long = _scene_text().replace('"knocking"', '"' + "k" * 201 + '"')
    with pytest.raises(SceneError) as info:
        load_scene_text(long, "c.yaml", folder)
    assert "c.yaml:" in str(info.value) and "caption of 201 characters is too long" in str(info.value)
