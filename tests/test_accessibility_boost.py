"""The dialogue boost (issue 17): the player's profile lowers every other group while a line plays,
as ducking rules of its own owner in the engine, which a new profile replaces or removes live.

Measured on real renders: the music tone's amplitude (a Fourier projection over windows holding whole
cycles of both tones, so the line's tone does not leak in) and the largest sample-to-sample step."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import SR, max_jump, sine, write_wav

from middleware.accessibility.host import apply_player_profile
from middleware.accessibility.profile import profile_from_dict
from middleware.config import EngineConfig
from middleware.engine import BusSpec, DuckSpec, Engine
from middleware.player import ScenePlayer
from middleware.scene.load import load_scene

WINDOW = SR // 10  # 0.1 s: 22 cycles of 220 Hz and 33 of 330 Hz
DB_TOL = 0.2  # dB: a settled duck (attack tau 50 ms, 0.5 s later) is within 1e-4 dB; the rest is the
# limiter-free float32 sum and the projection of a 256-frame-ramped gain


def _amp(x: np.ndarray, freq: float) -> float:
    t = np.arange(x.shape[0]) / SR
    return float(2 * np.abs(np.mean(x[:, 0] * np.exp(-2j * np.pi * freq * t))))


def _db(a: float, b: float) -> float:
    return float(20 * np.log10(a / b))


def test_the_engine_replaces_and_removes_an_owners_ducks_live_without_a_step() -> None:
    eng = Engine(EngineConfig(block=256, max_voices=8, voice_limit=8))
    for b in ("music", "voice"):
        eng.add_bus(BusSpec(b))
    eng.bank.add("music", sine(220.0, 1.0, amp=0.1))
    eng.bank.add("line", sine(330.0, 1.0, amp=0.05))  # -29 dBFS RMS: above the rules' -45 dB threshold
    eng.play("music", bus="music", loop=True)
    parts = [eng.render(SR // 2)]
    alone = _amp(parts[-1][-WINDOW:], 220.0)
    steady = max_jump(parts[-1][-WINDOW:])  # music alone; with the line it only adds its own slope
    eng.play("line", bus="voice", loop=True)
    eng.set_ducks("player", [DuckSpec("voice", "music", amount_db=-6.0)])
    parts.append(eng.render(SR // 2))
    line_slope = max_jump(parts[-1][-WINDOW:]) - max_jump(parts[0][-WINDOW:]) * 10 ** (-6 / 20)
    assert _db(_amp(parts[-1][-WINDOW:], 220.0), alone) == pytest.approx(-6.0, abs=DB_TOL)
    eng.set_ducks("player", [DuckSpec("voice", "music", amount_db=-12.0)])  # a profile switched live
    parts.append(eng.render(SR // 2))
    assert _db(_amp(parts[-1][-WINDOW:], 220.0), alone) == pytest.approx(-12.0, abs=DB_TOL)
    eng.add_duck(DuckSpec("voice", "music", amount_db=-10.0))  # the designer's own duck ("scene")
    parts.append(eng.render(SR // 2))
    assert _db(_amp(parts[-1][-WINDOW:], 220.0), alone) == pytest.approx(-22.0, abs=DB_TOL)  # owners add
    eng.set_ducks("player", [])  # boost off: the designer's duck stays
    parts.append(eng.render(SR * 3))  # release tau 0.4 s: 3 s leaves e^-7.5 of the 12 dB
    assert _db(_amp(parts[-1][-WINDOW:], 220.0), alone) == pytest.approx(-10.0, abs=DB_TOL)
    eng.set_ducks("scene", [])  # every rule gone: back to 0 dB although the line still plays
    parts.append(eng.render(SR * 3))
    assert _db(_amp(parts[-1][-WINDOW:], 220.0), alone) == pytest.approx(0.0, abs=DB_TOL)
    # No click at any switch: no step beyond the largest a steady mix makes (music at full level plus
    # the line's own slope); a gain step of even 1 dB on the music would add 0.011 to one step.
    bound = 1.02 * (steady + line_slope)
    y = np.concatenate(parts)
    assert max_jump(y) <= bound, (max_jump(y), bound)


SCENE = """\
name: boost
buses:
  music: {}
  voice: {}
emitters:
  score:
    bus: music
    layers:
      - {id: tone, source: sounds/music.wav, mode: loop, fade_in: 0}
events:
  line:
    bus: voice
    layers:
      - {id: words, source: sounds/line.wav, mode: loop}
"""


def test_switching_the_profile_live_changes_the_boost_without_a_click(tmp_path: Path) -> None:
    """Through the scene runtime and accessibility.host, as render --profile, serve and the profile
    message apply it: boost 6 dB, then 15 dB while the line plays, then none."""
    write_wav(tmp_path / "sounds" / "music.wav", sine(220.0, 1.0, amp=0.1))
    write_wav(tmp_path / "sounds" / "line.wav", sine(330.0, 1.0, amp=0.05))
    (tmp_path / "scene.yaml").write_text(SCENE, encoding="utf-8")
    player = ScenePlayer(
        load_scene(tmp_path / "scene.yaml"), EngineConfig(block=256, max_voices=8, voice_limit=8)
    )
    eng, rt = player.engine, player.runtime
    fx = apply_player_profile(eng, rt, profile_from_dict({"dialogue_boost_db": 6}))
    parts = [player.render(SR // 2)]
    alone = _amp(parts[-1][-WINDOW:], 220.0)
    rt.trigger("line")
    parts.append(player.render(SR // 2))
    assert _db(_amp(parts[-1][-WINDOW:], 220.0), alone) == pytest.approx(-6.0, abs=DB_TOL)
    steady = max_jump(parts[-1][-WINDOW:]) + max_jump(parts[0][-WINDOW:]) * (1 - 10 ** (-6 / 20))
    fx = apply_player_profile(eng, rt, profile_from_dict({"dialogue_boost_db": 15}), fx)
    parts.append(player.render(SR // 2))
    assert _db(_amp(parts[-1][-WINDOW:], 220.0), alone) == pytest.approx(-15.0, abs=DB_TOL)
    apply_player_profile(eng, rt, profile_from_dict({}), fx)
    parts.append(player.render(SR * 3))
    assert _db(_amp(parts[-1][-WINDOW:], 220.0), alone) == pytest.approx(0.0, abs=DB_TOL)
    y = np.concatenate(parts)[SR // 4 :]  # from a settled music tone on: every switch is inside
    assert max_jump(y) <= 1.02 * steady, (max_jump(y), steady)


DUCKED = """\
name: ducked
buses:
  music: {rule}
  voice: {{}}
emitters:
  score:
    bus: music
    layers:
      - {{id: tone, source: sounds/music.wav, mode: loop, fade_in: 0}}
  speaker:
    bus: voice
    layers:
      - {{id: words, source: sounds/line.wav, mode: loop, fade_in: 0}}
"""


def test_a_hot_reload_changes_and_removes_the_scenes_own_ducks(tmp_path: Path) -> None:
    """The same class as the boost: the scene's ducking rules were only ever added, so a reload that
    deepened a duck kept the old depth and one that removed it kept ducking."""
    write_wav(tmp_path / "sounds" / "music.wav", sine(220.0, 1.0, amp=0.1))
    write_wav(tmp_path / "sounds" / "line.wav", sine(330.0, 1.0, amp=0.05))
    files = {}
    for name, rule in (("six", -6), ("twelve", -12), ("none", None)):
        files[name] = tmp_path / f"{name}.yaml"
        duck = "{}" if rule is None else f"{{duck: [{{by: voice, amount_db: {rule}}}]}}"
        files[name].write_text(DUCKED.format(rule=duck), encoding="utf-8")
    player = ScenePlayer(load_scene(files["six"]), EngineConfig(block=256, max_voices=8, voice_limit=8))
    ref = ScenePlayer(load_scene(files["none"]), EngineConfig(block=256, max_voices=8, voice_limit=8))
    full = _amp(ref.render(SR)[-WINDOW:], 220.0)  # the music with the line, no duck at all
    assert _db(_amp(player.render(SR)[-WINDOW:], 220.0), full) == pytest.approx(-6.0, abs=DB_TOL)
    player.reload(load_scene(files["twelve"]))
    assert _db(_amp(player.render(SR)[-WINDOW:], 220.0), full) == pytest.approx(-12.0, abs=DB_TOL)
    player.reload(load_scene(files["none"]))
    assert _db(_amp(player.render(3 * SR)[-WINDOW:], 220.0), full) == pytest.approx(0.0, abs=DB_TOL)
