"""The studio's link to a daemon: the same public protocol and telemetry any client uses.

One thread owns a DEALER ``Client`` (commands, request/reply) and a ``Subscriber`` on the daemon's
PUB telemetry (ZeroMQ sockets are single-threaded). It keeps the latest value of each periodic
topic (``scene``, ``audio``, ``loudness``, ``spectrum``, ``director_tick``) and a bounded log of
everything else (instances, stingers, beats, errors, reloads), and runs commands the web side
queues. The audio process never knows the studio is there: it is one more client.
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import zmq

from ..errors import ProtocolError
from ..transport.client import Client, Subscriber
from ..transport.protocol import MESSAGES

LATEST_TOPICS = ("scene", "audio", "loudness", "spectrum", "director_tick")
"""Periodic topics: only the newest payload matters (the page draws it)."""

LOG_SIZE = 2000
"""Event log entries kept for pages that connect late or fall behind."""

COMMANDS = (
    "set_param", "set_state", "set_switch", "trigger", "stop", "listener", "object", "snapshot", "set_weight",
)  # fmt: skip
"""Protocol messages the page may send (the daemon validates them like any client's)."""


class DaemonLink:
    """Telemetry in, commands out, on one background thread.

    ``on_change`` is called (from the link's thread) whenever something new arrived; the web
    server uses it to wake its senders. ``submit`` queues a command and returns a Future with the
    daemon's reply (or the ProtocolError it answered with).
    """

    def __init__(
        self,
        bind: str,
        pub: str,
        *,
        name: str = "studio",
        curve: dict[str, bytes] | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.bind, self.pub, self.name = bind, pub, name
        self._curve, self._timeout = curve, timeout
        self.lock = threading.Lock()
        self.latest: dict[str, Any] = {}
        self.log: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)
        self._seq = itertools.count(1)
        self.version = 0  # bumps on every change; senders compare it
        self.hello: dict[str, Any] = {}
        self.director_status: dict[str, Any] | None = None
        self.last_heard = time.monotonic()  # when telemetry last arrived (scene ~23 Hz, audio 10 Hz)
        self.on_change: Callable[[], None] | None = None
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="studio-link", daemon=True)
        self.error: str | None = None

    # ------------------------------------------------------------------------------ public
    def start(self, timeout: float = 10.0) -> DaemonLink:
        """Start the thread; return once the daemon answered ``hello`` (or raise)."""
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"studio: no answer from the daemon at {self.bind} within {timeout:g} s")
        if self.error:
            raise ProtocolError(self.error)
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3.0)

    def submit(self, op: str, **fields: Any) -> cf.Future:
        """Queue a protocol request ``op`` with ``fields``; the Future gets the reply map."""
        fut: cf.Future = cf.Future()
        if op not in COMMANDS and op not in ("stats", "load_scene", "hello"):
            fut.set_exception(ProtocolError(f"op={op!r}: the studio does not send this message"))
            return fut
        known = {f.name for f in MESSAGES[op].fields}
        extra = sorted(set(fields) - known)
        if extra:  # envelope keys (id, v, type, t) are the studio's, never the page's
            allowed = ", ".join(sorted(known))
            fut.set_exception(ProtocolError(f"{op}: unknown field(s) {', '.join(extra)}; fields: {allowed}"))
            return fut
        self._jobs.put((op, fields, fut))
        return fut

    def snapshot(self, since: int) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
        """(latest periodic payloads, log entries with seq > since, the newest seq)."""
        with self.lock:
            latest = dict(self.latest)
            new = (
                [e for e in self.log if e["seq"] > since] if self.log and self.log[-1]["seq"] > since else []
            )
            last = self.log[-1]["seq"] if self.log else since
        return latest, new, last

    def note(self, topic: str, payload: dict[str, Any]) -> None:
        """Add a studio-side entry (a reload result, a teach step) to the event log."""
        with self.lock:
            self._append(topic, payload)
            self.version += 1
        self._changed()

    def _append(self, topic: str, payload: Any) -> None:  # caller holds the lock
        self.log.append({"seq": next(self._seq), "t": time.time(), "topic": topic, "data": payload})

    # ------------------------------------------------------------------------------ thread
    def _run(self) -> None:
        ctx = zmq.Context()
        try:
            sub = Subscriber(self.pub, curve=self._curve, context=ctx)
            client = Client(self.bind, name=self.name, timeout=self._timeout, curve=self._curve, context=ctx)
            try:
                self.hello = client.hello()
            except (TimeoutError, ProtocolError) as exc:
                self.error = f"cannot reach the daemon at {self.bind}: {exc}"
                self._ready.set()
                return
            self._ready.set()
            self._changed()
            poller = zmq.Poller()
            poller.register(sub.sock, zmq.POLLIN)
            while not self._stop.is_set():
                if poller.poll(10):
                    self._drain(sub)
                self._do_jobs(client)
        finally:
            ctx.destroy(linger=0)
            self._ready.set()

    def _drain(self, sub: Subscriber) -> None:
        changed = False
        for _ in range(1000):
            got = sub.recv(0)
            if got is None:
                break
            topic, payload = got
            changed = True
            self.last_heard = time.monotonic()
            with self.lock:
                if topic in LATEST_TOPICS:
                    self.latest[topic] = payload
                else:
                    if topic == "director":
                        self.director_status = payload
                    self.log.append(
                        {"seq": next(self._seq), "t": time.time(), "topic": topic, "data": payload}
                    )
                self.version += 1
        if changed:
            self._changed()

    def _do_jobs(self, client: Client) -> None:
        while True:
            try:
                op, fields, fut = self._jobs.get_nowait()
            except queue.Empty:
                return
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                if op == "load_scene":
                    fut.set_result({"scene": client.load_scene(fields["path"])})
                elif op == "hello":
                    self.hello = client.hello()
                    fut.set_result(self.hello)
                else:
                    fut.set_result(client.request(op, **fields))
            except (ProtocolError, TimeoutError) as exc:
                fut.set_exception(exc)
            except Exception as exc:  # a bug must not kill the link thread: hand it to the caller
                fut.set_exception(exc)

    def _changed(self) -> None:
        cb = self.on_change
        if cb is not None:
            cb()


__all__ = ["COMMANDS", "DaemonLink"]
