"""The real-time guard (``middleware/rt/guard.py``, issue 14 item 5): a RealtimeSanitizer-like test mode.

* Unit: a guarded call on a marked thread is a violation with its stack; the same call on another
  thread is not; off, nothing is patched; ``raise`` mode raises at the call.
* The sinks mark whatever renders (the device callback in callback mode, the render thread in ring
  mode, a null sink's loop), so a renderable that touches the disk is caught there.
* A real daemon, run with ``SOUNDSCAPE_RT_GUARD=1`` and driven with every kind of message (triggers,
  objects, say, hot reload, profile, a scene with a director model and generators), reports zero
  violations; so does the demo game against a live daemon.
"""

from __future__ import annotations

import io
import json
import os
import threading

import msgpack
import numpy as np
import pytest
import zmq

from middleware.config import EngineConfig
from middleware.rt import guard


@pytest.fixture
def guarded():
    """The guard on (record mode) for one test, off and empty afterwards."""
    guard.clear()
    guard.enable("record")
    yield guard
    guard.disable()
    guard.clear()


def _on_thread(fn, marked: bool) -> None:
    def body() -> None:
        if marked:
            with guard.audio_thread():
                fn()
        else:
            fn()

    t = threading.Thread(target=body, name="audio-under-test" if marked else "other")
    t.start()
    t.join()


def _forbidden_calls(tmp_path) -> None:
    """One call of each guarded kind."""
    os.stat(tmp_path)
    with open(tmp_path / "f.txt", "w") as fh:  # the builtin is what is guarded
        fh.write("x")
    (tmp_path / "f.txt").read_bytes()
    msgpack.unpackb(msgpack.packb({"a": 1}))
    print("hello", file=io.StringIO())
    ctx = zmq.Context.instance()
    a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    a.bind("inproc://rt-guard-test")
    b.connect("inproc://rt-guard-test")
    a.send(b"x")
    b.recv()
    a.close(0)
    b.close(0)


def test_guarded_calls_on_a_marked_thread_are_violations_with_their_stack(guarded, tmp_path):
    _on_thread(lambda: _forbidden_calls(tmp_path), marked=True)
    whats = {v.what for v in guard.violations()}
    assert {"os.stat", "open", "msgpack pack", "msgpack unpack", "print", "zmq send", "zmq recv"} <= whats
    v = next(v for v in guard.violations() if v.what == "msgpack pack")
    assert v.thread == "audio-under-test"
    text = v.format()
    assert "_forbidden_calls" in text and "msgpack.packb" in text  # the caller's frame and its line


def test_the_same_calls_on_another_thread_are_not(guarded, tmp_path):
    _on_thread(lambda: _forbidden_calls(tmp_path), marked=False)
    _forbidden_calls(tmp_path)  # the test's own thread is not marked either
    assert guard.violation_count() == 0, [v.format() for v in guard.violations()]


def test_project_functions_marked_forbidden_are_caught(guarded):
    from middleware.engine.bank import decode_file
    from middleware.generators import create_generator
    from middleware.ml import sessions
    from middleware.ml.morph import MorphModel

    def body() -> None:
        create_generator("wind", sample_rate=48000, seed=1)
        with pytest.raises(Exception):  # noqa: B017 - a file that is not there: the call is what counts
            decode_file("/nonexistent.wav", 48000)
        with pytest.raises(Exception):  # noqa: B017 - not a model
            sessions.session(b"not a model")
        with pytest.raises(Exception):  # noqa: B017 - not a model
            MorphModel(b"not a model")

    _on_thread(body, marked=True)
    whats = [v.what for v in guard.violations()]
    for what in (
        "generator construction",
        "asset decoding",
        "onnxruntime session creation",
        "morph model loading",
    ):
        assert what in whats, whats
    assert "morph stream construction" in {what for _, what in guard._marked}


def test_off_by_default_and_free(tmp_path):
    """Off: the guarded functions are the originals and marked project functions are unwrapped."""
    from middleware.engine.bank import decode_file

    assert not guard.enabled()
    assert not hasattr(os.stat, "__rt_guard_original__")
    assert not hasattr(msgpack.packb, "__rt_guard_original__")
    assert not hasattr(decode_file, "__rt_guard_original__")
    _on_thread(lambda: _forbidden_calls(tmp_path), marked=True)
    assert guard.violation_count() == 0
    guard.enable()
    try:
        assert hasattr(msgpack.packb, "__rt_guard_original__")
    finally:
        guard.disable()
    assert not hasattr(msgpack.packb, "__rt_guard_original__")
    assert "recv" not in vars(zmq.Socket)  # the inherited method is back, not a copy of it


def test_raise_mode_raises_at_the_call(tmp_path):
    guard.clear()
    guard.enable("raise")
    caught: list[BaseException] = []

    def body() -> None:
        try:
            os.stat(tmp_path)
        except guard.RealtimeViolation as exc:
            caught.append(exc)

    try:
        _on_thread(body, marked=True)
    finally:
        guard.disable()
        guard.clear()
    assert len(caught) == 1 and "os.stat" in str(caught[0])


def test_report_prints_each_distinct_violation_once(guarded, tmp_path):
    """A call made every block must not flood stderr: one stack per call site, repeats counted."""

    def body() -> None:
        for _ in range(5):
            os.stat(tmp_path)  # one site, five calls
        msgpack.packb(1)  # another site

    _on_thread(body, marked=True)
    out = io.StringIO()
    since = guard.report(0, file=out)
    assert since == 6 == guard.violation_count()
    text = out.getvalue()
    assert text.count("os.stat on audio thread") == 1 and text.count("msgpack pack on audio thread") == 1
    assert "4 more violation(s)" in text
    out = io.StringIO()
    assert guard.report(since, file=out) == 6 and out.getvalue() == ""  # nothing new: nothing printed


def test_env_variable_turns_it_on(monkeypatch):
    monkeypatch.setenv(guard.ENV, "1")
    try:
        assert guard.install_from_env()
        assert guard.mode() == "record"
    finally:
        guard.disable()
    monkeypatch.setenv(guard.ENV, "bogus")
    with pytest.raises(ValueError, match="SOUNDSCAPE_RT_GUARD"):
        guard.install_from_env()
    monkeypatch.setenv(guard.ENV, "0")
    assert not guard.install_from_env()


# ------------------------------------------------------------------------------------ sinks
class _StatsOnRender:
    """A renderable that touches the disk in ``render``: what the guard must catch in every sink."""

    def __init__(self, path) -> None:
        self.config = EngineConfig(sample_rate=48000, block=256, lookahead_blocks=0)
        self.path = path
        self.threads: set[str] = set()

    def render(self, frames: int) -> np.ndarray:
        self.threads.add(threading.current_thread().name)
        os.stat(self.path)
        return np.zeros((frames, 2), dtype=np.float32)


@pytest.mark.parametrize("lookahead", [0, 2], ids=["callback-mode", "ring-mode"])
def test_device_sink_marks_whatever_renders(guarded, tmp_path, lookahead):
    import time

    from middleware.sinks import DeviceSink

    r = _StatsOnRender(tmp_path)
    sink = DeviceSink(r, backend="null", lookahead_blocks=lookahead, null_min_lookahead_s=0)
    sink.start()
    try:
        deadline = time.monotonic() + 5
        while guard.violation_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        sink.stop()
    assert guard.violation_count() > 0
    assert {v.what for v in guard.violations()} == {"os.stat"}
    assert all("render" in v.format() for v in guard.violations())
    # start() renders its first block(s) on the caller's thread, which stays unmarked
    assert not guard.on_audio_thread()


def test_null_sink_marks_its_loop_and_run(guarded, tmp_path):
    from middleware.sinks import NullSink

    r = _StatsOnRender(tmp_path)
    NullSink(r).run(0.01)
    assert guard.violation_count() > 0
    assert not guard.on_audio_thread()  # run() marks the caller's thread only while it renders
    guard.clear()
    with NullSink(r):
        import time

        time.sleep(0.05)
    assert guard.violation_count() > 0


# ------------------------------------------------------------------------------ a real daemon
def _drive_every_message(client, sub, desc: dict) -> None:
    """Every message type a game sends, with names from the scene's own description: untimed and
    timed, alone and in a batch, so that each path through the audio process runs at least once."""
    import time

    t0 = 100.0
    for name, p in desc["parameters"].items():
        client.set_param(name, (p["min"] + p["max"]) / 2)
        client.set_param(name, p["max"], t=t0 + 0.05)
    for group, values in desc["states"].items():
        for v in values:
            client.set_state(group, v)
    for group, values in desc["switches"].items():
        client.set_switch(group, values[-1])
    client.listener((0.0, 1.7, 0.0), forward=(1.0, 0.0, 0.0))
    for i in range(20):
        client.object(f"obj{i % 4}", (float(i), 0.0, -1.0), velocity=(1.0, 0.0, 0.0))
    ids = []
    for ev in desc["events"]:
        params = {
            k: (v["min"] + v["max"]) / 2 for k, v in desc.get("event_parameters", {}).get(ev, {}).items()
        }
        ids.append(client.trigger(ev, position=(2.0, 0.0, -3.0), params=params or None))
        client.trigger(ev, position=(-2.0, 0.0, -3.0), t=t0 + 0.1, sync=False)
    for snap in desc["snapshots"]:
        client.snapshot(snap, True)
    for name in desc.get("stingers", []):
        client.stinger(name)
    layers = desc.get("layers", [])
    if layers:
        client.set_weight(layers[0], 0.5)
    client.say("The bridge is out, take the river path.", preset="neutral")
    client.profile(mono=True, dynamic_range="night")
    with client.batch() as b:
        b.set_param(next(iter(desc["parameters"])), 0.2)
        b.object("obj0", (1.0, 2.0, 3.0))
        b.trigger(desc["events"][0], position=(0.0, 0.0, -1.0))
    client.sync()
    time.sleep(1.0)  # director ticks, lines synthesised and played, voices starting and ending
    for iid in ids:
        client.stop(iid)
    for snap in desc["snapshots"]:
        client.snapshot(snap, False)
    if layers:
        client.set_weight(layers[0], None)
    client.sync()


def test_daemon_under_the_guard_has_no_violations(tmp_path, monkeypatch):
    """The demo scene (director model, generators, music, voice lines) and a hot reload to the forest
    (another director, a morph model) and back, every message type, with the guard on in the
    daemon's audio process: no guarded call ran on the render path."""
    import time

    from test_daemon import start_daemon, stop_daemon

    from demo_game.assets import DEMO_SCENE, ensure_demo_assets
    from middleware.client import Client, Subscriber

    ensure_demo_assets()
    forest = DEMO_SCENE.parent / "forest.yaml"
    monkeypatch.setenv(guard.ENV, "1")
    proc, info = start_daemon("--lookahead", "0", scene=DEMO_SCENE)
    ctx = zmq.Context()
    try:
        client = Client(info["bind"], name="rt-guard", context=ctx, timeout=10.0)
        sub = Subscriber(info["pub"], context=ctx)
        desc = client.hello()["scene"]
        _drive_every_message(client, sub, desc)
        desc = client.load_scene(str(forest))  # hot reload: models opened, assets decoded, swapped
        for _ in range(3):  # rain up and down: the morph layer starts and its stream follows
            client.set_state("weather", "storm")
            client.set_param("intensity", 1.0)
            time.sleep(0.4)
            client.set_param("intensity", 0.0)
        _drive_every_message(client, sub, {**client.hello()["scene"]})
        client.load_scene(str(DEMO_SCENE))
        _drive_every_message(client, sub, client.hello()["scene"])
        client.sync()
        time.sleep(0.3)
        audio = client.stats()["audio"]
        client.close()
        sub.close()
    finally:
        code, err = stop_daemon(proc)
        ctx.destroy(linger=0)
    assert audio["rt_guard"] == "record"  # the guard was on in the audio process
    assert audio["render_error"] is None
    stacks = "\n".join(line for line in err.splitlines() if "SOUNDSCAPE_RT_GUARD" in line or "File" in line)
    assert audio["rt_violations"] == 0, f"{audio['rt_violations']} violations; stderr:\n{err[-20000:]}"
    assert "SOUNDSCAPE_RT_GUARD" not in err, stacks
    assert code == 0, err


def test_recording_daemon_writes_its_record_off_the_render_path(tmp_path, monkeypatch):
    """The conformance daemon (``serve --recording --record FILE``) under the guard and a flood of
    object updates: its calls are JSON-encoded and written by a writer thread (they were encoded and
    written on the render path: renders of 10-25 ms and underruns under a flood), and every call
    reaches the file by the time the daemon has stopped."""
    import time

    import msgpack
    from test_daemon import start_daemon, stop_daemon

    from middleware.client import Client

    monkeypatch.setenv(guard.ENV, "1")
    record = tmp_path / "calls.jsonl"
    proc, info = start_daemon("--lookahead", "0", record=record)
    ctx = zmq.Context()
    try:
        client = Client(info["bind"], name="rt-guard-rec", context=ctx, timeout=10.0)
        client.hello()
        for i in range(3000):
            client.send_raw(
                msgpack.packb({"v": 1, "type": "object", "name": f"o{i % 7}", "position": [i, 0, 0]})
            )
        client.set_param("intensity", 0.25)
        client.sync()
        time.sleep(0.3)  # audio stats are at most 0.1 s old
        audio = client.stats()["audio"]
        client.close()
    finally:
        code, err = stop_daemon(proc)
        ctx.destroy(linger=0)
    assert audio["rt_guard"] == "record"
    assert audio["rt_violations"] == 0, err[-20000:]
    assert "SOUNDSCAPE_RT_GUARD" not in err, err[-20000:]
    assert code == 0, err
    calls = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    objects = [c for c in calls if c["call"] == "object"]
    last = {f"o{k}": max(i for i in range(3000) if i % 7 == k) for k in range(7)}
    recorded: dict[str, float] = {}
    for c in objects:  # coalesced latest-wins: each object's record ends on its last update
        recorded[c["name"]] = c["position"][0]
    assert recorded == last
    assert calls[-1] == {"call": "set_param", "name": "intensity", "value": 0.25, "at_frame": None}


# ------------------------------------------------------------------- the runtime's render path
def _render_marked(rt, blocks: int) -> None:
    """``blocks`` blocks as the daemon's render path runs them, on a thread marked as audio."""

    def body() -> None:
        with guard.audio_thread():
            for _ in range(blocks):
                rt.update(rt.engine.block)
                rt.engine.render(rt.engine.block)

    t = threading.Thread(target=body, name="render")
    t.start()
    t.join()


def test_runtime_with_a_worker_keeps_models_and_construction_off_the_render_path(guarded):
    """A scene with a director and generators, hot-reloaded to one with a director and a morph model:
    the models open in ``prepare`` (caller's thread), the director and the morph decoder run on the
    worker and generators are built there, so the marked render thread makes no guarded call, and the
    director's weights still arrive (one control tick late)."""
    from demo_game.assets import DEMO_SCENE, ensure_demo_assets
    from middleware.engine import Engine
    from middleware.rt.worker import Worker
    from middleware.scene import load_scene
    from middleware.scene.runtime import SceneRuntime

    ensure_demo_assets()
    engine = Engine(EngineConfig(sample_rate=48000, block=256))
    rt = SceneRuntime(load_scene(DEMO_SCENE), engine, seed=1)
    rt.background = worker = Worker()
    try:
        for ev in rt.scene.events:
            rt.trigger(ev, position=(1.0, 0.0, -2.0))
        _render_marked(rt, 40)
        assert rt.director is not None and rt.director_weights  # answered on the worker
        forest = load_scene(DEMO_SCENE.parent / "forest.yaml")
        rt.prepare(forest)  # the daemon's main thread
        rt.reload(forest)  # the render path's swap: prepared already, so nothing is opened again
        rt.set_state("weather", "storm")
        rt.set_param("intensity", 1.0)
        _render_marked(rt, 80)
        assert rt.scene is forest and rt.director is not None and rt.director_weights
        playing = [li for em in rt.emitters.values() for li in em.layers.values() if li.stream is not None]
        assert playing, "a morph or generator layer plays from a worker-built stream"
    finally:
        worker.close()
    assert guard.violation_count() == 0, "\n".join(v.format() for v in guard.violations())
    assert worker.failed == 0


def test_an_edited_asset_leaves_the_bank_once_nothing_plays_it(tmp_path):
    """Hot reload of an edited file: its new version is loaded, and the old one is removed from the
    bank (off the render path, ``release_unused``) once its last voice has ended, not before."""
    from conftest import sine, write_wav

    from middleware.engine import Engine
    from middleware.scene import load_scene
    from middleware.scene.runtime import SceneRuntime

    wav = write_wav(tmp_path / "sounds" / "hit.wav", sine(440.0, 0.2))
    scene = tmp_path / "scene.yaml"
    layer = "{id: one, source: sounds/hit.wav, mode: oneshot}"
    scene.write_text(f"name: edited\nevents:\n  hit:\n    layers:\n      - {layer}\n", encoding="utf-8")
    engine = Engine(EngineConfig(sample_rate=48000, block=256))
    rt = SceneRuntime(load_scene(scene), engine)
    old = next(name for name in engine.bank._by_name if name.startswith(str(wav)))
    rt.trigger("hit")
    for _ in range(3):
        rt.update(256)
        engine.render(256)
    write_wav(wav, sine(660.0, 0.2))
    st = os.stat(wav)
    os.utime(wav, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))  # the mtime moves on coarse clocks
    new_def = load_scene(scene)
    rt.prepare(new_def)
    rt.reload(new_def)
    for _ in range(3):
        rt.update(256)
        engine.render(256)
    assert old in engine.bank  # its voice still plays (0.2 s = 37 blocks)
    assert rt.assets.release_unused() == 0 and old in engine.bank
    for _ in range(40):
        rt.update(256)
        engine.render(256)
    used = engine.bank.used_bytes
    freed = rt.assets.release_unused()
    assert freed > 0 and old not in engine.bank
    assert engine.bank.used_bytes == used - freed
    assert any(name.startswith(str(wav)) for name in engine.bank._by_name)  # the new version stays


@pytest.mark.slow
def test_the_demo_under_the_guard(monkeypatch):
    """The demo game's bot plays its whole script (every situation: weather, cave, village, fight,
    music, the NPC's line, the head turn) against a live daemon in its default callback mode with the
    guard on: no guarded call on the render path (~17 s)."""
    from demo_game.assets import DEMO_SCENE, ensure_demo_assets
    from demo_game.session import run_bot, spawn_daemon
    from middleware.client import Client

    ensure_demo_assets()
    monkeypatch.setenv(guard.ENV, "1")
    daemon = spawn_daemon(DEMO_SCENE, backend="null")
    try:
        client = Client(daemon.bind, name="demo-under-guard", timeout=10.0)
        client.hello()
        run = run_bot(client, scale=0.2, realtime=True)
        client.sync()
        audio = client.stats()["audio"]
        client.close()
    finally:
        daemon.stop()
    log = "\n".join(daemon.stderr_lines)
    assert run.seconds > 10 and audio["render_mode"] == "callback"
    assert audio["rt_guard"] == "record"
    assert audio["rt_violations"] == 0, log
    assert audio["render_error"] is None


def test_a_file_the_new_scene_does_not_use_leaves_the_bank_once_unplayed(tmp_path):
    """Hot reload to a scene without a file: it stays while a voice plays it, then leaves the bank;
    a start of the old scene's event scheduled across the swap is reported, not a crash."""
    from conftest import sine, write_wav

    from middleware.engine import Engine
    from middleware.scene import load_scene
    from middleware.scene.runtime import SceneRuntime

    write_wav(tmp_path / "sounds" / "a.wav", sine(440.0, 0.2))
    write_wav(tmp_path / "sounds" / "b.wav", sine(660.0, 0.2))
    scene = tmp_path / "scene.yaml"

    def write(name: str) -> None:
        layer = f"{{id: one, source: sounds/{name}.wav, mode: oneshot}}"
        scene.write_text(f"name: swap\nevents:\n  hit:\n    layers:\n      - {layer}\n", encoding="utf-8")

    write("a")
    engine = Engine(EngineConfig(sample_rate=48000, block=256))
    rt = SceneRuntime(load_scene(scene), engine)
    (a_key,) = [n for n in engine.bank._by_name if "a.wav@" in n]
    rt.trigger("hit")
    rt.trigger("hit", at_frame=engine.frame + 20 * 256)  # lands after the swap
    rt.update(256)
    engine.render(256)
    write("b")
    new_def = load_scene(scene)
    rt.reload(new_def)
    for _ in range(3):
        rt.update(256)
        engine.render(256)
    assert rt.scene is new_def and a_key in engine.bank
    assert rt.assets.release_unused() == 0  # its voice still plays
    for _ in range(60):
        rt.update(256)
        engine.render(256)
    assert rt.assets.release_unused() > 0 and a_key not in engine.bank
    assert any("b.wav@" in n for n in engine.bank._by_name)
    errors = [p for topic, p in rt.events if topic == "error"]
    assert any("not loaded" in str(p) for p in errors), errors
