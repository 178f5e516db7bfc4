"""What a flood of `say` costs the daemon's audio, against the same run with no `say` at all.

Starts `soundscape serve` on a small scene (a looping bed, a `voice` bus) with the NULL device and a
fresh voice cache, then runs two phases of ``--seconds`` each on the same daemon: ``peer`` (clients
only poll `stats`) and ``flood`` (``--clients`` clients each send ``--lines`` distinct lines of
``--bytes`` bytes at once, then keep polling). For each phase it prints the audio process's underruns
and late callbacks (the sink's counters, deltas over the phase), the callback interval p99/max, the
`stats` round trip (p50/max), the longest gap between two `audio` telemetry messages (the audio
process's main thread publishes one every 0.1 s), the audio process's RSS (start, peak, end), the
voice memory held, and what happened to the lines (synthesised, refused with `limit`).

It also measures, in this process, why synthesis runs in a worker process: the longest stall of a
thread that wakes every 2 ms (a stand-in for the device callback, which needs the GIL every period)
while a ``--gil-bytes`` line is rendered in another thread, versus in the worker process.

    python benchmarks/bench_say.py [--lookahead 0] [--clients 12] [--lines 2] [--bytes 1000]
                                   [--seconds 20] [--budget 128] [--repeat 1] [--no-gil]

The machine is shared: the load average is printed; compare the two phases of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path

import msgpack
import numpy as np
import zmq

SR = 48000
SCENE = """name: talk
buses:
  voice: {}
  sfx: {}
emitters:
  bed:
    bus: sfx
    layers:
      - {id: hum, source: sounds/hum.wav}
"""
WORDS = "the bridge is out stranger go back now before night falls and wolves run in the dark".split()  # noqa: SIM905


def _scene(root: Path) -> Path:
    (root / "sounds").mkdir(parents=True, exist_ok=True)
    x = 0.1 * np.sin(2 * np.pi * 110 * np.arange(SR) / SR)
    with wave.open(str(root / "sounds" / "hum.wav"), "wb") as h:
        h.setnchannels(1)
        h.setsampwidth(2)
        h.setframerate(SR)
        h.writeframes((x * 32767).astype("<i2").tobytes())
    (root / "talk.yaml").write_text(SCENE)
    return root / "talk.yaml"


def start_daemon(scene: Path, cache: Path, *extra: str) -> tuple[subprocess.Popen, dict]:
    cmd = [sys.executable, "-m", "middleware.cli", "serve", str(scene), "--backend", "null",
           "--bind", "tcp://127.0.0.1:0", "--pub", "tcp://127.0.0.1:0", "--json", *extra]  # fmt: skip
    env = dict(os.environ, SOUNDSCAPE_VOICE_CACHE=str(cache))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError("daemon did not start")
    return proc, json.loads(line)


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class Probe:
    """Polls `stats` every 50 ms, watches `audio` telemetry and the audio process's RSS."""

    def __init__(self, ctx: zmq.Context, info: dict) -> None:
        self.req = ctx.socket(zmq.DEALER)
        self.req.connect(info["bind"])
        self.sub = ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"audio")
        self.sub.setsockopt(zmq.SUBSCRIBE, b"error")
        self.sub.connect(info["pub"])
        self.pid = info["pid"]
        self.rid = 0

    def stats(self) -> tuple[dict, float]:
        self.rid += 1
        t0 = time.perf_counter()
        self.req.send(msgpack.packb({"v": 1, "type": "stats", "id": self.rid}))
        while True:
            if not self.req.poll(10_000):
                raise TimeoutError("no stats reply in 10 s")
            reply = msgpack.unpackb(self.req.recv(), raw=False)
            if reply.get("id") == self.rid:
                return reply["stats"], time.perf_counter() - t0

    def phase(self, seconds: float, until_done: bool = False) -> dict:
        """Watch for ``seconds`` (``until_done``: or until no line waits for synthesis any more)."""
        s0, _ = self.stats()
        a0 = s0["audio"]
        r_start = rss(self.pid)
        peak = r_start
        times, gaps, limits, others = [], [], 0, 0
        last_audio = time.monotonic()
        deadline = time.monotonic() + seconds
        a = a0
        while time.monotonic() < deadline:
            while self.sub.poll(0):
                topic, body = self.sub.recv_multipart()
                now = time.monotonic()
                if topic == b"audio":
                    gaps.append(now - last_audio)
                    last_audio = now
                else:
                    body = msgpack.unpackb(body, raw=False)
                    if body.get("re") == "say":
                        limits += body.get("code") == "limit"
                        others += body.get("code") != "limit"
            s, dt = self.stats()
            times.append(dt)
            a = s["audio"]
            peak = max(peak, rss(self.pid))
            if until_done and a["say_queued"] == 0 and time.monotonic() > deadline - seconds + 2.0:
                break  # the flood is over: every line was synthesised or refused
            time.sleep(0.05)
        gaps.append(time.monotonic() - last_audio)
        t = np.array(times) * 1000
        return {
            "seconds": round(seconds if not until_done else time.monotonic() - (deadline - seconds), 1),
            "underruns": a["underruns"] - a0["underruns"],
            "late_callbacks": a["late_callbacks"] - a0["late_callbacks"],
            "callback_p99_ms": a["callback_interval_p99_ms"],
            "callback_max_ms": a["callback_interval_max_ms"],
            "stats_ms_p50": round(float(np.median(t)), 2),
            "stats_ms_max": round(float(t.max()), 2),
            "audio_gap_max_s": round(max(gaps), 3),
            "rss_mib": f"{r_start / 2**20:.0f} -> peak {peak / 2**20:.0f} -> {rss(self.pid) / 2**20:.0f}",
            "voice_mib": round(a["voice_bytes"] / 2**20, 1),
            "bank_used_mib": round(a["bank_used_bytes"] / 2**20, 1),
            "synthesised": a["say_synthesised"] - a0["say_synthesised"],
            "limit_errors": limits,
            "other_errors": others,
            "net_rate_limited": s["net"].get("say_rate_limited", 0),
        }


def flood(ctx: zmq.Context, info: dict, clients: int, lines: int, size: int, seed: int) -> int:
    rng = random.Random(seed)
    socks = []
    oks = 0
    for _ in range(clients):
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(info["bind"])
        socks.append(s)
    for c, s in enumerate(socks):
        for k in range(lines):
            text = f"line {seed} {c} {k}: " + " ".join(rng.choice(WORDS) for _ in range(size // 3))
            s.send(msgpack.packb({"v": 1, "type": "say", "id": k + 1, "text": text[:size]}))
    for s in socks:
        for _ in range(lines):
            if s.poll(5000):
                oks += msgpack.unpackb(s.recv(), raw=False)["type"] == "ok"
        s.close()
    return oks


def gil_stall(text: str) -> dict:
    """Longest wake-up delay of a 2 ms sleeper while a line renders in a thread vs. in the worker."""
    from middleware.voice import render_line
    from middleware.voice.worker import SynthWorker

    def probe(stop: threading.Event, out: list) -> None:
        last = time.perf_counter()
        while not stop.is_set():
            time.sleep(0.002)
            now = time.perf_counter()
            out.append(now - last)
            last = now

    render_line("warm up", use_cache=False)
    out: dict = {}
    for label in ("thread", "worker process"):
        stop, delays = threading.Event(), []
        p = threading.Thread(target=probe, args=(stop, delays))
        p.start()
        t0 = time.perf_counter()
        if label == "thread":
            w = threading.Thread(target=render_line, args=(text,), kwargs={"use_cache": False})
            w.start()
            w.join()
        else:
            worker = SynthWorker()
            worker.submit("k", text, "neutral", SR)
            while not worker.poll():
                time.sleep(0.005)
            worker.close()
        stop.set()
        p.join()
        d = np.array(delays) * 1000
        out[label] = (f"{time.perf_counter() - t0:.1f} s wall; wake-up p99 {np.percentile(d, 99):.1f} ms, "
                      f"max {d.max():.1f} ms, {int((d > 10).sum())} over 10 ms")  # fmt: skip
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lookahead", type=int, default=0, help="daemon --lookahead (0: render in the callback)")
    ap.add_argument("--clients", type=int, default=12)
    ap.add_argument("--lines", type=int, default=2, help="distinct lines per client, sent at once")
    ap.add_argument("--bytes", type=int, default=1000, help="text bytes per line (1000: ~60 s of speech)")
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each phase at most")
    ap.add_argument("--budget", type=float, default=128.0, help="daemon --voice-budget, MiB")
    ap.add_argument("--repeat", type=int, default=1, help="peer and flood phases, alternated")
    ap.add_argument("--no-gil", action="store_true", help="skip the thread-vs-process stall measurement")
    ap.add_argument("--gil-bytes", type=int, default=2048, help="text bytes of the line for that measurement")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        scene = _scene(Path(tmp))
        proc, info = start_daemon(scene, Path(tmp) / "cache", "--lookahead", str(args.lookahead),
                                  "--voice-budget", str(args.budget))  # fmt: skip
        ctx = zmq.Context()
        try:
            probe = Probe(ctx, info)
            time.sleep(1.0)  # subscriptions connect; the first blocks settle
            load0 = os.getloadavg()[0]
            runs = []
            for r in range(args.repeat):  # alternate, so that both see the same machine
                peer = probe.phase(args.seconds)
                oks = flood(ctx, info, args.clients, args.lines, args.bytes, seed=int(time.time()) + r)
                burst = probe.phase(3 * args.seconds, until_done=True)
                runs.append((peer, burst, oks))
            load1 = os.getloadavg()[0]
        finally:
            ctx.destroy(linger=0)
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    mode = "callback" if args.lookahead == 0 else f"ring, lookahead {args.lookahead} blocks"
    print(f"daemon: {mode}, voice budget {args.budget:g} MiB; load average {load0:.1f} -> {load1:.1f}")
    print(f"flood: {args.clients} clients x {args.lines} distinct lines of {args.bytes} bytes, at once")
    for r, (peer, burst, oks) in enumerate(runs):
        print(f"run {r + 1}: {oks} lines accepted by the network process")
        print(f"{'':22s}{'no say (peer)':>24s}{'say flood':>28s}")
        for k in peer:
            print(f"{k:22s}{peer[k]!s:>24s}{burst[k]!s:>28s}")
    if not args.no_gil:
        text = " ".join(random.Random(1).choice(WORDS) for _ in range(args.gil_bytes))[: args.gil_bytes]
        print(f"GIL: a {args.gil_bytes}-byte line rendered next to a 2 ms sleeper (the callback's stand-in):")
        for label, figure in gil_stall(text).items():
            print(f"  in a {label:15s} {figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
