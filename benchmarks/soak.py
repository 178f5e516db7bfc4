"""Soak: run the daemon for N minutes at twice the latency benchmark's load and watch it.

Load (2x bench_latency.py): 20k `object` updates per second from one process, plus 100 triggers
per second (short and looping sounds, the looping ones stopped again) and a state/param change
every 100 ms from another client. Every `--every` seconds it prints underruns, frames, messages
received/dropped, live instances and the resident memory of both daemon processes; at the end the
totals and the memory growth from the first sample after warm-up to the last.

    python benchmarks/soak.py --minutes 10
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time

from bench_latency import object_load, start_daemon, stop_daemon


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--load-rate", type=float, default=20_000.0, help="object updates per second")
    ap.add_argument("--trigger-rate", type=float, default=100.0, help="triggers per second")
    ap.add_argument("--every", type=float, default=30.0, help="seconds between report lines")
    ap.add_argument("--backend", default="null", help="null, or jack (jackd's dummy driver)")
    ap.add_argument("--lookahead", type=int, default=None, help="blocks ahead (default: the daemon's, 0)")
    args = ap.parse_args()

    from middleware.client import Client

    extra = ["--backend", args.backend]
    extra += [] if args.lookahead is None else ["--lookahead", str(args.lookahead)]
    proc, info = start_daemon(*extra)
    net_pid, audio_pid = proc.pid, info["pid"]
    seconds = args.minutes * 60.0
    stop = mp.Event()
    loader = mp.Process(target=object_load, args=(info["bind"], args.load_rate, seconds + 5, 200, stop))
    loader.start()
    c = Client(info["bind"], name="soak", timeout=10.0)
    c.hello()
    t0 = time.monotonic()
    next_report = t0 + 5.0
    first = None
    hums: list[int] = []
    limit_errors = 0
    i = 0
    period = 1.0 / args.trigger_rate
    print(f"soak: {args.minutes:g} min, {args.load_rate:.0f} object updates/s + {args.trigger_rate:.0f} "
          f"triggers/s; net pid {net_pid}, audio pid {audio_pid}", flush=True)  # fmt: skip
    print(f"{'t (s)':>7} {'frames':>10} {'underruns':>9} {'late':>5} {'received':>10} {'dropped':>8} "
          f"{'live':>5} {'cb max ms':>9} {'net MB':>7} {'audio MB':>8}", flush=True)  # fmt: skip
    try:
        while (now := time.monotonic()) - t0 < seconds:
            i += 1
            try:
                if i % 10 == 0:
                    hums.append(c.trigger("hum", position=(i % 20 - 10.0, 0.0, -3.0)))
                    if len(hums) > 8:
                        c.stop(hums.pop(0), release=i % 20 == 0)
                else:
                    c.trigger("ping", sync=False)
                if i % 10 == 5:
                    c.set_state("weather", ("clear", "rain", "storm")[(i // 10) % 3])
                    c.set_param("intensity", (i % 100) / 100.0)
            except Exception as exc:  # a refused trigger (cap) is counted, not fatal
                limit_errors += 1
                if limit_errors < 5:
                    print(f"  client error: {exc}", flush=True)
            if now >= next_report:
                next_report = now + args.every
                st = c.stats()
                a, n = st["audio"], st["net"]
                row = (now - t0, a.get("frame", 0), a.get("underruns", 0), n["received"],
                       n["dropped_to_audio"], n["instances_live"], a.get("callback_interval_max_ms", 0.0),
                       rss_mb(net_pid), rss_mb(audio_pid))  # fmt: skip
                if first is None and now - t0 > 20:
                    first = row
                late_now = a.get("late_callbacks", 0)
                print(f"{row[0]:7.0f} {row[1]:10d} {row[2]:9d} {late_now:5d} {row[3]:10d} {row[4]:8d} "
                      f"{row[5]:5d} {row[6]:9.1f} {row[7]:7.1f} {row[8]:8.1f}", flush=True)  # fmt: skip
            time.sleep(max(0.0, period - (time.monotonic() - now)))
        st = c.stats()
        late = st["audio"].get("late_callbacks", 0)
        mode = st["audio"].get("render_mode", "?")
        last = (time.monotonic() - t0, st["audio"].get("frame", 0), st["audio"].get("underruns", 0),
                st["net"]["received"], st["net"]["dropped_to_audio"], st["net"]["instances_live"], 0.0,
                rss_mb(net_pid), rss_mb(audio_pid))  # fmt: skip
    finally:
        stop.set()
        loader.join()
        c.close()
        stop_daemon(proc)
    print(f"total: {last[0]:.0f} s, {last[1] / 48000:.0f} s of audio rendered ({args.backend}, {mode} mode), "
          f"underruns {last[2]}, late callbacks {late}, "
          f"messages {last[3]} ({last[3] / last[0]:.0f}/s), dropped to audio {last[4]}, "
          f"client errors {limit_errors}")  # fmt: skip
    if first is not None:
        print(f"memory: network process {first[7]:.1f} -> {last[7]:.1f} MB, audio process {first[8]:.1f} -> "
              f"{last[8]:.1f} MB (from t={first[0]:.0f} s to the end)")  # fmt: skip
    print(f"machine load average (1, 5, 15 min) at the end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
