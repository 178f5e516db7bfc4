"""Ingest: messages per second the daemon absorbs (decode, validate, coalesce, apply) with audio running.

Sender processes push pre-encoded `object` (or `set_param`) updates as fast as they can for a few
seconds, one update per message and, separately, 100 updates per `batch` message. The figure is the
daemon's own `received` counter over the window, next to what it dropped on the way to the audio
process and the underruns meanwhile. A sender faster than the daemon is held back by ZeroMQ's
high-water marks, so "absorbed" is the daemon's rate, not the sender's.

    python benchmarks/bench_ingest.py [--seconds 5] [--senders 1] [--batch 100]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time

import msgpack
import zmq
from bench_latency import start_daemon, stop_daemon


def blast(endpoint: str, kind: str, batch: int, seconds: float, seed: int, counter) -> None:
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.SNDHWM, 10_000)
    s.connect(endpoint)
    if kind == "object":
        items = [{"type": "object", "name": f"o{(seed * 7 + i) % 200}", "position": [i * 0.01, 0.0, -1.0]}
                 for i in range(1000)]  # fmt: skip
    else:
        items = [{"type": "set_param", "name": "speed", "value": (i % 100) * 1.0} for i in range(1000)]
    if batch <= 1:
        payloads = [msgpack.packb({"v": 1, **it}) for it in items]
    else:
        payloads = [msgpack.packb({"v": 1, "type": "batch", "items": items[j : j + batch]})
                    for j in range(0, len(items), batch)]  # fmt: skip
    n = len(payloads)
    sent = 0
    t_end = time.perf_counter() + seconds
    send = s.send
    while time.perf_counter() < t_end:
        for k in range(n):
            send(payloads[k])
        sent += n
    counter.value += sent * max(1, batch)
    s.close(linger=0)
    ctx.term()


def run_case(info: dict, kind: str, batch: int, seconds: float, senders: int) -> dict:
    from middleware.client import Client

    with Client(info["bind"], timeout=30.0) as c:
        c.sync()
        time.sleep(0.15)
        s0 = c.stats()
        counter = mp.Value("q", 0)
        procs = [
            mp.Process(target=blast, args=(info["bind"], kind, batch, seconds, i, counter))
            for i in range(senders)
        ]
        t0 = time.perf_counter()
        for p in procs:
            p.start()
        time.sleep(seconds * 0.5)
        mid0 = c.stats()
        tm0 = time.perf_counter()
        time.sleep(seconds * 0.4)
        mid1 = c.stats()
        tm1 = time.perf_counter()
        for p in procs:
            p.join()
        c.sync()
        t1 = time.perf_counter()
        time.sleep(0.15)
        s1 = c.stats()
    per_msg = max(1, batch)
    steady = (mid1["net"]["received"] - mid0["net"]["received"]) / (tm1 - tm0)
    total = s1["net"]["received"] - s0["net"]["received"] - 3
    return {
        "case": f"{kind} x{per_msg} per message",
        "messages_per_s": steady,
        "updates_per_s": steady * per_msg,
        "total_messages": total,
        "sent_updates": counter.value,
        "wall_s": t1 - t0,
        "dropped_to_audio": s1["net"]["dropped_to_audio"] - s0["net"]["dropped_to_audio"],
        "invalid": s1["net"]["invalid"] - s0["net"]["invalid"],
        "coalesced": s1["net"]["coalesced"] - s0["net"]["coalesced"],
        "underruns": s1["audio"]["underruns"] - s0["audio"]["underruns"],
        "callback_max_ms": s1["audio"]["callback_interval_max_ms"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--senders", type=int, default=1)
    ap.add_argument("--batch", type=int, default=100)
    args = ap.parse_args()
    proc, info = start_daemon()
    try:
        time.sleep(1.0)
        load0 = os.getloadavg()[0]
        results = [
            run_case(info, "object", 1, args.seconds, args.senders),
            run_case(info, "set_param", 1, args.seconds, args.senders),
            run_case(info, "object", args.batch, args.seconds, args.senders),
            run_case(info, "set_param", args.batch, args.seconds, args.senders),
        ]
        load1 = os.getloadavg()[0]
    finally:
        stop_daemon(proc)
    print(f"daemon ingest with audio running (NULL device), {args.senders} sender process(es), "
          f"{os.cpu_count()} cores, load average {load0:.2f} -> {load1:.2f}")  # fmt: skip
    for r in results:
        print(f"  {r['case']:28s} {r['messages_per_s']:8.0f} msgs/s = {r['updates_per_s']:8.0f} updates/s; "
              f"dropped {r['dropped_to_audio']}, invalid {r['invalid']}, coalesced {r['coalesced']}, "
              f"underruns {r['underruns']} (callback max {r['callback_max_ms']:.1f} ms)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
