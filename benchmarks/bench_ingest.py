"""Ingest: messages per second the daemon absorbs (decode, validate, coalesce, apply) with audio running.

Sender processes push pre-encoded `object` (or `set_param`) updates as fast as they can for a few
seconds, one update per message and, separately, 100 updates per `batch` message. The figure is the
daemon's own `received` counter over the middle of the window, next to what it dropped on the way to
the audio process and the underruns meanwhile. A sender faster than the daemon is held back by
ZeroMQ's high-water marks (the DEALER blocks; nothing is dropped), so "absorbed" is the daemon's rate,
not the sender's.

Two peers put the figure in context, measured in the same run with the same senders:

* **bare**: a bare pyzmq ROUTER loop in its own process (``recv_multipart`` + ``msgpack.unpackb`` +
  one dict update, nothing else): the issue's calibration figure. The daemon's single-message rate
  is printed as a ratio of it.
* **sender alone**: the senders pushing into a receiver that never enters Python (``zmq.proxy``
  from a ROUTER to a PUB without subscribers, which discards in C). If this is not well above the
  daemon's rate, the sender is the bottleneck and the daemon figure means nothing.

Each case runs ``--runs`` times (daemon restarted per run); the median is printed, with the spread.

    python benchmarks/bench_ingest.py [--seconds 3] [--runs 3] [--senders 1] [--batch 100] [--no-bare]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time
from collections.abc import Callable

import msgpack
import zmq
from bench_latency import start_daemon, stop_daemon


def payloads_for(kind: str, batch: int, seed: int) -> list[bytes]:
    """1000 distinct updates (200 objects, or one parameter), pre-packed one or `batch` per message."""
    if kind == "object":
        items = [{"type": "object", "name": f"o{(seed * 7 + i) % 200}", "position": [i * 0.01, 0.0, -1.0]}
                 for i in range(1000)]  # fmt: skip
    else:
        items = [{"type": "set_param", "name": "speed", "value": (i % 100) * 1.0} for i in range(1000)]
    if batch <= 1:
        return [msgpack.packb({"v": 1, **it}) for it in items]
    return [msgpack.packb({"v": 1, "type": "batch", "items": items[j : j + batch]})
            for j in range(0, len(items), batch)]  # fmt: skip


def blast(endpoint: str, kind: str, batch: int, seconds: float, seed: int, counter) -> None:
    """Send pre-packed frames with plain ``send`` in a tight loop (about 1 us of Python per message)."""
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.SNDHWM, 10_000)
    s.connect(endpoint)
    payloads = payloads_for(kind, batch, seed)
    n = len(payloads)
    sent = 0
    t_end = time.perf_counter() + seconds
    send = s.send
    while time.perf_counter() < t_end:
        for k in range(n):
            send(payloads[k])
        sent += n
    with counter.get_lock():
        counter.value += sent * max(1, batch)
    s.close(linger=0)
    ctx.term()


def bare_loop(endpoint_q, count, stop) -> None:
    """The calibration peer: a ROUTER loop that decodes and stores, nothing else in the process."""
    ctx = zmq.Context()
    r = ctx.socket(zmq.ROUTER)
    r.setsockopt(zmq.RCVHWM, 100_000)
    r.setsockopt(zmq.LINGER, 0)
    port = r.bind_to_random_port("tcp://127.0.0.1")
    endpoint_q.put(f"tcp://127.0.0.1:{port}")
    recv = r.recv_multipart
    unpackb = msgpack.unpackb
    latest: dict = {}
    n = 0
    while not stop.is_set():
        if not r.poll(100):
            continue
        for _ in range(256):
            try:
                frames = recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            msg = unpackb(frames[-1])
            latest[msg.get("name")] = msg
            n += 1
        count.value = n  # a plain shared int (no lock): one writer
    r.close()
    ctx.term()


def sink(endpoint_q, stop) -> None:
    """A receiver that never enters Python: ROUTER -> PUB without subscribers, in libzmq's proxy."""
    ctx = zmq.Context()
    r = ctx.socket(zmq.ROUTER)
    r.setsockopt(zmq.RCVHWM, 100_000)
    port = r.bind_to_random_port("tcp://127.0.0.1")
    p = ctx.socket(zmq.PUB)
    p.bind("inproc://void")
    endpoint_q.put(f"tcp://127.0.0.1:{port}")
    try:
        zmq.proxy(r, p)  # runs until the process is terminated
    finally:
        ctx.destroy(linger=0)


def measure(endpoint: str, kind: str, batch: int, seconds: float, senders: int,
            probe: Callable[[], int]) -> dict:  # fmt: skip
    """Run the senders for `seconds`; the rate is the probe's count over the middle 40 % of the window."""
    counter = mp.Value("q", 0)
    procs = [
        mp.Process(target=blast, args=(endpoint, kind, batch, seconds, i, counter)) for i in range(senders)
    ]
    for p in procs:
        p.start()
    time.sleep(seconds * 0.5)
    c0, tm0 = probe(), time.perf_counter()
    time.sleep(seconds * 0.4)
    c1, tm1 = probe(), time.perf_counter()
    for p in procs:
        p.join()
    return {
        "messages_per_s": (c1 - c0) / (tm1 - tm0),
        "sent_updates": counter.value,
        "sent_per_s": counter.value / max(1, batch) / seconds,
    }  # each sender sends for `seconds`


def run_daemon_case(info: dict, kind: str, batch: int, seconds: float, senders: int) -> dict:
    from middleware.client import Client

    with Client(info["bind"], timeout=30.0) as c:
        c.sync()
        time.sleep(0.15)
        s0 = c.stats()
        m = measure(info["bind"], kind, batch, seconds, senders, lambda: c.stats()["net"]["received"])
        c.sync()
        time.sleep(0.15)
        s1 = c.stats()
    return {
        **m,
        "dropped_to_audio": s1["net"]["dropped_to_audio"] - s0["net"]["dropped_to_audio"],
        "invalid": s1["net"]["invalid"] - s0["net"]["invalid"],
        "coalesced": s1["net"]["coalesced"] - s0["net"]["coalesced"],
        "underruns": s1["audio"]["underruns"] - s0["audio"]["underruns"],
        "callback_max_ms": s1["audio"]["callback_interval_max_ms"],
    }


def run_peer(target, kind: str, seconds: float, senders: int) -> dict:
    """One single-message case against the bare loop (`bare_loop`) or the C sink (`sink`)."""
    q: mp.Queue = mp.Queue()
    stop = mp.Event()
    count = mp.Value("q", 0, lock=False)
    args = (q, count, stop) if target is bare_loop else (q, stop)
    p = mp.Process(target=target, args=args, daemon=True)
    p.start()
    endpoint = q.get(timeout=30)
    time.sleep(0.3)
    try:
        return measure(endpoint, kind, 1, seconds, senders, lambda: count.value)
    finally:
        stop.set()
        p.join(timeout=2) if target is bare_loop else None
        if p.is_alive():
            p.terminate()
            p.join()


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _sum(runs: list[dict], key: str) -> int:
    return sum(r[key] for r in runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--runs", type=int, default=3, help="runs per case (the daemon restarts per run)")
    ap.add_argument("--senders", type=int, default=1)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--no-bare", action="store_true", help="skip the bare-loop and sender-alone peers")
    args = ap.parse_args()
    cases = [("object", 1), ("set_param", 1), ("object", args.batch), ("set_param", args.batch)]
    results: dict[tuple[str, int], list[dict]] = {c: [] for c in cases}
    bare: dict[str, list[dict]] = {"object": [], "set_param": []}
    alone: list[dict] = []
    loads = [os.getloadavg()[0]]
    for _ in range(args.runs):
        proc, info = start_daemon()
        try:
            time.sleep(1.0)
            if not args.no_bare:
                alone.append(run_peer(sink, "object", args.seconds, args.senders))
            for kind, batch in cases:
                # The bare loop runs right before the daemon case it calibrates (the daemon idles
                # meanwhile, audio running), so both see the same machine load.
                if batch == 1 and not args.no_bare:
                    bare[kind].append(run_peer(bare_loop, kind, args.seconds, args.senders))
                results[(kind, batch)].append(run_daemon_case(info, kind, batch, args.seconds, args.senders))
        finally:
            stop_daemon(proc)
        loads.append(os.getloadavg()[0])
    print(f"daemon ingest with audio running (NULL device), {args.senders} sender process(es), "
          f"{os.cpu_count()} cores, {args.runs} run(s) of {args.seconds:g} s per case, median [min..max]; "
          f"load average {' -> '.join(f'{x:.2f}' for x in loads)}")  # fmt: skip
    if alone:
        rates = [r["sent_per_s"] for r in alone]
        print(f"  sender alone (into a C-only sink): {statistics.median(rates):8.0f} msgs/s "
              f"[{min(rates):.0f}..{max(rates):.0f}]")  # fmt: skip
    for (kind, batch), runs in results.items():
        rates = [r["messages_per_s"] for r in runs]
        med = statistics.median(rates)
        per = max(1, batch)
        dropped = _sum(runs, "dropped_to_audio")
        line = (f"  {kind + f' x{per} per message':28s} {med:8.0f} msgs/s = {med * per:8.0f} updates/s "
                f"[{min(rates) * per:.0f}..{max(rates) * per:.0f}]; dropped {dropped}, "
                f"invalid {_sum(runs, 'invalid')}, underruns {_sum(runs, 'underruns')} "
                f"(callback max {max(r['callback_max_ms'] for r in runs):.1f} ms)")  # fmt: skip
        if batch == 1 and bare[kind]:
            b = median_of(bare[kind], "messages_per_s")
            ratios = [
                r["messages_per_s"] / p["messages_per_s"] for r, p in zip(runs, bare[kind], strict=True)
            ]
            line += (f"; bare ROUTER loop {b:.0f} msgs/s; daemon/bare per run: "
                     + " ".join(f"{x:.2f}" for x in ratios)
                     + f" (median {statistics.median(ratios):.2f})")  # fmt: skip
        print(line)
        print("      runs: " + " ".join(f"{x * per:.0f}" for x in rates) + " updates/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
