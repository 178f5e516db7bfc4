"""The studio in a real browser: Debian's chromium driven by Playwright, against a real daemon.

The daemon runs ``soundscape serve SCENE --studio`` (NULL audio backend) on a small scene this
module writes; the page is checked the way a designer uses it, and the daemon's state is checked
through the protocol (``Client.stats``), never through the studio. Screenshots of each view go to
``out/studio-*.png``. Tests that need the browser skip, saying why, when chromium or playwright is
not installed (``.ci/run`` installs both); the HTTP-level security checks always run.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import zmq
from test_daemon_scene import _tone

from middleware.client import Client
from middleware.errors import ProtocolError

pytest.importorskip("aiohttp", reason="the studio needs aiohttp (the 'studio' extra)")

CHROMIUM = os.environ.get("SOUNDSCAPE_CHROMIUM", "/usr/bin/chromium")
OUT = Path(__file__).resolve().parent.parent / "out"

SCENE = """name: studio_test
description: a small scene for the studio's browser tests
parameters:
  intensity: {range: [0, 1], default: 0.5, description: how hard it rains}
states:
  weather: {values: [clear, rain], description: the sky}
switches:
  surface: [grass, stone]
buses:
  sfx: {}
emitters:
  bed:
    bus: sfx
    layers:
      - {id: hum, source: sounds/hum.wav, gain: {param: intensity, curve: [[0, -40], [1, -12]]}}
  brook:
    bus: sfx
    position: [6, 0, -4]
    attenuation: {min: 2, max: 20}
    layers:
      - {id: water, source: sounds/hum.wav, director: true}
events:
  ping:
    bus: sfx
    description: a short beep
    layers: [{id: beep, source: sounds/beep.wav, mode: oneshot}]
  motor:
    bus: sfx
    description: a running engine that follows whatever object the trigger names
    attenuation: {min: 1.5, max: 8}
    layers: [{id: run, source: sounds/hum.wav}]
director:
  inputs: [intensity, weather]
  outputs: [brook.water]
  model: models/director.onnx
  examples: director.examples.jsonl
  rate_hz: 20
"""
EXAMPLES = [  # the brook loud whatever the weather: the first model keeps it audible for the 3D test
    {"inputs": {"intensity": 0.0, "weather": "clear"}, "weights": {"brook.water": 0.95}},
    {"inputs": {"intensity": 1.0, "weather": "clear"}, "weights": {"brook.water": 0.9}},
    {"inputs": {"intensity": 0.5, "weather": "rain"}, "weights": {"brook.water": 0.85}},
]


def _browser_or_skip():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright; .ci/run does)")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)")
    return sync_playwright


class StudioDaemon:
    """``soundscape serve SCENE --studio`` in a subprocess, with its URLs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.scene = root / "studio_test.yaml"
        cmd = [sys.executable, "-m", "middleware.cli", "serve", str(self.scene), "--backend", "null",
               "--bind", "tcp://127.0.0.1:0", "--pub", "tcp://127.0.0.1:0", "--json", "--studio",
               "--no-browser", "--lookahead", "8"]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline()
        second = self.proc.stdout.readline()
        if not second:
            self.proc.kill()
            raise RuntimeError("daemon/studio did not start: " + self.proc.stderr.read())
        self.info = json.loads(first)
        self.url = json.loads(second)["studio"]
        parts = urlsplit(self.url)
        self.netloc = parts.netloc
        self.token = parts.query.split("token=", 1)[1]
        self.ctx = zmq.Context()
        self.client = Client(self.info["bind"], name="studio-test", context=self.ctx, timeout=5.0)
        self.client.hello()

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict]:
        """A raw HTTP GET, with whatever Host/Origin headers the test wants to forge."""
        host, port = self.netloc.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        conn.putrequest("GET", path, skip_host=True)
        hdrs = {"Host": self.netloc, **(headers or {})}
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        body = r.read().decode("utf-8", "replace")
        conn.close()
        return r.status, body, dict(r.getheaders())

    def stats_until(self, check, timeout: float = 3.0):
        """Poll the daemon's ``stats`` (the protocol) until ``check(stats)`` holds; return the stats."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.client.stats()
            if check(s) or time.monotonic() > deadline:
                return s
            time.sleep(0.05)

    def close(self) -> tuple[int, str]:
        self.ctx.destroy(linger=0)
        self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        return self.proc.returncode, err


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    root = tmp_path_factory.mktemp("studio")
    (root / "sounds").mkdir()
    _tone(root / "sounds" / "beep.wav", 0.05, 880)
    _tone(root / "sounds" / "hum.wav", 1.0, 110)
    (root / "studio_test.yaml").write_text(SCENE)
    (root / "director.examples.jsonl").write_text("".join(json.dumps(e) + "\n" for e in EXAMPLES))
    from middleware.ml.train_director import DirectorConfig, train_director
    from middleware.scene.load import load_scene

    train_director(
        load_scene(root / "studio_test.yaml", check_assets=False),
        DirectorConfig(steps=300, loo=False),
        progress=False,
    )  # the shipped model, version 1
    d = StudioDaemon(root)
    yield d
    code, err = d.close()
    assert code == 0, err


@pytest.fixture(scope="module")
def browser():
    sync_playwright = _browser_or_skip()
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, studio):
    ctx = browser.new_context(viewport={"width": 1400, "height": 860})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(studio.url)
    pg.wait_for_selector("#link.ok", timeout=10_000)
    pg.wait_for_selector("#param-intensity", timeout=10_000)
    yield pg
    ctx.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def _shot(pg, name: str) -> None:
    OUT.mkdir(exist_ok=True)
    pg.screenshot(path=str(OUT / f"studio-{name}.png"))


# ------------------------------------------------------------------------------------ security


def test_every_request_needs_the_token_and_our_host_and_origin(studio):
    ok, body, headers = studio.get(f"/?token={studio.token}")
    assert ok == 200 and "soundscape studio" in body
    assert "samesite=strict" in headers.get("Set-Cookie", "").lower()
    assert "frame-ancestors 'none'" in headers.get("Content-Security-Policy", "")
    assert studio.get("/")[0] == 403
    assert studio.get("/?token=" + "x" * len(studio.token))[0] == 403
    assert studio.get("/static/studio.js")[0] == 403  # static files too
    assert studio.get(f"/static/studio.js?token={studio.token}")[0] == 200
    assert studio.get("/ws")[0] == 403
    assert studio.get("/api/state")[0] == 403
    # a page on another site, even one that learnt the token
    status, body, _ = studio.get(f"/?token={studio.token}", {"Origin": "http://evil.example"})
    assert status == 403 and "cross-site" in body
    # DNS rebinding: the attacker's host name resolves to 127.0.0.1; the Host header gives it away
    port = studio.netloc.rsplit(":", 1)[1]
    assert studio.get(f"/?token={studio.token}", {"Host": f"evil.example:{port}"})[0] == 421
    # the cookie the first load set works instead of the query (that is how the page's scripts load)
    assert studio.get("/static/studio.css", {"Cookie": f"soundscape-studio-{port}={studio.token}"})[0] == 200


def test_only_the_packaged_static_files_are_served(studio):
    t = studio.token
    for path in ("/static/../server.py", "/static/%2e%2e/server.py", "/static/..%2fserver.py",
                 "/static/../../daemon/__init__.py", f"/{studio.scene.name}", "/static/"):  # fmt: skip
        status, body, _ = studio.get(f"{path}?token={t}")
        assert status in (403, 404), (path, status)
        assert "import" not in body, path


def test_websocket_refuses_a_foreign_origin_and_a_missing_token(studio):
    import asyncio

    import aiohttp

    async def attempt(url: str, origin: str | None) -> int:
        headers = {"Origin": origin} if origin else {}
        async with aiohttp.ClientSession() as s:
            try:
                async with s.ws_connect(url, headers=headers) as ws:
                    await ws.close()
                    return 101
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status

    base = f"ws://{studio.netloc}/ws"
    own = f"http://{studio.netloc}"
    assert asyncio.run(attempt(f"{base}?token={studio.token}", own)) == 101
    assert asyncio.run(attempt(f"{base}?token={studio.token}", "http://evil.example")) == 403
    assert asyncio.run(attempt(base, own)) == 403


def test_page_loads_with_the_token_and_not_without(browser, studio):
    ctx = browser.new_context()
    pg = ctx.new_page()
    resp = pg.goto(f"http://{studio.netloc}/")
    assert resp.status == 403 and "token required" in pg.content()
    # a page on another origin that knows the token still cannot open the live feed
    pg.goto("about:blank")
    opened = pg.evaluate(
        """(url) => new Promise((done) => {
             const ws = new WebSocket(url);
             ws.onopen = () => done(true);
             ws.onerror = () => done(false);
           })""",
        f"ws://{studio.netloc}/ws?token={studio.token}",
    )
    assert opened is False
    resp = pg.goto(studio.url)
    assert resp.status == 200
    pg.wait_for_selector("#link.ok", timeout=10_000)
    assert pg.inner_text("#scene-name") == "studio_test"
    ctx.close()


# ------------------------------------------------------------------------------------ live mix


def test_a_clients_set_param_appears_on_the_page_within_200ms(page, studio):
    """Scene telemetry comes every 8 blocks (~43 ms), the studio forwards it as soon as it
    arrives (at most 25 frames/s), so a change should show in ~0.05-0.1 s; on this shared 2-core
    machine we allow the median of 5 tries 0.2 s and the worst 0.4 s."""
    took = []
    for i, v in enumerate((0.11, 0.77, 0.23, 0.91, 0.42)):
        studio.client.set_param("intensity", v, sync=True)
        t0 = time.monotonic()
        page.wait_for_function(
            "v => document.getElementById('param-intensity-value').textContent === v",
            arg=f"{v:.3f}",
            timeout=2000,
            polling="raf",
        )
        took.append(time.monotonic() - t0)
        time.sleep(0.05 * i)  # land at different phases of the telemetry period
    took.sort()
    n0 = page.evaluate("() => window.studio.S.frames")
    time.sleep(2.0)
    fps = (page.evaluate("() => window.studio.S.frames") - n0) / 2.0
    print(f"set_param -> page: {[round(t * 1000) for t in took]} ms; live feed {fps:.1f} frames/s")
    # the studio sends a frame whenever telemetry arrives (scene at ~23 Hz, audio and loudness at
    # 10 Hz, director ticks at 20 Hz here), at most 25 a second; the page must draw 20-30 a second
    assert 20 <= fps <= 26, fps
    assert took[2] < 0.2 and took[-1] < 0.4, took
    _shot(page, "mix")


def test_moving_a_slider_and_a_selector_steers_the_daemon(page, studio):
    studio.client.set_param("intensity", 0.5, sync=True)
    page.wait_for_function("() => document.getElementById('param-intensity-value').textContent === '0.500'")
    slider = page.locator("#param-intensity")
    slider.focus()
    for _ in range(100):  # the keyboard moves a range input by its step (1/1000 of the range)
        slider.press("ArrowRight")
    s = studio.stats_until(lambda s: abs(s["scene"]["params"]["intensity"] - 0.6) < 1e-6)
    # 100 steps of 0.001 from 0.5; the step is float, so allow 1e-6
    assert s["scene"]["params"]["intensity"] == pytest.approx(0.6, abs=1e-6)
    assert "held" in page.get_attribute("#ctl-param-intensity", "class")  # marked as an override
    _shot(page, "mix-override")
    page.click("#ctl-param-intensity .badge")  # release: back to the value before the override
    s = studio.stats_until(lambda s: abs(s["scene"]["params"]["intensity"] - 0.5) < 1e-6)
    assert s["scene"]["params"]["intensity"] == pytest.approx(0.5, abs=1e-6)
    assert "held" not in page.get_attribute("#ctl-param-intensity", "class")

    page.select_option("#state-weather", "rain")
    s = studio.stats_until(lambda s: s["scene"]["states"]["weather"] == "rain")
    assert s["scene"]["states"]["weather"] == "rain"
    page.select_option("#switch-surface", "stone")  # accepted by the daemon (no error toast)
    s = studio.stats_until(lambda s: s["scene"].get("switches", {}).get("surface") == "stone")
    assert s["scene"]["switches"]["surface"] == "stone"
    # a game's switch shows on the page's selector (from telemetry, not from what the studio sent)
    studio.client.set_switch("surface", "grass", sync=True)
    page.wait_for_function("() => document.getElementById('switch-surface').value === 'grass'", timeout=2000)
    page.click("#event-ping")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#log li')].some(li => li.textContent.includes('event=ping'))",
        timeout=3000,
    )
    assert page.locator("#toast div").count() == 0, page.inner_text("#toast")


def test_layers_meters_and_performance_are_live(page, studio):
    page.wait_for_selector('#layers tr[data-layer="bed.hum"] .source.rule', timeout=3000)
    page.wait_for_function("() => document.querySelector('#meters [data-bus=master]') !== null", timeout=3000)
    assert page.inner_text("#cpu").endswith("%")
    assert page.inner_text("#underruns").isdigit()
    assert page.inner_text("#late").isdigit()
    # a client's error shows in the event log, and the filter keeps only matching lines
    with pytest.raises(ProtocolError):
        studio.client.set_param("intensity", 7.0, sync=True)
    page.fill("#log-filter", "out_of_range")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#log li')].some(li => li.textContent.includes('out_of_range'))",
        timeout=3000,
    )
    texts = page.locator("#log li").all_inner_texts()
    assert texts and all("out_of_range" in t for t in texts)
    page.click("#log-pause")
    n = page.locator("#log li").count()
    with pytest.raises(ProtocolError):
        studio.client.set_param("intensity", 9.0, sync=True)
    time.sleep(0.4)
    assert page.locator("#log li").count() == n  # paused: the view does not move
    page.click("#log-pause")
    page.wait_for_function(f"() => document.querySelectorAll('#log li').length > {n}", timeout=3000)
    page.fill("#log-filter", "")


def test_the_master_spectrogram_scrolls_with_what_plays(page, studio):
    """The daemon publishes the master's spectrum (engine.spectrum, off the render thread) with its
    loudness, 10 times a second; the page draws a column for each new one."""
    page.wait_for_function("() => window.studio.SPEC.frames > 0", timeout=3000)
    f0 = page.evaluate("() => window.studio.SPEC.frames")
    page.wait_for_function(f"() => window.studio.SPEC.frames > {f0}", timeout=2000)  # new ones keep coming
    spec = page.evaluate("() => window.studio.S.latest.spectrum")
    assert spec["bus"] == "master" and len(spec["db"]) == len(spec["hz"]) == 40
    k = max(range(40), key=lambda i: spec["db"][i])
    assert 80 < spec["hz"][k] < 150, (spec["hz"][k], spec["db"])  # every loop here is a 110 Hz hum
    # drawn: the newest column (right edge) is brightest in the hum's band and dark far above it
    column = page.evaluate(
        """() => { const c = document.getElementById('spectrogram');
                   const d = c.getContext('2d').getImageData(c.width - 1, 0, 1, c.height).data;
                   const out = [];
                   for (let y = 0; y < c.height; y++) out.push(d[4 * y] + d[4 * y + 1] + d[4 * y + 2]);
                   return out; }"""
    )
    h = len(column)
    hum_row = h - 1 - int((k + 0.5) * h / 40)
    assert column[hum_row] > 3 * max(column[: h // 4]), (column[hum_row], column[: h // 4])  # 10 kHz +: dark
    page.locator("#spectrogram").scroll_into_view_if_needed()
    time.sleep(1.0)  # a second of columns for the screenshot
    _shot(page, "spectrogram")


def test_top_down_view_shows_emitters_and_moves_the_listener(page, studio):
    page.click("button[data-view=world]")
    box = page.locator("#world").bounding_box()
    # click 10 m east of the origin: where the view (fitted to the scene) draws x=10, z=0
    w = page.evaluate("() => ({...window.studio.W, width: document.getElementById('world').width})")
    px = (w["width"] / 2 + (10 - w["cx"]) * w["scale"]) * box["width"] / w["width"]
    pz = box["height"] / 2 + (0 - w["cz"]) * w["scale"] * box["width"] / w["width"]
    page.mouse.click(box["x"] + px, box["y"] + pz)
    page.wait_for_function(  # within a pixel: 10 m +- 1/scale
        "() => /listener at (9\\.[89]|10\\.[01]), 0\\.0, -?0\\.[01]/"
        ".test(document.getElementById('world-info').textContent)"
    )
    _shot(page, "world")
    # the daemon now places the brook (at x=6) to the listener's left: left gain > right gain
    s = studio.stats_until(
        lambda s: (v := s["scene"].get("voices", {}).get("brook.water")) and v["gain_left"] > v["gain_right"]
    )
    v = s["scene"]["voices"]["brook.water"]
    assert v["gain_left"] > v["gain_right"], v


def test_the_3d_view_shows_an_object_moved_by_a_client_within_200ms(page, studio):
    """The daemon's scene telemetry carries poses (scene.inspect.world, ~23 Hz): a client moves a
    game object and the map draws it there, in the canvas's pixels, within 200 ms (median of 5)."""
    page.click("button[data-view=world]")
    took = []
    for i, (x, z) in enumerate(((3.0, 2.0), (-4.5, 1.0), (0.5, -6.0), (7.0, 3.5), (-2.0, -2.5))):
        studio.client.object("crate", [x, 1.0, z], forward=[1, 0, 0], sync=True)
        t0 = time.monotonic()
        page.wait_for_function(
            "([x, z]) => { const d = (window.studio.W.drawn || {})['object:crate'];"
            " return d && Math.abs(d.x - x) < 1e-6 && Math.abs(d.z - z) < 1e-6; }",  # the client's floats
            arg=[x, z],
            timeout=2000,
            polling="raf",
        )
        took.append(time.monotonic() - t0)
        time.sleep(0.03 * i)
    took.sort()
    print(f"object -> 3D view: {[round(t * 1000) for t in took]} ms")
    assert took[2] < 0.2 and took[-1] < 0.4, took
    # drawn, not only stored: the canvas holds the object's colour where the view says it is
    rgb = page.evaluate(
        """() => { const d = window.studio.W.drawn['object:crate'];
                   const px = document.getElementById('world').getContext('2d')
                       .getImageData(Math.round(d.px) - 2, Math.round(d.py) - 2, 1, 1).data;
                   return [px[0], px[1], px[2]]; }"""
    )
    assert rgb == [0xC7, 0x92, 0xEA], rgb  # COL.object, a filled square around the point
    # an instance following the object: drawn at the object with its min/max distance rings
    iid = studio.client.trigger("motor", object="crate")
    try:
        studio.client.object("crate", [2.0, 0.0, -3.0], sync=True)
        page.wait_for_function(
            "k => { const d = (window.studio.W.drawn || {})[k]; return d && d.x === 2 && d.z === -3; }",
            arg=f"instance:motor #{iid}",
            timeout=2000,
        )
        inst = page.evaluate(
            "iid => window.studio.S.latest.scene.world.instances.find(i => i.instance === iid)", iid
        )
        assert (inst["min"], inst["max"], inst["follows"]) == (1.5, 8.0, "crate"), inst
        listener = page.evaluate("() => window.studio.W.drawn.listener")
        assert listener is not None
        _shot(page, "world-live")
    finally:
        studio.client.stop(iid, sync=True)


def test_the_voice_list_shows_a_triggered_instance(page, studio):
    iid = studio.client.trigger("motor", position=[1.0, 0.0, -2.0])
    row = f'#voice-list tr[data-voice="motor#{iid} run"]'
    try:
        page.wait_for_selector(row, timeout=2000)
        assert page.inner_text(f"{row} .badge") == "real"
        assert "dB" in page.inner_text(row)
        assert page.locator('#voice-list tr[data-voice="bed.hum"]').count() == 1  # an emitter's loop too
        assert "real" in page.text_content("#voice-count")
        page.locator("#voice-list").scroll_into_view_if_needed()
        _shot(page, "voices")
    finally:
        studio.client.stop(iid, release=False, sync=True)
    page.wait_for_selector(row, state="detached", timeout=3000)  # ended: gone from the list


def test_the_mix_tab_holds_a_layers_weight_until_released(page, studio):
    row = '#layers tr[data-layer="bed.hum"]'
    page.wait_for_selector(f"{row} .source.rule", timeout=3000)
    slider = page.locator(f"{row} .wover")
    slider.focus()
    slider.press("End")  # already 1.0 (a rule layer's weight): no change, nothing sent
    for _ in range(5):
        slider.press("ArrowLeft")  # steps of 0.01
    s = studio.stats_until(lambda s: abs(s["scene"]["layers"]["bed.hum"]["weight"] - 0.95) < 1e-6)
    lay = s["scene"]["layers"]["bed.hum"]
    assert lay["source"] == "override" and lay["weight"] == pytest.approx(0.95, abs=1e-6), lay  # float steps
    page.wait_for_selector(f"{row}.held .source.override", timeout=2000)
    assert page.is_visible(f"{row} .release")
    page.locator(f"{row} .wover").blur()
    _shot(page, "mix-weight-override")
    page.click(f"{row} .release")
    s = studio.stats_until(lambda s: s["scene"]["layers"]["bed.hum"]["source"] == "rule")
    assert s["scene"]["layers"]["bed.hum"] == {
        **s["scene"]["layers"]["bed.hum"],
        "source": "rule",
        "weight": 1.0,
    }
    page.wait_for_function(f"() => !document.querySelector('{row}').classList.contains('held')", timeout=2000)


# ------------------------------------------------------------------------------------ scene panel


def test_a_broken_scene_edit_shows_its_line_and_the_page_keeps_working(page, studio):
    good = studio.scene.read_text()
    broken = good.replace("bed:\n    bus: sfx", "bed:\n    bus: nowhere")
    line = broken.splitlines().index("    bus: nowhere") + 1
    page.click("button[data-view=scene]")
    try:
        studio.scene.write_text(broken)
        os.utime(studio.scene, (time.time() + 2, time.time() + 2))  # a new mtime even on coarse clocks
        page.wait_for_selector("#issues li", timeout=5000)
        where = page.inner_text("#issues li .where")
        assert where.startswith(f"studio_test.yaml:{line}:"), where
        assert "nowhere" in page.inner_text("#issues li")
        assert page.inner_text("#reload-status").startswith("rejected")
        assert "previous version" in page.inner_text("#scene-status")
        _shot(page, "scene-error")
        # still playing, still steerable
        studio.client.set_param("intensity", 0.33, sync=True)
        page.wait_for_function(
            "() => document.getElementById('param-intensity-value').textContent === '0.330'"
        )
        assert studio.client.stats()["audio"]["frames_played"] > 0
    finally:
        studio.scene.write_text(
            good.replace("description: a short beep", "description: a short beep, edited")
        )
        os.utime(studio.scene, (time.time() + 4, time.time() + 4))
    page.wait_for_function(
        "() => document.getElementById('reload-status').textContent === 'reloaded'", timeout=10_000
    )
    assert page.locator("#issues li").count() == 0
    page.wait_for_function("() => document.querySelector('#scene-events').textContent.includes('edited')")
    assert "how hard it rains" in page.inner_text("#scene-params")
    _shot(page, "scene")


def test_teach_keep_train_accept_cycle(page, studio):
    """Keep two situations with a quiet brook, retrain in the background, see the held-out
    comparison, accept: the daemon plays the new model, labelled version 2, and the shipped v1
    file is untouched."""
    models = studio.root / "models"
    v1 = (models / "director.onnx").read_bytes()
    examples = studio.root / "director.examples.jsonl"
    n0 = len(examples.read_text().splitlines())
    page.wait_for_selector('#layers tr[data-layer="brook.water"] .source.model', timeout=5000)
    assert "v1" in page.inner_text('#layers tr[data-layer="brook.water"] .source')
    studio.client.set_param("intensity", 0.8, sync=True)
    studio.client.set_state("weather", "rain", sync=True)
    time.sleep(0.5)  # the director glides (0.15 s smoothing)
    w1 = studio.client.stats()["scene"]["layers"]["brook.water"]["weight"]
    assert w1 > 0.6, w1  # v1 learnt "the brook loud whatever the weather"
    page.click("button[data-view=teach]")
    page.wait_for_selector("#teach-brook\\.water")
    for intensity in (0.2, 0.8):
        studio.client.set_param("intensity", intensity, sync=True)
        studio.client.set_state("weather", "rain", sync=True)
        page.wait_for_function(
            "v => document.getElementById('teach-inputs').textContent.includes('intensity=' + v)",
            arg=f"{intensity:.3f}",
            timeout=3000,
        )
        slider = page.locator("#teach-brook\\.water")
        slider.focus()
        slider.press("Home")  # weight 0: the designer wants the brook gone in the rain
        page.click("#teach-keep")
        page.wait_for_function(
            "n => (document.getElementById('teach-kept').textContent.match(/^(\\d+)/) || [0, 0])[1] >= n",
            arg=2 if intensity > 0.5 else 1,
            timeout=3000,
        )
    kept = [json.loads(x) for x in examples.read_text().splitlines()[n0:]]
    assert [k["inputs"] for k in kept] == [
        {"intensity": 0.2, "weather": "rain"},
        {"intensity": 0.8, "weather": "rain"},
    ]
    assert all(k["weights"] == {"brook.water": 0.0} for k in kept)
    _shot(page, "teach")

    page.fill("#teach-steps", "300")
    page.click("#teach-train")
    page.wait_for_function(
        "() => /ready|failed/.test(document.getElementById('teach-phase').textContent)", timeout=120_000
    )
    assert "ready" in page.inner_text("#teach-phase"), page.inner_text("#teach-phase")
    table = page.inner_text("#teach-mae")
    assert "nearest" in table and "idw" in table and "brook.water" in table
    assert "v2" in page.inner_text("#teach-result")
    assert (models / "director.v2.onnx").is_file()  # a new file beside the shipped one
    _shot(page, "teach-trained")
    page.click("#teach-accept")
    card = json.loads((models / "director.v2.card.json").read_text())
    assert card["version"] == 2, card["version"]  # the next version after the shipped v1
    page.wait_for_function(
        "() => document.querySelector('#layers tr[data-layer=\"brook.water\"] .source')"
        f"?.textContent.includes(' v2 #{card['sha256'][:8]}')",  # the label names version and hash
        timeout=15_000,
    )
    assert (models / "director.onnx").read_bytes() == v1  # the shipped model is never overwritten
    assert "model: models/director.v2.onnx" in studio.scene.read_text()
    # in the rain at 0.8 (where we are) the new model turns the brook down, as taught; one
    # authored example (rain at 0.5: 0.85) pulls the other way, so ask for a clear 0.2 drop only
    s = studio.stats_until(
        lambda s: s["scene"]["layers"].get("brook.water", {"weight": 0.0})["weight"] < w1 - 0.2, timeout=5.0
    )
    assert s["scene"]["layers"].get("brook.water", {"weight": 0.0})["weight"] < w1 - 0.2, (w1, s["scene"])
    # A/B: the rules (every layer at weight 1 here), then the model again
    page.click("#ab-rules")
    page.wait_for_selector(
        '#layers tr[data-layer="brook.water"] .source.rule', state="attached", timeout=5000
    )
    s = studio.stats_until(lambda s: s["scene"]["layers"].get("brook.water", {}).get("source") == "rule")
    assert s["scene"]["layers"]["brook.water"]["weight"] == 1.0  # the rule's weight, exactly 1 by definition
    assert not list(studio.root.glob(".*.yaml"))  # the A variant is gone once loaded
    page.click("#ab-model")
    page.wait_for_selector(
        '#layers tr[data-layer="brook.water"] .source.model', state="attached", timeout=5000
    )
    assert " v2 " in page.text_content('#layers tr[data-layer="brook.water"] .source')
    page.click("button[data-view=mix]")
    _shot(page, "mix-after-teach")


def test_teach_discard_deletes_the_candidate(page, studio):
    page.click("button[data-view=teach]")
    page.fill("#teach-steps", "100")
    page.click("#teach-train")
    page.wait_for_function(
        "() => /ready|failed/.test(document.getElementById('teach-phase').textContent)", timeout=120_000
    )
    phase = page.inner_text("#teach-phase")
    assert "ready" in phase, phase
    name = phase.split()[1]  # "candidate director.v3.onnx ready: ..."
    cand = studio.root / "models" / name
    assert cand.is_file() and name not in studio.scene.read_text()
    page.click("#teach-discard")
    page.wait_for_function("() => document.getElementById('teach-phase').textContent === ''")
    assert not cand.exists() and not cand.with_suffix(".card.json").exists()
    assert "model: models/director.v2.onnx" in studio.scene.read_text()  # still the accepted one


def test_studio_command_attaches_to_a_running_daemon(studio):
    """``soundscape studio --connect``: a second studio on the same daemon, its URL printed."""
    cmd = [sys.executable, "-m", "middleware.cli", "studio", "--connect", studio.info["bind"],
           "--pub", studio.info["pub"], "--no-browser", "--json"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.poll() is not None else "no output"
        url = json.loads(line)["studio"]
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
        conn.request("GET", f"/api/state?{parts.query}")
        r = conn.getresponse()
        state = json.loads(r.read())
        assert r.status == 200 and state["hello"]["scene"]["name"] == "studio_test"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)


def test_the_page_says_when_the_daemon_goes_silent(browser):
    """A studio attached with --connect outlives its daemon and says so on the page."""
    from test_daemon import start_daemon, stop_daemon

    proc, info = start_daemon()  # the built-in recording scene: quick to start
    cmd = [sys.executable, "-m", "middleware.cli", "studio", "--connect", info["bind"],
           "--pub", info["pub"], "--no-browser", "--json"]  # fmt: skip
    studio = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ctx = browser.new_context()
    try:
        url = json.loads(studio.stdout.readline())["studio"]
        pg = ctx.new_page()
        pg.goto(url)
        pg.wait_for_selector("#link.ok", timeout=10_000)
        assert pg.inner_text("#link") == "live"
        stop_daemon(proc)
        pg.wait_for_function(
            "() => document.getElementById('link').textContent.startsWith('daemon silent')", timeout=5000
        )
        assert studio.poll() is None  # the studio keeps serving the page
    finally:
        ctx.close()
        if proc.poll() is None:
            stop_daemon(proc)
        studio.send_signal(signal.SIGINT)
        studio.communicate(timeout=10)


def test_studio_without_a_scene_or_daemon_says_what_to_give():
    r = subprocess.run([sys.executable, "-m", "middleware.cli", "studio"], capture_output=True, text=True)
    assert r.returncode == 2 and "--connect" in r.stderr and "Traceback" not in r.stderr


def test_out_dir_is_ignored_by_git():
    """Screenshots land in out/, which must never be committed."""
    if shutil.which("git") is None:
        pytest.skip("git not installed")
    root = Path(__file__).resolve().parent.parent
    r = subprocess.run(["git", "check-ignore", "-q", "out/studio-mix.png"], cwd=root)
    if r.returncode == 128:
        pytest.skip("not a git checkout")
    assert r.returncode == 0
