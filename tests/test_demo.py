"""The demo game end to end: the bot's session, its render, and daemon + demo + monitor together.

* The bot's recorded session is a valid events file that walks through every situation.
* Its offline render shows each situation in the audio: band energies and layer weights measured
  per scripted segment (storm louder up high than rain or clear weather, the cave muffles the
  storm and brings the director's drone, the fight brings boss music and the heartbeat, the NPC's
  line lifts the voice band, the left/right balance follows the turning head), no sample outside
  [-1, 1], the director's weights marked as model output, and a picture.
* Live: a real daemon on the NULL device, ``soundscape monitor`` in tmux and ``python -m demo_game
  --autoplay`` as a user would run it: every message accepted, no errors, zero underruns, and the
  monitor's screen follows the game.
"""

from __future__ import annotations

import itertools
import json
import math
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # demo_game lives beside the package, not inside it
    sys.path.insert(0, str(ROOT))

from demo_game.assets import DEMO_SCENE, ensure_demo_assets  # noqa: E402
from demo_game.render import balance_db, read_wav, render_session, segment_report  # noqa: E402
from demo_game.script import SCRIPT  # noqa: E402
from demo_game.session import run_bot, spawn_daemon  # noqa: E402

SCALE = 0.3  # ~21 s of game: most segments still last about a bar of the music (2.4 s at 100 BPM)
LIVE_SCALE = 0.2  # ~17 s in real time: the render is checked above, here the live path is


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """The bot's session, recorded without a daemon and rendered offline (what --no-daemon does)."""
    ensure_demo_assets()
    out = tmp_path_factory.mktemp("demo")
    run = run_bot(None, scale=SCALE, realtime=False)
    events = run.link.write(out / "demo.events.jsonl")
    summary, trace = render_session(DEMO_SCENE, events, run.seconds, out / "demo.wav")
    audio, sr = read_wav(out / "demo.wav")
    report = {row["segment"]: row for row in segment_report(audio, sr, trace, run.segments)}
    return {
        "out": out,
        "run": run,
        "summary": summary,
        "trace": trace,
        "audio": audio,
        "sr": sr,
        "report": report,
    }


def test_bot_session_is_a_valid_events_file_through_every_situation(session):
    from middleware.offline import load_timeline

    run = session["run"]
    timeline = load_timeline(session["out"] / "demo.events.jsonl", 48000)  # validates every line
    assert len(timeline) == run.link.sent > 100
    msgs = run.link.timeline
    states = {(m["group"], m["value"]) for m in msgs if m["type"] == "set_state"}
    assert {("area", a) for a in ("forest", "cave", "village")} <= states
    assert {("weather", w) for w in ("clear", "rain", "storm")} <= states
    surfaces = {m["value"] for m in msgs if m["type"] == "set_switch" and m["group"] == "surface"}
    assert surfaces == {"grass", "wood", "gravel", "stone"}
    events = [m["event"] for m in msgs if m["type"] == "trigger"]
    assert events.count("npc_line") == 1
    assert events.count("sword_hit") >= 3
    assert events.count("footstep") >= 10
    assert any(m["type"] == "object" and m["name"] == "enemy" for m in msgs)
    threat = [m["value"] for m in msgs if m["type"] == "set_param" and m["name"] == "threat"]
    health = [m["value"] for m in msgs if m["type"] == "set_param" and m["name"] == "health"]
    assert max(threat) >= 0.85 and min(health) < 0.3  # a boss-level fight that hurts
    # the VR-style head turn: the listener faces every quadrant while standing still
    yaws = [
        math.degrees(math.atan2(m["forward"][0], -m["forward"][2])) % 360
        for m in msgs
        if m["type"] == "listener"
        and m["t"] > run.segments[-1][1] + 0.25 * (run.segments[-1][2] - run.segments[-1][1])
    ]
    assert {int(y // 90) for y in yaws} == {0, 1, 2, 3}


def test_render_shows_each_situation(session):
    rep, audio, sr = session["report"], session["audio"], session["sr"]
    summary, trace = session["summary"], session["trace"]
    assert not summary["errors"]
    assert np.isfinite(audio).all()
    assert float(np.max(np.abs(audio))) <= 1.0  # no sample outside [-1, 1]
    assert float(np.sqrt(np.mean(audio**2))) > 1e-3  # and not silence
    names = [s.name for s in SCRIPT]
    clear, rain, storm, bridge, cave, enemy, fight, dusk, talk, turn = (rep[n] for n in names)

    def band(row, key):
        return row["bands_db"][key]

    # (bands_db: median level over 43 ms frames, the steady bed without footsteps and drips)
    # weather: the storm is loudest up high; the cave muffles it (in_cave snapshot)
    assert rain["layers"]["beds.rain"] > 0.9 and clear["layers"]["beds.rain"] == 0.0
    assert storm["layers"]["beds.downpour"] > 0.9 and rain["layers"]["beds.downpour"] == 0.0
    assert bridge["layers"]["beds.downpour"] == 0.0  # the storm passes as we cross the bridge
    assert band(storm, "high_2k_8k") > max(band(clear, "high_2k_8k"), band(rain, "high_2k_8k")) + 4.0
    assert band(cave, "high_2k_8k") < band(storm, "high_2k_8k") - 6.0
    # time of day and area rules: birds in the clear forest morning, insects in the village night
    assert clear["layers"]["birds.songs"] > 0.9 and cave["layers"]["birds.songs"] == 0.0
    assert turn["layers"]["night.insects"] > 0.9 and clear["layers"]["night.insects"] == 0.0
    # the director (model output) sets the ambience: wind up in the storm, down in the cave,
    # the drone only in the cave, a busier village by day than at night
    assert trace.director["status"] == "model"
    for uid in ("beds.wind", "cave.drone", "village.crowd", "campfire.fire"):
        assert trace.sources[uid] == "director"
    assert storm["layers"]["beds.wind"] > cave["layers"]["beds.wind"] + 0.4
    assert cave["layers"]["cave.drone"] > 0.5 and dusk["layers"]["cave.drone"] < 0.05
    assert dusk["layers"]["village.crowd"] > turn["layers"]["village.crowd"] + 0.2
    # enemies: steps approach, the music goes to combat on the beat, then boss; the fight hurts
    assert enemy["layers"]["enemy.steps"] > 0.5 and cave["layers"]["enemy.steps"] == 0.0
    assert "combat" in enemy["music"] and "boss" in fight["music"] and cave["music"] == ["explore"]
    assert fight["layers"]["player.heartbeat"] > 0.0
    # heartbeat thumps and boss hits: the loud moments (95th percentile) of the low band rise
    assert fight["bands_p95_db"]["sub_40_160"] > cave["bands_p95_db"]["sub_40_160"] + 5.0
    # the NPC's line: the voice band rises over the square's ambience just before it
    assert band(talk, "mid_600_2k") > band(dusk, "mid_600_2k") + 2.0
    # the head turn: the nearby fountain (at world azimuth phi) is on the left when the head faces
    # phi + 90 degrees and on the right at phi - 90, so the balance follows sin(yaw - phi)
    from middleware.scene.load import load_scene

    fx, _, fz = load_scene(DEMO_SCENE).emitters["fountain"].position
    head = [m for m in session["run"].link.timeline if m["type"] == "listener"][-1]["position"]
    phi = math.atan2(fx - head[0], -(fz - head[2]))
    t0 = turn["start"] + 0.2 * (turn["end"] - turn["start"])
    seg = audio[int(t0 * sr) : int(turn["end"] * sr)]
    tb, bal = balance_db(seg, sr, 0.1)
    t = np.asarray(trace.t)
    yaw = np.interp(tb + t0, t, np.unwrap(np.radians(trace.yaw)))
    r = np.corrcoef(bal, np.sin(yaw - phi))[0, 1]
    assert r > 0.5, f"balance does not follow the head: r={r:.2f}"
    assert bal.max() - bal.min() > 10.0


# A panel is drawn on where a column of it has more than 2 % of its rows inked (not near-white). On
# the demo every panel is drawn on across all its width; with its data left out (frame, legend, zero
# line and segment lines only) no panel is across more than 22 % of it.
MIN_DRAWN_WIDTH = 0.8


def test_picture(session):
    """out/demo.png has its four panels, each says what it shows and each is drawn on."""
    import matplotlib.image as mpimg  # a test dependency (pyproject's `test` extra): never skipped

    from demo_game.plot import DPI, FIGSIZE, PANELS, plot_demo

    trace = session["trace"]
    panels = []
    out, audio, sr = session["out"], session["audio"], session["sr"]
    png = plot_demo(out / "demo.png", audio, sr, trace, session["run"].segments, record=panels)
    img = mpimg.imread(png)[..., :3]  # an independent PNG reader: rows x columns x RGB in [0, 1]
    h, w = img.shape[:2]
    assert (h, w) == (round(FIGSIZE[1] * DPI), round(FIGSIZE[0] * DPI))
    assert tuple(p.name for p in panels) == PANELS == ("game", "layers", "spectrogram", "balance")
    game, layers, spectrogram, balance = panels
    # what each panel says it shows
    assert game.ylabel.startswith("game") and {"intensity", "threat", "health"} <= set(game.legend)
    assert "time of day (hours / 24)" in game.legend
    sounding = {uid for uid, v in trace.layers.items() if max(v, default=0.0) > 0.0}
    model = {uid for uid in sounding if trace.sources.get(uid) == "director"}
    assert {"beds.wind", "cave.drone"} <= model  # the director's layers, marked as model output
    assert set(layers.legend) == {f"{u}  [MODEL]" if u in model else u for u in sounding}
    assert layers.title.startswith("bold = director model output")
    assert spectrogram.images == 1 and "spectrogram" in spectrogram.ylabel
    assert set(balance.legend) == {"L/R balance (dB, + = left)", "head yaw (deg, 90 = east)"}
    # panels stacked top to bottom without overlapping, inside the picture
    for upper, lower in itertools.pairwise(panels):
        assert upper.box[1] > lower.box[3]
    # and each panel's own pixels are drawn on across its width; the spectrogram fills its box
    for p in panels:
        x0, y0, x1, y1 = p.box
        assert 0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0, p
        region = img[round((1 - y1) * h) : round((1 - y0) * h), round(x0 * w) : round(x1 * w)]
        inked = np.any(region < 0.9, axis=-1)[3:-3, 3:-3]  # inside the frame
        drawn_width = float(np.mean(inked.mean(axis=0) > 0.02))
        assert drawn_width >= MIN_DRAWN_WIDTH, (p.name, drawn_width)
        if p.name == "spectrogram":
            assert inked.mean() > 0.95, inked.mean()


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=10).stdout


@pytest.mark.slow
def test_live_daemon_demo_and_monitor(tmp_path):
    """What the README's first command does, on the NULL device, with the monitor watching (~30 s)."""
    ensure_demo_assets()
    daemon = spawn_daemon(DEMO_SCENE, backend="null", extra=["--lookahead", "8"])
    tmux = shutil.which("tmux")
    session = f"demo-{uuid.uuid4().hex[:8]}"
    screens: list[str] = []
    try:
        if tmux:
            monitor = f"{sys.executable} -m middleware.cli monitor --connect {daemon.pub}"
            subprocess.run(
                [
                    "tmux",
                    "new-session",
                    "-d",
                    "-s",
                    session,
                    "-x",
                    "160",
                    "-y",
                    "110",
                    f"{monitor}; sleep 30",
                ],
                check=True,
                timeout=10,
            )
        demo = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "demo_game",
                "--autoplay",
                "--connect",
                daemon.bind,
                "--pub",
                daemon.pub,
                "--scale",
                str(LIVE_SCALE),
                "--no-render",
                "--out",
                str(tmp_path),
                "--quiet",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        while demo.poll() is None:
            if tmux:
                screens.append(_tmux("capture-pane", "-p", "-t", session))
            time.sleep(0.5)
        out = demo.stdout.read()
        assert demo.returncode == 0, out
        if tmux:
            _tmux("send-keys", "-t", session, "q")
    finally:
        if tmux:
            subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, timeout=10)
        daemon.stop()
    summary = json.loads((tmp_path / "demo.summary.json").read_text())
    live = summary["daemon"]
    assert live["errors"] == [] and live["invalid"] == 0
    assert live["accepted"] >= summary["messages_sent"]  # every game message reached the daemon
    played = (live["frames_played"] or 0) / (live["sample_rate"] or 48000)
    assert played > 0.8 * summary["seconds"], f"the audio process stopped after {played:.1f} s of audio"
    assert live["underruns"] == 0, f"{live['underruns']} underruns over {live['callbacks']} callbacks"
    if tmux:
        seen = "\n".join(screens)
        for text in ("[LIVE]", "cave", "village", "storm", "threat", "beat"):
            assert text in seen, f"the monitor never showed {text!r}"
        assert "combat" in seen or "boss" in seen, "the monitor never showed the fight music"
