"""The studio's web server (aiohttp): static page, a WebSocket live feed, commands to the daemon.

It runs on its own thread and asyncio loop beside whatever else the process does (the daemon's
network loop in ``serve --studio``), talks to the daemon only through a :class:`DaemonLink`, and
serves only the files in this package's ``static`` folder. Every request passes :func:`_guard`
(token, Host, Origin; see ``security.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import threading
import time
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from ..errors import ModelError, ProtocolError
from . import security
from .link import COMMANDS, DaemonLink
from .scene_panel import REJECTED, RELOADED, ScenePanel
from .teach import Teach

STATIC = Path(__file__).parent / "static"
FPS = 25  # live feed frames per second at most (the daemon's scene telemetry comes at ~23 Hz)
WATCH_INTERVAL = 0.25  # s between looks at the scene file's modification time
MAX_WS_MESSAGE = 64 * 1024  # a page's command is a few hundred bytes
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # the token is in the URL: never pass it on
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


def jsonable(x: Any) -> Any:
    """Telemetry as strict JSON: -inf LUFS (silence) and NaN become null, which JSON.parse accepts."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    return x


class Studio:
    """One studio server. ``start()`` binds and returns the URL (with the token) to open."""

    def __init__(
        self,
        link: DaemonLink,
        scene: str | Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        fps: float = FPS,
    ) -> None:
        self.link = link
        self.panel = ScenePanel(Path(scene)) if scene is not None else None
        self.host, self.port = host, port
        self.token = token or security.new_token()
        self.fps = float(fps)
        self.allowed: frozenset[str] = frozenset()
        self.cookie = ""
        self.listener: dict[str, Any] | None = None  # the last pose the studio itself sent
        self.switches: dict[str, str] = {}  # switch values the studio set (telemetry says what plays)
        self._wakers: set[asyncio.Event] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._failed: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self.url = ""
        self.teach = Teach(self) if self.panel is not None else None
        # objects with ``routes(app)``, ``ops`` and ``handle(op, args)``: teach mode
        self.extensions: list[Any] = [self.teach] if self.teach is not None else []

    # ------------------------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 10.0) -> str:
        """Bind, serve on a background thread, and return the URL to open."""
        self._thread = threading.Thread(target=self._thread_main, name="studio-http", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout):
            raise TimeoutError("studio: the web server did not start")
        if self._failed is not None:
            raise self._failed
        return self.url

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # report bind failures to start()
            self._failed = exc
            self._started.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        app = self.make_app()
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sock = site._server.sockets[0]  # type: ignore[union-attr]  # the port when asked for 0
        self.port = int(sock.getsockname()[1])
        self.allowed = security.allowed_hosts(self.host, self.port)
        self.cookie = f"soundscape-studio-{self.port}"
        shown = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{shown}:{self.port}/?token={self.token}"
        self.link.on_change = self._wake_all
        watcher = asyncio.ensure_future(self._watch_scene()) if self.panel is not None else None
        self._started.set()
        try:
            await self._stop.wait()
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            self.link.on_change = None
            await self._runner.cleanup()

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=MAX_WS_MESSAGE)
        app.router.add_get("/", self._index)
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/api/state", self._state)
        # aiohttp's static route refuses '..' and symlinks leaving the folder
        app.router.add_static("/static/", STATIC, follow_symlinks=False, show_index=False)
        for ext in self.extensions:
            ext.routes(app)
        return app

    # ------------------------------------------------------------------------------ security
    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not security.host_ok(request.headers.get("Host"), self.allowed):
            return self._refuse(421, "wrong Host header: open the studio at the URL it printed")
        if not security.origin_ok(request.headers.get("Origin"), self.allowed):
            return self._refuse(403, "cross-site request refused (Origin is not this studio)")
        given = request.query.get("token")
        from_query = given is not None
        if given is None:
            given = request.cookies.get(self.cookie) or request.headers.get("X-Studio-Token")
        if not security.token_matches(given, self.token):
            return self._refuse(403, "token required: open the URL `soundscape studio` printed")
        response = await handler(request)
        if isinstance(response, web.Response | web.FileResponse) and not getattr(response, "prepared", False):
            response.headers.update(HEADERS)
            if from_query:
                response.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict", path="/")
        return response

    @staticmethod
    def _refuse(status: int, text: str) -> web.Response:
        return web.Response(status=status, text=f"soundscape studio: {text}\n", headers=HEADERS)

    # ------------------------------------------------------------------------------ pages
    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html")

    async def _state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state_json(0)[0], dumps=_dumps)

    def state_json(self, since: int, with_static: bool = True) -> tuple[dict[str, Any], int]:
        latest, events, last = self.link.snapshot(since)
        out: dict[str, Any] = {"kind": "frame", "t": time.time(), "latest": latest, "events": events}
        out["studio"] = {"listener": self.listener, "switches": self.switches}
        out["silent_s"] = round(time.monotonic() - self.link.last_heard, 2)  # daemon gone quiet?
        out["teach"] = self.teach.status() if self.teach is not None else None
        if with_static:
            out["hello"] = self.link.hello
            out["director_status"] = self.link.director_status
            out["panel"] = self.panel.to_json() if self.panel is not None else None
        return jsonable(out), last

    # ------------------------------------------------------------------------------ live feed
    def _wake_all(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._set_wakers)

    def bump(self) -> None:
        """Something studio-side changed (teach progress): push a frame soon."""
        self._wake_all()

    def _set_wakers(self) -> None:
        for ev in self._wakers:
            ev.set()

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_WS_MESSAGE)
        await ws.prepare(request)
        wake = asyncio.Event()
        self._wakers.add(wake)
        sender = asyncio.ensure_future(self._send_loop(ws, wake))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                reply = await self._on_message(msg.data)
                wake.set()
                await ws.send_str(_dumps(reply))
        finally:
            self._wakers.discard(wake)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        return ws

    async def _send_loop(self, ws: web.WebSocketResponse, wake: asyncio.Event) -> None:
        """Push a frame whenever telemetry changed, at most ``fps`` times a second."""
        since = 0
        panel_version = -1
        period = 1.0 / self.fps
        loop = asyncio.get_running_loop()
        while not ws.closed:
            started = loop.time()
            pv = self.panel.version if self.panel is not None else 0
            frame, since = self.state_json(since, with_static=pv != panel_version or panel_version < 0)
            panel_version = pv
            wake.clear()  # what arrives from here on makes the next frame (also during the pause below)
            await ws.send_str(_dumps(frame))
            # frames start `period` apart: the time spent building and sending one counts towards it
            await asyncio.sleep(max(0.0, started + period - loop.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), 1.0)

    async def _on_message(self, text: str) -> dict[str, Any]:
        try:
            msg = json.loads(text)
            if not isinstance(msg, dict):
                raise ValueError("a command is a JSON object")
        except ValueError as exc:
            return {"kind": "reply", "ok": False, "error": f"not a command: {exc}"}
        rid, op, args = msg.get("rid"), msg.get("op"), msg.get("args") or {}
        if not isinstance(args, dict):
            return {"kind": "reply", "rid": rid, "ok": False, "error": "args must be an object"}
        try:
            if op in COMMANDS:
                result = await asyncio.wrap_future(self.link.submit(op, **args))
                self._remember(op, args)
            else:
                for ext in self.extensions:
                    if op in ext.ops:
                        result = await ext.handle(op, args)
                        break
                else:
                    raise ProtocolError(f"op={op!r}: unknown studio command")
        except (ProtocolError, ModelError, OSError, TimeoutError, TypeError, ValueError) as exc:
            return {"kind": "reply", "rid": rid, "op": op, "ok": False, "error": str(exc)}
        return {"kind": "reply", "rid": rid, "op": op, "ok": True, "result": jsonable(result)}

    def _remember(self, op: str, args: dict[str, Any]) -> None:
        if op == "listener":
            self.listener = {k: args.get(k) for k in ("position", "forward")}
        elif op == "set_switch" and not args.get("object"):
            self.switches[str(args.get("group"))] = str(args.get("value"))

    # ------------------------------------------------------------------------------ hot reload
    async def _watch_scene(self) -> None:
        panel = self.panel
        assert panel is not None
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            if not panel.changed():
                continue
            scene = await loop.run_in_executor(None, panel.check)
            if scene is None:
                first = panel.issues[0]["text"] if panel.issues else "invalid scene"
                panel.set_status(REJECTED, first)
                self.link.note("reload", {"status": REJECTED, "issues": panel.issues[:20]})
                continue
            try:
                await asyncio.wrap_future(self.link.submit("load_scene", path=panel.path.name))
            except (ProtocolError, TimeoutError) as exc:
                panel.set_status(REJECTED, str(exc))
                self.link.note("reload", {"status": REJECTED, "message": str(exc)})
                continue
            panel.accept(scene)
            panel.set_status(RELOADED, time.strftime("%H:%M:%S"))
            if self.teach is not None:
                self.teach.state["ab"] = "model"  # the scene file itself plays again
            self.link.note("reload", {"status": RELOADED, "scene": scene.name})


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


__all__ = ["Studio", "jsonable"]
