"""soundscape monitor: the telemetry fold and the screen (fed messages), and the real thing under tmux.

The tmux test starts a real daemon (forest scene, NULL device), runs ``soundscape monitor`` in a
detached tmux session, changes the game state through the public client and reads the screen
with ``tmux capture-pane`` until it shows the change; then presses q and checks the monitor ended.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # demo_game lives beside the package, not inside it
    sys.path.insert(0, str(ROOT))

from middleware.monitor.state import MonitorState  # noqa: E402
from middleware.monitor.view import render_lines  # noqa: E402


def _scene_msg(weight: float = 0.42, source: str = "director") -> dict:
    return {
        "v": 1,
        "frame": 48000,
        "params": {"intensity": 0.75, "time_of_day": 22.5},
        "states": {"weather": "storm"},
        "layers": {
            "beds.wind": {"gain_db": -12.5, "weight": weight, "source": source},
            "brook.water": {"gain_db": -8.0, "weight": 1.0, "source": "rule"},
            "beds.rain": {"gain_db": -20.0, "weight": 0.3, "source": "override"},
        },
        "instances": 2,
        "snapshots": {"indoors": 0.5},
        "music": {"segment": "combat", "pending": "boss", "beat": 7},
    }


def test_state_folds_telemetry_and_screen_shows_it():
    st = MonitorState()
    now = 100.0
    st.feed("scene", _scene_msg(), now)
    st.feed(
        "audio",
        {
            "backend": "Null",
            "underruns": 3,
            "cpu_load": 0.25,
            "voices_real": 9,
            "voices_virtual": 4,
            "commands": 100,
            "callbacks": 500,
        },
        now,
    )
    st.feed(
        "audio",
        {
            "backend": "Null",
            "underruns": 3,
            "cpu_load": 0.25,
            "voices_real": 9,
            "voices_virtual": 4,
            "commands": 150,
        },
        now + 0.5,
    )
    for i in range(5):
        st.feed("instance_started", {"id": i, "event": "footstep"}, now + 0.1 * i)
    st.feed("beat", {"bar": 4, "beat": 2, "frame": 1}, now + 0.5)
    st.feed("director", {"status": "attached", "model": "demo/director", "version": 3, "hash": "abc"}, now)
    meters = {"momentary_lufs": -18.25, "short_term_lufs": -20.5, "integrated_lufs": -21.0}
    st.feed(
        "loudness", {"v": 1, "buses": {"master": {**meters, "true_peak_dbtp": -3.0}, "music": meters}}, now
    )
    st.feed("error", {"code": "unknown_name", "field": "event", "message": "unknown event 'boom'"}, now + 0.5)
    st.feed("some_future_topic", {"x": 1}, now + 0.5)

    assert st.params == {"intensity": 0.75, "time_of_day": 22.5}
    assert st.commands_per_s == pytest.approx(100.0)  # 50 commands in 0.5 s
    assert st.triggers.per_second(now + 0.5) == pytest.approx(5 / 2.0)
    assert st.layer_rows()[0][:3] == ("beds.rain", 0.3, "override")  # overrides first, then the model
    assert st.layer_rows()[1][:3] == ("beds.wind", 0.42, "director")

    screen = "\n".join(render_lines(st, width=120, height=50, now=now + 0.6, endpoint="tcp://x:1"))
    for text in (
        "[LIVE]",
        "underruns 3",
        "CPU load 25%",
        "real 9",
        "virtual 4",
        "combat -> boss",
        "bar 4 beat 2",
        "model demo/director v3",
        "master M -18.2 S -20.5 I -21.0 TP -3.0 dBTP",
        "music M -18.2 S -20.5",
        "intensity",
        "0.75",
        "weather",
        "storm",
        "indoors 0.50",
        "unknown_name",
        "unknown event 'boom'",
    ):
        assert text in screen, f"{text!r} not on screen:\n{screen}"
    wind = next(line for line in screen.splitlines() if "beds.wind" in line)
    assert "0.42" in wind and "MODEL" in wind and "[####......]" in wind
    assert "OVERRIDE" in next(line for line in screen.splitlines() if "beds.rain" in line)
    # stale: no message for more than a second
    assert "NO DATA" in render_lines(st, now=now + 5.0)[0]


def test_screen_fits_small_terminals_and_says_what_is_missing():
    st = MonitorState()
    layers = {f"e.layer{i:02d}": {"gain_db": -6.0, "weight": 1.0, "source": "rule"} for i in range(40)}
    st.feed("scene", {"params": {}, "states": {}, "layers": layers}, 1.0)
    lines = render_lines(st, width=60, height=24, now=1.1)
    assert len(lines) <= 24 and all(len(line) <= 60 for line in lines)
    assert any("more layers" in line for line in lines)
    assert any("no LUFS" in line for line in lines)  # a daemon without meters: say so, do not crash


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=10).stdout


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed (apt-get install tmux)")
def test_monitor_under_tmux_against_a_real_daemon(tmp_path):
    from demo_game.session import spawn_daemon
    from middleware.client import Client
    from middleware.tools.example_assets import ensure_example_assets

    ensure_example_assets()
    daemon = spawn_daemon(ROOT / "scenes" / "forest.yaml", backend="null", extra=["--lookahead", "8"])
    session = f"mon-{uuid.uuid4().hex[:8]}"
    try:
        monitor = f"{sys.executable} -m middleware.cli monitor --connect {daemon.pub}"
        cmd = f"{monitor}; echo MONITOR-EXITED $?; sleep 30"
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "45", cmd], check=True, timeout=10
        )
        with Client(daemon.bind, name="test-monitor", timeout=10.0) as c:
            c.hello()
            c.set_state("weather", "storm", sync=True)
            c.set_param("time_of_day", 21.5, sync=True)

            def screen_until(*needles: str, timeout: float = 20.0) -> str:
                deadline = time.monotonic() + timeout
                text = ""
                while time.monotonic() < deadline:
                    text = _tmux("capture-pane", "-p", "-t", session)
                    if all(n in text for n in needles):
                        return text
                    time.sleep(0.2)
                pytest.fail(f"monitor screen never showed {needles}:\n{text}")

            text = screen_until("[LIVE]", "storm", "21.50", "weather_bed.downpour", "underruns")
            assert "rule" in text and "AUDIO" in text and "backend Null" in text
            # it keeps redrawing: the callback counter moves between two captures 0.5 s apart
            first = next(ln for ln in text.splitlines() if "callbacks" in ln)
            time.sleep(0.5)
            again = _tmux("capture-pane", "-p", "-t", session)
            assert next(ln for ln in again.splitlines() if "callbacks" in ln) != first
            # a bad message from the game shows up under ERRORS
            c.send("trigger", event="no_such_event")
            screen_until("ERRORS", "no_such_event")
        _tmux("send-keys", "-t", session, "q")
        deadline = time.monotonic() + 10
        text = ""
        while time.monotonic() < deadline:
            text = _tmux("capture-pane", "-p", "-t", session)
            if "MONITOR-EXITED" in text:
                break
            time.sleep(0.2)
        assert "MONITOR-EXITED 0" in text, text  # q quits cleanly, and the terminal is restored
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=10)
        daemon.stop()
