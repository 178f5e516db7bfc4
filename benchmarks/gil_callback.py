"""How much do other Python threads delay the device callback and the render thread?

Runs ``DeviceSink`` on miniaudio's NULL backend (real device thread, real-time pacing, no sound
card) for ``--seconds`` per configuration, rendering an engine-like ``Renderable`` (``--kernels``
numba ``nogil`` kernel calls per block, 64 sine voices in total), next to one of these loads:

* ``idle``: nothing else runs;
* ``py``: one busy pure-Python thread in the same process (dict/list churn, like msgpack decoding
  and validation of many small messages in a daemon);
* ``numpy``: one thread doing numpy work on 50k-element arrays (sort, FFT, arithmetic);
* ``py-proc``: the same pure-Python loop in a separate process (the "network in another process"
  option);
* ``py-ipc``: a separate process decodes real msgpack messages as fast as it can, coalesces them per
  parameter and every 5 ms sends one batch over ZeroMQ (ipc://) to a thread in the audio process,
  which decodes the batch and applies it (appends to a deque, as the engine API does). This is the
  split design with its audio-side cost included.

Each with the default switch interval (5 ms) and 0.5 ms, and periods of 128/256/512 frames.

Columns: callback interval p50/p99/max (the NULL backend itself sleeps in 10 ms steps, so its
intervals are quantised; compare rows, not absolutes); ``late`` p99/max = how far callbacks fall
behind an ideal real-time schedule; ``gil`` p99/max = oversleep of a probe thread that sleeps 1 ms
and then needs the GIL (what a real device's callback thread waits for, independent of NULL's
pacing); underruns; render p99 (ms per 256-frame block, including GIL waits between kernels);
``load/s`` = iterations of the load per second (cost of a short switch interval to the load);
``sysld`` = the machine's 1-minute load average (other processes compete for the cores too).

Usage: python benchmarks/gil_callback.py [--seconds 10] [--loads idle,py] [--periods 256]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import sys
import threading
import time

import numba
import numpy as np

from middleware.config import EngineConfig
from middleware.sinks.device import DeviceSink

DEFAULT_SWITCH = 0.005


@numba.njit(nogil=True, cache=True)
def _sines_nogil(out, phases, incs, gain):  # pragma: no cover - compiled
    for v in range(phases.shape[0]):
        p = phases[v]
        for i in range(out.shape[0]):
            s = gain * np.sin(p)
            out[i, 0] += s
            out[i, 1] += s
            p += incs[v]
        phases[v] = p % (2.0 * np.pi)


@numba.njit(nogil=False, cache=True)
def _sines_gil(out, phases, incs, gain):  # pragma: no cover - compiled
    for v in range(phases.shape[0]):
        p = phases[v]
        for i in range(out.shape[0]):
            s = gain * np.sin(p)
            out[i, 0] += s
            out[i, 1] += s
            p += incs[v]
        phases[v] = p % (2.0 * np.pi)


class EngineLike:
    """64 sine voices rendered by ``kernels`` separate numba calls per block, then a numpy tail."""

    def __init__(self, kernels: int = 8, voices: int = 64, hold_gil: bool = False) -> None:
        self.config = EngineConfig()
        self.kernels = kernels
        self.kernel = _sines_gil if hold_gil else _sines_nogil
        freqs = np.linspace(110.0, 1760.0, voices)
        self.incs = 2 * np.pi * freqs / self.config.sample_rate
        self.phases = np.zeros(voices)
        self.groups = np.array_split(np.arange(voices), kernels)

    def render(self, frames: int) -> np.ndarray:
        out = np.zeros((frames, 2), dtype=np.float32)
        for idx in self.groups:
            ph = self.phases[idx]
            self.kernel(out, ph, self.incs[idx], np.float32(0.01))
            self.phases[idx] = ph
        np.clip(out, -1.0, 1.0, out=out)
        return out


def py_work(stop: threading.Event | mp.synchronize.Event, counter: list[int]) -> None:
    """Pure-Python churn shaped like decoding and validating small messages."""
    n = 0
    while not stop.is_set():
        for i in range(1000):
            msg = {"type": "param.set", "name": "rain", "value": i * 0.001, "t": i}
            if msg["type"].startswith("param.") and 0.0 <= msg["value"] <= 10.0:
                n += 1
        counter[0] = n


def numpy_work(stop: threading.Event, counter: list[int]) -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal(50_000)
    n = 0
    while not stop.is_set():
        b = np.sort(a)
        c = np.fft.rfft(b)
        a = a * 0.999 + np.abs(c[: a.size // 2 + 1]).mean() * 1e-9
        n += 1
        counter[0] = n


def _proc_main(stop: mp.synchronize.Event, value: mp.sharedctypes.Synchronized) -> None:
    counter = [0]
    t = threading.Thread(target=py_work, args=(stop, counter), daemon=True)
    t.start()
    while not stop.is_set():
        time.sleep(0.05)
        value.value = counter[0]
    t.join()
    value.value = counter[0]


def _ipc_main(stop: mp.synchronize.Event, value: mp.sharedctypes.Synchronized, endpoint: str) -> None:
    import msgpack
    import zmq

    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.connect(endpoint)
    raw = [
        msgpack.packb({"type": "param.set", "name": f"p{i % 32}", "value": i * 0.001, "t": i})
        for i in range(1000)
    ]
    n = 0
    pending: dict = {}
    last = time.perf_counter()
    while not stop.is_set():
        for data in raw:
            msg = msgpack.unpackb(data)
            if msg["type"].startswith("param.") and 0.0 <= msg["value"] <= 10.0:
                pending[msg["name"]] = msg["value"]
                n += 1
        now = time.perf_counter()
        if now - last >= 0.005:
            push.send(msgpack.packb(pending))
            pending = {}
            last = now
        value.value = n
    push.close(linger=0)
    ctx.term()


def ipc_receiver(stop: threading.Event, counter: list[int], endpoint: str) -> None:
    """Audio-process side of ``py-ipc``: one small batch per 5 ms, applied to a command deque."""
    import collections

    import msgpack
    import zmq

    ctx = zmq.Context.instance()
    pull = ctx.socket(zmq.PULL)
    pull.bind(endpoint)
    commands: collections.deque = collections.deque(maxlen=10_000)
    while not stop.is_set():
        if pull.poll(50):
            batch = msgpack.unpackb(pull.recv())
            for name, value in batch.items():
                commands.append(("set", name, value))
            counter[1] += 1
    pull.close(linger=0)


def gil_probe(stop: threading.Event, lateness: list[float]) -> None:
    """Sleep 1 ms, then measure how much later than asked this thread got the GIL back."""
    while not stop.is_set():
        t0 = time.perf_counter()
        time.sleep(0.001)
        lateness.append(time.perf_counter() - t0 - 0.001)


def run_one(
    load: str, switch: float, period: int, seconds: float, kernels: int, hold_gil: bool, lookahead: int
) -> dict:
    sys.setswitchinterval(switch)
    stop_threads = threading.Event()
    counter = [0, 0]
    threads: list[threading.Thread] = []
    proc = None
    if load == "py":
        threads.append(threading.Thread(target=py_work, args=(stop_threads, counter), daemon=True))
    elif load == "numpy":
        threads.append(threading.Thread(target=numpy_work, args=(stop_threads, counter), daemon=True))
    elif load == "py-proc":
        ctx = mp.get_context("spawn")
        pstop = ctx.Event()
        pval = ctx.Value("q", 0)
        proc = ctx.Process(target=_proc_main, args=(pstop, pval), daemon=True)
        proc.start()
        time.sleep(0.5)  # let the child start its loop
    elif load == "py-ipc":
        endpoint = f"ipc:///tmp/gil_callback_{os.getpid()}.ipc"
        threads.append(
            threading.Thread(target=ipc_receiver, args=(stop_threads, counter, endpoint), daemon=True)
        )
        threads[-1].start()
        ctx = mp.get_context("spawn")
        pstop = ctx.Event()
        pval = ctx.Value("q", 0)
        proc = ctx.Process(target=_ipc_main, args=(pstop, pval, endpoint), daemon=True)
        proc.start()
        time.sleep(0.5)
    probe: list[float] = []
    threads.append(threading.Thread(target=gil_probe, args=(stop_threads, probe), daemon=True))
    for t in threads:
        if not t.is_alive():
            t.start()
    sink = DeviceSink(
        EngineLike(kernels, hold_gil=hold_gil),
        backend="null",
        period_frames=period,
        lookahead_blocks=lookahead,
        switch_interval=None,
        null_min_lookahead_s=0.0,  # measure the lookahead asked for, not the NULL safety margin
    )
    t0 = time.perf_counter()
    c0 = counter[0] if proc is None else pval.value
    with sink:
        time.sleep(seconds)
        stats = sink.stats()
        stamps = sink.callback_timestamps()
    elapsed = time.perf_counter() - t0
    c1 = counter[0] if proc is None else pval.value
    stop_threads.set()
    for t in threads:
        t.join()
    if proc is not None:
        pstop.set()
        proc.join()
    sys.setswitchinterval(DEFAULT_SWITCH)
    ideal = stamps[0] + np.arange(stamps.size) * (period / sink.sample_rate * 1e9)
    late = (stamps - ideal) / 1e6
    late -= late.min()
    gil = np.array(probe) * 1e3
    return {
        "load": load,
        "switch_ms": switch * 1e3,
        "period": period,
        "p50": stats["callback_interval_p50_ms"],
        "p99": stats["callback_interval_p99_ms"],
        "max": stats["callback_interval_max_ms"],
        "late99": float(np.percentile(late, 99)),
        "latemax": float(late.max()),
        "gil99": float(np.percentile(gil, 99)) if gil.size else 0.0,
        "gilmax": float(gil.max()) if gil.size else 0.0,
        "underruns": stats["underruns"],
        "callbacks": stats["callbacks"],
        "render99": stats["render_ms_p99"],
        "load_rate": (c1 - c0) / elapsed,
        "sysload": os.getloadavg()[0],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--loads", default="idle,py,numpy,py-proc")
    ap.add_argument("--switch", default="5,0.5", help="switch intervals in ms")
    ap.add_argument("--periods", default="128,256,512")
    ap.add_argument("--kernels", type=int, default=8, help="numba calls per rendered block")
    ap.add_argument("--hold-gil", action="store_true", help="render kernels keep the GIL (nogil=False)")
    ap.add_argument("--lookahead", type=int, default=2, help="lookahead_blocks of the sink")
    args = ap.parse_args()
    EngineLike(args.kernels).render(256)  # compile before timing
    EngineLike(args.kernels, hold_gil=True).render(256)
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, numba {numba.__version__}, NULL backend, 48 kHz, block 256, "
        f"lookahead {args.lookahead} blocks, {args.kernels} "
        f"{'GIL-holding' if args.hold_gil else 'nogil'} kernel calls/block, "
        f"{args.seconds:g} s per row"
    )
    head = (
        f"{'load':8} {'switch':>6} {'period':>6} | {'int p50':>7} {'p99':>6} {'max':>6} | {'late99':>6} "
        f"{'max':>6} | {'gil99':>6} {'max':>6} | {'underruns':>13} | {'rend99':>6} | {'load/s':>9} "
        f"| {'sysld':>5}"
    )
    print(head)
    print("-" * len(head))
    for load in args.loads.split(","):
        for sw in (float(s) / 1e3 for s in args.switch.split(",")):
            for period in (int(p) for p in args.periods.split(",")):
                r = run_one(load, sw, period, args.seconds, args.kernels, args.hold_gil, args.lookahead)
                print(
                    f"{r['load']:8} {r['switch_ms']:5.1f}ms {r['period']:6d} | "
                    f"{r['p50']:7.2f} {r['p99']:6.2f} "
                    f"{r['max']:6.2f} | {r['late99']:6.2f} {r['latemax']:6.2f} | {r['gil99']:6.2f} "
                    f"{r['gilmax']:6.2f} | {r['underruns']:5d}/{r['callbacks']:<7d} | {r['render99']:6.2f} | "
                    f"{r['load_rate']:9.0f} | {r['sysload']:5.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
