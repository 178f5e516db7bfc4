"""DeviceSink on a JACK server's dummy driver: a virtual sound card with real, regular periods.

miniaudio's NULL backend sleeps in 10 ms steps and asks for every period due at once, so it cannot
show what a sound card does: call back every period (256 frames = 5.33 ms at 48 kHz), on time. The
JACK server's dummy driver does exactly that without hardware, so these tests run the sink and the
daemon on it as they would run on a card. `.ci/run` installs jackd2; without `jackd` they skip.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_sinks_device import Marked

from middleware.config import EngineConfig
from middleware.errors import DeviceError
from middleware.sinks.device import DeviceSink

ROOT = Path(__file__).resolve().parent.parent
PERIOD = 256

pytestmark = pytest.mark.skipif(shutil.which("jackd") is None, reason="jackd is not installed (.ci/run does)")


@pytest.fixture(scope="module")
def jack_server(tmp_path_factory):
    """A private jackd (dummy driver, 48 kHz, 256-frame periods) for this module's clients."""
    name = f"soundscape-test-{os.getpid()}"
    log = tmp_path_factory.mktemp("jack") / "jackd.log"
    env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1", "JACK_NO_START_SERVER": "1"}
    with log.open("w") as fh:
        proc = subprocess.Popen(
            ["jackd", "--no-realtime", "-n", name, "-d", "dummy", "-r", "48000", "-p", str(PERIOD)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
        )
    saved = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
    os.environ["JACK_DEFAULT_SERVER"] = name
    os.environ["JACK_NO_START_SERVER"] = "1"
    try:
        deadline = time.monotonic() + 10.0
        while True:  # the server is up when a client can open a device on it
            try:
                DeviceSink(Marked(), backend="jack", lookahead_blocks=0).start().stop()
                break
            except DeviceError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"jackd did not start: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        yield name
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_callback_mode_on_a_card_with_regular_periods(jack_server):
    """Every 5.33 ms one callback of 256 frames; a command is heard in the first callback after it."""
    for trial in range(8):
        renderable = Marked(EngineConfig(block=PERIOD))
        sink = DeviceSink(renderable, backend="jack", lookahead_blocks=0)
        with sink:
            time.sleep(0.1 + 0.003 * trial)
            renderable.mark()
            time.sleep(0.1)
            deadline = time.monotonic() + 2.0  # a busy machine may hold the server's thread back
            while renderable.first_marked_frame is None and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.02)  # the callback that carried the mark has returned and been stamped
            stamps = sink.callback_timestamps()
            assert renderable.first_marked_frame is not None, "no callback rendered within 2 s"
            heard = sink.frame_left_at(renderable.first_marked_frame)
        st = sink.stats()
        assert st["backend"] == "JACK" and st["render_mode"] == "callback"
        assert st["callback_frames"] == PERIOD and st["irregular_callbacks"] == 0
        assert st["underruns"] == 0 and st["underrun_frames"] == 0, st
        intervals = np.diff(stamps) / 1e6
        assert np.median(intervals) == pytest.approx(1000 * PERIOD / 48000, rel=0.05)  # a real period
        first_after = int(np.searchsorted(stamps, renderable.marked_at, side="right"))
        carried = int(np.searchsorted(stamps, heard, side="left"))
        assert carried - first_after in (0, 1), (trial, first_after, carried)


def test_daemon_plays_on_jack_and_reports_when_each_sound_left(jack_server):
    """`soundscape serve --backend jack` (callback mode): triggers are heard, each `instance_out`
    lands in a callback after its send, and no callback ran dry."""
    from middleware.client import Client, Subscriber

    cmd = [sys.executable, "-m", "middleware.cli", "serve", "--recording", "--backend", "jack",
           "--bind", "tcp://127.0.0.1:0", "--pub", "tcp://127.0.0.1:0", "--json"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        with Client(info["bind"], timeout=5.0) as client:
            sub = Subscriber(info["pub"], ["instance_out"])
            client.hello()
            time.sleep(0.3)
            sent = {}
            for _ in range(40):
                t = time.perf_counter_ns()
                sent[client.trigger("ping")] = t
                time.sleep(0.011)
            outs = {}
            while len(outs) < len(sent) and (got := sub.recv(2.0)) is not None:
                outs[got[1]["instance"]] = got[1]["t_ns"]
            audio = client.stats()["audio"]
            sub.close()
        assert set(outs) == set(sent)
        assert all(outs[i] > sent[i] for i in sent)  # clocks agree: heard after it was sent
        assert audio["backend"] == "JACK" and audio["render_mode"] == "callback"
        assert audio["underruns"] == 0, audio
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
