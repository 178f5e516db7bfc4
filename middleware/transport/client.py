"""The Python client: what the demo game, the tests and ``soundscape send`` use.

A ``Client`` owns one DEALER socket and is used from one thread (ZeroMQ sockets are not
thread-safe). Every method has two forms: fire-and-forget (default for continuous updates, never
waits) and synchronous (``sync=True`` or methods that return something: the message carries an
``id`` and the call waits for its ``ok``/``error`` reply, raising :class:`ProtocolError` on error).
A ``Subscriber`` owns one SUB socket for telemetry and callbacks.

    with Client("tcp://127.0.0.1:5570", name="my-game") as c:
        c.set_state("weather", "storm")
        iid = c.trigger("door_open", position=(2, 0, -3))
        with c.batch() as b:                      # applied in the same audio block
            b.set_param("intensity", 0.9)
            b.trigger("stinger")
        c.object("car1", (10, 0, -4))             # fire-and-forget, 10k/s is fine
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgpack
import zmq

from ..config import COMMAND_ENDPOINT, TELEMETRY_ENDPOINT
from ..errors import ProtocolError
from .protocol import MESSAGES, PROTOCOL_VERSION

Vec3 = Sequence[float]


def _vec(v: Vec3 | None) -> list[float] | None:
    return None if v is None else [float(v[0]), float(v[1]), float(v[2])]


def _curve_opts(sock: zmq.Socket, curve: dict[str, bytes] | None) -> None:
    if curve:
        sock.setsockopt(zmq.CURVE_SERVERKEY, curve["server_public"])
        sock.setsockopt(zmq.CURVE_PUBLICKEY, curve["public"])
        sock.setsockopt(zmq.CURVE_SECRETKEY, curve["secret"])


class Client:
    """A DEALER connection to a daemon's command socket.

    ``timeout`` bounds each synchronous call (seconds); ``curve`` is ``{"server_public",
    "public", "secret"}`` (z85 bytes, e.g. from ``zmq.auth.load_certificate``) for CURVE daemons.
    """

    def __init__(
        self,
        endpoint: str = COMMAND_ENDPOINT,
        *,
        name: str | None = None,
        timeout: float = 2.0,
        curve: dict[str, bytes] | None = None,
        context: zmq.Context | None = None,
        sndhwm: int = 100_000,
    ) -> None:
        self.ctx = context or zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 200)
        self.sock.setsockopt(zmq.SNDHWM, sndhwm)
        _curve_opts(self.sock, curve)
        self.sock.connect(endpoint)
        self.endpoint = endpoint
        self.timeout = float(timeout)
        self.name = name
        self._ids = itertools.count(1)
        self._early: dict[int, dict[str, Any]] = {}
        self.unsolicited: list[dict[str, Any]] = []
        self.info: dict[str, Any] = {}

    # ------------------------------------------------------------------------------ plumbing
    def send(self, type: str, t: float | None = None, **fields: Any) -> None:
        """Fire-and-forget: no id, no reply (errors still appear on the PUB ``error`` topic)."""
        msg = {"v": PROTOCOL_VERSION, "type": type, **{k: v for k, v in fields.items() if v is not None}}
        if t is not None:
            msg["t"] = float(t)
        self.sock.send(msgpack.packb(msg, use_bin_type=True))

    def send_raw(self, payload: bytes) -> None:
        """Send bytes as they are (tests, other encoders)."""
        self.sock.send(payload)

    def request(self, type: str, t: float | None = None, **fields: Any) -> dict[str, Any]:
        """Send with an id and wait for the reply; return the ``ok`` map or raise ProtocolError."""
        rid = next(self._ids) & 0xFFFFFFFF
        msg = {
            "v": PROTOCOL_VERSION,
            "type": type,
            "id": rid,
            **{k: v for k, v in fields.items() if v is not None},
        }
        if t is not None:
            msg["t"] = float(t)
        self.sock.send(msgpack.packb(msg, use_bin_type=True))
        return self.wait_reply(rid, type)

    def wait_reply(self, rid: int, what: str = "") -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while rid not in self._early:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sock.poll(int(left * 1000) + 1):
                if rid in self._early:
                    break
                raise TimeoutError(
                    f"{what or 'request'} id={rid}: no reply from {self.endpoint} within {self.timeout:g} s"
                )
            reply = msgpack.unpackb(self.sock.recv(), raw=False)
            got = reply.get("id") if isinstance(reply, dict) else None
            if got is None:
                self.unsolicited.append(reply)
            else:
                self._early[got] = reply
        reply = self._early.pop(rid)
        if reply.get("type") == "error":
            raise ProtocolError(
                reply.get("message", "error"), code=reply.get("code", ""), where=reply.get("field") or ""
            )
        return reply

    # ------------------------------------------------------------------------------ messages
    def hello(self, name: str | None = None) -> dict[str, Any]:
        self.info = self.request("hello", name=name or self.name)
        return self.info

    def set_param(self, name: str, value: float, *, t: float | None = None, sync: bool = False) -> None:
        self._go(sync, "set_param", t, name=name, value=float(value))

    def set_state(self, group: str, value: str, *, t: float | None = None, sync: bool = False) -> None:
        self._go(sync, "set_state", t, group=group, value=value)

    def set_switch(
        self, group: str, value: str, object: str | None = None, *, t: float | None = None, sync: bool = False
    ) -> None:
        self._go(sync, "set_switch", t, group=group, value=value, object=object)

    def trigger(
        self,
        event: str,
        position: Vec3 | None = None,
        params: dict[str, float] | None = None,
        object: str | None = None,
        *,
        switches: dict[str, str] | None = None,
        t: float | None = None,
        sync: bool = True,
    ) -> int | None:
        """Start an event instance; returns its id (``sync=False``: returns None at once)."""
        fields = {
            "event": event,
            "position": _vec(position),
            "params": params,
            "object": object,
            "switches": switches,
        }
        if not sync:
            self.send("trigger", t, **fields)
            return None
        return int(self.request("trigger", t, **fields)["instance"])

    def stop(
        self, instance: int, release: bool = True, *, t: float | None = None, sync: bool = False
    ) -> None:
        self._go(sync, "stop", t, instance=int(instance), release=bool(release))

    def listener(
        self,
        position: Vec3,
        forward: Vec3 = (0.0, 0.0, -1.0),
        up: Vec3 = (0.0, 1.0, 0.0),
        velocity: Vec3 = (0.0, 0.0, 0.0),
        *,
        t: float | None = None,
        sync: bool = False,
    ) -> None:
        self._go(
            sync,
            "listener",
            t,
            position=_vec(position),
            forward=_vec(forward),
            up=_vec(up),
            velocity=_vec(velocity),
        )

    def object(
        self,
        name: str,
        position: Vec3,
        forward: Vec3 | None = None,
        velocity: Vec3 | None = None,
        *,
        t: float | None = None,
        sync: bool = False,
    ) -> None:
        self._go(
            sync,
            "object",
            t,
            name=name,
            position=_vec(position),
            forward=_vec(forward),
            velocity=_vec(velocity),
        )

    def snapshot(self, name: str, on: bool = True, *, t: float | None = None, sync: bool = False) -> None:
        self._go(sync, "snapshot", t, name=name, on=bool(on))

    def say(
        self,
        text: str,
        preset: str | None = None,
        emitter: str | None = None,
        position: Vec3 | None = None,
        *,
        t: float | None = None,
        sync: bool = False,
    ) -> None:
        """Speak a synthetic character line (telemetry topic ``say`` reports it playing)."""
        self._go(sync, "say", t, text=text, preset=preset, emitter=emitter, position=_vec(position))

    def stinger(self, name: str, *, t: float | None = None, sync: bool = False) -> None:
        self._go(sync, "stinger", t, name=name)

    def set_weight(
        self, layer: str, weight: float | None, *, t: float | None = None, sync: bool = False
    ) -> None:
        """Hold ``layer``'s weight (0..1) over its rules and director; ``None`` hands it back."""
        self._go(sync, "set_weight", t, layer=layer, weight=None if weight is None else float(weight))

    def profile(
        self, profile: Any = None, *, t: float | None = None, sync: bool = False, **fields: Any
    ) -> None:
        """Apply a player profile (docs/accessibility.md): a ``HearingProfile``, a mapping of its
        fields, or the fields as keywords (``mono=True, dynamic_range="night"``). Each message is a
        complete profile: fields left out take their defaults."""
        given = profile.to_dict() if hasattr(profile, "to_dict") else dict(profile or {})
        self._go(sync, "profile", t, **{**given, **fields})

    def load_scene(self, path: str) -> dict[str, Any]:
        old = self.timeout
        self.timeout = max(old, 10.0)
        try:
            return self.request("load_scene", path=path)["scene"]
        finally:
            self.timeout = old

    def stats(self) -> dict[str, Any]:
        return self.request("stats")["stats"]

    def sync(self, t: float | None = None) -> int:
        """Barrier: returns once everything sent before has been applied; the engine frame it took effect."""
        return int(self.request("sync", t)["frame"])

    def batch(self, t: float | None = None, sync: bool = True) -> Batch:
        return Batch(self, t, sync)

    def _go(self, sync: bool, type: str, t: float | None, **fields: Any) -> None:
        if sync:
            self.request(type, t, **fields)
        else:
            self.send(type, t, **fields)

    # ------------------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Batch:
    """Collects messages and sends them as one ``batch`` (applied in the same audio block)."""

    def __init__(self, client: Client, t: float | None, sync: bool) -> None:
        self.client = client
        self.t = t
        self.sync = sync
        self.items: list[dict[str, Any]] = []
        self.results: list[dict[str, Any]] = []

    def add(self, type: str, **fields: Any) -> Batch:
        if type not in MESSAGES or not MESSAGES[type].in_batch:
            raise ProtocolError(f"batch: {type!r} cannot be batched", code="wrong_type", where="type")
        self.items.append({"type": type, **{k: v for k, v in fields.items() if v is not None}})
        return self

    def set_param(self, name: str, value: float) -> Batch:
        return self.add("set_param", name=name, value=float(value))

    def set_state(self, group: str, value: str) -> Batch:
        return self.add("set_state", group=group, value=value)

    def set_switch(self, group: str, value: str, object: str | None = None) -> Batch:
        return self.add("set_switch", group=group, value=value, object=object)

    def trigger(
        self,
        event: str,
        position: Vec3 | None = None,
        params: dict | None = None,
        object: str | None = None,
        switches: dict[str, str] | None = None,
    ) -> Batch:
        fields = {"position": _vec(position), "params": params, "object": object, "switches": switches}
        return self.add("trigger", event=event, **fields)

    def stop(self, instance: int, release: bool = True) -> Batch:
        return self.add("stop", instance=int(instance), release=bool(release))

    def listener(
        self, position: Vec3, forward: Vec3 = (0, 0, -1), up: Vec3 = (0, 1, 0), velocity: Vec3 = (0, 0, 0)
    ) -> Batch:
        return self.add(
            "listener", position=_vec(position), forward=_vec(forward), up=_vec(up), velocity=_vec(velocity)
        )

    def object(
        self, name: str, position: Vec3, forward: Vec3 | None = None, velocity: Vec3 | None = None
    ) -> Batch:
        return self.add(
            "object", name=name, position=_vec(position), forward=_vec(forward), velocity=_vec(velocity)
        )

    def snapshot(self, name: str, on: bool = True) -> Batch:
        return self.add("snapshot", name=name, on=bool(on))

    def say(
        self, text: str, preset: str | None = None, emitter: str | None = None, position: Vec3 | None = None
    ) -> Batch:
        return self.add("say", text=text, preset=preset, emitter=emitter, position=_vec(position))

    def stinger(self, name: str) -> Batch:
        return self.add("stinger", name=name)

    def set_weight(self, layer: str, weight: float | None) -> Batch:
        return self.add("set_weight", layer=layer, weight=None if weight is None else float(weight))

    def send(self) -> list[dict[str, Any]]:
        """Send the batch; with ``sync`` return one result per item (``{"instance": n}`` for triggers)."""
        if not self.items:
            return []
        if self.sync:
            self.results = self.client.request("batch", self.t, items=self.items)["results"]
        else:
            self.client.send("batch", self.t, items=self.items)
        self.items = []
        return self.results

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.send()


@dataclass(frozen=True)
class Caption:
    """A sound caption or a spoken line's subtitle: a payload of the ``caption`` topic.

    ``direction`` is in degrees from where the listener faces (0 ahead, positive to the right,
    -180..180), ``elevation`` positive up, ``distance`` in metres; all three None for a
    non-spatial sound. ``count`` sounds were merged into it. docs/accessibility.md says when
    captions come and how they are limited."""

    text: str
    importance: str = "normal"
    direction: float | None = None
    elevation: float | None = None
    distance: float | None = None
    loudness_db: float | None = None
    synthetic: bool = False
    subtitle: bool = False
    speaker: str | None = None
    count: int = 1
    frame: int = 0

    @property
    def spatial(self) -> bool:
        return self.direction is not None

    @classmethod
    def from_payload(cls, payload: Any) -> Caption | None:
        """The caption in a ``caption`` payload (None if it is not one)."""
        if not isinstance(payload, Mapping) or not isinstance(payload.get("text"), str):
            return None

        def num(key: str) -> float | None:
            v = payload.get(key)
            return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

        return cls(
            text=payload["text"],
            importance=str(payload.get("importance") or "normal"),
            direction=num("direction"),
            elevation=num("elevation"),
            distance=num("distance"),
            loudness_db=num("loudness_db"),
            synthetic=payload.get("synthetic") is True,
            subtitle=payload.get("subtitle") is True,
            speaker=payload.get("speaker") if isinstance(payload.get("speaker"), str) else None,
            count=int(payload.get("count") or 1),
            frame=int(payload.get("frame") or 0),
        )


class Subscriber:
    """A SUB socket on the daemon's telemetry PUB. Topics: see docs/protocol.md ("Telemetry")."""

    def __init__(
        self,
        endpoint: str = TELEMETRY_ENDPOINT,
        topics: Iterable[str] = ("",),
        *,
        curve: dict[str, bytes] | None = None,
        context: zmq.Context | None = None,
    ) -> None:
        self.ctx = context or zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVHWM, 100_000)
        _curve_opts(self.sock, curve)
        for topic in topics:
            self.sock.setsockopt(zmq.SUBSCRIBE, topic.encode())
        self.sock.connect(endpoint)

    def recv(self, timeout: float | None = 1.0) -> tuple[str, Any] | None:
        """Next (topic, payload), or None after ``timeout`` seconds (None: wait forever)."""
        if timeout is not None and not self.sock.poll(int(timeout * 1000)):
            return None
        topic, payload = self.sock.recv_multipart()
        return topic.decode(), msgpack.unpackb(payload, raw=False)

    def wait_for(self, topic: str, timeout: float = 2.0, where: Any = None) -> Any:
        """The next payload on ``topic`` (optionally matching ``where(payload)``), or None on timeout."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            got = self.recv(left)
            if got is None:
                return None
            if got[0] == topic and (where is None or where(got[1])):
                return got[1]
        return None

    def caption(self, timeout: float = 2.0) -> Caption | None:
        """The next caption or subtitle (subscribe to ``caption``), or None on timeout."""
        payload = self.wait_for("caption", timeout)
        return Caption.from_payload(payload) if payload is not None else None

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["Batch", "Caption", "Client", "Subscriber"]
