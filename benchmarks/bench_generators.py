"""Real-time factor of every generator on one core, printed as a table.

    python benchmarks/bench_generators.py [--seconds 4] [--repeat 3] [--blocks 256,1024] [--wall]

RTF = seconds of audio rendered per second of CPU time of the rendering thread (target >= 50x);
CPU time rather than wall time so other processes on a shared machine do not count against it
(``--wall`` prints wall-clock figures instead). Each generator is run at its defaults and at a
"busy" setting (dense events), after a warm-up that compiles the numba kernels. Rendering is
single-threaded, so the figure is for one core. One-shots are re-triggered as soon as they finish,
so the figure is per second of sounding output.
"""

from __future__ import annotations

import argparse
import time

from middleware.generators import GENERATORS, create_generator

BUSY = {
    "rain": {"intensity": 1.0, "drop_size": 3.0, "surface": "water"},
    "wind": {"speed": 1.0, "gustiness": 1.0},
    "fire": {"size": 1.0, "crackle": 1.0},
    "water": {"flow": 1.0},
    "footsteps": {"pace": 4.0, "surface": "snow", "weight": 1.0},
    "birds": {"density": 1.0, "time_of_day": 6.0},
    "insects": {"density": 1.0, "time_of_day": 23.0},
    "engine": {"rpm": 8000.0, "load": 1.0},
    "impact": {"material": "metal", "size": 1.0},
    "footstep": {"surface": "metal", "weight": 1.0},
}


def rtf(
    name: str, params: dict, seconds: float, block: int, wall: bool, repeat: int, sr: int = 48000
) -> float:
    """Best of ``repeat`` runs: seconds of audio per second of (thread CPU or wall) time, rendering
    ``seconds`` of output in ``block``-frame calls. The best run is the one least disturbed by
    other processes, as in ``timeit``."""
    g = create_generator(name, sample_rate=sr, seed=1, params=params)
    g.render(block)  # warm-up: JIT caches, first allocations
    calls = int(seconds * sr) // block
    clock = time.perf_counter if wall else time.thread_time
    best = 0.0
    for _ in range(repeat):
        t0 = clock()
        for _ in range(calls):
            if g.oneshot and g.finished:
                g.trigger()
            g.render(block)
        best = max(best, calls * block / sr / (clock() - t0))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0, help="audio seconds per run (default 4)")
    ap.add_argument("--blocks", default="256,1024", help="comma-separated block sizes")
    ap.add_argument("--wall", action="store_true", help="use wall-clock time instead of thread CPU time")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure; the best is reported (default 3)")
    args = ap.parse_args()
    blocks = [int(b) for b in args.blocks.split(",")]
    cols = [f"{kind}@{b}" for kind in ("default", "busy") for b in blocks]
    unit = "wall" if args.wall else "thread CPU"
    print(f"{'generator':<11}" + "".join(f"{c:>14}" for c in cols) + f"   (real-time factor, x, {unit})")
    worst = float("inf")
    for name in GENERATORS:
        row = []
        for kind in ("default", "busy"):
            for b in blocks:
                v = rtf(
                    name, {} if kind == "default" else BUSY[name], args.seconds, b, args.wall, args.repeat
                )
                worst = min(worst, v)
                row.append(v)
        print(f"{name:<11}" + "".join(f"{v:>14.1f}" for v in row))
    print(f"worst case: {worst:.1f}x real time (target >= 50x)")


if __name__ == "__main__":
    main()
