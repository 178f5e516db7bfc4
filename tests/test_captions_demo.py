"""The demo shows sound captions: in its picture (out/demo.png's balance/yaw panel) and in keyboard mode.

The demo scene's blade, thunder, enemy steps, heartbeat and villager line carry captions; a short
session rendered offline the way the demo renders the bot's session gives the captions the picture
draws, at the bearing the geometry says.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from demo_game import keyboard
from demo_game.__main__ import caption_text, drain
from demo_game.assets import DEMO_SCENE, ensure_demo_assets
from demo_game.render import Trace, render_session

HIT = (4.0, 1.0, -4.0)  # the blade, 45 degrees right of a listener at the origin facing -Z


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Trace:
    ensure_demo_assets()
    tmp = tmp_path_factory.mktemp("demo_captions")
    events = tmp / "events.jsonl"
    lines = [
        {"t": 0.0, "type": "listener", "position": [0, 0, 0], "forward": [0, 0, -1]},
        {"t": 0.5, "type": "trigger", "event": "sword_hit", "position": list(HIT), "params": {"force": 1.0}},
        {"t": 1.0, "type": "trigger", "event": "npc_line"},
    ]
    events.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    _, trace = render_session(DEMO_SCENE, events, 2.0, tmp / "out.wav", use_director=False)
    return trace


def test_the_offline_render_keeps_the_captions_with_their_time(rendered: Trace) -> None:
    by_text = {c["text"]: c for c in rendered.captions}
    hit = by_text["blades clash"]
    assert hit["t"] == pytest.approx(0.5, abs=256 / 48000)  # its first sample's frame, within a block
    assert hit["direction"] == pytest.approx(45.0, abs=1e-3) and hit["importance"] == "high"
    assert hit["distance"] == pytest.approx(math.dist(HIT, (0, 0, 0)), abs=1e-3)
    npc = next(c for c in rendered.captions if c["text"].startswith("Villager:"))
    assert npc["t"] == pytest.approx(1.0, abs=256 / 48000)
    assert Trace.from_json(rendered.to_json()).captions == rendered.captions


def test_the_picture_draws_each_caption_at_its_bearing(rendered: Trace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from demo_game.plot import _draw_captions

    trace = Trace(**{**rendered.to_json(), "yaw": [30.0] * len(rendered.t)})  # the head turned 30 deg right
    fig, ax = plt.subplots()
    try:
        _draw_captions(ax, trace, np.asarray(trace.t))
        texts = [t.get_text() for t in ax.texts]
        assert "[blades clash] +45°" in texts
        marks = [ln for ln in ax.lines if ln.get_xdata()[0] == pytest.approx(trace.captions[0]["t"])]
        hit = next(c for c in trace.captions if c["text"] == "blades clash")
        y = next(float(ln.get_ydata()[0]) for ln in ax.lines if float(ln.get_xdata()[0]) == hit["t"])
        assert marks and y == pytest.approx(30.0 + hit["direction"], abs=1e-6)  # world bearing
        assert ax.get_legend() is None  # unlabelled: the panel's legend is unchanged
    finally:
        plt.close(fig)


def test_caption_lines_for_the_terminal() -> None:
    door = {"text": "door slams", "direction": 44.6, "distance": 8.4, "count": 1}
    assert caption_text(door) == "[door slams]  45 deg right, 8 m"
    assert caption_text({**door, "direction": -170.0, "count": 3}) == "[door slams] x3  behind, 8 m"
    assert caption_text({"text": "wind", "direction": None}) == "[wind]"
    said = {"text": "Halt!", "subtitle": True, "speaker": "guard", "direction": 3.0}
    assert caption_text(said) == "guard: Halt!"


class _Screen:
    """What keyboard._draw writes to, as text rows (a stand-in for the curses window)."""

    def __init__(self) -> None:
        self.rows: dict[int, str] = {}

    def getmaxyx(self) -> tuple[int, int]:
        return 40, 120

    def erase(self) -> None:
        self.rows.clear()

    def addnstr(self, y: int, x: int, text: str, n: int) -> None:
        self.rows[y] = text[:n]

    def refresh(self) -> None:
        pass


class _Sub:
    def __init__(self, got: list) -> None:
        self.got = list(got)

    def recv(self, timeout: float) -> tuple[str, dict] | None:
        return self.got.pop(0) if self.got else None


def test_keyboard_mode_shows_recent_captions(monkeypatch) -> None:
    from demo_game.world import Game

    class _Out:
        def __getattr__(self, name: str):
            return lambda *a, **k: None

    state: dict = {}
    caps = [("caption", {"text": f"thing {i}", "direction": 0.0, "distance": 2.0}) for i in range(6)]
    drain(_Sub([("audio", {"backend": "null"}), *caps]), state)
    assert [c["text"] for _, c in state["captions"]] == ["thing 2", "thing 3", "thing 4", "thing 5"]
    scr = _Screen()
    keyboard._draw(scr, Game(_Out()), state)
    shown = [r for r in scr.rows.values() if r.startswith("caption: ")]
    assert shown == [f"caption: [thing {i}]  ahead, 2 m" for i in range(2, 6)]
    later = keyboard.time.monotonic() + keyboard.CAPTION_SECONDS + 1
    monkeypatch.setattr(keyboard.time, "monotonic", lambda: later)
    keyboard._draw(scr, Game(_Out()), state)
    assert not [r for r in scr.rows.values() if r.startswith("caption: ")]  # old ones go


def test_demo_scene_captions_its_important_sounds() -> None:
    from middleware.scene.load import load_scene

    scene = load_scene(Path(DEMO_SCENE), check_assets=False)
    assert scene.events["sword_hit"].caption and scene.emitters["enemy"].importance == "critical"
    assert scene.events["npc_line"].caption.startswith("Villager: ")
    assert scene.events["footstep"].caption is None  # the player's own steps need no caption
