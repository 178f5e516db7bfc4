"""Game objects moved as arrays (issue 15): ``SceneRuntime.set_objects_arrays`` moves many objects in
one numpy step, the instances following them get their poses in one bulk engine call, a tick where
nothing changed costs nothing per instance, and the instance cap is the same everywhere.

Equivalence reference: the same scene, seed and motion sent one ``set_object`` call per object, with
every moved voice refreshed in full and sent one ``set_voice`` per voice (the path before bulk
control). Tolerance 1e-6, as in tests/test_scene_bulk_voices.py: both paths hand the engine the same
float64 poses for the same block; the bulk call lands after the tick's other commands, which may
reorder float sums by an ulp; a voice left at its old pose for one block differs by orders more.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import write_wav

from middleware.config import MAX_INSTANCES, EngineConfig
from middleware.errors import SceneError
from middleware.player import ScenePlayer
from middleware.scene.instances import Instances
from middleware.scene.load import load_scene_text
from middleware.scene.runtime import RuntimeErrorMsg
from middleware.scene.voice_changes import VoiceChanges

SR = 48000
SCENE = """
name: swarm
buses: {sfx: {}}
events:
  bee:
    bus: sfx
    doppler: 1.0
    attenuation: {min: 1, max: 40}
    max_instances: MAXI
    layers:
      - {id: buzz, source: sounds/tone.wav, mode: loop, gain: -12}
  ping:
    position: [0, 0, -3]
    layers:
      - {id: p, source: sounds/tone.wav, mode: oneshot}
"""


class PerVoice(VoiceChanges):
    """The reference: every refresh sent at once, one ``set_voice`` per voice (the old path)."""

    def add(self, engine, handle, change) -> None:
        engine.set_voice(handle, **change)

    def add_pose(self, handle, position, velocity) -> None:
        raise AssertionError("the reference refreshes every moved voice in full")

    def add_poses(self, handles, positions, velocities) -> None:
        raise AssertionError("the reference refreshes every moved voice in full")


def _assets(tmp: Path) -> None:
    t = np.arange(SR) / SR
    write_wav(tmp / "sounds" / "tone.wav", 0.3 * np.sin(2 * np.pi * 330 * t))


def _player(tmp: Path, n_max: int = 64, voices: int = 64) -> ScenePlayer:
    scene = load_scene_text(SCENE.replace("MAXI", str(n_max)), str(tmp / "scene.yaml"), tmp)
    return ScenePlayer(scene, EngineConfig(block=256, max_voices=voices, voice_limit=voices), seed=3)


def _motion(n: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    t = b * 256 / SR
    ang = np.arange(n) * 2.4 + 3.0 * t
    r = 2.0 + np.arange(n) % 7
    pos = np.stack([r * np.cos(ang), np.full(n, 0.5), r * np.sin(ang)], axis=1)
    vel = np.stack([-3 * r * np.sin(ang), np.zeros(n), 3 * r * np.cos(ang)], axis=1)
    return pos, vel


def _render(tmp: Path, how: str) -> np.ndarray:
    n = 24
    player = _player(tmp)
    rt = player.runtime
    if how == "reference":
        rt.voice_changes = PerVoice()
        rt.pose_fast_path = False
    names = [f"b{i}" for i in range(n)]
    out = []
    rows = None
    for b in range(90):
        pos, vel = _motion(n, b)
        if b % 3 == 0 or b < 2:  # 60 Hz-ish moves at 187.5 blocks/s, and the first two blocks
            if how == "reference":
                for i, name in enumerate(names):
                    rt.set_object(name, pos[i].tolist(), velocity=vel[i].tolist())
            elif rows is None:
                rt.set_objects_arrays(names, pos, velocities=vel)
            else:
                rt.set_objects_arrays(rows, pos, velocities=vel)
        if b == 1:
            for name in names:
                rt.trigger("bee", object=name)
        if b % 20 == 7:
            rt.trigger("ping")  # an ordered event in between: its own voice, not a follower
        out.append(player.render(256))
        if how == "rows" and b == 3:
            rows = rt.object_rows(names)  # on the thread that renders, as the daemon does
    return np.concatenate(out)


def test_array_moves_render_what_per_object_calls_render(tmp_path: Path) -> None:
    _assets(tmp_path)
    ref = _render(tmp_path, "reference")
    names = _render(tmp_path, "names")
    rows = _render(tmp_path, "rows")
    assert float(np.max(np.abs(ref))) > 0.01  # it plays
    assert float(np.max(np.abs(names - ref))) < 1e-6
    assert float(np.max(np.abs(rows - ref))) < 1e-6


def test_a_tick_where_nothing_changed_visits_no_instance(tmp_path: Path, monkeypatch) -> None:
    """Thousands of live instances: an idle tick, and a tick where only their objects moved, run no
    per-instance Python; the moved voices get their poses in one set_voices call."""
    _assets(tmp_path)
    n = 600
    player = _player(tmp_path, n_max=1000, voices=1024)
    rt, eng = player.runtime, player.engine
    names = [f"m{i}" for i in range(n)]
    pos, _ = _motion(n, 0)
    rt.set_objects_arrays(names, pos)
    for name in names:
        rt.trigger("bee", object=name)
    for _ in range(3):
        player.render(256)  # started, then brought up to date once
    visited: list[int] = []
    real_update = Instances._update
    monkeypatch.setattr(Instances, "_update", lambda self, inst: (visited.append(1), real_update(self, inst)))
    calls: list[int] = []
    real_set_voices = eng.set_voices
    monkeypatch.setattr(eng, "set_voices", lambda h, **k: (calls.append(len(h)), real_set_voices(h, **k)))
    player.render(256)
    assert visited == [] and calls == []  # idle: nothing per instance, nothing sent
    pos2, _ = _motion(n, 40)
    rt.set_objects_arrays(names, pos2)
    player.render(256)
    assert visited == []
    assert calls == [n]  # every follower's pose, in one bulk call
    h = next(iter(rt.instances.values())).layers["buzz"].handle
    before = eng.voice_info(h)["gain_left"]
    rt.set_objects_arrays(names[:1], [[30.0, 0.0, 0.0]])  # far to the right: the left gain drops
    for _ in range(2):
        player.render(256)
    assert eng.voice_info(h)["gain_left"] < 0.5 * before
    assert calls[-1] == 1  # only the voice whose object moved


def test_instance_follows_an_object_the_game_sends_later(tmp_path: Path) -> None:
    _assets(tmp_path)
    player = _player(tmp_path)
    rt = player.runtime
    iid = rt.trigger("bee", object="late", position=[0.0, 0.0, -2.0])
    for _ in range(3):
        player.render(256)
    h = rt.instances[iid].layers["buzz"].handle
    info = player.engine.voice_info(h)
    assert info["gain_left"] == pytest.approx(info["gain_right"], rel=0.05)  # straight ahead
    assert "late" not in rt.objects  # reserved for the follower, not listed until sent
    rt.set_objects_arrays(["late"], [[-20.0, 0.0, 0.0]])
    for _ in range(2):
        player.render(256)
    assert rt.instance_position(rt.instances[iid]) == (-20.0, 0.0, 0.0)
    info = player.engine.voice_info(h)
    assert info["gain_left"] > 3 * info["gain_right"]  # moved hard left


def test_array_updates_checked_at_once_and_last_entry_wins(tmp_path: Path) -> None:
    _assets(tmp_path)
    player = _player(tmp_path)
    rt = player.runtime
    with pytest.raises(RuntimeErrorMsg, match=r"positions\[1\]=\[nan, 0.0, 0.0\]: must be finite"):
        rt.set_objects_arrays(["a", "b"], [[0, 0, 0], [math.nan, 0, 0]])
    with pytest.raises(RuntimeErrorMsg, match=r"positions: must have shape \(2, 3\)"):
        rt.set_objects_arrays(["a", "b"], [[0, 0, 0]])
    with pytest.raises(RuntimeErrorMsg, match=r"objects\[1\]: object name ''"):
        rt.set_objects_arrays(["a", ""], [[0, 0, 0], [1, 1, 1]])
    with pytest.raises(RuntimeErrorMsg, match=r"velocities\[0\]=\[inf"):
        rt.set_objects_arrays(["a"], [[0, 0, 0]], velocities=[[math.inf, 0, 0]])
    player.render(256)
    assert "a" not in rt.objects  # nothing of a refused call was applied
    rt.set_objects_arrays(["a", "b"], [[1, 2, 3], [4, 5, 6]], forwards=[[1, 0, 0], [0, 0, 1]])
    rt.set_objects_arrays(
        ["a", "b", "a"],
        [[7, 8, 9], [0, 0, 0], [-1, -2, -3]],
        forwards=[[math.nan] * 3, [0, 1, 0], [math.nan] * 3],
    )
    player.render(256)
    assert rt.objects["a"].position == (-1.0, -2.0, -3.0)  # named twice: the last entry
    assert rt.objects["a"].forward == (1.0, 0.0, 0.0)  # NaN rows keep the object's facing
    assert rt.objects["b"].forward == (0.0, 1.0, 0.0)
    assert sorted(rt.objects) == ["a", "b"]


def test_event_max_instances_goes_up_to_the_runtime_cap(tmp_path: Path) -> None:
    _assets(tmp_path)
    assert MAX_INSTANCES >= 4000  # issue 15: thousands of moving instances
    text = SCENE.replace("MAXI", str(MAX_INSTANCES))
    scene = load_scene_text(text, str(tmp_path / "scene.yaml"), tmp_path)
    assert scene.events["bee"].max_instances == MAX_INSTANCES
    with pytest.raises(SceneError, match=rf"max_instances: value {MAX_INSTANCES + 1} is out of range"):
        load_scene_text(SCENE.replace("MAXI", str(MAX_INSTANCES + 1)), str(tmp_path / "scene.yaml"), tmp_path)


def test_stealing_keeps_the_oldest_order_per_event(tmp_path: Path) -> None:
    _assets(tmp_path)
    player = _player(tmp_path, n_max=2)
    rt = player.runtime
    a, b = rt.trigger("bee", position=[1.0, 0, 0]), rt.trigger("bee", position=[2.0, 0, 0])
    rt.trigger("ping")  # another event's instance does not count
    player.render(256)
    rt.trigger("bee", position=[3.0, 0, 0])
    player.render(256)
    c = rt.trigger("bee", position=[4.0, 0, 0])  # within a's release: steals b, not a again
    player.render(256)
    for _ in range(400):  # their releases
        player.render(256)
    assert a not in rt.instances and b not in rt.instances  # the oldest of that event were stolen
    assert c in rt.instances and sum(i.event.name == "bee" for i in rt.instances.values()) == 2


def test_the_world_view_walks_what_it_lists_and_counts_the_rest(tmp_path: Path) -> None:
    """The studio's world view runs on the render thread every few blocks: with thousands of
    instances it walks the ones it lists and counts the rest (it walked every instance before)."""
    from middleware.scene.inspect import MAX_ITEMS, world

    _assets(tmp_path)
    n = 300
    player = _player(tmp_path, n_max=1000, voices=1024)
    rt = player.runtime
    for i in range(n):
        rt.trigger("bee", position=[float(i % 10), 0.0, -2.0])
    for _ in range(3):
        player.render(256)
    walked = []

    class Counting(dict):
        def items(self):
            for kv in super().items():
                walked.append(kv[0])
                yield kv

    rt.instances = Counting(rt.instances)
    w = world(rt, {})
    assert w["instances_total"] == n and len(w["instances"]) == MAX_ITEMS
    assert w["voices_total"] == n and len(w["voices"]) == MAX_ITEMS
    assert len(walked) <= MAX_ITEMS + 1
