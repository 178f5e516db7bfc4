"""The network process's cost per object item of an untimed ``batch`` (issue 15), offline.

A real :class:`~middleware.transport.server.Server` on inproc sockets takes batches of 1,024 bare
``object`` items, as a game moving its objects sends them (``{type, name, position}``), through its
own hot path (``_drain_router``: receive, unpack, validate, check the object cap, coalesce, flush one
array frame to the audio link); a PULL socket stands in for the audio process and only counts
bytes. Prints microseconds per item for the whole path and, separately, for its stages (msgpack
unpack, ``P.fast_batch``, the server's batch step, the flush), so a change can be judged here
before the daemon benchmark (bench_daemon_objects.py). ``--forward`` adds forward and velocity.

    python benchmarks/bench_object_batch.py [--items 1024] [--objects 4000] [--seconds 3] [--forward]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import msgpack
import numpy as np
import zmq

from middleware.transport import protocol as P
from middleware.transport.object_frames import object_batch
from middleware.transport.server import Server


def batches(n_objects: int, items: int, forward: bool, frames: int = 4) -> list[bytes]:
    """Packed batches moving ``n_objects`` objects ``frames`` times (positions differ per frame)."""
    rng = np.random.default_rng(1)
    out = []
    for _ in range(frames):
        pos = rng.uniform(-50, 50, (n_objects, 3)).tolist()
        for lo in range(0, n_objects, items):
            its = []
            for i in range(lo, min(n_objects, lo + items)):
                it = {"type": "object", "name": f"m{i}", "position": pos[i]}
                if forward:
                    it["forward"] = [0.0, 0.0, -1.0]
                    it["velocity"] = [1.0, 0.0, 0.5]
                its.append(it)
            out.append(msgpack.packb({"v": 1, "type": "batch", "items": its}))
    return out


def make_server(ctx: zmq.Context, tag: str) -> tuple[Server, zmq.Socket, zmq.Socket]:
    audio = ctx.socket(zmq.PULL)
    audio.bind(f"inproc://{tag}-out")
    srv = Server(ctx, bind=f"inproc://{tag}-cmd", pub=f"inproc://{tag}-pub", link_out=f"inproc://{tag}-out",
                 link_in=f"inproc://{tag}-in", scene_root=None)  # fmt: skip
    game = ctx.socket(zmq.DEALER)
    game.setsockopt(zmq.SNDHWM, 0)
    game.connect(f"inproc://{tag}-cmd")
    return srv, game, audio


def whole_path(payloads: list[bytes], items_per_round: int, seconds: float) -> float:
    """Microseconds per item through Server._drain_router and the flush, payloads sent over inproc."""
    ctx = zmq.Context()
    srv, game, audio = make_server(ctx, f"b{os.getpid()}")
    spent = 0.0
    done = 0
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        for p in payloads:
            game.send(p)
        time.sleep(0.001)  # let them arrive
        t0 = time.perf_counter()
        while srv.counters["received"] < (done // items_per_round + 1) * len(payloads):
            srv._drain_router()
        srv._flush()
        spent += time.perf_counter() - t0
        done += items_per_round
        while audio.poll(0):
            audio.recv()
    assert srv.counters["invalid"] == 0, srv.counters
    for s in (game, audio):
        s.close(0)
    srv.router.close(0)
    srv.pubsock.close(0)
    srv.to_audio.close(0)
    srv.from_audio.close(0)
    ctx.term()
    return spent / done * 1e6


def stages(payloads: list[bytes], items_per_round: int, repeat: int) -> dict[str, float]:
    """Microseconds per item of each stage, called directly (no sockets); the best round of ``repeat``
    (the machine is shared: the best round is the one least disturbed)."""
    ctx = zmq.Context()
    srv, game, audio = make_server(ctx, f"s{os.getpid()}")
    keys = ("unpack", "per-item check (P.fast_batch, before)", "array check (object_batch)",
            "server batch step (incl. check)", "flush (frame + pack)")  # fmt: skip
    best = dict.fromkeys(keys, float("inf"))
    for _ in range(repeat):
        t = dict.fromkeys(keys, 0.0)
        for p in payloads:
            t0 = time.perf_counter()
            raw = P.unpack(p)
            t1 = time.perf_counter()
            P.fast_batch(raw)
            t2 = time.perf_counter()
            object_batch(raw)
            t3 = time.perf_counter()
            assert srv._fast_batch(b"game", raw)
            t4 = time.perf_counter()
            for k, dt in zip(keys, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=False):
                t[k] += dt
        t0 = time.perf_counter()
        srv._flush()
        t[keys[-1]] += time.perf_counter() - t0
        while audio.poll(0):
            audio.recv()
        best = {k: min(best[k], t[k]) for k in keys}
    for s in (game, audio):
        s.close(0)
    srv.router.close(0)
    srv.pubsock.close(0)
    srv.to_audio.close(0)
    srv.from_audio.close(0)
    ctx.term()
    return {k: v / items_per_round * 1e6 for k, v in best.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=1024, help="items per batch (at most 1024)")
    ap.add_argument("--objects", type=int, default=4000, help="objects moved per round")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--forward", action="store_true", help="items also carry forward and velocity")
    ap.add_argument("--profile", action="store_true", help="cProfile the whole path instead")
    args = ap.parse_args()
    frames = 4
    payloads = batches(args.objects, args.items, args.forward, frames)
    per_round = args.objects * frames
    if args.profile:
        import cProfile
        import pstats

        cProfile.runctx("whole_path(payloads, per_round, args.seconds)", globals(), locals(), "/tmp/ob.prof")
        pstats.Stats("/tmp/ob.prof").sort_stats("tottime").print_stats(15)
        return 0
    whole = whole_path(payloads, per_round, args.seconds)
    parts = stages(payloads, per_round, max(3, int(args.seconds * 3)))
    print(f"{args.objects} objects in batches of {args.items} items"
          f"{' with forward and velocity' if args.forward else ''}; load {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} cores")  # fmt: skip
    print(f"network process, whole path (receive .. frame sent): {whole:.2f} us/item "
          f"= {1e6 / whole:,.0f} items/s on one core")  # fmt: skip
    for k, v in parts.items():
        print(f"  {k:>38}: {v:.2f} us/item")
    return 0


if __name__ == "__main__":
    sys.exit(main())
