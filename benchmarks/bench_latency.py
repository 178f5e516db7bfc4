"""Event-to-sound latency of the daemon under a 10k/s `object` update load.

From the client's send of a `trigger` to the first sample of that sound leaving the device
callback: the daemon publishes `instance_out` with the callback's CLOCK_MONOTONIC time for the
trigger's first frame, and this script takes the send time on the same clock
(time.perf_counter_ns is CLOCK_MONOTONIC on Linux). Another process sends `object` updates at a
steady rate meanwhile. The device's own buffer (period x periods after the callback) is not
included: that part depends on the sound card and is the same for any engine.

    python benchmarks/bench_latency.py [--triggers 1000] [--load-rate 10000] [--lookahead N]

Prints median / p99 / max latency, underruns, and the machine's load average (this 2-core machine
is shared; a load above 2 means other jobs took CPU from the daemon during the run).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import signal
import subprocess
import sys
import time

import msgpack
import numpy as np
import zmq


def start_daemon(*extra: str) -> tuple[subprocess.Popen, dict]:
    """Start `soundscape serve --recording` with random loopback ports (NULL device unless `extra` has
    a --backend: with auto-detection, a running JACK server would be picked)."""
    backend = [] if "--backend" in extra else ["--backend", "null"]
    cmd = [sys.executable, "-m", "middleware.cli", "serve", "--recording", *backend,
           "--bind", "tcp://127.0.0.1:0", "--pub", "tcp://127.0.0.1:0", "--json", *extra]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError("daemon did not start")
    return proc, json.loads(line)


def stop_daemon(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def object_load(endpoint: str, rate: float, seconds: float, objects: int, stop: mp.Event) -> None:
    """Send `object` updates at `rate` per second (paced in 1 ms slices) until `stop` or timeout."""
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.SNDHWM, 100_000)
    s.connect(endpoint)
    pack = msgpack.Packer().pack
    t0 = time.perf_counter()
    sent = 0
    i = 0
    while not stop.is_set() and (now := time.perf_counter()) - t0 < seconds:
        due = int((now - t0) * rate)
        while sent < due:
            x = (i % 1000) * 0.01
            s.send(pack({"v": 1, "type": "object", "name": f"obj{i % objects}", "position": [x, 0.0, -x]}))
            sent += 1
            i += 1
        time.sleep(0.001)
    s.close(linger=0)
    ctx.term()


def audio_stats(client) -> dict:
    client.sync()
    time.sleep(0.12)
    return client.stats()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--triggers", type=int, default=1000)
    ap.add_argument("--interval", type=float, default=0.02, help="mean seconds between triggers")
    ap.add_argument("--load-rate", type=float, default=10_000.0, help="object updates per second")
    ap.add_argument("--objects", type=int, default=100)
    ap.add_argument("--lookahead", type=int, default=None, help="blocks ahead (default: the daemon's, 0)")
    ap.add_argument("--period", type=int, default=None)
    ap.add_argument(
        "--backend",
        default="null",
        help="miniaudio backend: null (10 ms sleeps) or jack (e.g. "
        "jackd's dummy driver: a virtual card with real 256-frame periods)",
    )
    ap.add_argument("--null-min-lookahead", type=float, default=None, help="0: honour --lookahead on NULL")
    args = ap.parse_args()
    extra = [] if args.lookahead is None else ["--lookahead", str(args.lookahead)]
    extra += ["--period", str(args.period)] if args.period else []
    extra += ["--backend", args.backend]
    if args.null_min_lookahead is not None:
        extra += ["--null-min-lookahead", str(args.null_min_lookahead)]
    proc, info = start_daemon(*extra)
    try:
        return measure(args, info)
    finally:
        stop_daemon(proc)


def measure(args: argparse.Namespace, info: dict) -> int:
    from middleware.client import Client, Subscriber

    ctx = zmq.Context()
    client = Client(info["bind"], name="bench-latency", context=ctx, timeout=5.0)
    sub = Subscriber(info["pub"], ["instance_out"], context=ctx)
    client.hello()
    time.sleep(0.5)
    stop = mp.Event()
    seconds = args.triggers * args.interval * 1.5 + 10
    loader = mp.Process(target=object_load, args=(info["bind"], args.load_rate, seconds, args.objects, stop))
    loader.start()
    time.sleep(1.0)  # let the load reach steady state
    before = audio_stats(client)
    load0 = os.getloadavg()[0]
    sent: dict[int, int] = {}
    outs: dict[int, int] = {}
    t_start = time.perf_counter()
    rng = random.Random(1)
    for _ in range(args.triggers):
        t_send = time.perf_counter_ns()
        iid = client.trigger("ping")
        sent[iid] = t_send
        deadline = time.perf_counter() + rng.uniform(0.5, 1.5) * args.interval
        while (left := deadline - time.perf_counter()) > 0:
            got = sub.recv(left)
            if got is not None:
                outs[got[1]["instance"]] = got[1]
    while len(outs) < len(sent) and (got := sub.recv(1.0)) is not None:
        outs[got[1]["instance"]] = got[1]
    elapsed = time.perf_counter() - t_start
    after = audio_stats(client)
    stop.set()
    loader.join()
    load1 = os.getloadavg()[0]
    heard = [i for i in sent if i in outs]
    lat = np.array([(outs[i]["t_ns"] - sent[i]) / 1e6 for i in heard])
    transport = np.array([(outs[i]["applied_ns"] - sent[i]) / 1e6 for i in heard])
    a0, a1 = before["audio"], after["audio"]
    n0, n1 = before["net"], after["net"]
    rate = (n1["received"] - n0["received"]) / max(elapsed, 1e-9)
    print(f"daemon: {a1['render_mode']} mode, lookahead {a1['lookahead_blocks']} blocks x 256 frames, "
          f"period {a1['period_frames']} frames, {a1['backend']}, "
          f"switch interval {a1['switch_interval_s']} s, nice {a1.get('nice')}")  # fmt: skip
    print(f"load: {args.load_rate:.0f} object updates/s requested, {rate:.0f} msgs/s received by the daemon")
    print(f"triggers: {len(sent)} sent, {len(lat)} heard (instance_out)")
    if len(lat):
        p50, p99 = np.percentile(lat, [50, 99])
        print(f"event-to-sound latency (send -> first sample out of the callback): median {p50:.2f} ms, "
              f"p99 {p99:.2f} ms, max {lat.max():.2f} ms, min {lat.min():.2f} ms")  # fmt: skip
        q50, q99 = np.percentile(transport, [50, 99])
        tmax = transport.max()
        print(f"  of which send -> applied in the audio process (network, validation, hand-off, wait for "
              f"a block): median {q50:.2f} ms, p99 {q99:.2f} ms, max {tmax:.2f} ms")  # fmt: skip
        b = lat - transport
        b50, b99 = np.percentile(b, [50, 99])
        print(f"  and applied -> out of the callback (lookahead ring + device pacing): median {b50:.2f} ms, "
              f"p99 {b99:.2f} ms")  # fmt: skip
    p99, mx = a1["callback_interval_p99_ms"], a1["callback_interval_max_ms"]
    print(f"underruns during the run: {a1['underruns'] - a0['underruns']}, late callbacks: "
          f"{a1['late_callbacks'] - a0['late_callbacks']} "
          f"(callback interval p99 {p99:.2f} ms, max {mx:.2f} ms)")  # fmt: skip
    print(f"render per block: p50 {a1['render_ms_p50']:.2f} ms, p99 {a1['render_ms_p99']:.2f} ms, "
          f"max {a1['render_ms_max']:.2f} ms (last {min(a1['blocks_rendered'], 4096)} blocks)")  # fmt: skip
    if a1.get("rt_guard"):  # SOUNDSCAPE_RT_GUARD=1: guarded calls made on the render path (must be 0)
        print(f"real-time guard: {a1['rt_guard']}, violations: {a1['rt_violations']}")
    print(f"coalesced: {n1['coalesced'] - n0['coalesced']}, dropped to audio: "
          f"{n1['dropped_to_audio'] - n0['dropped_to_audio']}, late: {a1['late'] - a0['late']}")  # fmt: skip
    print(f"machine load average (1 min) at start/end: {load0:.2f} / {load1:.2f} on {os.cpu_count()} cores")
    client.close()
    sub.close()
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
