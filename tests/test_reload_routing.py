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


# ------------------------------------------------------------------- event instances
EVENT = """\
name: routing-events
buses:
{buses}
events:
{events}"""

ENGINE_LOOP = """\
  engine:
    bus: {bus}
    position: null
    layers:
      - id: hum
        source: sounds/hum.wav
        mode: loop
        gain: {gain}
        fade_in: 0.5
        fade_out: 0.5
{more}"""

OTHER = """\
  other:
    bus: {bus}
    position: null
    layers: [{{id: x, source: sounds/hum.wav, mode: loop}}]
"""


def _events(buses: str, bus: str = "a", gain: float = -6, more: str = "", keep: bool = True) -> str:
    events = (ENGINE_LOOP.format(bus=bus, gain=gain, more=more) if keep else "") + OTHER.format(bus=bus)
    return EVENT.format(buses=buses, events=events)


SECOND_LAYER = """\
      - id: buzz
        source: sounds/hum.wav
        mode: loop
        gain: -12
        fade_in: 0.2
"""

EVENT_CASES = {
    # the instance's loop was left on the removed (muted) bus: silence until it was triggered again
    "to a new bus, the old one removed": (_events("  a: {}"), _events("  b: {gain_db: -3}", bus="b")),
    # the instance kept its trigger-time definition: the old -6 dB after the designer asked for -18
    "its layer's gain lowered": (_events("  a: {}"), _events("  a: {}", gain=-18)),
    # a loop layer added to the event joins the playing instance
    "a loop layer added": (_events("  a: {}"), _events("  a: {}", more=SECOND_LAYER)),
}


def _triggered(path: Path) -> tuple[ScenePlayer, int]:
    player = _player(path)
    iid = player.runtime.trigger("engine")
    return player, iid


@pytest.mark.parametrize("case", list(EVENT_CASES))
def test_a_reload_brings_a_playing_event_instance_to_its_new_definition(tmp_path: Path, case: str) -> None:
    """A looping event instance (an engine hum, a crowd) follows the designer's edit as an emitter's
    loop does: its new bus, its new gain, a new layer, within 0.5 dB of the same instance triggered
    fresh on the edited scene, with no dip and no click across the edit."""
    before, after = EVENT_CASES[case]
    t = np.arange(SR) / SR
    write_wav(tmp_path / "sounds" / "hum.wav", 0.3 * np.sin(2 * np.pi * 200.0 * t))
    path = tmp_path / "scene.yaml"
    _save(path, before)
    player, iid = _triggered(path)
    errors: list = []
    watcher = SceneWatcher(path, on_scene=player.reload, on_errors=errors.append, scene=player.scene)
    player.render(SR)
    level_before = _db(player.render(SR // 2))
    _save(path, after)
    assert watcher.poll() and not errors, errors
    across = player.render(SR)
    level_after = _db(player.render(SR // 2))
    fresh, _ = _triggered(path)
    fresh.render(SR)
    expected = _db(fresh.render(SR // 2))
    print(f"{case}: before {level_before:.2f} dB, after {level_after:.2f} dB, fresh {expected:.2f} dB")
    assert abs(level_after - expected) <= TOLERANCE_DB, (level_after, expected)
    assert iid in player.runtime.instances  # the same instance, not a new one
    win = SR // 20
    floor = min(level_before, expected) - 10.0
    dips = [_db(across[i : i + win]) for i in range(0, len(across) - win + 1, win)]
    assert min(dips) > floor, (min(dips), floor)
    assert max_jump(across) < 0.05


def test_a_reload_that_removes_a_playing_event_fades_its_instance_out_and_ends_it(tmp_path: Path) -> None:
    """The event is gone from the scene: its playing instance fades out with its layer's fade-out
    (no click) and ends (``instance_ended``), while another event's instance plays on."""
    t = np.arange(SR) / SR
    write_wav(tmp_path / "sounds" / "hum.wav", 0.3 * np.sin(2 * np.pi * 200.0 * t))
    path = tmp_path / "scene.yaml"
    _save(path, _events("  a: {}"))
    player, iid = _triggered(path)
    other = player.runtime.trigger("other")
    watcher = SceneWatcher(path, on_scene=player.reload, on_errors=print, scene=player.scene)
    player.render(SR)
    both = _db(player.render(SR // 2))
    _save(path, _events("  a: {}", keep=False))
    assert watcher.poll()
    across = player.render(SR)  # 0.5 s fade-out, then the engine reports the voice ended
    player.render(2048)
    alone = _db(player.render(SR // 2))
    assert iid not in player.runtime.instances and other in player.runtime.instances
    ended = [e for e in player.runtime.events if e[0] == "instance_ended" and e[1]["id"] == iid]
    assert ended, "the removed event's instance did not end"
    # the two equal hums sum coherently or not, depending on their phases; one alone is quieter
    assert alone < both - 1.0, (alone, both)
    assert max_jump(across) < 0.05
