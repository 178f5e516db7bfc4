"""Hot reload that changes where a playing voice goes: its bus, its sends, its 3D settings.

The engine fixes a voice's bus (and its attenuation, doppler, binaural rendering and priority) when
the voice starts; a reload that moved a playing loop to another bus left the voice on the old one,
which the reload had muted (bus removed) or set to another level, so the sound went silent or
stayed at the old bus's level. Each case edits the scene file and reloads it through the real
watcher (``SceneWatcher.poll``) into a ``ScenePlayer`` (the daemon's render path), then compares
the level after the reload with the same scene started fresh (the level the designer hears after
a restart): within 0.5 dB. The source is a 200 Hz sine of whole periods that loops seamlessly, so
its level over 0.5 s does not depend on where the loop started (random start); 0.5 dB leaves room
for the engine's gain ramps and the spatialiser's smoothing, and is far below the 12-20 dB (or
silence) of the defect.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import SR, max_jump, write_wav

from middleware.config import EngineConfig
from middleware.player import ScenePlayer
from middleware.scene.reload import SceneWatcher

TOLERANCE_DB = 0.5

SCENE = """\
name: routing
buses:
{buses}
emitters:
  tone:
    bus: {bus}
{place}    layers:
      - id: hum
        source: sounds/hum.wav
        mode: loop
        gain: -6
        fade_in: 0.5
        fade_out: 0.5
{sends}"""


MUSIC = """\
name: routing-music
buses:
{buses}
music:
  bus: {bus}
  tempo: 120
  start: main
  segments:
    main: {{sample: sounds/hum.wav, bars: 1, gain: -6}}
"""


def _scene(buses: str, bus: str, sends: str = "", place: str = "") -> str:
    return SCENE.format(buses=buses, bus=bus, sends=sends, place=place)


def _save(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    st = os.stat(path)  # make sure the watcher sees the edit even on a coarse clock
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))


def _db(x: np.ndarray) -> float:
    return 10.0 * float(np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-20))


def _player(path: Path) -> ScenePlayer:
    return ScenePlayer(path, EngineConfig(block=256, max_voices=16, voice_limit=16), seed=3)


def _fresh_level(path: Path) -> float:
    """The level of the edited scene started from scratch, after its fade-in."""
    player = _player(path)
    player.render(SR)
    return _db(player.render(SR // 2))


CASES = {
    # the bus it left is removed (the runtime mutes removed buses): the defect was silence
    "to a new bus, the old one removed": (
        _scene("  a: {}", "a"),
        _scene("  b: {gain_db: -3}", "b"),
    ),
    # both stay; the old one is turned down in the same edit: the defect kept the old bus's -20 dB
    "to another bus, the old one turned down": (
        _scene("  a: {}\n  b: {gain_db: -2}", "a"),
        _scene("  a: {gain_db: -20}\n  b: {gain_db: -2}", "b"),
    ),
    # a dry reverb bus fed by a send: the send moves from one reverb bus to another (the first removed)
    "a send moved to another bus": (
        _scene("  dry: {gain_db: -60}\n  verb_a: {}", "dry", sends="        sends: {verb_a: -3}\n"),
        _scene(
            "  dry: {gain_db: -60}\n  verb_b: {gain_db: -4}", "dry", sends="        sends: {verb_b: -3}\n"
        ),
    ),
    # fixed at play like the bus: attenuation of a spatial emitter (min distance 1 m -> 4 m at 8 m)
    "attenuation changed": (
        _scene(
            "  a: {}",
            "a",
            place="    position: [0, 0, -8]\n    attenuation: {min: 1, max: 100}\n",
        ),
        _scene(
            "  a: {}",
            "a",
            place="    position: [0, 0, -8]\n    attenuation: {min: 4, max: 100}\n",
        ),
    ),
    # the music's playing segment: the same defect in the music player (it kept its voice's bus)
    "the music to a new bus, the old one removed": (
        MUSIC.format(buses="  a: {}", bus="a"),
        MUSIC.format(buses="  b: {gain_db: -3}", bus="b"),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_reload_that_reroutes_a_playing_voice_keeps_it_sounding_where_it_now_goes(
    tmp_path: Path, case: str
) -> None:
    before, after = CASES[case]
    t = np.arange(SR) / SR
    write_wav(tmp_path / "sounds" / "hum.wav", 0.3 * np.sin(2 * np.pi * 200.0 * t))
    path = tmp_path / "scene.yaml"
    _save(path, before)
    player = _player(path)
    errors: list = []
    watcher = SceneWatcher(path, on_scene=player.reload, on_errors=errors.append, scene=player.scene)
    player.render(SR)  # past the fade-in
    level_before = _db(player.render(SR // 2))
    _save(path, after)
    assert watcher.poll() and not errors, errors
    across = player.render(SR)  # the swap and any crossfade
    level_after = _db(player.render(SR // 2))
    expected = _fresh_level(path)
    print(f"{case}: before {level_before:.2f} dB, after {level_after:.2f} dB, fresh {expected:.2f} dB")
    assert abs(level_after - expected) <= TOLERANCE_DB, (level_after, expected)
    # the sound goes on across the edit: never quieter than 10 dB under the lower of the two levels
    # in any 50 ms window (a fade-out then fade-in of the layer would dip to silence)
    win = SR // 20
    floor = min(level_before, expected) - 10.0
    dips = [_db(across[i : i + win]) for i in range(0, len(across) - win + 1, win)]
    assert min(dips) > floor, (min(dips), floor)
    assert max_jump(across) < 0.05  # no click at the swap (the steady sine's own step is ~0.004)
