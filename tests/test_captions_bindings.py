"""Every client reads the `caption` topic: Python (``Caption``), C (``ss_caption_read``), C#
(``SoundscapeClient.Caption``) and GDScript (the ``caption`` signal; Godot 3 runtime when installed),
each as a small program (tests/captions_clients/) subscribed to a real daemon on the town scene.
The door the test opens must reach each of them with the same fields as the Python client reads.
"""

from __future__ import annotations

import math
import subprocess
import time
from pathlib import Path

import pytest
import zmq
from conformance import toolchains
from test_daemon import start_daemon, stop_daemon

from middleware.client import Caption, Client, Subscriber
from middleware.scene.captions import CaptionRules
from middleware.tools import example_assets as EA

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).parent / "captions_clients"


def _line(c: Caption) -> str:
    """The programs' print format: text|importance|spatial|direction|distance|loudness|synthetic|
    subtitle|count|frame (each rounds as its language's printf does; the values are chosen away
    from rounding ties)."""
    return (
        f"caption {c.text}|{c.importance}|{int(c.spatial)}|{c.direction or 0.0:.2f}|{c.distance or 0.0:.3f}|"
        f"{c.loudness_db or 0.0:.2f}|{int(c.synthetic)}|{int(c.subtitle)}|{c.count}|{c.frame}"
    )


CMD, PUB = "{cmd}", "{pub}"  # placeholders for the daemon's endpoints


def _programs(tmp: Path) -> dict[str, list[str]]:
    """Build each client program whose toolchain is here; its command line, with CMD and PUB for
    the endpoints (a missing toolchain is printed, with its install command)."""
    out: dict[str, list[str]] = {}
    try:
        toolchains.require_c()
        toolchains.build_c(tmp)
        exe = tmp / "caption_c"
        flags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-I", str(ROOT / "bindings/c")]
        subprocess.run(
            ["gcc", *flags, str(HERE / "caption_c.c"), str(tmp / "libsoundscape.a"), "-lzmq", "-o", str(exe)],
            check=True,
            capture_output=True,
        )
        out["C"] = [str(exe), PUB]
    except pytest.skip.Exception as why:
        print(why)
    try:
        toolchains.require_mono()
        exe = toolchains.build_cs_console(tmp, HERE / "CaptionCs.cs", "caption.exe")
        out["C#"] = ["mono", str(exe), CMD, PUB]
    except pytest.skip.Exception as why:
        print(why)
    try:
        godot = toolchains.godot3()
        project = toolchains.godot3_project(tmp / "project", HERE / "caption_godot3.gd")
        out["GDScript"] = [godot, "--no-window", "--path", str(project), "-s", "caption_godot3.gd", CMD, PUB]
    except pytest.skip.Exception as why:
        print(why)
    return out


def test_every_client_reads_the_same_caption(tmp_path: Path) -> None:
    EA.ensure_example_assets(ROOT / "scenes")
    programs = _programs(tmp_path)
    if not programs:
        pytest.skip("no client toolchain here (gcc+libzmq, mono, godot3)")
    proc, info = start_daemon("--block", "256", scene=ROOT / "scenes" / "town.yaml")
    ctx = zmq.Context()
    running = []
    try:
        sub = Subscriber(info["pub"], topics=("caption",), context=ctx)
        client = Client(info["bind"], name="captions-bindings", context=ctx, timeout=5.0)
        for name, argv in programs.items():
            argv = [{CMD: info["bind"], PUB: info["pub"]}.get(a, a) for a in argv]
            p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=toolchains.godot_env())  # fmt: skip
            running.append((name, p))
        time.sleep(2.0)  # the programs' SUB sockets are connected and subscribed
        yaw = math.radians(30.0)
        client.listener((1.0, 0.0, 2.0), forward=(math.sin(yaw), 0.0, -math.cos(yaw)), sync=True)
        time.sleep(CaptionRules().merge_s)  # the loops' captions at start are out; the door's is its own
        while sub.recv(0.05) is not None:
            pass
        client.trigger("door_close", position=(-3.3, 1.2, -5.1), params={"force": 0.8})
        want = None
        deadline = time.monotonic() + 3.0
        while want is None and time.monotonic() < deadline:
            got = sub.recv(0.5)
            if got and got[1].get("text") == "door slams":
                want = Caption.from_payload(got[1])
        assert want is not None and want.spatial and want.importance == "high" and not want.synthetic
        lines = {}
        for name, p in running:
            out, err = p.communicate(timeout=30)
            got = [ln for ln in out.splitlines() if ln.startswith("caption ")]
            assert p.returncode == 0 and got, f"{name}: rc {p.returncode}\n{out}\n{err}"
            lines[name] = got[0]
        print(lines)
        assert lines == {name: _line(want) for name in lines}, lines
    finally:
        for _, p in running:
            if p.poll() is None:
                p.kill()
        ctx.destroy(linger=0)
        code, err = stop_daemon(proc)
        assert code == 0, err


def test_python_caption_reads_a_subtitle_and_a_non_spatial_sound() -> None:
    said = Caption.from_payload(
        {
            "text": "Halt!",
            "importance": "high",
            "direction": None,
            "distance": None,
            "synthetic": True,
            "subtitle": True,
            "speaker": "guard",
            "count": 1,
            "frame": 9,
        }
    )
    assert said is not None and not said.spatial and said.speaker == "guard" and said.synthetic
    assert Caption.from_payload({"direction": 3.0}) is None and Caption.from_payload(None) is None


def test_each_client_s_caption_api_is_documented() -> None:
    doc = (ROOT / "docs" / "accessibility.md").read_text(encoding="utf-8")
    for api in ("Subscriber.caption", "ss_caption_read", "SoundscapeClient.Caption", "signal `caption`"):
        assert api in doc, api
