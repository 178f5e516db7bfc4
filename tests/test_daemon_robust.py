"""No message stops the daemon, and neither of its processes outlives the other (issue 18).

A real ``soundscape serve`` on 127.0.0.1 with the NULL device and a small scene written by the test.
Where a test needs a bug that is not there (a handler that raises, a loop that keeps failing), the
daemon runs in a subprocess whose one method is replaced by a raising one before it starts: the
daemon, its sockets and its two processes are real; only the fault is made up.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import wave
from pathlib import Path

import msgpack
import numpy as np
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_daemon import start_daemon, stop_daemon

from middleware.client import Client, Subscriber
from middleware.config import MAX_OBJECTS
from middleware.errors import ProtocolError
from middleware.transport import protocol as P

SCENE_A = """name: alpha
parameters:
  intensity: {range: [0, 1], default: 0.5}
states:
  weather: [clear, rain]
switches:
  surface: [grass, stone]
buses:
  sfx: {}
  music: {}
emitters:
  bed:
    bus: sfx
    layers:
      - {id: hum, source: sounds/hum.wav, gain: {param: intensity, curve: [[0, -40], [1, -12]]}}
events:
  ping:
    bus: sfx
    parameters:
      pitch: {range: [0, 2], default: 1}
    layers: [{id: beep, source: sounds/beep.wav, mode: oneshot}]
  drone:
    bus: sfx
    max_instances: 256
    layers: [{id: dr, source: sounds/hum.wav}]
music:
  bus: music
  tempo: 100
  time_signature: [4, 4]
  start: calm
  segments:
    calm: {sample: sounds/bar.wav, bars: 1}
  stingers:
    hit: {sample: sounds/hit.wav, at: beat}
"""

SCENE_B = """name: beta
parameters:
  threat: {range: [0, 1], default: 0.0}
buses:
  sfx: {}
events:
  ping:
    bus: sfx
    layers: [{id: beep, source: sounds/beep.wav, mode: oneshot}]
"""


def _tone(path: Path, seconds: float, freq: float) -> None:
    n = int(48000 * seconds)
    t = np.arange(n) / 48000
    x = 0.3 * np.sin(2 * np.pi * freq * t) * np.minimum(1, np.minimum(t, t[::-1]) / 0.002)
    with wave.open(str(path), "wb") as h:
        h.setnchannels(1)
        h.setsampwidth(2)
        h.setframerate(48000)
        h.writeframes((x * 32767).astype("<i2").tobytes())


def write_scenes(root: Path) -> Path:
    """Scenes `a.yaml` (alpha: a parameter, states, an event with its own parameter, music with a
    stinger) and `b.yaml` (beta: another parameter), and a broken one; returns a.yaml."""
    (root / "sounds").mkdir(parents=True, exist_ok=True)
    _tone(root / "sounds" / "beep.wav", 0.05, 880)
    _tone(root / "sounds" / "hum.wav", 1.0, 110)
    _tone(root / "sounds" / "bar.wav", 2.4, 220)
    _tone(root / "sounds" / "hit.wav", 0.2, 440)
    (root / "a.yaml").write_text(SCENE_A)
    (root / "b.yaml").write_text(SCENE_B)
    (root / "broken.yaml").write_text(SCENE_B.replace("bus: sfx\n    layers", "bus: nowhere\n    layers"))
    return root / "a.yaml"


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def gone(pid: int, within: float) -> bool:
    """True once ``pid`` has exited (a zombie waiting for its parent counts as exited)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


class Scene:
    def __init__(self, root: Path, *extra: str) -> None:
        self.root = root
        self.proc, self.info = start_daemon(*extra, scene=write_scenes(root))
        self.ctx = zmq.Context()
        self.sub = Subscriber(self.info["pub"], ["error"], context=self.ctx)
        self.client = Client(self.info["bind"], name="robust", context=self.ctx, timeout=10.0)
        self.client.hello()
        time.sleep(0.3)

    def raw(self, msg: dict, rid: int, **pack) -> dict:
        """Send ``msg`` with ``id`` and return its one reply as a map (ok or error)."""
        self.client.send_raw(msgpack.packb({**msg, "id": rid}, use_bin_type=True, **pack))
        try:
            return self.client.wait_reply(rid)
        except ProtocolError as exc:
            return {"type": "error", "code": exc.code, "field": exc.where or None, "message": str(exc)}

    def close(self) -> tuple[int, str]:
        self.ctx.destroy(linger=0)
        return stop_daemon(self.proc)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    d = Scene(tmp_path_factory.mktemp("robust"))
    yield d
    code, err = d.close()
    assert code == 0, err


# ----------------------------------------------------------------------------- no message kills it
def test_nul_byte_in_a_scene_path_is_answered_and_the_daemon_keeps_serving(scene):
    """The issue's killer: a NUL byte made the path resolver raise in the network process."""
    for i, path in enumerate(["a\x00", "a.yaml\x00", "\x00", "a\x07.yaml", "sub/\x1b[2J.yaml"]):
        reply = scene.raw({"v": 1, "type": "load_scene", "path": path}, 100 + i)
        assert (reply["code"], reply["field"]) == ("scene_error", "path"), reply
    assert scene.proc.poll() is None
    assert scene.client.hello()["scene"]["name"] == "alpha"


NASTY = st.text(
    alphabet=st.one_of(
        st.sampled_from(
            ["\x00", "\x01", "\x07", "\x1b", "\x7f", "\n", "\ufeff", "\U0001f600", "a", ".", "/"]
        ),
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),  # lone surrogates: not UTF-8 at all
        st.characters(),
    ),
    min_size=0,
    max_size=300,
)


def _nasty_message(msg: P.Message, texts: list[str]) -> dict:
    """The message's documented example with every string field (and every name key of a map field,
    and every string of a batch item) replaced by one of ``texts``."""
    out = dict(msg.example)
    out.pop("id", None)
    pick = iter(texts * 8)
    for f in msg.fields:
        if f.kind in ("name", "string"):
            out[f.name] = next(pick)
        elif f.kind == "params":
            out[f.name] = {next(pick): 1.0}
        elif f.kind == "switches":
            out[f.name] = {next(pick): next(pick)}
        elif f.kind == "map":
            out[f.name] = {next(pick): {next(pick): 1.0}}
        elif f.kind == "items":
            out[f.name] = [
                {"type": "set_state", "group": next(pick), "value": next(pick)},
                {"type": "trigger", "event": next(pick), "object": next(pick), "params": {next(pick): 0.5}},
                {"type": next(pick)},
            ]
    return out


_SEEN: dict[int, dict] = {}
_NEXT_ID = iter(range(10_000, 2**31))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(list(P.MESSAGES.values())), st.lists(NASTY, min_size=1, max_size=4))
def test_nul_surrogates_and_control_characters_in_every_string_field(scene, msg, texts):
    """Every string field of every message type, hypothesis over the protocol table: each request
    with an id gets exactly one reply, which is ``ok`` or a documented error other than ``internal``."""
    rid = next(_NEXT_ID)
    reply = scene.raw(_nasty_message(msg, texts), rid, unicode_errors="surrogatepass")
    assert reply["type"] in ("ok", "error"), reply
    if reply["type"] == "error":
        assert reply["code"] in P.ERROR_CODES and reply["code"] != "internal", reply
    _SEEN[rid] = reply


def test_every_nasty_request_was_answered_once_and_the_daemon_plays(scene):
    assert len(_SEEN) >= 100  # the hypothesis test above ran
    time.sleep(0.3)
    extra = []
    while scene.client.sock.poll(100):  # a second reply to any of them would be waiting here
        extra.append(msgpack.unpackb(scene.client.sock.recv(), raw=False))
    assert [r for r in extra if r.get("id") in _SEEN] == []
    a0 = scene.client.stats()["audio"]["frames_played"]
    time.sleep(0.2)
    stats = scene.client.stats()
    assert stats["audio"]["frames_played"] > a0 and scene.proc.poll() is None
    assert stats["net"]["internal_errors"] == 0


def test_generated_messages_of_every_type_are_each_answered_once(scene):
    """The suite's slice of benchmarks/fuzz_soak.py (which runs 100k): a few thousand hypothesis-made
    messages of every type, with NUL, surrogates, huge strings, NaN, wrong types and stray keys, from
    three clients. Every request with a readable id is answered exactly once, never `internal`."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import fuzz_soak

    hello = scene.client.hello()
    fuzzer = fuzz_soak.Fuzzer(scene.info["bind"], hello["max_message_bytes"])
    try:
        tally = fuzz_soak.run(fuzzer, fuzz_soak.scene_names(hello, "a.yaml"), 3000, chunk=100, seed=18)
        fuzzer.finish(20.0)
    finally:
        fuzzer.close()
    assert tally.with_id > 1000
    assert [rid for rid, n in tally.replies.items() if n != 1] == []
    assert tally.internal == [] and tally.stray == 0
    assert scene.proc.poll() is None and scene.client.stats()["net"]["internal_errors"] == 0


def test_echoed_input_is_clipped(scene):
    """An unknown 250 KB key was echoed twice in the error (a 500 KB reply, twice the frame limit)."""
    big = "k" * 250_000
    for msg in (
        {"v": 1, "type": "set_param", big: 1},
        {"v": 1, "type": big},
        {"v": 1, "type": "batch", big: 1},
    ):
        scene.client.send_raw(msgpack.packb({**msg, "id": 77}))
        assert scene.client.sock.poll(10_000)
        frame = scene.client.sock.recv()
        reply = msgpack.unpackb(frame, raw=False)
        assert reply["id"] == 77 and reply["type"] == "error", reply
        assert len(frame) < 2048, (len(frame), reply["code"])


def test_error_messages_say_paths_relative_to_the_scene_folder(scene):
    root = str(scene.root.resolve())
    outside = scene.raw({"v": 1, "type": "load_scene", "path": "../elsewhere.yaml"}, 300)
    broken = scene.raw({"v": 1, "type": "load_scene", "path": "broken.yaml"}, 301)
    missing = scene.raw({"v": 1, "type": "load_scene", "path": "nope.yaml"}, 302)
    for reply in (outside, broken, missing):
        assert reply["code"] == "scene_error" and reply["field"] == "path", reply
        assert root not in reply["message"], reply["message"]
    assert "broken.yaml" in broken["message"] and "nowhere" in broken["message"]
    assert scene.client.hello()["scene"]["name"] == "alpha"  # the old scene plays on


# --------------------------------------------------------------------------- replies and memory
def test_replies_a_client_does_not_read_are_counted(scene):
    """A client that never reads lost 40,000 of 50,000 replies while replies_dropped stayed 0."""
    lazy = scene.ctx.socket(zmq.DEALER)
    lazy.setsockopt(zmq.RCVHWM, 10)
    lazy.setsockopt(zmq.RCVBUF, 4096)
    lazy.setsockopt(zmq.SNDHWM, 100_000)
    lazy.connect(scene.info["bind"])
    before = scene.client.stats()["net"]
    n = 30_000
    for i in range(n):  # hello: replies of ~1 KB, so the kernel's socket buffers cannot take them all
        lazy.send(msgpack.packb({"v": 1, "type": "hello", "id": i}))
    scene.client.timeout = 60.0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until all of them were handled
        net = scene.client.stats()["net"]
        if net["received"] - before["received"] >= n:
            break
        time.sleep(0.2)
    scene.client.timeout = 10.0
    got = 0
    while lazy.poll(500):
        lazy.recv()
        got += 1
    lazy.close()
    after = scene.client.stats()["net"]
    dropped = after["replies_dropped"] - before["replies_dropped"]
    assert got < n and dropped > 0, (got, dropped)  # the daemon could not queue them all ...
    assert got + dropped == n  # ... and every one it could not is counted
    assert after["dropped"] >= dropped


def _rss_after_quiet(pid: int) -> float:
    time.sleep(1.6)  # memory is handed back once the sockets have been quiet for a moment
    return rss_mb(pid)


def _rss_settled(pid: int, start: float, bound_mb: float, timeout: float = 6.0) -> float:
    """The process's memory once quiet: back within ``bound_mb`` of ``start``, or whatever it is when
    ``timeout`` runs out. The daemon hands memory back 0.5-1 s after the last message and once more a
    second later (frees that came late, e.g. queues drained after the first); a loaded machine can
    delay either, so the test waits for the hand-back rather than sampling one moment."""
    rss = _rss_after_quiet(pid)
    deadline = time.monotonic() + timeout
    while rss - start >= bound_mb and time.monotonic() < deadline:
        time.sleep(0.25)
        rss = rss_mb(pid)
    return rss


def test_memory_returns_after_bursts_and_object_names_are_capped(scene):
    """The network process kept 54 MB after 4 x 100k object updates and 44 MB for 200k distinct names;
    object names had no cap (the runtime's was silent)."""
    fast = Client(scene.info["bind"], context=scene.ctx, timeout=120.0, sndhwm=1_000_000)
    pid = scene.proc.pid

    def burst(names) -> None:  # packed first, then sent as fast as a Python loop can
        frames = [msgpack.packb({"v": 1, "type": "object", "name": n, "position": [float(i), 0.0, 0.0]})
                  for i, n in enumerate(names)]  # fmt: skip
        for frame in frames:
            fast.send_raw(frame)
        fast.sync()

    burst([f"warm{i % 50}" for i in range(20_000)])
    start = _rss_after_quiet(pid)
    peak = start
    for _ in range(4):
        burst([f"o{i % 50}" for i in range(100_000)])
        peak = max(peak, rss_mb(pid))  # before the hand-back (it waits for 0.5 s of quiet)
    after_bursts = _rss_settled(pid, start, 4.0)
    net0 = scene.client.stats()["net"]
    burst([f"distinct{i}" for i in range(200_000)])
    peak_names = rss_mb(pid)
    after_names = _rss_settled(pid, start, 30.0)
    net = scene.client.stats()["net"]
    fast.close()
    assert net["objects"] == MAX_OBJECTS
    assert net["object_limit"] - net0["object_limit"] >= 200_000 - MAX_OBJECTS
    with pytest.raises(ProtocolError) as info:  # a new name beyond the cap is refused before any ok
        scene.client.object("one_too_many", (0, 0, 0), sync=True)
    assert (info.value.code, info.value.where) == ("limit", "name")
    scene.client.object("o7", (1, 2, 3), sync=True)  # a known name still moves
    # Measured here (MB above the warm start): before the fix +4.8 after the bursts and +17 after the
    # names; after it -0.5 and -0.3, but since 2026-12 up to +3.6 after the bursts in some runs (objects
    # that outlive a burst pin some of the allocator's pages). So a burst's memory has come back when it
    # is within 4 MB of the start, or when at most a third of the burst's peak stayed (without the
    # hand-back it all stays). After 200k distinct names (all but the cap's 4,096 refused) 0.9-22 MB
    # stayed in 2026-12-05's runs, not explained yet (docs/protocol.md); the bound catches what the cap
    # fixed (44 MB kept for the names), not that.
    print(f"MB above start: bursts peak {peak - start:+.1f} -> {after_bursts - start:+.1f}, "
          f"names peak {peak_names - start:+.1f} -> {after_names - start:+.1f}")  # fmt: skip
    kept = after_bursts - start
    assert kept < 4.0 or kept < (peak - start) / 3, (start, peak, after_bursts)
    assert after_names - start < 30.0, (start, peak_names, after_names)


# ------------------------------------------------------------------- neither outlives the other
def test_audio_process_stops_on_sigterm_and_takes_the_network_process_with_it(tmp_path):
    """The audio process ignored SIGTERM (and SIGINT), so an orphan could not be stopped."""
    proc, info = start_daemon()
    try:
        os.kill(info["pid"], signal.SIGTERM)
        assert gone(info["pid"], 10.0), "the audio process ignored SIGTERM"
        code = proc.wait(timeout=10)
        err = proc.stderr.read()
        assert code == 2 and "audio process exited unexpectedly" in err, (code, err)
    finally:
        if proc.poll() is None:
            proc.kill()
        if not gone(info["pid"], 0.1):
            os.kill(info["pid"], signal.SIGKILL)


def test_network_process_killed_takes_the_audio_process_with_it(tmp_path):
    proc, info = start_daemon()
    try:
        proc.send_signal(signal.SIGSTOP)  # first it stops reading (a hung parent) ...
        time.sleep(0.5)
        proc.kill()  # ... then it dies without a word
        proc.wait(timeout=10)
        assert gone(info["pid"], 5.0), "the audio process outlived the network process"
    finally:
        if not gone(info["pid"], 0.1):
            os.kill(info["pid"], signal.SIGKILL)


FAULT = """
from middleware.transport import server as S
from middleware.daemon import recording as R
from middleware.errors import SoundscapeError
"""


def _start_faulty(tmp: Path, patch: str) -> tuple[subprocess.Popen, dict]:
    """A recording daemon with ``patch`` applied in both of its processes (a ``sitecustomize`` on
    its PYTHONPATH: the audio process is spawned, so a patch in the parent alone would not reach it)."""
    (tmp / "sitecustomize.py").write_text(FAULT + textwrap.dedent(patch))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "middleware.cli", "serve", "--recording", "--backend", "null",
           "--bind", "tcp://127.0.0.1:0", "--pub", "tcp://127.0.0.1:0", "--json"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise RuntimeError("daemon did not start: " + proc.stderr.read())
    return proc, json.loads(line)


def test_a_failing_network_loop_exits_with_a_status_and_stops_the_audio_process(tmp_path):
    """A bug outside any message's guard used to leave the network process waiting forever for its
    audio child (which ignored SIGTERM); now it gives up with status 2 and stops the audio process."""
    proc, info = _start_faulty(
        tmp_path,
        """
        def broken(self):
            raise RuntimeError("injected loop failure")
        S.Server._drain_audio = broken
        """,
    )
    try:
        code = proc.wait(timeout=60)
        err = proc.stderr.read()
        assert code == 2 and "network process failed" in err, (code, err[-2000:])
        assert gone(info["pid"], 10.0), "the audio process outlived the network process"
    finally:
        if proc.poll() is None:
            proc.kill()
        if not gone(info["pid"], 0.1):
            os.kill(info["pid"], signal.SIGKILL)


def test_a_handler_that_raises_answers_internal_once_and_serving_goes_on(tmp_path):
    """Every handler runs inside one guard: a bug answers `internal` (once, with the id), is
    published, and the daemon keeps serving. And what only the audio process can refuse comes back
    with the request's id and the client's name."""
    proc, info = _start_faulty(
        tmp_path,
        """
        hello = S.Server._hello
        def broken_hello(self):
            if any(n == "boom" for n in self.client_names.values()):
                raise RuntimeError("injected handler failure")
            return hello(self)
        S.Server._hello = broken_hello
        state = R.RecordingRuntime.set_state
        def refusing(self, group, value, at_frame=None):
            if value == "storm":
                raise SoundscapeError("injected: the runtime refuses storms")
            return state(self, group, value, at_frame)
        R.RecordingRuntime.set_state = refusing
        """,
    )
    ctx = zmq.Context()
    try:
        sub = Subscriber(info["pub"], ["error"], context=ctx)
        c = Client(info["bind"], context=ctx, timeout=5.0)
        time.sleep(0.3)
        with pytest.raises(ProtocolError) as err:
            c.hello("boom")
        assert err.value.code == "internal" and "injected handler failure" in str(err.value)
        published = sub.wait_for("error", 2.0, where=lambda e: e["code"] == "internal")
        assert published is not None and published["re"] == "hello" and published["id"] is not None
        time.sleep(0.3)
        assert not c.sock.poll(200)  # answered once
        assert c.stats()["net"]["internal_errors"] == 1
        c.hello("mira")  # serving goes on (the name is no longer "boom")
        rid = 4242
        c.send_raw(
            msgpack.packb({"v": 1, "type": "set_state", "id": rid, "group": "weather", "value": "storm"})
        )
        assert c.wait_reply(rid)["type"] == "ok"  # the network process cannot know this one
        late = sub.wait_for("error", 3.0, where=lambda e: e.get("re") == "set_state")
        assert late is not None, "the refusal was not published"
        assert (late["id"], late["client"], late["code"]) == (rid, "mira", "rejected"), late
        assert set(late) >= {"v", "re", "id", "code", "field", "message", "client"}
        assert proc.poll() is None
    finally:
        ctx.destroy(linger=0)
        code, err_text = stop_daemon(proc)
        assert code == 0, err_text
