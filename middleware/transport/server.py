"""The network side of the daemon: ROUTER for commands, PUB for telemetry, a link to the audio process.

One thread, one loop, no locks. Each turn it drains up to ``MAX_DRAIN`` frames from the ROUTER,
decodes and validates each (``protocol.validate`` + the scene ``Catalog``), answers the ones that
carry an ``id``, and turns the accepted ones into compact commands for the audio process:

* untimed ``object``, ``set_param`` and ``listener`` updates are **coalesced**: within one flush
  the latest value per object / parameter wins, but never across an ordered command (a
  ``trigger`` after ``set_param x=1`` still sees 1), so coalescing cannot change what is heard;
* everything else keeps its order; a flush happens at the end of each drain and right after a
  ``trigger``, ``stop``, ``sync`` or ``batch``, so an event never waits behind a flood.

The audio process answers ``sync`` and ``load_scene`` (deferred replies keyed by a token) and
streams telemetry, which this loop republishes on PUB by topic.

An ``ok`` means accepted: everything this process can know is checked before it replies (the scene's
names and ranges, listener axes, live instances, object names, the client's clock horizon and its
scheduled commands), so the audio process is only handed what it will do. A scene swap is atomic
with validation: the audio process loads and prepares a new scene on its main thread, says
``prepared`` with the new description, and this loop switches its catalogue and sends ``swap`` in
the same step, so every command before the swap was checked against the old scene and every one
after it against the new one (the audio process applies the swap between blocks).

No message can stop this process: each one is handled inside a guard that answers ``internal`` (with
the request's id, once) and goes on; the loop itself is guarded per turn and gives up, with
``failure`` set, only if turns keep failing.

With ``world`` set, the loop also drains a SUB socket connected to a game server's PUB feed (topic
``world``: one protocol message per publication; topic ``world_state``: the full state, published
periodically, which a daemon that joined late catches up from). World messages are validated like a
client's and go down the same path under one client key of their own, so the daemon's own clients
only need to send their listener ("Many listeners, one world" in docs/protocol.md).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import heapq
import itertools
import sys
import time
import traceback
from collections import OrderedDict
from pathlib import Path
from typing import Any

import msgpack
import zmq

from ..config import MAX_INSTANCES, MAX_OBJECTS
from ..control.handler import Handler, Instances, Lane
from ..control.handlers import HANDLERS
from ..errors import ProtocolError
from ..voice.gate import SayGate
from . import protocol as P
from .object_frames import ObjectNumbers, PendingObjects, object_batch

MAX_DRAIN = 256
"""Frames handled per turn before flushing to the audio process (bounds an event's wait)."""
DRAIN_BUDGET_S = 0.002
"""Time one turn may spend on the ROUTER's messages: a game streaming 1024-item batches makes each
message cost milliseconds, and a turn of MAX_DRAIN of them would hold a trigger's reply, the audio
process's messages (``instance_out``) and the flush of coalesced updates for a second or more."""

ERROR_PUBS_PER_SECOND = 200
"""Errors of one client published per second at most: a client flooding garbage uses its own budget and
never hides another client's errors. All clients together get ``ERROR_PUBS_TOTAL_FACTOR`` times it."""
ERROR_PUBS_TOTAL_FACTOR = 5
"""Errors published on PUB per second at most (a fuzzing client must not flood subscribers)."""

FLUSH_INTERVAL = 0.002
"""Seconds an untimed object/param/listener update may wait to be coalesced with later ones (well
under one 5.3 ms block, so it still reaches the next block; ordered messages never wait)."""

DEFERRED_TIMEOUT = 5.0
MAX_CLIENT_KEYS = 4096

SCHEDULED_TOTAL_FACTOR = 16
"""Timed commands pending across all clients, at most this many times the per-client cap
(``max_scheduled``): one client cannot starve another, and the total stays bounded."""

MAX_LOOP_FAILURES = 50
"""Consecutive loop turns that may fail (a bug outside any message's guard) before the process gives up
with ``failure`` set: rather a clean stop with a status than a loop spinning on the same error."""

INTERNAL_TRACEBACKS = 10
"""Tracebacks printed to stderr for internal errors, at most (each is also counted and published)."""

TRIM_AFTER_MESSAGES = 20_000
"""After a burst of at least this many messages, once the socket has been quiet for ``TRIM_QUIET``
seconds, the process hands freed memory back to the system (``malloc_trim``): the allocator would
otherwise keep a burst's peak for the rest of the run."""
TRIM_QUIET = 0.5
TRIM_AGAIN_S = 1.0
"""A second hand-back this long after the first, if still quiet: what was freed in between (queues that
drained late, the allocator's deferred frees) would otherwise stay until the next burst."""

_COALESCE: dict[str, str | None] = {
    m.name: (m.coalesce_key[0] if m.coalesce_key else None)
    for m in P.MESSAGES.values()
    if m.coalesce_key is not None
}
"""Messages coalesced when untimed -> the field that keys them (None: one per client), from the
protocol table's ``coalesce_key`` (declared there once, with the docs that say it)."""

WORLD_TOPIC = b"world"
WORLD_STATE_TOPIC = b"world_state"
WORLD_OPS = frozenset(
    {"set_param", "set_state", "set_switch", "trigger", "stop", "object", "snapshot", "stinger", "batch"}
)
"""What a world feed may say: the shared world. Not ``listener`` (each daemon's own client sends it),
nor the request/reply messages (there is nobody to answer on a PUB feed)."""
WORLD_IDENTITY = b"\x00soundscape-world"
"""Client key of the world feed (ROUTER identities never look like this: they are 5 bytes)."""
MAX_WORLD_IDS = 4096
_STATE_KEYS = ("params", "states", "switches", "objects", "snapshots")


_OBJECTS_KEY = ("object",)
"""The pending frame of object updates, in ``Server._pending`` (a coalesce key is a message name or a
``(name, value)`` pair: this one never clashes)."""
_OBJECTS_AT = ["object", None, None, None]
"""Its value there: the updates themselves wait in ``Server._objects``."""


def _pack(obj: Any) -> bytes:
    try:
        return msgpack.packb(obj, use_bin_type=True)
    except UnicodeEncodeError:  # a client's undecodable bytes quoted somewhere: never a failure to answer
        return msgpack.packb(obj, use_bin_type=True, unicode_errors="replace")


def _malloc_trim() -> Any:
    """glibc's ``malloc_trim`` (returns freed heap pages to the system), or None elsewhere."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()


class Server:
    """Command ROUTER + telemetry PUB + PUSH/PULL link to the audio process."""

    def __init__(
        self,
        ctx: zmq.Context,
        *,
        bind: str,
        pub: str,
        link_out: str,
        link_in: str,
        scene_root: Path | None,
        max_message_bytes: int = P.DEFAULT_MAX_MESSAGE_BYTES,
        curve_secret: tuple[bytes, bytes] | None = None,
        max_instances: int = MAX_INSTANCES,
        daemon_version: str = "",
        world: str | None = None,
        world_curve: tuple[bytes, bytes, bytes] | None = None,
        schedule_latency: float = 0.05,
        max_schedule_ahead: float = 60.0,
        max_scheduled: int = 4096,
        max_objects: int = MAX_OBJECTS,
    ) -> None:
        if not 1 <= int(max_instances) <= MAX_INSTANCES:
            raise ProtocolError(
                f"max_instances={max_instances}: must be within 1..{MAX_INSTANCES} (the scene runtime's cap)"
            )
        self.ctx = ctx
        self.router = ctx.socket(zmq.ROUTER)
        self.pubsock = ctx.socket(zmq.PUB)
        for s in (self.router, self.pubsock):
            s.setsockopt(zmq.LINGER, 0)
            if curve_secret is not None:
                public, secret = curve_secret
                s.setsockopt(zmq.CURVE_SERVER, 1)
                s.setsockopt(zmq.CURVE_PUBLICKEY, public)
                s.setsockopt(zmq.CURVE_SECRETKEY, secret)
                s.setsockopt(zmq.ZAP_DOMAIN, b"soundscape")
        self.router.setsockopt(zmq.MAXMSGSIZE, int(max_message_bytes))
        # A reply that cannot be queued (the client does not read them) raises instead of vanishing,
        # so it is counted (replies_dropped); one to a client that left raises EHOSTUNREACH.
        self.router.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self.router.setsockopt(zmq.RCVHWM, 100_000)
        self.router.setsockopt(zmq.SNDHWM, 10_000)
        self.pubsock.setsockopt(zmq.SNDHWM, 10_000)
        self.router.bind(bind)
        self.pubsock.bind(pub)
        self.bind_endpoint = self.router.getsockopt(zmq.LAST_ENDPOINT).decode()
        self.pub_endpoint = self.pubsock.getsockopt(zmq.LAST_ENDPOINT).decode()
        self.to_audio = ctx.socket(zmq.PUSH)
        self.to_audio.setsockopt(zmq.LINGER, 1000)
        self.to_audio.setsockopt(zmq.SNDHWM, 2000)
        self.to_audio.connect(link_out)
        self.from_audio = ctx.socket(zmq.PULL)
        self.from_audio.setsockopt(zmq.LINGER, 0)
        self.from_audio.bind(link_in)
        self.world: zmq.Socket | None = None
        if world is not None:
            # SUB connects (the game server binds its PUB): ZeroMQ fans one feed out to every daemon.
            self.world = ctx.socket(zmq.SUB)
            self.world.setsockopt(zmq.LINGER, 0)
            self.world.setsockopt(zmq.MAXMSGSIZE, int(max_message_bytes))
            self.world.setsockopt(zmq.RCVHWM, 100_000)
            self.world.setsockopt(zmq.SUBSCRIBE, WORLD_TOPIC)  # a prefix: also matches world_state
            if world_curve is not None:  # the game server's PUB is a CURVE server; this daemon a client
                server_public, public, secret = world_curve
                self.world.setsockopt(zmq.CURVE_SERVERKEY, server_public)
                self.world.setsockopt(zmq.CURVE_PUBLICKEY, public)
                self.world.setsockopt(zmq.CURVE_SECRETKEY, secret)
            self.world.connect(world)
        self.world_ids: dict[int, int] = {}  # the world's trigger id -> this daemon's instance id
        self._world_iid: dict[int, int] = {}  # and back, to forget it when the instance ends
        self._world_seen: OrderedDict[int, None] = OrderedDict()  # world ids ever triggered here
        self.scene_root = scene_root
        self.max_message_bytes = int(max_message_bytes)
        self.max_instances = int(max_instances)
        self.max_objects = int(max_objects)
        self.object_names: set[str] = set()  # every game object name accepted so far (<= max_objects)
        self.latency = float(schedule_latency)
        self.max_ahead = float(max_schedule_ahead)
        self.max_scheduled = int(max_scheduled)
        self.max_scheduled_total = SCHEDULED_TOTAL_FACTOR * self.max_scheduled
        self.block_seconds = 0.0  # one engine block, from the audio process's `ready`
        self.anchors: dict[int, tuple[float, float]] = {}  # client -> (game time t0, monotonic then)
        self.scheduled: dict[int, list[float]] = {}  # client -> heap of monotonic times still to come
        self._scheduled_all: list[float] = []  # the same, all clients together
        self._scene_before: dict[int, dict[str, Any]] = {}  # swap token -> description to restore
        self.daemon_version = daemon_version
        self.catalog = P.Catalog()
        self.say_gate = SayGate()  # checks `say` before the reply; one text-rate bucket per client
        self.describe: dict[str, Any] = {}
        self.audio_info: dict[str, Any] = {}
        self._early_audio: list[tuple[str, Any]] = []  # telemetry that arrived before `ready`
        self.audio_stats: dict[str, Any] = {}
        self.scene_telemetry: dict[str, Any] = {}
        self.live: set[int] = set()
        self._iids = itertools.count(1)
        self._tokens = itertools.count(1)
        self._lanes = {  # where each message goes, by its handler's lane (control.handler.Lane)
            Lane.LOCAL: self._answer,
            Lane.BARRIER: self._barrier,
            Lane.SCENE: self._load_scene,
            Lane.BATCH: self._dispatch_batch,
            Lane.RENDER: self._forward,
            Lane.PREPARED: self._forward,
        }
        self.deferred: dict[int, tuple[list[bytes], int | None, str, float]] = {}
        self.clients: OrderedDict[bytes, int] = OrderedDict()
        self.client_names: dict[int, str] = {}
        self._client_seq = itertools.count(1)
        self._out: list[list] = []
        self._pending: dict[Any, list] = {}
        self._object_numbers = ObjectNumbers()  # untimed object updates leave as one array frame
        self._objects = PendingObjects()  # their latest values, the frame's place held in _pending
        self._out_items = 0  # objects in the frames of _out beyond one command each
        self._next_flush = 0.0
        self._err_start = 0.0  # the current one-second window of error publications
        self._err_counts: dict[Any, int] = {}  # client -> errors published in it (cleared each second)
        self._err_total = ERROR_PUBS_TOTAL_FACTOR * ERROR_PUBS_PER_SECOND
        self._err_sum = 0
        self.running = True
        self.watch: Any = None  # callable -> bool: is the audio process alive?
        self.failure = ""
        self.bye: dict[str, Any] | None = None
        self._answers = 0  # replies attempted (sent or dropped): did a guarded handler answer yet?
        self._loop_failures = 0
        self._trim_mark = 0  # `received` when memory was last handed back
        self._trim_again = 0.0  # when to hand back once more after a burst (0: not pending)
        self._last_rx = 0.0
        self.counters = {
            "received": 0,
            "accepted": 0,
            "invalid": 0,
            "coalesced": 0,
            "replies": 0,
            "replies_dropped": 0,
            "replies_unroutable": 0,
            "packets_to_audio": 0,
            "commands_to_audio": 0,
            "object_frames": 0,  # array frames of object updates (each counts its objects as commands)
            "dropped_to_audio": 0,
            "errors_published": 0,
            "errors_suppressed": 0,
            "pub_dropped": 0,
            "internal_errors": 0,
            "instance_limit": 0,
            "object_limit": 0,
            "scheduled_limit": 0,
            "memory_trims": 0,
            "late_deferred": 0,
            "world_received": 0,
            "world_accepted": 0,
            "world_invalid": 0,
            "world_states": 0,
        }

    # ------------------------------------------------------------------------------- startup
    def wait_ready(self, timeout: float) -> dict[str, Any]:
        """Wait for the audio process's ``ready`` (or ``failed``) message."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.from_audio.poll(int(left * 1000)):
                raise TimeoutError(f"the audio process did not start within {timeout:.0f} s")
            kind, payload = msgpack.unpackb(self.from_audio.recv(), raw=False)
            if kind == "failed":
                return {"failed": payload}
            if kind == "ready":
                break
            # Telemetry the scene published while starting (director status, first beat): keep it
            # for subscribers rather than treat it as a protocol breach.
            self._early_audio.append((kind, payload))
        self.audio_info = payload
        if payload.get("sample_rate") and payload.get("block"):
            self.block_seconds = payload["block"] / payload["sample_rate"]
        self.set_scene(payload["scene"])
        return payload

    def set_scene(self, describe: dict[str, Any]) -> None:
        self.describe = describe
        self.catalog = P.Catalog.from_describe(describe)

    # ---------------------------------------------------------------------------------- loop
    def run(self) -> None:
        """Serve until ``stop`` (or until the audio process dies, or turns keep failing: ``failure``)."""
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.from_audio, zmq.POLLIN)
        if self.world is not None:
            poller.register(self.world, zmq.POLLIN)
        for kind, payload in self._early_audio:  # telemetry published while the scene was starting
            if kind == "pub":
                self._on_audio(kind, payload, b"")
        self._early_audio.clear()
        self._next_check = time.monotonic() + 0.5
        # What exists now (modules, the protocol tables, the scene's description) lives for the whole
        # run: out of the collector's sight, as in the audio process. A game moving 4,000 objects makes
        # this process decode 240k batch items a second (a map and a list each), which triggered a
        # full collection ~3 times a second; walking these ~70k long-lived objects made each one take
        # 25-45 ms during which no trigger was forwarded (bench_daemon_objects, N = 4,000 on JACK:
        # event-to-sound p99 35-48 -> 17-18 ms).
        gc.collect()
        gc.freeze()
        while self.running:
            try:
                self._turn(poller)
                self._loop_failures = 0
            except Exception as exc:  # a bug outside any message's guard: report, go on, or give up
                self._loop_failures += 1
                self._internal_trace(exc)
                if self._loop_failures >= MAX_LOOP_FAILURES:
                    self.failure = f"the network process failed {MAX_LOOP_FAILURES} times in a row ({exc!r})"
                    self.running = False

    def _turn(self, poller: zmq.Poller) -> None:
        """One turn of the loop: wait for input, drain it, flush, and the twice-a-second chores."""
        # Coalescable updates wait at most FLUSH_INTERVAL for company; anything else goes at once.
        timeout = 100 if not self._pending else max(0, int((self._next_flush - time.monotonic()) * 1000))
        try:
            ready = dict(poller.poll(timeout))
        except zmq.ZMQError as exc:
            if exc.errno == zmq.EINTR:
                return
            raise
        if self.router in ready:
            self._drain_router()
            self._last_rx = time.monotonic()
        if self.world is not None and self.world in ready:
            self._drain_world()
        if self.from_audio in ready:
            self._drain_audio()
        now = time.monotonic()
        if self._out or (self._pending and now >= self._next_flush):
            self._flush()
        if now >= self._next_check:
            self._next_check = now + 0.5
            self._expire_deferred(now)
            self._give_back_memory(now)
            if self.watch is not None and not self.watch():
                self.failure = "the audio process exited unexpectedly"
                self.running = False

    def _give_back_memory(self, now: float) -> None:
        """After a burst, once the clients are quiet, return the freed heap to the system."""
        received = self.counters["received"]
        if self._trim_again and now >= self._trim_again and now - self._last_rx >= TRIM_QUIET:
            self._trim_again = 0.0
        elif received - self._trim_mark < TRIM_AFTER_MESSAGES or now - self._last_rx < TRIM_QUIET:
            return
        else:
            self._trim_mark = received
            self._trim_again = now + TRIM_AGAIN_S
        gc.collect()
        if _TRIM is not None:
            _TRIM(0)
        self.counters["memory_trims"] += 1

    def stop(self) -> None:
        self.running = False

    def _drain_router(self) -> None:
        """Take up to MAX_DRAIN messages off the ROUTER; the hot path of the whole daemon.

        A DEALER's message arrives as two frames, ``[identity, payload]``. They are read with two
        plain ``recv`` calls, the payload as a Frame whose ``more`` flag says whether anything
        follows: ``recv_multipart`` asks ``getsockopt(RCVMORE)`` per frame, which costs more
        (2 us here) than the whole rest of an update's handling. Other framings (a REQ client's
        empty delimiter, extra frames) go through ``_handle`` as before.

        Untimed object/set_param/listener updates in their common shape (``P.fast_update``) are
        coalesced right here, with no Request built; everything else, including every message that
        fails any check, goes through ``_handle`` and the generic validator, so error codes and
        messages come from one place.
        """
        recv = self.router.recv
        handle = self._handle
        handle_raw = self._handle_raw
        unpackb = msgpack.unpackb
        fast = P.fast_update
        no_ext = P._no_ext
        pending = self._pending
        clients = self.clients
        params = self.catalog.parameters
        names = self.object_names
        max_objects = self.max_objects
        counters = self.counters
        received = accepted = coalesced = 0
        nb = zmq.NOBLOCK
        clock = time.monotonic
        deadline = clock() + DRAIN_BUDGET_S
        for _ in range(MAX_DRAIN):
            if clock() > deadline:  # the rest waits one turn (flush, the audio process's messages)
                break
            try:
                ident = recv(nb)
            except zmq.Again:
                break
            frame = recv(nb, False)  # ROUTER: an identity is always followed by the message; no copy
            raw = None
            try:  # the guard: whatever happens, the message is answered and the loop goes on
                if frame.more:
                    frames = [ident, frame.bytes]
                    while frame.more:
                        frame = recv(nb, False)
                        frames.append(frame.bytes)
                    counters["received"] += received
                    counters["accepted"] += accepted
                    counters["coalesced"] += coalesced
                    received = accepted = coalesced = 0
                    handle(frames)
                    continue
                try:  # straight from the frame's buffer (as P.unpack would, without a bytes copy)
                    raw = unpackb(frame, raw=False, strict_map_key=True, ext_hook=no_ext, use_list=True)
                    hit = fast(raw)
                except Exception:  # P.unpack in _handle says what is wrong with it
                    hit = raw = None
                if hit is not None:
                    name, key, fields = hit
                    if name == "object":
                        if key[1] not in names:
                            if len(names) >= max_objects:
                                hit = None  # _handle_raw raises the `limit` error
                            else:
                                names.add(key[1])
                    elif name == "set_param" and params is not None:
                        rng = params.get(fields["name"])
                        if rng is None or not rng[0] <= fields["value"] <= rng[1]:
                            hit = None  # Catalog.check in _handle raises the error
                if hit is None:
                    counters["received"] += received
                    counters["accepted"] += accepted
                    counters["coalesced"] += coalesced
                    received = accepted = coalesced = 0
                    if raw is None:
                        handle([ident, frame.bytes])
                    elif not self._fast_batch(ident, raw):
                        handle_raw([ident], raw)
                    continue
                received += 1
                client = clients.get(ident)
                if client is None:
                    client = self._client(ident)
                if name == "object":
                    coalesced += self._pend_object(fields, client)
                else:
                    if key in pending:
                        coalesced += 1
                    pending[key] = [name, client, None, fields]
                accepted += 1
                rid = raw.get("id")
                if rid is not None:
                    self._reply([ident], P.ok_reply(name, rid))
            except Exception as exc:
                self._internal([ident], raw, exc, answered=False)
        counters["received"] += received
        counters["accepted"] += accepted
        counters["coalesced"] += coalesced
        if self._out:
            self._flush()

    def _fast_batch(self, ident: bytes, raw: Any) -> bool:
        """Coalesce an untimed batch of bare updates (``P.fast_batch``); False: not one, or invalid.

        Does what ``_dispatch`` does for such a batch (every item checked against the scene before
        any is applied, then merged latest-wins), without a Request per item; a batch that fails
        any check is left untouched for the generic path, which says why.
        """
        objects = object_batch(raw)
        if objects is not None:
            return self._fast_object_batch(ident, raw, *objects)
        items = P.fast_batch(raw)
        if items is None:
            return False
        params = self.catalog.parameters
        names = self.object_names
        new: set[str] = set()
        for name, key, fields in items:
            if name == "set_param":
                if params is not None:
                    rng = params.get(fields["name"])
                    if rng is None or not rng[0] <= fields["value"] <= rng[1]:
                        return False
            elif name == "object" and key[1] not in names:
                new.add(key[1])
        if new:
            if len(names) + len(new) > self.max_objects:
                return False  # the generic path says `limit`
            names.update(new)
        counters = self.counters
        counters["received"] += 1
        client = self._client(ident)
        pending = self._pending
        coalesced = 0
        for name, key, fields in items:
            if name == "object":
                coalesced += self._pend_object(fields, client)
                continue
            if key in pending:
                coalesced += 1
            pending[key] = [name, client, None, fields]
        counters["coalesced"] += coalesced
        counters["accepted"] += 1
        rid = raw.get("id")
        if rid is not None:
            self._reply([ident], P.ok_reply("batch", rid, {"results": [{}] * len(items)}))
        return True

    def _fast_object_batch(
        self, ident: bytes, raw: Any, names: list[str], pos: Any, fwd: Any, vel: Any
    ) -> bool:
        """``_fast_batch`` for a batch of only object items, validated as arrays (``object_batch``):
        the object cap for the names as sets, the rows coalesced as the batch's arrays."""
        known = self.object_names
        if not known.issuperset(names):
            new = set(names).difference(known)
            if len(known) + len(new) > self.max_objects:
                return False  # the generic path says `limit`
            known.update(new)
        counters = self.counters
        counters["received"] += 1
        client = self._client(ident)
        if _OBJECTS_KEY not in self._pending:
            self._pending[_OBJECTS_KEY] = _OBJECTS_AT
        counters["coalesced"] += self._objects.add_rows(names, pos, fwd, vel, client)
        counters["accepted"] += 1
        rid = raw.get("id")
        if rid is not None:
            self._reply([ident], P.ok_reply("batch", rid, {"results": [{}] * len(names)}))
        return True

    def _pend_object(self, fields: dict[str, Any], client: int) -> bool:
        """An untimed object update to the pending frame (latest-wins); True if it was coalesced."""
        if _OBJECTS_KEY not in self._pending:
            self._pending[_OBJECTS_KEY] = _OBJECTS_AT
        return self._objects.add_one(fields, client)

    def _handle(self, frames: list[bytes]) -> None:
        """One message in any framing: ``[identity, ..., payload]`` (``envelope`` is all but the last)."""
        if len(frames) < 2:
            self.counters["received"] += 1
            self.counters["invalid"] += 1
            self._error(frames[:-1], None, None, "not_a_map", "", "empty message")
            return
        try:
            raw = P.unpack(frames[-1])
        except ProtocolError as exc:
            self.counters["received"] += 1
            self.counters["invalid"] += 1
            name, rid = P.peek_envelope(getattr(exc, "raw", None))  # a map with a key of another type
            self._error(frames[:-1], name, rid, exc.code, exc.where, str(exc))
            return
        self._handle_raw(frames[:-1], raw)

    def _handle_raw(self, envelope: list[bytes], raw: Any) -> None:
        """A decoded message: validate, check against the scene, coalesce or dispatch, answer.

        The guard of every message: a ProtocolError is the client's mistake (its code, its field);
        anything else is ours, answered ``internal`` (unless an answer already left) and published."""
        self.counters["received"] += 1
        answers = self._answers
        try:
            req = P.validate(raw)
            name = req.msg.name
            if name in _COALESCE and req.t is None:
                self._check(req)
                key = name if _COALESCE[name] is None else (name, req.fields[_COALESCE[name]])
                client = self._client(envelope[0])
                if name == "object":
                    self.counters["coalesced"] += self._pend_object(req.fields, client)
                else:
                    if key in self._pending:
                        self.counters["coalesced"] += 1
                    self._pending[key] = [name, client, None, req.fields]
                if req.id is not None:
                    self._reply(envelope, P.ok_reply(name, req.id))
            else:
                self._dispatch(envelope, req)
            self.counters["accepted"] += 1
        except ProtocolError as exc:
            self.counters["invalid"] += 1
            name, rid = P.peek_envelope(raw)
            self._error(envelope, name, rid, exc.code, exc.where, str(exc), reply=self._answers == answers)
        except Exception as exc:
            self._internal(envelope, raw, exc, answered=self._answers != answers)

    def _internal(self, envelope: list[bytes], raw: Any, exc: Exception, answered: bool) -> None:
        """A bug met while handling one message: answer ``internal`` once, publish it, keep serving."""
        self.counters["invalid"] += 1
        self._internal_trace(exc)
        name, rid = P.peek_envelope(raw)
        text = f"{name or 'message'}: internal error ({type(exc).__name__}: {exc}); please report it"
        self._error(envelope, name, rid, "internal", "", text, reply=not answered)

    def _internal_trace(self, exc: Exception) -> None:
        self.counters["internal_errors"] += 1
        if self.counters["internal_errors"] <= INTERNAL_TRACEBACKS:
            traceback.print_exception(exc, file=sys.stderr)

    # ------------------------------------------------------------------------------ world feed
    def _drain_world(self) -> None:
        recv = self.world.recv_multipart
        for _ in range(MAX_DRAIN):
            try:
                frames = recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            self._handle_world(frames)
        if self._out:
            self._flush()

    def _handle_world(self, frames: list[bytes]) -> None:
        """One publication of the world feed: ``[topic, msgpack map]``."""
        self.counters["world_received"] += 1
        raw: Any = None
        try:
            if len(frames) != 2:
                raise P._err("not_a_map", "", f"world feed: {len(frames)} frames, expected [topic, map]")
            topic = frames[0]
            raw = P.unpack(frames[1])
            if topic == WORLD_STATE_TOPIC:
                self._world_state(raw)
            elif topic == WORLD_TOPIC:
                self._world_event(P.validate(raw))
            else:
                raise P._err("unknown_type", "", f"world feed: topic {topic[:40]!r} is not world/world_state")
            self.counters["world_accepted"] += 1
        except Exception as exc:  # the feed's guard: nobody to reply to, so publish (and go on)
            self.counters["world_invalid"] += 1
            name, rid = P.peek_envelope(raw)
            if isinstance(exc, ProtocolError):
                code, where, text = exc.code, exc.where, str(exc)
            else:
                self._internal_trace(exc)
                code, where, text = (
                    "internal",
                    "",
                    f"world feed: internal error ({type(exc).__name__}: {exc})",
                )
            self.publish_error(
                {
                    "re": name,
                    "id": rid,
                    "code": code,
                    "field": where or None,
                    "message": text,
                    "client": "world",
                }
            )

    def _world_event(self, req: P.Request) -> None:
        name = req.msg.name
        if name not in WORLD_OPS:
            allowed = ", ".join(sorted(WORLD_OPS))
            raise P._err("wrong_type", "type", f"type={name!r}: not a world message (allowed: {allowed})")
        # A world `stop` names the world's trigger id (the trigger's `id`); each daemon numbers its own
        # instances, so it is translated here. A daemon that never saw the trigger says so.
        for i, item in enumerate([req] if req.items is None else req.items):
            if HANDLERS[item.msg.name].instances is not Instances.LIVE:
                continue
            wid = item.fields["instance"]
            if wid not in self.world_ids:
                where = "instance" if item is req else f"items[{i}].instance"
                raise P._err("unknown_name", where, f"{where}={wid}: no live instance with this world id")
            item.fields["instance"] = self.world_ids[wid]
        envelope = [WORLD_IDENTITY]
        wid, req.id = req.id, None  # nobody to reply to on a feed
        if name in _COALESCE and req.t is None:
            self._check(req)
            key = (name, req.fields[_COALESCE[name]])
            if name == "object":
                self.counters["coalesced"] += self._pend_object(req.fields, self._client(WORLD_IDENTITY))
                return
            if key in self._pending:
                self.counters["coalesced"] += 1
            self._pending[key] = [name, self._client(WORLD_IDENTITY), None, req.fields]
            return
        self._dispatch(envelope, req)
        if HANDLERS[name].instances is Instances.NEW and wid is not None:
            self._remember_world_instance(wid, req.fields["instance"])

    def _remember_world_instance(self, wid: int, iid: int) -> None:
        old = self.world_ids.pop(wid, None)
        self._world_iid.pop(old, None)
        self.world_ids[wid] = iid
        self._world_iid[iid] = wid
        if len(self.world_ids) > MAX_WORLD_IDS:  # bounded, oldest first
            gone = next(iter(self.world_ids))
            self._world_iid.pop(self.world_ids.pop(gone), None)
        self._world_seen[wid] = None
        self._world_seen.move_to_end(wid)
        if len(self._world_seen) > MAX_WORLD_IDS:
            self._world_seen.popitem(last=False)

    def _world_instances(self, listed: Any, body: list, bad: list[str]) -> None:
        """``world_state.instances``: the world's live tracked instances, a list of ``trigger`` maps
        each with its world ``id``.

        Starts those this daemon has never seen (it joined late, or missed the trigger) and stops,
        with release, world instances it still plays that the world no longer lists (it missed the
        stop). An id seen once is never started again, so a one-shot that ended here is not replayed.
        Started instances play from their beginning: the state carries no playback position.
        """
        if not isinstance(listed, list):
            raise P._err("wrong_type", "instances", "world_state: instances must be a list of trigger maps")
        ids = set()
        for i, fields in enumerate(listed):
            try:
                if not isinstance(fields, dict):
                    raise P._err("wrong_type", f"instances[{i}]", "expected a trigger map with an id")
                req = P.validate({**fields, "v": P.PROTOCOL_VERSION, "type": "trigger"})
                if req.id is None:
                    raise P._err(
                        "missing_field", f"instances[{i}].id", "a listed instance needs its world id"
                    )
                ids.add(req.id)
                if req.id in self.world_ids or req.id in self._world_seen:
                    continue
                self.catalog.check(req)
                self._check_capacity(1)
            except ProtocolError as exc:
                bad.append(f"instances[{i}]: {exc}")
                continue
            iid = self._new_instance()
            req.fields["instance"] = iid
            body.append(["trigger", req.fields])
            self._remember_world_instance(req.id, iid)
        for wid, iid in list(self.world_ids.items()):
            if wid not in ids:
                body.append(["stop", {"instance": iid, "release": True}])

    def _world_state(self, raw: Any) -> None:
        """Apply a full-state publication: every item valid for this scene, as one ordered batch.

        Applying a state that equals the current one changes nothing audible, so the world server
        may publish it periodically: a late daemon catches up, and one that dropped messages heals.
        Items this daemon's scene does not know are skipped (one error says which), so that daemons
        with slightly different scenes still take the rest.
        """
        if raw.__class__ is not dict:
            raise P._err("not_a_map", "", f"world_state is a {type(raw).__name__}, expected a map")
        items: list[dict[str, Any]] = []
        for key, value in raw.items():
            if key in ("v", "type", "t", "instances"):
                continue
            if key not in _STATE_KEYS or not isinstance(value, dict):
                raise P._err(
                    "unknown_field",
                    str(key),
                    f"world_state: {key!r}: expected one of {', '.join(_STATE_KEYS)}, each a map",
                )
            for k, v in value.items():
                if key == "params":
                    items.append({"type": "set_param", "name": k, "value": v})
                elif key == "states":
                    items.append({"type": "set_state", "group": k, "value": v})
                elif key == "switches":
                    items.append({"type": "set_switch", "group": k, "value": v})
                elif key == "snapshots":
                    items.append({"type": "snapshot", "name": k, "on": v})
                else:
                    obj = dict(v) if isinstance(v, dict) else {"position": v}
                    items.append({"type": "object", "name": k, **obj})
        body = []
        bad: list[str] = []
        for item in items:
            try:
                req = P.validate({"v": P.PROTOCOL_VERSION, **item})
                self._check(req)
            except ProtocolError as exc:
                bad.append(f"{item['type']} {item.get('name', item.get('group'))!r}: {exc}")
                continue
            body.append([req.msg.name, req.fields])
        if "instances" in raw:
            self._world_instances(raw["instances"], body, bad)
        self.counters["world_states"] += 1
        if body:
            self._flush_pending()
            self._out.append(["batch", self._client(WORLD_IDENTITY), None, body])
            self._flush()
        if bad:
            raise P._err("rejected", "", f"world_state: {len(bad)} item(s) skipped: " + "; ".join(bad[:5]))

    def _client(self, identity: bytes) -> int:
        key = self.clients.get(identity)
        if key is None:
            key = next(self._client_seq)
            self.clients[identity] = key
            if identity == WORLD_IDENTITY:
                self.client_names[key] = "world"
            if len(self.clients) > MAX_CLIENT_KEYS:  # bounded: forget the oldest client's clock anchor
                _, old = self.clients.popitem(last=False)
                self.client_names.pop(old, None)
                self.anchors.pop(old, None)
                self.scheduled.pop(old, None)
                self._out.append(["forget", old, None, None])
        return key

    def _dispatch(self, envelope: list[bytes], req: P.Request) -> None:
        """Hand a valid message to its lane: the message table (``control.handlers``) says which."""
        handler = HANDLERS[req.msg.name]
        self._lanes[handler.lane](envelope, req, self._client(envelope[0]), handler)

    def _answer(self, envelope: list[bytes], req: P.Request, client: int, handler: Handler) -> None:
        """A message this process answers from its own state (``hello``, ``stats``)."""
        result = handler.answer(self, req.fields, client)
        if req.id is not None:  # without an id, no reply (fire-and-forget), as for every message
            self._reply(envelope, P.ok_reply(req.msg.name, req.id, result))

    def _barrier(self, envelope: list[bytes], req: P.Request, client: int, handler: Handler) -> None:
        """``sync``: answered when the audio process reaches it (everything before it applied)."""
        self._flush_pending()
        token = next(self._tokens)
        self.deferred[token] = (envelope, req.id, req.msg.name, time.monotonic())
        if req.t is not None:  # re-anchor this client's clock here too (the horizon is checked here)
            self.anchors[client] = (req.t, time.monotonic())
        self._out.append([req.msg.name, client, req.t, token])
        self._flush()

    def _load_scene(self, envelope: list[bytes], req: P.Request, client: int, handler: Handler) -> None:
        """``load_scene``: the path is checked here; the reply waits for the audio process's swap."""
        path = self._scene_path(req.fields["path"])
        token = next(self._tokens)
        self.deferred[token] = (envelope, req.id, req.msg.name, time.monotonic())
        self._out.append([req.msg.name, client, None, {"path": str(path), "token": token}])
        self._flush()

    def _forward(self, envelope: list[bytes], req: P.Request, client: int, handler: Handler) -> None:
        """A message the audio process performs: checked against this daemon's state (scene names,
        instance and object caps, live instances, the say gate, the client's clock), then sent on."""
        name, rid, fields = req.msg.name, req.id, req.fields
        self._check(req, admit=False)
        if handler.instances is Instances.NEW:
            self._check_capacity(1)
        elif handler.instances is Instances.LIVE:
            self._check_live(fields["instance"], "instance")
        timing = self._check_time(client, req.t) if req.t is not None else None
        if handler.spoken:  # preset, emitter, text bytes, then the client's rate; tags fields with the id
            self.say_gate.admit(client, rid, [(fields, "")], self.describe)
        # Accepted: from here on nothing refuses the message.
        result = None
        if timing is not None:
            self._commit_time(client, *timing)
        if handler.object_field is not None:
            self.object_names.add(fields[handler.object_field])
        if handler.instances is Instances.NEW:
            iid = self._new_instance()
            fields["instance"] = iid
            result = {"instance": iid}
        self._flush_pending()
        self._out.append([name, client, req.t, fields] if rid is None else [name, client, req.t, fields, rid])
        if handler.flush:  # a trigger or stop reaches the audio process before its reply leaves
            self._flush()
        if rid is not None:
            self._reply(envelope, P.ok_reply(name, rid, result))

    def hello(self) -> dict[str, Any]:
        """``hello``'s reply (``control.handler.NetworkSide``)."""
        return self._hello()

    def name_client(self, client: int, name: str) -> None:
        """Show ``client`` under ``name`` in logs and errors (``hello``'s field)."""
        self.client_names[client] = name

    def _dispatch_batch(self, envelope: list[bytes], req: P.Request, client: int, handler: Handler) -> None:
        """Check every item (and the batch's time and caps) before anything is applied or answered."""
        rid = req.id
        items = req.items or []
        handlers = [HANDLERS[item.msg.name] for item in items]
        new_objects: set[str] = set()
        n_trig = 0
        says = []
        for i, (item, h) in enumerate(zip(items, handlers, strict=True)):
            self.catalog.check(item, f"items[{i}].")
            if h.instances is Instances.LIVE:
                self._check_live(item.fields["instance"], f"items[{i}].instance")
            elif h.instances is Instances.NEW:
                n_trig += 1
            if h.object_field is not None and item.fields[h.object_field] not in self.object_names:
                new_objects.add(item.fields[h.object_field])
                self._check_objects(len(new_objects), f"items[{i}].{h.object_field}")
            if h.spoken:
                says.append((item.fields, f"items[{i}]."))
        if n_trig:
            self._check_capacity(n_trig)
        timing = self._check_time(client, req.t) if req.t is not None else None
        self.say_gate.admit(client, rid, says, self.describe)  # preset, emitter, text bytes, rate
        # Accepted: from here on nothing refuses the batch.
        self.object_names.update(new_objects)
        if timing is not None:
            self._commit_time(client, *timing)
        if req.t is None and all(it.msg.name in _COALESCE for it in items):
            # Only continuous updates: merge them latest-wins like single messages (they land
            # in the same block either way), so streaming batches costs the audio side nothing.
            pending = self._pending
            for it in items:
                name_i = it.msg.name
                if name_i == "object":
                    self.counters["coalesced"] += self._pend_object(it.fields, client)
                    continue
                key = name_i if _COALESCE[name_i] is None else (name_i, it.fields[_COALESCE[name_i]])
                if key in pending:
                    self.counters["coalesced"] += 1
                pending[key] = [name_i, client, None, it.fields]
            if rid is not None:
                self._reply(envelope, P.ok_reply("batch", rid, {"results": [{}] * len(items)}))
            return
        results = []
        body = []
        for item, h in zip(items, handlers, strict=True):
            fields = item.fields
            if h.instances is Instances.NEW:
                iid = self._new_instance()
                fields["instance"] = iid
                results.append({"instance": iid})
            else:
                results.append({})
            body.append([item.msg.name, fields])
        self._flush_pending()
        self._out.append(
            ["batch", client, req.t, body] if rid is None else ["batch", client, req.t, body, rid]
        )
        self._flush()  # the audio process first: the client's reply can wait a few microseconds
        if rid is not None:
            self._reply(envelope, P.ok_reply("batch", rid, {"results": results}))

    def _check(self, req: P.Request, admit: bool = True) -> None:
        """Everything about one message that depends on this daemon's state, not the message alone:
        the scene's names and ranges, and room for a new object's name (``admit``: take it now)."""
        self.catalog.check(req)
        field = HANDLERS[req.msg.name].object_field
        if field is not None:
            name = req.fields[field]
            if name not in self.object_names:
                self._check_objects(1, field)
                if admit:
                    self.object_names.add(name)

    def _check_objects(self, new: int, where: str) -> None:
        if len(self.object_names) + new > self.max_objects:
            self.counters["object_limit"] += 1
            raise P._err(
                "limit",
                where,
                f"{len(self.object_names)} game objects known: at most {self.max_objects} names; "
                "reuse the names of objects that are gone",
            )

    def _check_capacity(self, n: int) -> None:
        if len(self.live) + n > self.max_instances:
            self.counters["instance_limit"] += 1
            raise P._err(
                "limit",
                "event",
                f"{len(self.live)} instances live: at most {self.max_instances}; stop some or let them end",
            )

    def _check_live(self, iid: int, where: str) -> None:
        if iid not in self.live:
            raise P._err(
                "unknown_name",
                where,
                f"{where}={iid}: no live instance with this id (ended or never started)",
            )

    def _new_instance(self) -> int:
        iid = next(self._iids)
        self.live.add(iid)
        return iid

    def _check_time(self, client: int, t: float) -> tuple[tuple[float, float] | None, float | None]:
        """Where a timed message lands, checked before the reply: ``(new anchor or None, when or None)``.

        The client's game clock is anchored here as in the audio process (its first timed message, or a
        ``sync`` with ``t``, plays ``schedule_latency`` from now), on this process's monotonic clock: a
        message more than ``max_ahead`` seconds ahead is refused (``out_of_range``), and one that will
        wait beyond the next block counts against the client's ``max_scheduled`` (and the total's)
        until its time has passed (``limit``). Nothing is recorded until ``_commit_time``.
        """
        now = time.monotonic()
        anchor = self.anchors.get(client)
        new_anchor = None
        if anchor is None:
            anchor = new_anchor = (t, now)
        when = anchor[1] + self.latency + (t - anchor[0])
        ahead = when - now
        if ahead > self.max_ahead:
            raise P._err(
                "out_of_range",
                "t",
                f"t={t:g}: {ahead:.1f} s ahead of now; at most {self.max_ahead:g} s "
                "(send sync with t to re-anchor your clock)",
            )
        if ahead < self.block_seconds:
            return new_anchor, None  # plays within the next block: nothing waits
        heap = self.scheduled.get(client)
        if heap:
            while heap and heap[0] <= now:
                heapq.heappop(heap)
            if len(heap) >= self.max_scheduled:
                self.counters["scheduled_limit"] += 1
                raise P._err(
                    "limit",
                    "t",
                    f"{len(heap)} timed messages of this client pending: at most {self.max_scheduled}",
                )
        total = self._scheduled_all
        while total and total[0] <= now:
            heapq.heappop(total)
        if len(total) >= self.max_scheduled_total:
            self.counters["scheduled_limit"] += 1
            raise P._err(
                "limit",
                "t",
                f"{len(total)} timed messages pending across all clients: at most {self.max_scheduled_total}",
            )
        return new_anchor, when

    def _commit_time(self, client: int, anchor: tuple[float, float] | None, when: float | None) -> None:
        if anchor is not None:
            self.anchors[client] = anchor
        if when is not None:
            heapq.heappush(self.scheduled.setdefault(client, []), when)
            heapq.heappush(self._scheduled_all, when)

    def _scene_path(self, text: str) -> Path:
        """Resolve a load_scene path inside the scene folder (no escaping it with .. or links).

        Every refusal is ``scene_error`` on ``path`` and names the path as given, never the folder's
        absolute location (which is the daemon machine's business)."""
        if self.scene_root is None:
            raise P._err(
                "scene_error",
                "path",
                f"path={P._show(text)}: this daemon serves the built-in recording scene (no scene folder)",
            )
        if any(c < " " for c in text):
            raise P._err("scene_error", "path", f"path={P._show(text)}: control characters are not allowed")
        try:
            path = (self.scene_root / text).resolve()
            inside = path.is_relative_to(self.scene_root)
            found = inside and path.suffix.lower() in (".yaml", ".yml") and path.is_file()
        except (OSError, ValueError, RuntimeError) as exc:  # too long, a link loop ...
            raise P._err(
                "scene_error", "path", f"path={P._show(text)}: not a usable path ({type(exc).__name__})"
            ) from None
        if not inside:
            raise P._err("scene_error", "path", f"path={P._show(text)}: must stay inside the scene folder")
        if not found:
            raise P._err("scene_error", "path", f"path={P._show(text)}: no .yaml scene file there")
        return path

    def _hello(self) -> dict[str, Any]:
        return {
            "protocol": P.PROTOCOL_VERSION,
            "daemon": self.daemon_version,
            "sample_rate": self.audio_info.get("sample_rate"),
            "block": self.audio_info.get("block"),
            "frame": self.audio_stats.get("frame", 0),
            "scene": self.describe,
            "messages": {m.name: m.code for m in P.MESSAGES.values()},
            "max_message_bytes": self.max_message_bytes,
        }

    def stats(self) -> dict[str, Any]:
        net = dict(self.counters)
        net["clients"] = len(self.clients)
        net["instances_live"] = len(self.live)
        net["deferred"] = len(self.deferred)
        net["objects"] = len(self.object_names)
        net["scheduled_pending"] = len(self._scheduled_all)
        # What was lost on the way out (counted where it happened, summed here).
        net["dropped"] = (
            net["replies_dropped"] + net["replies_unroutable"] + net["dropped_to_audio"] + net["pub_dropped"]
        )
        net.update(self.say_gate.counters)
        return {"audio": self.audio_stats, "net": net, "scene": self.scene_telemetry}

    # ------------------------------------------------------------------------------- outputs
    def _reply(self, envelope: list[bytes], reply: dict[str, Any]) -> None:
        """Send one reply; one that cannot be queued is counted, never waited for (ROUTER_MANDATORY)."""
        self._answers += 1
        try:
            self.router.send_multipart([*envelope, _pack(reply)], zmq.NOBLOCK)
            self.counters["replies"] += 1
        except zmq.Again:  # the client's queue is full: it does not read its replies
            self.counters["replies_dropped"] += 1
        except zmq.ZMQError as exc:  # EHOSTUNREACH: the client has gone
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            self.counters["replies_unroutable"] += 1

    def _error(
        self,
        envelope: list[bytes],
        name: str | None,
        rid: int | None,
        code: str,
        where: str,
        text: str,
        reply: bool = True,
    ) -> None:
        text = self._scrub(text)
        if reply and rid is not None and envelope:
            self._reply(envelope, P.error_reply(name, rid, code, where, text))
        client = self.clients.get(envelope[0]) if envelope else None
        self.publish_error(
            {
                "re": name,
                "id": rid,
                "code": code,
                "field": where or None,
                "message": text,
                "client": self.client_names.get(client, client),
            }
        )

    def _scrub(self, text: str) -> str:
        """Paths inside the scene folder said relative to it: where the daemon keeps its files is not a
        client's business (a scene error names ``dungeon.yaml:12:3``, not ``/home/.../dungeon.yaml``)."""
        root = self.scene_root
        if root is None or not text:
            return text
        base = str(root)
        return text.replace(base + "/", "").replace(base, ".") if base in text else text

    def publish_error(self, payload: dict[str, Any]) -> None:
        """Publish on topic ``error`` with every documented key (rate-limited, the rest counted)."""
        payload = {
            "re": None,
            "id": None,
            "code": "internal",
            "field": None,
            "client": None,
            **payload,
            "message": P.clip(self._scrub(str(payload.get("message", ""))), P.MAX_ERROR_TEXT),
        }
        if payload["field"] is not None:
            payload["field"] = P.clip(str(payload["field"]), P.MAX_FIELD_TEXT)
        now = time.monotonic()
        counts = self._err_counts
        if now - self._err_start >= 1.0:
            self._err_start = now
            self._err_sum = 0
            counts.clear()
        who = payload["client"]
        n = counts.get(who, 0)
        if n >= ERROR_PUBS_PER_SECOND or self._err_sum >= self._err_total:
            self.counters["errors_suppressed"] += 1
            return
        counts[who] = n + 1
        self._err_sum += 1
        self.counters["errors_published"] += 1
        self.publish("error", payload)

    def publish(self, topic: str, payload: Any) -> None:
        if isinstance(payload, dict):
            payload = {"v": P.PROTOCOL_VERSION, **payload}
        try:
            self.pubsock.send_multipart([topic.encode(), _pack(payload)], zmq.NOBLOCK)
        except zmq.Again:  # PUB never blocks in practice (it drops for slow subscribers); count it
            self.counters["pub_dropped"] += 1

    def _flush_pending(self) -> None:
        """Coalesced updates to the outgoing packet: object updates as one array frame
        (``object_frames``) where the first of them was, the others as they are (all land in the same
        block, before the next ordered command)."""
        if self._pending:
            out = self._out
            for cmd in self._pending.values():
                if cmd is _OBJECTS_AT:  # the frame's place: where the first object update was
                    client, names, pos, fwd, vel = self._objects.take()
                    out.append(self._object_numbers.encode_arrays(client, names, pos, fwd, vel))
                    self._out_items += len(names) - 1  # commands_to_audio counts the objects
                    self.counters["object_frames"] += 1
                else:
                    out.append(cmd)
            self._pending.clear()

    def _flush(self) -> bool:
        """Send what is queued for the audio process in one packet; False if it had to be dropped."""
        self._flush_pending()
        self._next_flush = time.monotonic() + FLUSH_INTERVAL
        if not self._out:
            return True
        out, self._out = self._out, []
        try:
            self.to_audio.send(_pack(out), zmq.NOBLOCK)
            self.counters["packets_to_audio"] += 1
            self.counters["commands_to_audio"] += len(out) + self._out_items
            self._object_numbers.sent(True)
            return True
        except zmq.Again:  # the audio process is behind: a bounded drop, counted (never block the loop)
            self.counters["dropped_to_audio"] += len(out) + self._out_items
            self._object_numbers.sent(False)  # its object names are announced again
            return False
        finally:
            self._out_items = 0

    def send_shutdown(self) -> None:
        self._out.append(["shutdown", 0, None, None])
        self._flush()

    # ------------------------------------------------------------------------- from audio
    def _drain_audio(self) -> None:
        recv = self.from_audio.recv
        for _ in range(256):
            try:
                data = recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            try:
                kind, payload = msgpack.unpackb(data, raw=False)[:2] if data else (None, None)
                self._on_audio(kind, payload, data)
            except Exception as exc:  # a malformed link message is our bug: report it, keep serving
                self._internal_trace(exc)

    def _on_audio(self, kind: str, payload: Any, data: bytes) -> None:
        if kind == "pub":
            for topic, body in payload:
                if topic == "error":
                    body = dict(body) if isinstance(body, dict) else {"message": str(body)}
                    client = body.pop("client", None)
                    # The runtime's own reports carry no code: a command it refused, or a part of the
                    # scene that failed while playing.
                    body.setdefault("code", "rejected" if "command" in body else "scene_error")
                    self.publish_error({**body, "client": self.client_names.get(client, client)})
                    continue
                if topic == "instance_ended" and isinstance(body, dict):
                    iid = body.get("instance")
                    self.live.discard(iid)
                    wid = self._world_iid.pop(iid, None)
                    if wid is not None:
                        self.world_ids.pop(wid, None)
                self.publish(topic, body)
        elif kind == "audio":
            self.audio_stats = payload
            self.publish("audio", payload)
        elif kind == "scene":
            self.scene_telemetry = payload
            self.publish("scene", payload)
        elif kind == "prepared":
            self._swap_scene(payload, msgpack.unpackb(data, raw=False)[2])
        elif kind == "reply":
            _, token, ok, result = msgpack.unpackb(data, raw=False)
            before = self._scene_before.pop(token, None)
            if ok and "scene" in result:
                self.set_scene(result["scene"])  # the runtime's own description, once it has swapped
            elif not ok and before is not None:
                self.set_scene(before)  # the swap failed: the old scene plays, so it validates again
            entry = self.deferred.pop(token, None)
            if entry is None:
                return
            envelope, rid, name, _ = entry
            if ok:
                if rid is not None:
                    self._reply(envelope, P.ok_reply(name, rid, result))
            else:
                self._error(
                    envelope,
                    name,
                    rid,
                    result.get("code", "rejected"),
                    "path" if name == "load_scene" else "",
                    result.get("message", "") + "".join("\n  " + e for e in result.get("errors", [])),
                )
        elif kind == "bye":
            self.bye = payload
            self.audio_stats = payload

    def _swap_scene(self, token: int, describe: dict[str, Any]) -> None:
        """The audio process has a new scene loaded and prepared: switch validation to it and tell the
        audio process to swap, in one step of this loop. Every command before the ``swap`` in the link
        was checked against the old scene, every one after it against the new one; the audio process
        swaps between two blocks, before it applies anything that follows."""
        if token not in self.deferred:  # the request was already answered `busy`: leave the scene be
            self._out.append(["discard", 0, None, token])
            self._flush()
            return
        self._flush()  # what was checked against the old scene goes first
        if describe is None:  # the audio process could not describe it ahead: switch with its reply
            describe = self.describe
        self._scene_before[token] = self.describe
        self.set_scene(describe)
        self._out.append(["swap", 0, None, token])
        if not self._flush():  # the audio process is behind and never saw the swap: nothing changed
            self.set_scene(self._scene_before.pop(token))
            self._out.append(["discard", 0, None, token])

    def _expire_deferred(self, now: float) -> None:
        for token, (envelope, rid, name, t0) in list(self.deferred.items()):
            if now - t0 > DEFERRED_TIMEOUT:
                del self.deferred[token]
                self._error(
                    envelope,
                    name,
                    rid,
                    "busy",
                    "",
                    f"{name}: the audio process did not answer within {DEFERRED_TIMEOUT:.0f} s",
                )

    def wait_bye(self, timeout: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while self.bye is None and time.monotonic() < deadline:
            if self.from_audio.poll(50):
                self._drain_audio()
        return self.bye

    def close(self) -> None:
        for s in (self.router, self.pubsock, self.to_audio, self.from_audio, self.world):
            if s is not None:
                s.close()
