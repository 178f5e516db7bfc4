"""Fuzz soak: hypothesis-generated messages of every type, with NUL bytes, lone surrogates, control
characters, huge strings, NaN and infinities, wrong types and missing or extra fields, against a live
daemon; then the verdict of issue 18:

* both processes are still alive (and the daemon still plays);
* every request that carried a readable ``id`` was answered exactly once (no reply lost, none twice),
  and none was answered ``internal`` (that would be a bug);
* the resident memory of both processes is back within 10 % of where it was after warm-up.

Messages come from three clients in lists of ``--chunk``; about two thirds carry an id. The messages
use the scene's own names part of the time, so valid commands (triggers, loads of the same scene,
timed messages, lines) are mixed with the garbage. A few frames over the size limit go through a
throwaway socket (libzmq closes such a connection, which would lose the others' replies).

    python benchmarks/fuzz_soak.py --messages 100000 [--scene scenes/dungeon.yaml] [--seed 1]

``tests/test_daemon_robust.py`` runs the same generator for a few thousand messages.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import zmq
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from middleware.transport import protocol as P

NASTY_CHARS = ["\x00", "\x01", "\x07", "\x1b", "\x7f", "\n", "\t", "\ufeff", "\u202e", "\U0001f600", "é"]


def strategies(names: list[str]) -> dict[str, st.SearchStrategy[Any]]:
    """The value strategies, built once (building a strategy costs more than drawing from it)."""
    text = st.one_of(
        st.sampled_from(names or ["x"]),
        st.text(
            alphabet=st.one_of(
                st.sampled_from(NASTY_CHARS),
                st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),  # lone surrogates: not UTF-8
                st.characters(),
            ),
            max_size=40,
        ),
        st.tuples(st.sampled_from(["a", "\x00", "é", "\U0001f600", "\udc80"]), st.integers(129, 60_000)).map(
            lambda c: c[0] * c[1]
        ),  # huge
        st.just(""),
    )
    number = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(-2.0, 2.0),
        st.integers(-(2**63), 2**64 - 1),
        st.booleans(),
        st.none(),
        st.sampled_from(["1.0", b"\x00", [1.0]]),
    )
    finite = st.floats(-10.0, 10.0)
    vec = st.one_of(
        st.tuples(finite, finite, finite).map(list),
        st.lists(number, max_size=5),
        st.sampled_from([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1e7, 0.0, 0.0]]),
        number,
    )
    return {
        "text": text,
        "number": number,
        "name": text,
        "string": text,
        "int": st.integers(-5, 2000),
        "bool": st.booleans(),
        "vec3": vec,
        "params": st.one_of(st.dictionaries(text, number, max_size=4), number),
        "switches": st.one_of(st.dictionaries(text, text, max_size=4), number),
        # nested maps (a profile's audiogram: {ear: {Hz: dB}}), with keys and values of any sort
        "map": st.one_of(
            st.dictionaries(text, st.one_of(number, st.dictionaries(text, number, max_size=6)), max_size=3),
            number,
        ),
        "key": st.one_of(text, st.integers(), st.tuples(st.integers())),
        "t": st.floats(0.0, 120.0),
        "message": st.sampled_from(list(P.MESSAGES.values())),
        "chance": st.integers(0, 99),
    }


@st.composite
def message(draw: Any, s: dict[str, st.SearchStrategy[Any]], depth: int = 0) -> dict[str, Any]:
    """One map shaped like a message of a random type, each part valid or not."""
    msg = draw(s["message"])
    out: dict[Any, Any] = {}
    chance = s["chance"]
    number = s["number"]

    def kind(name: str, right: int = 85) -> Any:  # mostly of the right kind, else anything
        return draw(s[name]) if draw(chance) < right else draw(number)

    if depth == 0:
        out["v"] = 1 if draw(chance) < 92 else draw(number)
    roll = draw(chance)
    out["type"] = msg.name if roll < 75 else msg.code if roll < 85 else kind("name")
    for f in msg.fields:
        if draw(chance) < (90 if f.required else 40):
            if f.kind == "items":
                out[f.name] = draw(st.lists(message(s, depth + 1), max_size=4)) if draw(chance) < 90 else []
            else:
                out[f.name] = kind(f.kind)
    if depth == 0 and draw(chance) < 10:
        out["t"] = kind("t")
    if draw(chance) < 5:  # a key nobody defines, or one of another kind
        out[draw(s["key"])] = draw(s["number"])
    return out


@st.composite
def frames(draw: Any, s: dict[str, st.SearchStrategy[Any]], chunk: int) -> list[tuple[Any, str]]:
    """``chunk`` frames: (message, id mode) with mode "id" (a fresh id), "none", or "bad" (an id
    that is not one); now and then raw bytes that are not msgpack at all."""
    out = []
    chance = s["chance"]
    for _ in range(chunk):
        roll = draw(chance)
        if roll < 2:
            out.append((draw(st.binary(max_size=64)), "none"))
        else:
            out.append((draw(message(s)), "id" if roll < 66 else "bad" if roll < 72 else "none"))
    return out


@dataclass
class Tally:
    sent: int = 0
    with_id: int = 0
    replies: dict[int, int] = field(default_factory=dict)
    codes: dict[str, int] = field(default_factory=dict)
    internal: list[dict[str, Any]] = field(default_factory=list)
    oversize: int = 0
    stray: int = 0

    def outstanding(self) -> int:
        return sum(1 for n in self.replies.values() if n == 0)


class Fuzzer:
    """Three DEALER clients sending generated frames, counting the replies to each id."""

    def __init__(self, endpoint: str, max_bytes: int, clients: int = 3) -> None:
        self.ctx = zmq.Context()
        self.endpoint = endpoint
        self.max_bytes = max_bytes
        self.socks = []
        for _ in range(clients):
            s = self.ctx.socket(zmq.DEALER)
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.SNDHWM, 100_000)
            s.connect(endpoint)
            self.socks.append(s)
        self.ids = itertools.count(1)
        self.tally = Tally()
        self._next = itertools.cycle(range(clients))

    def send(self, chunk: list[tuple[dict[str, Any] | bytes, str]]) -> None:
        t = self.tally
        for msg, mode in chunk:
            if isinstance(msg, bytes):
                payload = msg
            else:
                msg = dict(msg)
                if mode == "id":
                    rid = next(self.ids)
                    msg["id"] = rid
                elif mode == "bad":
                    msg["id"] = -1
                try:
                    payload = msgpack.packb(msg, use_bin_type=True, unicode_errors="surrogatepass")
                except (OverflowError, ValueError, TypeError):
                    continue  # not encodable as msgpack (an int beyond 64 bits ...): nothing to send
                if len(payload) > self.max_bytes:  # libzmq drops the connection: use a throwaway one
                    self._oversize(payload)
                    continue
                if mode == "id":
                    t.replies[rid] = 0
                    t.with_id += 1
            self.socks[next(self._next)].send(payload)
            t.sent += 1
        self.read(0)
        while t.outstanding() > 4000:  # never let a client's reply queue overflow
            self.read(100)

    def _oversize(self, payload: bytes) -> None:
        s = self.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(self.endpoint)
        s.send(payload)
        s.close()
        self.tally.oversize += 1

    def read(self, timeout_ms: int) -> int:
        got = 0
        poller = zmq.Poller()
        for s in self.socks:
            poller.register(s, zmq.POLLIN)
        for s, _ in poller.poll(timeout_ms):
            while True:
                try:
                    frame = s.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                got += 1
                self._count(msgpack.unpackb(frame, raw=False))
        return got

    def _count(self, reply: Any) -> None:
        t = self.tally
        rid = reply.get("id") if isinstance(reply, dict) else None
        if rid not in t.replies:
            t.stray += 1
            if t.stray <= 3:
                print("stray reply:", str(reply)[:300], flush=True)
            return
        t.replies[rid] += 1
        code = reply.get("code") or "ok"
        t.codes[code] = t.codes.get(code, 0) + 1
        if code == "internal":
            t.internal.append(reply)

    def finish(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.tally.outstanding() and time.monotonic() < deadline:
            self.read(100)
        self.read(500)  # a second reply to anything would arrive here

    def close(self) -> None:
        self.ctx.destroy(linger=0)


def run(fuzzer: Fuzzer, names: list[str], messages: int, chunk: int = 50, seed: int = 0) -> Tally:
    """Send ``messages`` generated frames (hypothesis, generation only: no shrinking, no database)."""

    @settings(
        max_examples=max(1, messages // chunk),
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        derandomize=False,
    )
    @given(frames(strategies(names), chunk))
    def one(chunk_frames: list) -> None:
        fuzzer.send(chunk_frames)

    from hypothesis import seed as with_seed

    with_seed(seed)(one)()
    return fuzzer.tally


def scene_names(hello: dict[str, Any], scene_file: str | None) -> list[str]:
    scene = hello.get("scene", {})
    names = [*scene.get("parameters", {}), *scene.get("states", {}), *scene.get("switches", {})]
    for group in (scene.get("states", {}), scene.get("switches", {})):
        for values in group.values():
            names += list(values)
    names += [*scene.get("events", []), *scene.get("snapshots", []), *scene.get("emitters", [])]
    names += [*scene.get("stingers", []), "neutral", "ogre", "Halt, stranger.", "player", "car1"]
    if scene_file:
        names.append(Path(scene_file).name)  # load_scene of the scene itself: a real reload
    return names


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def request(sock: zmq.Socket, msg: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    sock.send(msgpack.packb(msg))
    if not sock.poll(int(timeout * 1000)):
        raise TimeoutError(f"no reply to {msg['type']}")
    return msgpack.unpackb(sock.recv(), raw=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--chunk", type=int, default=50, help="messages per generated example")
    ap.add_argument(
        "--scene", default=str(Path(__file__).resolve().parent.parent / "scenes" / "dungeon.yaml")
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quiet", type=float, default=3.0, help="seconds of quiet before memory is read")
    args = ap.parse_args()

    cmd = [sys.executable, "-m", "middleware.cli", "serve", args.scene, "--backend", "null",
           "--bind", "tcp://127.0.0.1:0", "--pub", "tcp://127.0.0.1:0", "--json",
           "--voice-budget", "4"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    info = json.loads(proc.stdout.readline())
    net_pid, audio_pid = proc.pid, info["pid"]
    ctx = zmq.Context()
    probe = ctx.socket(zmq.DEALER)
    probe.setsockopt(zmq.LINGER, 0)
    probe.connect(info["bind"])
    hello = request(probe, {"v": 1, "type": "hello", "id": 1, "name": "fuzz-probe"})
    names = scene_names(hello, args.scene)
    fuzzer = Fuzzer(info["bind"], hello["max_message_bytes"])
    ok = True
    try:
        t0 = time.monotonic()
        warm = run(fuzzer, names, max(args.chunk, args.messages // 20), args.chunk, args.seed)
        fuzzer.finish(15.0)
        time.sleep(args.quiet)
        start = (rss_mb(net_pid), rss_mb(audio_pid))
        print(f"warm-up: {warm.sent} frames; memory after warm-up: network {start[0]:.1f} MB, "
              f"audio {start[1]:.1f} MB", flush=True)  # fmt: skip
        fuzzer.tally = Tally()
        fuzzer.ids = itertools.count(10_000_000)
        t1 = time.monotonic()
        tally = run(fuzzer, names, args.messages, args.chunk, args.seed + 1)
        sent_s = time.monotonic() - t1
        fuzzer.finish(20.0)
        time.sleep(args.quiet)
        end = (rss_mb(net_pid), rss_mb(audio_pid))
        stats = request(probe, {"v": 1, "type": "stats", "id": 2})["stats"]
        f0 = stats["audio"].get("frames_played", 0)
        time.sleep(0.3)
        f1 = request(probe, {"v": 1, "type": "stats", "id": 3})["stats"]["audio"].get("frames_played", 0)
        missing = [rid for rid, n in tally.replies.items() if n == 0]
        twice = [rid for rid, n in tally.replies.items() if n > 1]
        rate = tally.sent / sent_s
        whole = time.monotonic() - t0
        print(f"sent {tally.sent} frames in {sent_s:.1f} s ({rate:.0f}/s), {tally.with_id} with an id, "
              f"{tally.oversize} oversize (own sockets); whole run {whole:.0f} s")  # fmt: skip
        replies = sum(tally.replies.values())
        print(f"replies: {replies}; missing {len(missing)}, twice {len(twice)}, stray {tally.stray}; "
              f"internal {len(tally.internal)}")  # fmt: skip
        print(
            "codes: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.codes.items(), key=lambda kv: -kv[1]))
        )
        net = stats["net"]
        print(
            f"daemon: received {net['received']}, invalid {net['invalid']}, internal_errors "
            f"{net['internal_errors']}, dropped {net['dropped']}, objects {net['objects']}, "
            f"instances_live {net['instances_live']}, scheduled_pending {net['scheduled_pending']}; "
            f"audio underruns {stats['audio'].get('underruns')}, rejected {stats['audio'].get('rejected')}"
        )
        growth = [(e - s) / s * 100.0 for s, e in zip(start, end, strict=True)]
        print(f"memory: network {start[0]:.1f} -> {end[0]:.1f} MB ({growth[0]:+.1f} %), "
              f"audio {start[1]:.1f} -> {end[1]:.1f} MB ({growth[1]:+.1f} %)")  # fmt: skip
        both = alive(net_pid) and alive(audio_pid) and proc.poll() is None and f1 > f0
        print(f"both processes alive and playing: {both}")
        for item in tally.internal[:5]:
            print("internal:", item)
        ok = both and not missing and not twice and not tally.internal and all(abs(g) <= 10.0 for g in growth)
    finally:
        fuzzer.close()
        ctx.destroy(linger=0)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        if alive(audio_pid):
            os.kill(audio_pid, signal.SIGKILL)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
