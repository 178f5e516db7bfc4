"""The command queue every renderer drains (middleware/rt/scheduler.py), and what its order means for
the engine and the scene runtime that both queue through it.

Commands apply in the order they were posted: those that waited in the heap (posted in an earlier
block, for a frame of this one) go first, in (frame, post) order, then the ones that arrived since the
last drain, in arrival order; those for a later block wait. Applying arrivals first (the old order)
let a ``stop`` posted after a ``play`` for the next block find nothing, and the voice then played for
ever; and of two values posted for the same frame the earlier one won.
"""

from __future__ import annotations

import numpy as np
from conftest import write_wav

from middleware.config import EngineConfig
from middleware.engine.engine import Engine
from middleware.player import ScenePlayer
from middleware.rt.scheduler import CommandScheduler
from middleware.scene.load import load_scene_text


def _drain(s: CommandScheduler, end: int) -> list:
    applied: list = []
    s.drain(end, lambda cmd, at: applied.append((cmd, at)))
    return applied


def test_untimed_now_in_order_and_timed_on_their_block() -> None:
    s = CommandScheduler()
    s.post("a")
    s.post("late", 700)
    s.post("b")
    s.post("early", 300)
    s.post("same-1", 300)
    s.post("past", 10)  # a frame already behind: applied at once, with its frame
    assert _drain(s, 256) == [("a", None), ("b", None), ("past", 10)]
    assert s.pending() == ["early", "same-1", "late"]  # waiting, in due order
    assert _drain(s, 512) == [("early", 300), ("same-1", 300)]
    assert _drain(s, 768) == [("late", 700)] and s.pending() == []


def test_what_waited_applies_before_what_arrived_since() -> None:
    s = CommandScheduler()
    s.post("play", 300)  # for the next block: waits
    assert _drain(s, 256) == []
    s.post("stop")  # posted after the play, arrives in the block the play is due
    s.post("value=2", 260)  # posted after "value=1"... (below) for an earlier frame of the same block
    assert s.pending() == ["play", "stop", "value=2"]
    assert _drain(s, 512) == [("play", 300), ("stop", None), ("value=2", 260)]


def test_same_frame_values_posted_in_different_blocks_the_later_wins() -> None:
    s = CommandScheduler()
    s.post(("x", 1), 300)  # for the next block: waits
    _drain(s, 256)
    s.post(("x", 2), 300)  # same frame, posted a block later: due in the same drain
    last = dict(cmd for cmd, _ in _drain(s, 512))
    assert last == {"x": 2}


def test_a_command_may_be_any_object_even_a_tuple_like_the_timed_entries() -> None:
    s = CommandScheduler()
    s.post(("@", 5, "x"))  # once the queue's own marker for a timed entry: now an ordinary command
    assert _drain(s, 1) == [(("@", 5, "x"), None)]


def test_engine_stop_after_a_play_queued_for_a_later_block_silences_it() -> None:
    """Before: the stop applied first (nothing playing), then the play: the loop sounded for ever."""
    eng = Engine(EngineConfig(lookahead_blocks=0))
    eng.bank.add("tone", np.full(48000, 0.5, dtype=np.float32))
    handle = eng.play("tone", loop=True, start_frame=400)  # in the second block
    eng.render(256)
    eng.stop(handle, release=0.0)
    eng.render(256)
    later = eng.render(4096)
    assert not eng.is_playing(handle)
    assert float(np.abs(later).max()) == 0.0  # exact: nothing plays, the mix is digital silence


def test_engine_two_gains_for_one_frame_posted_blocks_apart_the_later_wins() -> None:
    eng = Engine(EngineConfig(lookahead_blocks=0))
    eng.bank.add("tone", np.full(48000, 0.5, dtype=np.float32))
    handle = eng.play("tone", loop=True)
    eng.render(256)
    eng.set_voice(handle, gain_db=-40.0, at_frame=600)  # the third block's: waits a block
    eng.render(256)
    eng.set_voice(handle, gain_db=-6.0, at_frame=600)  # posted later for the same frame, due at once
    for _ in range(8):
        eng.render(256)
    info = eng.voice_info(handle)
    expected = np.sqrt(0.5) * 10 ** (-6.0 / 20)  # centre pan's equal-power gain at -6 dB (-40 dB: 0.007)
    assert info is not None and abs(info["gain_left"] - expected) < 1e-3 * expected, info


def test_scene_stop_after_a_trigger_for_a_later_block_means_it_never_sounds(tmp_path) -> None:
    """A game schedules a looping event for the next block, then cancels it at once (untimed stop):
    the instance must not sound. Before, the stop applied first and the loop then played for ever."""
    write_wav(tmp_path / "hum.wav", 0.3 * np.sin(2 * np.pi * 220 * np.arange(48000) / 48000))
    scene = load_scene_text(
        "name: t\nevents:\n  hum:\n    position: null\n    layers:\n"
        "      - {id: hum, source: hum.wav, mode: loop}\n",
        str(tmp_path / "scene.yaml"),
        tmp_path,
    )
    player = ScenePlayer(scene, EngineConfig(block=256, max_voices=16, voice_limit=16))
    rt = player.runtime
    player.render(256)
    iid = rt.trigger("hum", at_frame=700)  # the third block's
    player.render(256)
    rt.stop(iid, release=False)
    heard = player.render(48000)
    assert float(np.abs(heard).max()) == 0.0  # exact: no voice, the limiter passes digital silence
