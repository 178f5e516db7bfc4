"""Every message of the protocol table reaches every runtime: none is missing a method for one.

The message list comes from ``transport.protocol.MESSAGES`` (nothing hard-coded here), so a message
added to the protocol fails these tests until every runtime performs it:

- each message's own documented example is performed through the message table
  (``control.handlers``, by way of the offline renderer's ``control.apply``) on both runtimes
  (``SceneRuntime``, the daemon's ``RecordingRuntime``), which then keep rendering (that every
  message has a handler and every runtime implements ``control.runtime_protocol.Runtime`` is
  ``tests/test_dispatch_conformance.py``'s);
- a real daemon serving the recording scene (``serve --recording``) takes every example over ZeroMQ
  and never answers ``internal`` (a missing method shows up as exactly that).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zmq
from test_daemon import start_daemon, stop_daemon

from middleware.client import Client, Subscriber
from middleware.config import EngineConfig
from middleware.control.apply import apply_request
from middleware.daemon.recording import RecordingRuntime
from middleware.engine import Engine
from middleware.errors import ProtocolError, SoundscapeError
from middleware.player import ScenePlayer
from middleware.scene.load import load_scene
from middleware.scene.runtime import RuntimeErrorMsg
from middleware.transport.protocol import MESSAGES, RESERVED, validate

SR = 48000

# A scene with every name the protocol's examples use (parameters, states, switches, events,
# snapshots, music stingers, a voice bus), so each example is a valid message for it.
SCENE = """\
name: conformance
parameters:
  intensity: {range: [0, 1], default: 0}
states:
  weather: [clear, storm]
  area: [forest, cave]
switches:
  surface: [grass, gravel]
buses:
  sfx: {}
  music: {}
  voice: {}
snapshots:
  underwater:
    buses: {master: {lowpass_hz: 600, gain_db: -3}}
events:
  door_open:
    layers: [{id: creak, source: sounds/tone.wav, mode: oneshot}]
  stinger:
    position: null
    layers: [{id: hit, source: sounds/tone.wav, mode: oneshot}]
music:
  bus: music
  tempo: 120
  start: calm
  segments:
    calm: {sample: sounds/bar.wav, bars: 1}
  stingers:
    victory: {sample: sounds/tone.wav, at: beat}
"""


def _scene_folder(tmp: Path) -> Path:
    import wave

    (tmp / "sounds").mkdir(parents=True, exist_ok=True)
    for name, seconds in (("tone", 0.2), ("bar", 2.0)):  # one 4/4 bar at 120 BPM
        t = np.arange(int(seconds * SR)) / SR
        with wave.open(str(tmp / "sounds" / f"{name}.wav"), "wb") as f:
            f.setnchannels(1)
            f.setsampwidth(2)
            f.setframerate(SR)
            f.writeframes((0.2 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2").tobytes())
    (tmp / "scene.yaml").write_text(SCENE, encoding="utf-8")
    load_example = MESSAGES["load_scene"].example["path"]  # the scene the load_scene example names
    (tmp / load_example).write_text(SCENE.replace("name: conformance", "name: loaded"), encoding="utf-8")
    return tmp


class _Recording:
    """The daemon's recording runtime on a real engine, rendered like the daemon's audio side does."""

    def __init__(self) -> None:
        self.engine = Engine(EngineConfig(block=256))
        self.runtime = RecordingRuntime(None, self.engine)

    def render(self, frames: int) -> np.ndarray:
        self.runtime.update(frames)
        return self.engine.render(frames)


def _make(kind: str, tmp: Path) -> Any:
    if kind == "scene":
        folder = _scene_folder(tmp)
        return ScenePlayer(load_scene(folder / "scene.yaml"), EngineConfig(block=256), seed=0)
    return _Recording()


def _example(name: str, instance: int | None = None) -> dict[str, Any]:
    """The message's documented example; a field naming an instance gets a live one."""
    raw = dict(MESSAGES[name].example)
    if instance is not None and "instance" in MESSAGES[name].field_map:
        raw["instance"] = instance
    return raw


RUNTIMES = ("scene", "recording")


@pytest.mark.parametrize("name", sorted(MESSAGES))
@pytest.mark.parametrize("kind", RUNTIMES)
def test_every_message_example_performs_through_the_offline_mapping(
    kind: str, name: str, tmp_path: Path
) -> None:
    player = _make(kind, tmp_path)
    rt = player.runtime
    iid = apply_request(rt, validate(_example("trigger")))["instance"]
    req = validate(_example(name, instance=iid))
    if kind == "recording" and name == "load_scene":
        # no scene folder to load from: a clear refusal (the daemon says the same: scene_error)
        with pytest.raises(RuntimeErrorMsg, match="no scene folder"):
            apply_request(rt, req)
        return
    apply_request(rt, req)
    out = player.render(SR // 2)
    assert np.all(np.isfinite(out))
    errors = [p for topic, p in rt.events if topic == "error"]
    assert not errors
    if kind == "scene" and name == "load_scene":
        assert rt.describe()["name"] == "loaded"
    if kind == "recording" and MESSAGES[name].in_batch:
        assert any(c["call"] == name for c in rt.calls), (name, list(rt.calls))


def test_offline_load_scene_stays_inside_the_scene_folder(tmp_path: Path) -> None:
    rt = _make("scene", tmp_path).runtime
    for path in ("../outside.yaml", "sounds/tone.wav"):
        with pytest.raises(SoundscapeError, match="inside the scene folder"):
            apply_request(rt, validate({**_example("load_scene"), "path": path}))


def test_a_recording_daemon_takes_every_message_and_never_fails_internally(tmp_path: Path) -> None:
    """Over real ZeroMQ: each example, with its id so the reply (or error) comes back; a refusal
    that is the scene's business (an event the recording catalogue lacks, load_scene without a
    scene folder) is fine, ``internal`` never is. Every runtime message it accepted was recorded."""
    record = tmp_path / "calls.jsonl"
    proc, info = start_daemon("--lookahead", "0", record=record)
    ctx = zmq.Context()
    try:
        sub = Subscriber(info["pub"], context=ctx)
        client = Client(info["bind"], name="conformance", context=ctx, timeout=5.0)
        client.hello()
        time.sleep(0.3)  # let the subscription reach the publisher
        iid = client.request("trigger", event="ping")["instance"]
        refused: dict[str, str] = {}
        for name in MESSAGES:
            raw = _example(name, instance=iid)
            fields = {k: v for k, v in raw.items() if k not in RESERVED}
            try:
                client.request(name, **fields)
            except ProtocolError as exc:
                refused[name] = exc.code
        client.sync()
        time.sleep(0.3)
        published = []
        while (got := sub.recv(0.05)) is not None:
            if got[0] == "error":
                published.append(got[1])
        assert "internal" not in refused.values(), refused
        assert not [e for e in published if e.get("code") == "internal"], published
        performed = {n for n, m in MESSAGES.items() if m.in_batch and n not in refused}
        performed -= {e.get("re") for e in published}
        deadline = time.monotonic() + 5.0  # a say is prepared off the render thread, then played
        while True:
            with record.open(encoding="utf-8") as fh:
                recorded = {json.loads(line)["call"] for line in fh}
            if performed <= recorded or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert performed <= recorded, (performed, recorded, published)
        client.close()
        sub.close()
    finally:
        code, err = stop_daemon(proc)
        ctx.destroy(linger=0)
    assert code == 0, err
