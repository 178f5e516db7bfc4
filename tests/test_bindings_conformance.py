"""Conformance: the same script (tests/conformance/SCRIPT.md) through every client binding.

Each client program runs against a real daemon on 127.0.0.1 (``soundscape serve --recording``,
NULL audio device) that records every call it decoded and applied; half-way the daemon is stopped
and a new one started on the same ports, and the client must reconnect by itself. Three things
must be identical to the Python client's: the daemon's records (values, types, order; scheduled
frames relative to the client's clock anchor), the messages as the client put them on the wire
(recorded by a tap in front of the daemon: msgpack types before the daemon normalises them, map
order aside), and the client's transcript (the replies and callbacks it saw). And what each client
put on the wire must hold every message, field and batch item of the protocol table
(``conformance.coverage.wire_gaps``): a message added to the table fails here until every client
sends it.

A binding is skipped, with the reason, only when its toolchain is not installed (``.ci/run``
installs them from Debian: gcc + libzmq3-dev, mono-mcs + mono-runtime, godot3-server).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conformance import toolchains
from conformance.coverage import wire_gaps
from conformance.run import Daemon, Result, free_port, read_records, run_client

HERE = Path(__file__).parent / "conformance"
ROOT = Path(__file__).parent.parent


def canon(records: list[dict]) -> list[str]:
    """JSON text per record: 42 and 42.0 differ here (they compare equal as Python numbers)."""
    return [json.dumps(r, ensure_ascii=False) for r in records]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Result:
    work = tmp_path_factory.mktemp("conf-python")
    res = run_client([sys.executable, str(HERE / "client_python.py")], work)
    assert res.returncode == 0, res.stderr
    return res


def test_reference_run_is_what_the_script_says(reference: Result) -> None:
    """The Python client's run, checked against SCRIPT.md itself, so the reference cannot drift."""
    assert reference.transcript == [
        "hello 1 recording",
        "trigger 1",
        "trigger 2",
        "batch 0 0 3 0",
        "trigger 4",
        "sync",
        "ended 1",
        "trigger 5",
        "said ogre",
        "batch 0 0 0 6 0 0 0",
        "said neutral",
        "load_scene scene_error",
        "stats audio net scene",
        "part1",
        "hello 1 recording",
        "trigger 1",
        "sync",
        "done",
    ]
    calls = [r["call"] for r in reference.records1]
    part_a = ["set_param", "set_param", "set_state", "set_switch", "set_switch", "trigger", "trigger"]
    part_b = ["listener", "object", "snapshot", "stop", "set_param", "set_state", "trigger", "object"]
    part_c = ["set_state", "set_param", "trigger", "set_switch", "listener"]
    # a say is played after what was sent with it (rendered on the daemon's main thread)
    part_d = [
        "trigger", "stinger", "set_weight", "say",
        "set_switch", "snapshot", "stinger", "trigger", "stop", "set_weight", "say",
    ]  # fmt: skip
    assert calls == [*part_a, *part_b, *part_c, *part_d]
    # sample-accurate schedule: t = 100.0, 100.25, 100.5, 101.0 (batch of two) at 48 kHz
    scheduled = [i for i, r in enumerate(reference.records1) if r["at_frame"] is not None]
    assert scheduled == list(range(len(part_a + part_b), len(part_a + part_b + part_c)))
    assert [reference.records1[i]["at_frame"] for i in scheduled] == [0, 12000, 24000, 48000, 48000]
    u = "Tür-ドア-🚪"
    assert reference.records1[6]["params"] == {"größe": 0.5, "pitch": -1.0}
    assert reference.records1[6]["object"] == u and reference.records1[8]["name"] == u
    assert reference.records1[10] == {"call": "stop", "instance": 2, "release": False, "at_frame": None}
    d = reference.records1[-len(part_d) :]
    assert d[0]["object"] == u and d[0]["switches"] == {"surface": "wood"}
    # a line is recorded by the bank's name for it (one per text and preset): the texts themselves
    # are compared on the wire
    assert (d[3]["preset"], d[3]["emitter"], d[3]["position"]) == ("ogre", None, [1.0, 0.0, -2.0])
    assert (d[10]["preset"], d[10]["emitter"], d[10]["position"]) == ("neutral", "door", None)
    assert d[3]["line"] != d[10]["line"] and d[3]["at_frame"] is None is d[10]["at_frame"]
    assert d[4]["object"] == u and d[7]["switches"] == {"surface": "grass"}
    assert d[8] == {"call": "stop", "instance": 5, "release": True, "at_frame": None}
    held = {"call": "set_weight", "layer": "door.creak", "at_frame": None}
    assert (d[2], d[9]) == ({**held, "weight": 0.25}, {**held, "weight": None})  # hold, then release
    assert [r["call"] for r in reference.records2] == ["set_param", "trigger"]
    # on the wire: 26 messages, the restart, 4 more; each one valid; floats stay floats
    assert len(reference.wire) == 31 and reference.wire[26] == "restart"
    assert not [w for w in reference.wire if w.startswith("INVALID")]
    assert '["value", {"float": "42.0"}]' in reference.wire[2]
    # between them, the messages hold every message, field and batch item of the protocol table
    gaps = wire_gaps(reference.wire)
    assert not gaps, "the conformance script does not send all of the protocol:\n" + "\n".join(gaps)


def _compare(name: str, res: Result, reference: Result) -> None:
    assert res.returncode == 0, f"{name} client failed:\n{res.stderr[-3000:]}\n" + "\n".join(res.transcript)
    assert res.transcript == reference.transcript, f"{name} transcript differs\n{res.stderr[-2000:]}"
    assert canon(res.records1) == canon(reference.records1), f"{name}: records before the restart differ"
    assert canon(res.records2) == canon(reference.records2), f"{name}: records after the restart differ"
    for i, (got, want) in enumerate(zip(res.wire, reference.wire, strict=False)):
        assert got == want, f"{name}: wire message {i} differs\n got: {got}\nwant: {want}"
    n_got, n_want = len(res.wire), len(reference.wire)
    assert n_got == n_want, f"{name}: {n_got} messages on the wire, want {n_want}"
    gaps = wire_gaps(res.wire)
    assert not gaps, f"{name} did not send all of the protocol:\n" + "\n".join(gaps)


def test_c_client_conforms(reference: Result, tmp_path: Path) -> None:
    """The C client (and then its shipped example, built with make) against the real daemon."""
    toolchains.require_c()
    build = tmp_path / "build"
    build.mkdir()
    toolchains.build_c(build)
    exe = build / "client_c"
    cflags = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-D_POSIX_C_SOURCE=200809L"]
    sources = [str(HERE / "client_c.c"), str(build / "libsoundscape.a")]
    subprocess.run(
        ["gcc", *cflags, "-I", str(ROOT / "bindings/c"), *sources, "-lzmq", "-o", str(exe)],
        check=True,
        capture_output=True,
        text=True,
    )
    example: dict[str, subprocess.CompletedProcess] = {}

    def run_example(d: Daemon) -> None:
        example["out"] = subprocess.run(
            [str(build / "example"), d.cmd, d.pub, "50"], capture_output=True, text=True, timeout=30
        )

    _compare("C", run_client([str(exe)], tmp_path, after=run_example), reference)
    out = example["out"]
    assert out.returncode == 0, out.stderr
    assert "scene recording, protocol 1" in out.stdout
    assert "trigger ping -> instance 2" in out.stdout  # the conformance run had started instance 1
    assert "callback instance_started instance=2" in out.stdout
    assert "round trip sync" in out.stdout


def test_csharp_client_conforms(reference: Result, tmp_path: Path) -> None:
    """The Unity package's core (pure C# ZMTP + msgpack), compiled with mcs and run with mono."""
    toolchains.require_mono()
    exe = toolchains.build_cs_console(tmp_path, HERE / "ClientCs.cs", "client_cs.exe")
    latency: dict[str, subprocess.CompletedProcess] = {}

    def run_latency(d: Daemon) -> None:
        latency["out"] = subprocess.run(
            ["mono", str(exe), "--latency", "50", d.cmd, d.pub], capture_output=True, text=True, timeout=30
        )

    res = run_client(["mono", str(exe)], tmp_path, after=run_latency)
    _compare("C#", res, reference)
    assert "expected a reconnect" not in res.stderr
    assert "round trip sync x50" in latency["out"].stdout, latency["out"].stderr


def test_godot3_client_conforms(reference: Result, tmp_path: Path) -> None:
    """The GDScript wire core on a real headless Godot 3 (generated from the Godot 4 addon)."""
    godot = toolchains.godot3()
    project = toolchains.godot3_project(tmp_path / "project", HERE / "client_godot3.gd")
    cmd = [godot, "--no-window", "--path", str(project), "-s", "client_godot3.gd"]
    res = run_client(cmd, tmp_path, env=toolchains.godot_env(), prefix="@@ ")
    _compare("GDScript (Godot 3)", res, reference)
    assert "SCRIPT ERROR" not in res.stderr, res.stderr
    assert "expected a reconnect" not in res.stderr


def test_unity_components_drive_a_real_daemon(tmp_path: Path) -> None:
    """Manager, Listener and Emitter on the UnityEngine stub, their Unity messages called as the
    engine would: axes converted (Unity +Z forward -> protocol -Z), callbacks on the caller's thread.

    The recording scene has no beat grid, so a relay in front of the daemon's PUB adds `beat`/`bar`
    publications shaped like the scene runtime's ({beat, bar, frame}) to check those callbacks too.
    """
    toolchains.require_mono()
    program = HERE / "UnityComponents.cs"
    exe = toolchains.build_cs_console(tmp_path, program, "unity_components.exe", unity=True)
    d = Daemon(free_port(), free_port(), tmp_path / "records.jsonl").start()
    relay_port = free_port()
    stop = threading.Event()
    relay = threading.Thread(target=_beat_relay, args=(d.pub, relay_port, stop), daemon=True)
    relay.start()
    try:
        argv = ["mono", str(exe), d.cmd, f"tcp://127.0.0.1:{relay_port}"]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    finally:
        stop.set()
        relay.join(5)
        d.stop()
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    # the scene arrives with the hello reply; beats from the relay may already be queued before it
    assert "scene recording" in lines
    assert "emitter started 1" in lines and "telemetry instance_started 1" in lines and "sync ok" in lines
    assert "beats True bars True off-main-thread 0" in lines
    first = next(x for x in lines if x.startswith("first beat"))
    beat, bar = int(first.split()[2]), int(first.split()[5])  # "first beat B of bar N"
    assert 1 <= beat <= 4 and bar >= 1
    calls = read_records(tmp_path / "records.jsonl")
    listener = next(c for c in calls if c["call"] == "listener")
    assert listener["position"] == [1.0, 2.0, -3.0] and listener["forward"] == [0.0, 0.0, -1.0]
    assert listener["up"] == [0.0, 1.0, 0.0] and listener["velocity"] == [0.0, 0.0, 0.0]
    car = [c for c in calls if c["call"] == "object"]
    assert car and all(c["name"] == "Car" and c["position"] == [10.0, 0.0, -5.0] for c in car)
    assert car[0]["forward"] == [1.0, 0.0, 0.0]
    trigger = next(c for c in calls if c["call"] == "trigger")
    assert trigger["event"] == "ping" and trigger["object"] == "Car"
    assert trigger["position"] == [10.0, 0.0, -5.0]


def _beat_relay(upstream: str, port: int, stop: threading.Event) -> None:
    """Republish the daemon's telemetry on ``port``, adding a 4/4 beat grid every 50 ms."""
    import msgpack
    import zmq

    ctx = zmq.Context()
    sub, pub = ctx.socket(zmq.SUB), ctx.socket(zmq.PUB)
    for sock in (sub, pub):
        sock.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(upstream)
    pub.bind(f"tcp://127.0.0.1:{port}")
    k = 0
    while not stop.is_set():
        if sub.poll(50):
            pub.send_multipart(sub.recv_multipart())
        beat, bar = k % 4 + 1, k // 4 + 1
        pub.send_multipart([b"beat", msgpack.packb({"v": 1, "beat": beat, "bar": bar, "frame": k * 2400})])
        if beat == 1:
            pub.send_multipart([b"bar", msgpack.packb({"v": 1, "bar": bar, "frame": k * 2400})])
        k += 1
    sub.close()
    pub.close()
    ctx.term()
