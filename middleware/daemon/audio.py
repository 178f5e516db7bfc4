"""The audio process: scene runtime + engine + device, fed by compact per-block updates.

Why a process of its own (see docs/protocol.md, "Process layout"): pyminiaudio's device callback
is Python code and needs the GIL every period. Decoding and validating 10k-100k messages per second
is pure-Python work that would hold the GIL for most of each period, so it lives in the network
process. This process runs these threads (docs/audio-threading.md, "The daemon's audio process"):

* the render path: the device callback in callback mode (the default), or the sink's render thread
  in ring mode. Before each engine block it pops already-decoded, already-validated, already
  coalesced commands from the receiver's queue, applies them to the runtime, ticks it and renders.
  Applying commands here is what makes a ``batch`` land in one block and needs no locks. It never
  touches ZeroMQ or msgpack, prints or reads files: ``SOUNDSCAPE_RT_GUARD=1`` checks that;
* the receiver (``soundscape-receive``): ZeroMQ receive and msgpack decode of the network
  process's packets, into a single-producer single-consumer queue (``inbox``);
* the sender (``soundscape-send``): msgpack encode and ZeroMQ send of what the render path hands
  it as plain data (replies, events, scene telemetry), and printing of its tracebacks;
* the main thread, which loads and prepares scenes, hands lines to the synthesis worker, applies
  profiles, every 0.1 s sends audio statistics back and turns trigger frames into the wall-clock
  time at which their first sample left the device callback (``instance_out``).

Link format (msgpack, internal, may change with the daemon): the network process PUSHes a list of
commands ``[op, client, t, body]`` (``[op, client, t, body, id]`` when the request had an id, so
that whatever only this process can refuse is reported with it); this process PUSHes
``[kind, payload]`` back.

A scene swap takes two steps so that validation switches with it: the main thread loads and
prepares the file and sends ``prepared`` with the new description; the network process switches its
catalogue and sends ``swap``; the render thread swaps when it meets ``swap`` in the command stream,
leaves whatever follows for the next block (checked against the new scene, it must meet the new
scene) and, once the runtime has swapped, replies with the runtime's own description.

Nothing a client sends can stop this process: the render thread applies each command inside a
guard, and the main thread never blocks on the network process (a dead parent is noticed within
10 ms; SIGTERM stops it with a fade).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import heapq
import os
import signal
import sys
import threading
import time
import traceback
import types
from collections import deque
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import zmq

from ..config import MAX_INSTANCES, MAX_OBJECTS, EngineConfig
from ..control.handler import Instances, Lane
from ..control.handlers import HANDLERS
from ..engine.spectrum import spectrum_topic  # the studio's spectrogram, computed on this main thread
from ..errors import ProtocolError, SoundscapeError
from ..rt import guard
from ..rt.wake import WakeFlag
from ..rt.worker import Worker
from ..scene.inspect import world  # the studio's 3D view and voice list (scene telemetry)
from ..transport import object_frames
from ..voice.limits import VoiceLimits
from ..voice.say import SayQueue

STATS_INTERVAL = 0.1  # seconds between audio statistics sent to the network process
SCENE_TELEMETRY_BLOCKS = 8  # ~23 Hz at 256 frames / 48 kHz: the studio draws 20-30 frames/s
MAX_DRAIN_PACKETS = 64  # packets applied per block at most (the rest waits one block: bounded work)
DRAIN_BUDGET_NS = 1_000_000
"""Time one block may spend applying commands (1 ms of a 5.3 ms block). In callback mode the render
runs inside the device callback, so a flood must not make a callback late: packets beyond the
budget wait for the next block (and, if the flood lasts, the network process's bounded queue drops
and counts them)."""


INBOX_PACKETS = 4096
"""Decoded packets the receiver keeps ahead of the render path at most; beyond it the receiver waits
and ZeroMQ's own queue (``RCVHWM``) and the network process's bounded queue take the backlog."""
OUTBOX_ITEMS = 4096
"""Messages the render path may leave for the sender at most; beyond it they are dropped and
counted (``pub_dropped``), as a full ZeroMQ queue drops them."""
RECEIVE_POLL_MS = 50  # the receiver and sender look at ``shutdown`` this often when idle


SCHEDULE_SLACK = 10.0
"""Seconds beyond ``max_schedule_ahead`` this process still takes a timed command: the network process
checks the horizon on its own clock before replying; this is only a guard against a clock gone wrong."""

_COALESCE = frozenset({"object", "set_param", "listener"})


def _pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


class _Traceback:
    """An exception the render path hands the sender to print (printing is I/O: not on the render path)."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _Swapped:
    """The runtime swapped scenes: the sender describes ``scene`` and replies to ``token`` (building
    the description is not the render path's work)."""

    __slots__ = ("scene", "token")

    def __init__(self, token: int, scene: Any) -> None:
        self.token = token
        self.scene = scene


class AudioSide:
    """Owns the engine, the runtime and the sink; implements ``Renderable`` for the sink.

    ``schedule_latency`` (seconds) is the fixed offset added when a client's game clock is anchored
    (its first timestamped message maps to ``next block + latency``); it absorbs network jitter so
    that timestamped messages keep their relative timing to the sample.
    """

    def __init__(self, opts: dict[str, Any], ctx: zmq.Context) -> None:
        self.opts = opts
        self.config = EngineConfig(
            sample_rate=int(opts.get("sample_rate", 48000)),
            block=int(opts.get("block", 256)),
            lookahead_blocks=int(opts.get("lookahead_blocks", 0)),
            seed=int(opts.get("seed", 0)),
            # a voice slot for every live instance the runtime may hold, and the emitters' usual room
            max_voices=MAX_INSTANCES + EngineConfig.max_voices,
        )
        from ..engine import Engine

        self.engine = Engine(self.config)
        self.sr = self.config.sample_rate
        self.block = self.config.block
        self.worker: Worker | None = None  # set by _make_runtime for a scene runtime
        self.rt = self._make_runtime(opts.get("scene"))
        meters = opts.get("meters", "master")
        if meters and meters != "none":  # BS.1770 loudness per bus, published on topic `loudness`
            # Deferred: the render path only copies blocks; the main thread meters and publishes them.
            names = None if meters == "all" else [b.strip() for b in meters.split(",")]
            self.engine.enable_meters(names, deferred=True)
        self.meters = bool(meters and meters != "none")
        self.hearing = None  # the player profile's master effect (accessibility.host), if any
        self.profiles: deque = deque()  # profile messages' fields, render thread -> main thread
        if opts.get("profile") is not None:  # serve --profile: checked by the CLI, applied before audio
            from ..accessibility.host import apply_player_profile
            from ..accessibility.profile import profile_from_dict

            self.hearing = apply_player_profile(self.engine, self.rt, profile_from_dict(opts["profile"]))
        self.pull = ctx.socket(zmq.PULL)
        self.pull.setsockopt(zmq.LINGER, 0)
        self.pull.setsockopt(zmq.RCVHWM, 10_000)
        self.pull.bind(opts["control_addr"])
        self.push_render = ctx.socket(zmq.PUSH)  # render thread's own socket (sockets are not thread-safe)
        self.push_main = ctx.socket(zmq.PUSH)
        for s in (self.push_render, self.push_main):
            s.setsockopt(zmq.LINGER, 500)
            s.setsockopt(zmq.SNDHWM, 10_000)
            s.connect(opts["back_addr"])
        self.latency_frames = round(float(opts.get("schedule_latency", 0.05)) * self.sr)
        # The network process refuses t beyond the horizon, and caps what waits, before replying; this
        # process only guards against a clock far off that (the two clocks drift by underruns at most).
        self.max_ahead_frames = int((SCHEDULE_SLACK + float(opts.get("max_schedule_ahead", 60.0))) * self.sr)
        self.anchors: dict[int, tuple[float, int]] = {}
        self.scheduled: list[int] = []  # heap of future frames of scheduled commands (for stats)
        self.c2r: dict[int, int] = {}  # client-visible instance id -> runtime instance id
        self.object_rows = object_frames.ObjectRows(MAX_OBJECTS)  # object frames' numbers -> runtime rows
        self.r2c: dict[int, int] = {}
        self.out_pending: deque = deque()  # (instance, event, frame) awaiting their first output sample
        # The render path's only links to the outside, both single-producer single-consumer deques:
        self.inbox: deque = deque()  # decoded packets (lists of commands), receiver -> render path
        self.outbox: deque = deque()  # plain data to encode and send, render path -> sender
        self._out_wake = WakeFlag()  # raised by the render path, waited on by the sender
        self._threads: list[threading.Thread] = []
        self._threads_stop = threading.Event()
        self._send_dropped = 0  # written by the sender only (ZeroMQ queue full)
        self._guard_reported = 0  # violations printed so far (main thread)
        self.shutdown = threading.Event()
        self.loads: deque = deque()  # load_scene requests, render thread -> main thread
        self.says: deque = deque()  # say requests (fields, frame, client), render thread -> main thread
        self.lines: deque = deque()  # lines ready to play, main thread -> render thread
        # Synthesis runs in a worker process; lines live in the bank within a memory budget.
        budget = opts.get("voice_budget_bytes")
        limits = VoiceLimits() if budget is None else VoiceLimits(budget_bytes=int(budget))
        self.say_queue = SayQueue(self.engine, limits)
        self.prepared: dict[int, Any] = {}  # swap token -> loaded, prepared definition (main -> render)
        self._swapped: int | None = None  # token swapped in this block: reply once the runtime has it
        self._carry: list | None = None  # commands after a swap, for the next block
        self.counters = {
            "commands": 0,
            "packets": 0,
            "late": 0,
            "rejected": 0,
            "drain_deferred": 0,  # blocks that hit the time budget (the rest waited a block)
            "stops_after_end": 0,  # stops of instances that had ended meanwhile (nothing to do)
            "pub_dropped": 0,
            "bank_released_bytes": 0,  # assets freed after hot reloads (main thread)
        }
        self._blocks = 0
        self._update_error = ""
        self.sink: Any = None

    # ------------------------------------------------------------------------------ runtime
    def _make_runtime(self, scene: str | None) -> Any:
        if scene is None:
            from .recording import RecordingRuntime

            return RecordingRuntime(
                None, self.engine, seed=self.config.seed, record_path=self.opts.get("record")
            )
        scene_def = self._load(scene)
        from ..scene.runtime import SceneRuntime

        rt = SceneRuntime(scene_def, self.engine, seed=self.config.seed)
        # Real time: generators and morph streams are built, and the director and the morph decoder
        # run, on this worker thread, never on the render path (rt/worker.py).
        rt.background = self.worker = Worker("soundscape-worker")
        return rt

    @staticmethod
    def _load(path: str) -> Any:
        from ..scene import load_scene

        return load_scene(path)

    # ------------------------------------------------------------------------ render thread
    def render(self, frames: int) -> np.ndarray:
        """Called by the sink's render thread once per block: apply, tick, render, report."""
        while self.lines:
            name, label, f, at, client = self.lines.popleft()
            try:
                self.rt.play_line(
                    name,  # the text rides along for the line's subtitle (`caption` topic)
                    {**label, "text": f["text"]},
                    emitter=f.get("emitter"),
                    position=f.get("position"),
                    at_frame=at,
                )
            except Exception as exc:
                self._report("say", client, exc, f.get("id"))
        try:
            self._drain()
        except Exception as exc:  # a bug, never a client's doing: report it and keep playing
            self._internal("drain", exc)
        try:
            self.rt.update(frames)
        except Exception as exc:  # keep playing; report once per distinct failure
            self._internal("update", exc)
        if self._swapped is not None:  # the runtime has swapped in this update: say what it plays now
            token, self._swapped = self._swapped, None
            self._send_render(_Swapped(token, self.rt.scene))  # described by the sender
        out = self.engine.render(frames)
        self._blocks += 1
        try:
            self.rt.after_render()  # captions leave with their first sample's block
            self._forward_events()
        except Exception as exc:
            self._internal("events", exc)
        if self._blocks % SCENE_TELEMETRY_BLOCKS == 0:
            try:
                t = {**self.rt.telemetry(), "voices": self._voice_gains(), "world": world(self.rt, self.r2c)}
                self._send_render(["scene", t])
            except Exception as exc:
                self._send_render(["scene", {"error": repr(exc)}])
        return out

    def _voice_gains(self) -> dict[str, dict[str, float]]:
        """Left/right gains of each looping layer's voice, by layer id: what each listener hears of
        the shared world (a car on the right has more right than left), readable over the protocol."""
        out = {}
        voice_info = self.engine.voice_info
        for em in getattr(self.rt, "emitters", {}).values():
            for li in em.layers.values():
                info = voice_info(li.handle) if li.handle is not None else None
                if info is not None:
                    out[li.layer.uid] = {
                        "gain_left": round(info["gain_left"], 6),
                        "gain_right": round(info["gain_right"], 6),
                    }
        return out

    def _internal(self, where: str, exc: Exception) -> None:
        """A bug on the render thread: published once per distinct text (a repeat every block would
        flood), and the block goes on."""
        text = f"{where}: {type(exc).__name__}: {exc}"
        if text != self._update_error:
            self._update_error = text
            self._send_render(_Traceback(exc))  # printed by the sender, not on the render path
            self._send_render(["pub", [["error", {"code": "internal", "message": text}]]])

    def _send_render(self, obj: Any) -> None:
        """Render path: hand ``obj`` (plain data) to the sender thread, which encodes and sends it.
        Never blocks: when the sender is that far behind, the message is dropped and counted."""
        outbox = self.outbox
        if len(outbox) >= OUTBOX_ITEMS:
            self.counters["pub_dropped"] += 1
            return
        outbox.append(obj)
        self._out_wake.raise_()

    # ------------------------------------------------------------------ receiver and sender
    def start_threads(self) -> None:
        """Start the receiver and the sender (before the sink starts: its first block drains)."""
        loops = {"soundscape-receive": self._receive_loop, "soundscape-send": self._send_loop}
        for name, target in loops.items():
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop_threads(self) -> None:
        """After the sink stopped: let the sender flush what the last blocks left, then join both."""
        self._threads_stop.set()
        self._out_wake.raise_()
        for t in self._threads:
            t.join(timeout=5.0)
        self._threads.clear()

    def _receive_loop(self) -> None:
        """Receiver thread: ZeroMQ receive and msgpack decode, in order, into ``inbox``."""
        pull, inbox, stop = self.pull, self.inbox, self._threads_stop
        unpackb = msgpack.unpackb
        while not stop.is_set():
            if len(inbox) >= INBOX_PACKETS:  # the render path is behind: leave the rest queued in ZeroMQ
                stop.wait(0.001)
                continue
            try:
                if not pull.poll(RECEIVE_POLL_MS):
                    continue
                while len(inbox) < INBOX_PACKETS:
                    packet = unpackb(pull.recv(zmq.NOBLOCK), raw=False)
                    for cmd in packet:  # object frames: their byte strings as numpy arrays, here
                        if cmd[0] == object_frames.OP:
                            cmd[3] = object_frames.decode(cmd[3])
                    inbox.append(packet)
            except zmq.Again:
                continue
            except zmq.ZMQError:  # the socket closed under us at shutdown
                return
            except Exception as exc:  # a packet this process cannot decode: a bug, never the client's
                traceback.print_exc(file=sys.stderr)
                self.outbox.append(["pub", [["error", {"code": "internal", "message": f"receive: {exc}"}]]])

    def _send_loop(self) -> None:
        """Sender thread: what the render path left in ``outbox``, encoded and sent without blocking."""
        outbox, wake, stop, push = self.outbox, self._out_wake, self._threads_stop, self.push_render
        while True:
            wake.wait(RECEIVE_POLL_MS / 1000)
            while outbox:
                item = outbox.popleft()
                try:
                    if isinstance(item, _Traceback):
                        traceback.print_exception(item.exc, file=sys.stderr)
                        continue
                    if isinstance(item, _Swapped):
                        scene = describe(self.rt) if item.scene is None else describe_def(self.rt, item.scene)
                        item = ["reply", item.token, True, {"scene": scene}]
                    push.send(_pack(item), zmq.NOBLOCK)
                except zmq.Again:
                    self._send_dropped += 1
                except Exception:  # a value msgpack cannot encode: a bug; keep sending the rest
                    traceback.print_exc(file=sys.stderr)
            if stop.is_set():
                return

    def _drain(self) -> None:
        """Apply every packet that arrived since the last block, coalescing continuous updates.

        Untimed object/param/listener updates (alone, or batches made only of them) are kept
        latest-wins per key until an ordered command comes, exactly as the network process does
        within one flush; so a client streaming 100-item batches costs one runtime call per object
        per block, not one per item. Object updates arrive as array frames (``object_frames``): each
        is applied in one step, in order with the rest, before the next ordered command.
        """
        inbox = self.inbox
        now = self.engine.frame
        heap = self.scheduled
        while heap and heap[0] <= now:
            heapq.heappop(heap)
        pending: dict = {}
        counters = self.counters
        clock = time.perf_counter_ns
        deadline = clock() + DRAIN_BUDGET_NS
        coalesce = _COALESCE
        packets = coalesced = 0
        for _ in range(MAX_DRAIN_PACKETS):
            if clock() > deadline:
                counters["drain_deferred"] += 1
                break
            if self._carry is not None:  # what followed last block's swap
                cmds, self._carry = self._carry, None
            else:
                if not inbox:
                    break
                cmds = inbox.popleft()  # decoded by the receiver thread
                packets += 1
            for i, cmd in enumerate(cmds):
                op, client, t, body = cmd[0], cmd[1], cmd[2], cmd[3]
                if t is None:
                    # key: (op, name); a listener has no name, so it keys as ("listener", None)
                    if op in coalesce:
                        pending[op, body.get("name")] = (op, client, body)
                        coalesced += 1
                        continue
                    if op == object_frames.OP:  # many objects at once: applied in order with the rest
                        pending[op, i, packets] = (op, client, body)
                        coalesced += 1
                        continue
                    if op == "batch" and all(item[0] in coalesce for item in body):
                        for sub_op, fields in body:
                            pending[sub_op, fields.get("name")] = (sub_op, client, fields)
                        coalesced += 1
                        continue
                if pending:
                    self._apply_pending(pending)
                self._apply(cmd)
                if self._swapped is not None:  # the rest was checked against the new scene: next block
                    self._carry = cmds[i + 1 :] or None
                    break
            if self._swapped is not None:
                break
        counters["packets"] += packets
        counters["commands"] += coalesced
        if pending:
            self._apply_pending(pending)

    def _apply_pending(self, pending: dict) -> None:
        bulk = getattr(self.rt, "set_objects_validated", None)
        objects = {}
        for op, client, fields in pending.values():
            if op == object_frames.OP:
                if objects:  # what came before it first: the frame's objects may be among them
                    bulk(objects)
                    objects = {}
                try:
                    self.object_rows.apply(self.rt, fields, self._apply_object, client)
                except Exception as exc:
                    self._report("batch", client, exc)
                continue
            if op == "object" and bulk is not None:  # validated by the network process: one call
                objects[fields["name"]] = (fields["position"], fields.get("forward"), fields.get("velocity"))
                continue
            try:
                self._apply_one(op, fields, None, client)
            except Exception as exc:
                self._report(op, client, exc)
        if objects:
            bulk(objects)
        pending.clear()

    def _apply_object(self, fields: dict, client: int) -> None:
        """One object of a frame, for a runtime without ``set_objects_arrays`` (each on its own)."""
        try:
            self._apply_one("object", fields, None, client)
        except Exception as exc:
            self._report("object", client, exc)

    def _apply(self, cmd: list) -> None:
        op, client, t, body = cmd[0], cmd[1], cmd[2], cmd[3]
        rid = cmd[4] if len(cmd) > 4 else None
        self.counters["commands"] += 1
        try:
            if op == "sync":
                if t is not None:
                    self.anchors[client] = (t, self.engine.frame + self.latency_frames)
                self._send_render(["reply", body, True, {"frame": self.engine.frame, "sample_rate": self.sr}])
                return
            if op == "load_scene":
                self._load_scene(body)
                return
            if op == "swap":
                self._swap(body)
                return
            if op == "discard":
                self.prepared.pop(body, None)
                return
            if op == "shutdown":
                self.shutdown.set()
                return
            if op == "forget":
                self.anchors.pop(client, None)
                return
            at = None if t is None else self._at_frame(client, t)
        except Exception as exc:
            self._report(op, client, exc, rid)
            self._end_unstarted(op, body)
            return
        if op != "batch":
            try:
                self._apply_one(op, body, at, client)
            except Exception as exc:
                self._report(op, client, exc, rid)
            return
        for i, (sub_op, fields) in enumerate(body):  # each item on its own: one refusal spoils no other
            try:
                self._apply_one(sub_op, fields, at, client)
            except Exception as exc:
                self._report(op, client, exc, rid, f"items[{i}].")

    def _end_unstarted(self, op: str, body: Any) -> None:
        """Triggers that will never start (their command was refused whole) end at once, so that the
        network process frees their instance ids."""
        items = [["trigger", body]] if op == "trigger" else body if op == "batch" else []
        for sub_op, fields in items:
            if sub_op == "trigger":
                ended = {"instance": fields["instance"], "event": fields["event"], "reason": "rejected"}
                self._send_render(["pub", [["instance_ended", ended]]])

    def _report(self, op: str, client: int, exc: Exception, rid: int | None = None, prefix: str = "") -> None:
        """Publish a refusal only this process could make, with the request's id and its client (the
        network process turns the client's number into its name)."""
        self.counters["rejected"] += 1
        code = exc.code if isinstance(exc, ProtocolError) else "rejected"
        where = exc.where if isinstance(exc, ProtocolError) else None
        if not isinstance(exc, SoundscapeError):
            code = "internal"
            self._send_render(_Traceback(exc))  # printed by the sender, not on the render path
        where = prefix + where if where else (prefix[:-1] or None)
        error = {"re": op, "id": rid, "code": code, "field": where, "message": str(exc), "client": client}
        self._send_render(["pub", [["error", error]]])

    def _at_frame(self, client: int, t: float) -> int | None:
        """Map a client's game time to an engine frame (anchored at its first timestamp)."""
        nxt = self.engine.frame
        anchor = self.anchors.get(client)
        if anchor is None:
            anchor = self.anchors[client] = (t, nxt + self.latency_frames)
        frame = anchor[1] + round((t - anchor[0]) * self.sr)
        if frame < nxt:
            self.counters["late"] += 1
            return None
        if frame - nxt > self.max_ahead_frames:  # the network process checked t: a clock gone far astray
            raise ProtocolError(
                f"t={t}: {((frame - nxt) / self.sr):.1f} s ahead of the audio clock; at most "
                f"{self.max_ahead_frames / self.sr:.0f} s (send sync with t to re-anchor your clock)",
                code="out_of_range",
                where="t",
            )
        if frame >= nxt + self.block:  # counted for stats; the network process caps what waits
            heapq.heappush(self.scheduled, frame)
        return frame

    def _apply_one(self, op: str, f: dict, at: int | None, client: int) -> None:
        """Perform one message on the render thread: what its handler in ``control.handlers`` says
        (the offline renderer and the recording runtime use the same table), plus what only the
        daemon does: mapping its instance ids to the runtime's, and handing slow preparation (a
        line's synthesis, an EQ design) to the main thread."""
        handler = HANDLERS.get(op)
        if handler is None or handler.lane not in (Lane.RENDER, Lane.PREPARED):
            raise ProtocolError(
                f"audio process: {op!r} is not performed on the render thread", "internal", "type"
            )
        if handler.instances is Instances.NEW:
            ciid = f["instance"]
            try:
                riid = handler.perform(self.rt, f, at)["instance"]
            except Exception:
                self._send_render(
                    [
                        "pub",
                        [["instance_ended", {"instance": ciid, "event": f["event"], "reason": "rejected"}]],
                    ]
                )
                raise
            self.c2r[ciid] = riid
            self.r2c[riid] = ciid
            frame = self.engine.frame if at is None else at
            self.out_pending.append((ciid, f["event"], frame, time.perf_counter_ns()))
        elif handler.instances is Instances.LIVE:
            # The network process knew the instance live when it accepted the message; if it ended in
            # the meantime, there is nothing left to do, which is not an error.
            riid = self.c2r.get(f["instance"])
            if riid is None:
                self.counters["stops_after_end"] += 1
                return
            try:
                f["instance"] = riid  # this message's own decoded map: no copy on the render thread
                handler.perform(self.rt, f, at)
            except SoundscapeError:  # ended in the runtime, its instance_ended not out yet
                self.counters["stops_after_end"] += 1
        elif handler.lane is Lane.PREPARED:
            if handler.spoken:  # synthesis is slow: the main thread's worker renders, this thread plays
                self.says.append((f, at, client))
            else:  # the player profile's EQ design takes 5-40 ms of numpy: the main thread does it
                self.profiles.append((f, client))
        else:
            handler.perform(self.rt, f, at)

    def _load_scene(self, body: dict) -> None:
        # Parsing YAML and decoding assets must not happen on the render thread: the main thread
        # loads and prepares, the network process switches its catalogue, then `swap` swaps it in.
        self.loads.append(body)

    def _swap(self, token: int) -> None:
        """Render thread, at ``swap`` in the command stream: hand the prepared scene to the runtime,
        which takes it in this block's update (``_drain`` leaves the commands after it for the next)."""
        new_def = self.prepared.pop(token, None)
        if new_def is None:
            self._send_render(
                ["reply", token, False, {"code": "scene_error", "message": "scene not prepared"}]
            )
            return
        try:
            self.rt.reload(new_def)
        except Exception as exc:
            message = str(exc) if isinstance(exc, SoundscapeError) else f"{type(exc).__name__}: {exc}"
            self._send_render(["reply", token, False, {"code": "scene_error", "message": message}])
            return
        self._swapped = token

    def profile_pending(self) -> None:
        """Main thread: apply the newest profile message (each is a complete profile, so older ones
        waiting behind it have nothing left to say); the compensation glides to it on the render side."""
        if not self.profiles:
            return
        from ..accessibility.host import apply_player_profile
        from ..accessibility.profile import profile_from_dict

        while len(self.profiles) > 1:
            self.profiles.popleft()
        f, client = self.profiles.popleft()
        try:  # checked by the network process before its reply: a failure here is the daemon's
            self.hearing = apply_player_profile(self.engine, self.rt, profile_from_dict(f), self.hearing)
        except Exception as exc:  # main thread: publish through its own socket
            traceback.print_exc(file=sys.stderr)
            error = {"re": "profile", "id": None, "code": "internal", "field": None, "message": str(exc)}
            self._send_main(["pub", [["error", {**error, "client": client}]]])

    def say_pending(self) -> None:
        """Main thread: lines the bank holds go to the render thread at once; the others go to the
        synthesis worker (bounded queue) and follow when it is done. Refusals name the request."""
        queue = self.say_queue
        while self.says:
            f, at, client = self.says.popleft()
            if not hasattr(self.rt, "play_line"):  # the built-in recording scene has no voice
                self._say_error(f, client, SoundscapeError("say: this daemon's scene cannot speak"))
                continue
            try:
                ready = queue.submit(f["text"], f.get("preset") or "neutral", (f, at, client))
            except Exception as exc:
                self._say_error(f, client, exc)
                continue
            if ready is not None:
                self.lines.append((*ready, f, at, client))
        for (f, at, client), got in queue.poll():
            if isinstance(got, Exception):
                self._say_error(f, client, got)
            else:
                self.lines.append((*got, f, at, client))

    def _say_error(self, f: dict, client: int, exc: Exception) -> None:
        """Main thread: report a refused line on the main thread's own socket, with its request id."""
        if isinstance(exc, ProtocolError):
            code, field = exc.code, exc.where or "text"
        else:
            code, field = ("rejected" if isinstance(exc, SoundscapeError) else "internal"), "text"
        self.say_queue.counters["say_refused"] += 1
        error = {
            "re": "say",
            "id": f.get("id"),
            "code": code,
            "field": field,
            "message": str(exc),
            "client": client,
        }
        self.push_main.send(_pack(["pub", [["error", error]]]))

    def load_pending(self) -> None:
        """Main thread: load and prepare requested scene files, then say ``prepared`` (with the new
        description) to the network process, which answers with ``swap`` (see the module docstring)."""
        while self.loads:
            body = self.loads.popleft()
            token = body["token"]
            try:
                new_def = self._load(body["path"])
            except Exception as exc:  # a file the loader cannot read is the scene's fault, never a crash
                errors = [str(e) for e in getattr(exc, "errors", [])][:20]
                text = (
                    str(exc)
                    if isinstance(exc, SoundscapeError)
                    else f"cannot load: {type(exc).__name__}: {exc}"
                )
                self._send_main(
                    ["reply", token, False, {"code": "scene_error", "message": text, "errors": errors}]
                )
                continue
            try:  # decode assets, open models, warm generators here, not on the render thread
                self.rt.prepare(new_def)
            except Exception as exc:
                reply = {"code": "scene_error", "message": f"cannot prepare the scene: {exc}", "errors": []}
                self._send_main(["reply", token, False, reply])
                continue
            try:
                scene = describe_def(self.rt, new_def)
            except Exception:  # the network process then switches with the reply (a block later)
                traceback.print_exc(file=sys.stderr)
                scene = None
            self.prepared[token] = new_def
            self._send_main(["prepared", token, scene])

    def _send_main(self, obj: Any) -> None:
        """Main thread: to the network process without ever blocking (a dead or stuck parent must not
        hold this thread, which is the one that notices a dead parent)."""
        try:
            self.push_main.send(_pack(obj), zmq.NOBLOCK)
        except zmq.Again:
            self.counters["pub_dropped"] += 1

    def _forward_events(self) -> None:
        events = self.rt.events
        if not events:
            return
        out = []
        r2c = self.r2c
        while events:
            topic, payload = events.popleft()
            if topic in ("instance_started", "instance_ended") and isinstance(payload, dict):
                # The runtime's own ids ("id" or "instance") become the ids clients were given.
                payload = dict(payload)
                riid = payload.pop("id", None)
                riid = payload.get("instance", riid)
                ciid = r2c.get(riid, riid)
                payload["instance"] = ciid
                if topic == "instance_ended":
                    r2c.pop(riid, None)
                    self.c2r.pop(ciid, None)
            out.append([topic, payload])
        self._send_render(["pub", out])

    # --------------------------------------------------------------------------- main thread
    def _resolve_outputs(self) -> list:
        """Turn (instance, engine frame) into the perf_counter_ns of the callback that played it.

        An underrun makes the callback emit silence, which shifts every later engine frame by the
        frames of silence inserted; the shift at resolution time is used (resolution runs every
        10 ms, so only an underrun within those 10 ms can misplace a frame, by its own length).
        """
        sink = self.sink
        if not self.out_pending or sink is None:
            return []
        played = sink.frames_played
        shift = int(getattr(sink, "_underrun_frames", 0))
        out = []
        pending = self.out_pending
        while pending and pending[0][2] + shift < played:
            ciid, event, frame, applied_ns = pending.popleft()
            t_ns = sink.frame_left_at(frame + shift)
            if t_ns is None:
                continue
            payload = {
                "instance": ciid,
                "event": event,
                "frame": frame,
                "t_ns": int(t_ns),
                "applied_ns": applied_ns,
            }
            out.append(["instance_out", payload])
        return out

    def audio_stats(self) -> dict[str, Any]:
        s = dict(self.sink.stats()) if self.sink is not None else {}
        s.update(self.engine.stats())
        s.update(self.counters)
        s["pub_dropped"] += self._send_dropped
        s["inbox"] = len(self.inbox)
        s.update(self.say_queue.stats())
        if self.worker is not None:
            s.update(self.worker.stats())
        s["nice"] = os.getpriority(os.PRIO_PROCESS, 0)
        s["scheduled_pending"] = len(self.scheduled)
        s["instances_mapped"] = len(self.c2r)
        s["rt_guard"] = guard.mode()  # None: off (SOUNDSCAPE_RT_GUARD)
        s["rt_violations"] = guard.violation_count()
        return s

    def release_unused(self) -> None:
        """Main thread: the bank drops assets no scene maps to any more once no voice plays them (the
        old version of an edited file, after a hot reload); voice lines go by their own budget."""
        assets = getattr(self.rt, "assets", None)
        if assets is not None:
            self.counters["bank_released_bytes"] += assets.release_unused()

    def report_violations(self) -> None:
        """Main thread: print each new real-time guard violation with its stack, once."""
        if guard.enabled():
            self._guard_reported = guard.report(self._guard_reported)

    def fade_out(self, seconds: float) -> None:
        """Ramp master down over ``seconds`` (in steps of one block ramp each), then wait for it to play."""
        steps = max(1, int(seconds / 0.01))
        for i in range(1, steps + 1):
            gain = -80.0 * i / steps
            try:
                self.engine.set_bus("master", gain_db=gain)
            except Exception:
                return
            time.sleep(seconds / steps)
        queued = max(self.sink.target_frames, self.sink.period_frames) if self.sink else 0
        time.sleep(2 * queued / self.sr)  # the last ramp reaches the device before it closes


def _raise_priority(nice: int) -> int:
    """Ask for a higher CPU priority (like PulseAudio via rtkit): audio must not wait for batch jobs.

    Only the audio process does this (the network process stays at normal priority, so a flood of
    messages cannot starve the device). Without the privilege it keeps the current priority.
    """
    try:
        current = os.getpriority(os.PRIO_PROCESS, 0)
        if nice < current:
            os.setpriority(os.PRIO_PROCESS, 0, nice)
        return os.getpriority(os.PRIO_PROCESS, 0)
    except (OSError, AttributeError):
        return 0


def _die_with_parent() -> None:
    """Ask Linux for a SIGTERM when the parent (the network process) dies, whatever it died of; the
    main loop also checks ``getppid`` every 10 ms, which covers other systems and a parent that died
    before this call."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def audio_main(opts: dict[str, Any]) -> None:
    """Entry point of the audio process (spawned by the daemon)."""
    # Ctrl-C reaches the whole process group: the network process decides when to stop. SIGTERM (from
    # the network process, the kernel when it dies, or an operator) stops this one with its fade.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = threading.Event()
    sides: list[AudioSide] = []

    def on_term(signum: int, frame: Any) -> None:
        stop.set()
        for side in sides:
            side.shutdown.set()

    signal.signal(signal.SIGTERM, on_term)
    parent = os.getppid()
    _die_with_parent()
    nice = _raise_priority(int(opts.get("nice", -10)))
    guard.install_from_env()  # SOUNDSCAPE_RT_GUARD: before anything renders
    ctx = zmq.Context()
    try:
        side = AudioSide(opts, ctx)
        sides.append(side)
        if stop.is_set():
            side.shutdown.set()
    except BaseException as exc:
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 2000)
        push.connect(opts["back_addr"])
        errors = [str(e) for e in getattr(exc, "errors", [])][:50]
        push.send(_pack(["failed", {"message": f"{exc}", "type": type(exc).__name__, "errors": errors}]))
        push.close()
        ctx.term()
        return
    from ..sinks import DeviceSink

    backend = opts.get("backend")
    side.sink = DeviceSink(
        side,
        device_name=opts.get("device"),
        backend=backend,
        period_frames=opts.get("period_frames"),
        **(
            {}
            if opts.get("null_min_lookahead") is None
            else {"null_min_lookahead_s": opts["null_min_lookahead"]}
        ),
    )
    # Everything loaded so far (scene, samples, numba kernels) lives for the whole run: move it out of
    # the collector's sight, so that a full collection (which holds the GIL, and so the device
    # callback) only walks what was allocated since.
    gc.collect()
    gc.freeze()
    side.start_threads()
    side.sink.start()
    st = side.sink.stats()
    side.push_main.send(
        _pack(
            [
                "ready",
                {
                    "scene": describe(side.rt),
                    "sample_rate": side.sr,
                    "block": side.block,
                    "backend": st["backend"],
                    "fell_back_to_null": st["fell_back_to_null"],
                    "period_frames": st["period_frames"],
                    "lookahead_blocks": st["lookahead_blocks"],
                    "pid": os.getpid(),
                    "nice": nice,
                },
            ]
        )
    )
    next_stats = time.monotonic()
    try:
        failures = 0
        while not side.shutdown.is_set():
            side.shutdown.wait(0.01)
            if os.getppid() != parent:  # the network process died: stop rather than play forever
                break
            try:
                side.load_pending()
                side.say_pending()
                side.profile_pending()
                side.report_violations()
                outs = side._resolve_outputs()
                if outs:
                    side._send_main(["pub", outs])
                if side.meters:
                    side.engine.drain_meters()
                side.release_unused()
                now = time.monotonic()
                if now >= next_stats:
                    next_stats = now + STATS_INTERVAL
                    side._send_main(["audio", side.audio_stats()])
                    if side.meters:
                        loud = [["loudness", {"buses": side.engine.loudness()}], *spectrum_topic(side.engine)]
                        side._send_main(["pub", loud])
            except Exception as exc:  # a bug here must not stop the audio: report it and go on
                failures += 1
                if failures <= 3:
                    traceback.print_exc(file=sys.stderr)
                    err = {"code": "internal", "message": f"audio main thread: {type(exc).__name__}: {exc}"}
                    side._send_main(["pub", [["error", err]]])
        side.fade_out(float(opts.get("fade_out", 0.1)))
    finally:
        side.sink.stop()
        side.stop_threads()  # the sender flushes what the last blocks left
        side.report_violations()
        final = side.audio_stats()
        close = getattr(side.rt, "close", None)
        if close is not None:
            close()
        if side.worker is not None:
            side.worker.close()
        side.say_queue.close()
        side._send_main(["bye", final])
        for s in (side.pull, side.push_render, side.push_main):
            s.close()
        ctx.term()
        sys.stderr.flush()


def scene_root(path: str | None) -> Path | None:
    return None if path is None else Path(path).resolve().parent


def describe(rt: Any) -> dict[str, Any]:
    """What the network process validates with and ``hello`` shows: the runtime's ``describe()``
    plus what it checks besides (each event's own parameters, the music's stingers), so that the
    network process can refuse those before its reply rather than the runtime after it."""
    out = dict(rt.describe())
    scene = getattr(rt, "scene", None)
    if scene is not None and hasattr(scene, "events"):
        out.update(_checked_names(scene))
    return out


def describe_def(rt: Any, scene: Any) -> dict[str, Any]:
    """``describe`` of a scene definition the runtime does not play yet (``prepared``, before a swap).
    The runtime's ``describe`` reads only its ``scene``, so it is asked about a stand-in holding the
    new definition; the reply after the swap carries the runtime's own description."""
    out = dict(type(rt).describe(types.SimpleNamespace(scene=scene)))
    out.update(_checked_names(scene))
    return out


def _checked_names(scene: Any) -> dict[str, Any]:
    event_params = {
        name: {p.name: {"min": p.min, "max": p.max} for p in ev.parameters.values()}
        for name, ev in scene.events.items()
        if getattr(ev, "parameters", None)
    }
    music = getattr(scene, "music", None)
    return {
        "event_parameters": event_params,
        "stingers": sorted(music.stingers) if music is not None else [],
        "layers": sorted(layer.uid for _, layer in scene.all_layers()),
    }
