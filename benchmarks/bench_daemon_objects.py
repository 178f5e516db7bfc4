"""N moving instances through the daemon: each follows its own game object, all moved at 60 Hz.

Issue 15's daemon case. A scene of one looping, distance-attenuated event (`mover`) and one short
click (`ping`) is written to a temporary folder (synthesised assets, nothing fetched); the daemon
serves it in callback mode (lookahead 0) on the NULL device, or on JACK (`--backend jack`, e.g.
jackd's dummy driver). The script triggers N `mover` instances, each following object `m<i>`, then
another process moves every object at 60 Hz in `batch` messages (at most 1,024 items each, the
protocol's limit) for `--seconds`, while this process triggers `ping` every ~50 ms and takes its
event-to-sound latency from the `instance_out` topic (as bench_latency.py does).

    python benchmarks/bench_daemon_objects.py [--instances 1000] [--seconds 60] [--backend null|jack]

Prints instances accepted, object updates received per second, underruns, late callbacks (share of
callbacks), audio CPU (the sink's render time over the block's duration), render time per block,
event-to-sound median / p99 and the machine's load average. Issue 15's targets: 0 underruns, late
callbacks under 0.5 %, audio CPU under 40 %, p99 under 15 ms, for N = 1,000 and N = 4,000.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgpack
import numpy as np
import zmq

SR = 48000
BATCH_ITEMS = 1024  # the protocol's most items per batch (docs/protocol.md, `batch`)

SCENE = """\
name: bench_objects
buses:
  world: {gain_db: -12}
listener: {position: [0, 0, 0]}
events:
  mover:
    description: "a looping hum that follows its object"
    bus: world
    attenuation: {min: 2, max: 60}
    max_instances: MAX_INSTANCES  # the runtime's cap, filled in from middleware.config
    layers:
      - id: hum
        source: hum.wav
        mode: loop
        gain: -20
  ping:
    description: "a click, for the latency figure"
    bus: world
    position: null
    layers:
      - id: click
        source: click.wav
        mode: oneshot
"""


def write_scene(folder: Path) -> Path:
    from middleware.tools.example_assets import write_wav  # 48 kHz PCM16, the project's one writer

    t = np.arange(SR) / SR  # one second, whole periods at 110 and 220 Hz, so the loop is seamless
    write_wav(folder / "hum.wav", 0.3 * np.sin(2 * np.pi * 110 * t) + 0.1 * np.sin(2 * np.pi * 220 * t))
    click = np.zeros(SR // 50)
    click[:48] = np.hanning(48)
    write_wav(folder / "click.wav", 0.8 * click)
    scene = folder / "bench_objects.yaml"
    from middleware.config import MAX_INSTANCES

    scene.write_text(SCENE.replace("MAX_INSTANCES", str(MAX_INSTANCES)))
    return scene


def start_daemon(scene: Path, backend: str, lookahead: int) -> tuple[subprocess.Popen, dict]:
    cmd = [sys.executable, "-m", "middleware.cli", "serve", str(scene), "--backend", backend,
           "--lookahead", str(lookahead), "--bind", "tcp://127.0.0.1:0", "--pub", "tcp://127.0.0.1:0",
           "--json"]  # fmt: skip
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


def mover(
    endpoint: str, names: list[str], rate: float, seconds: float, stop: mp.Event, sent: mp.Value
) -> None:
    """Move every object on a circle at ``rate`` Hz, in batches of at most BATCH_ITEMS object items."""
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.SNDHWM, 100_000)
    s.connect(endpoint)
    pack = msgpack.Packer().pack
    n = len(names)
    radius = 3.0 + 40.0 * (np.arange(n) % 97) / 97.0
    phase0 = np.arange(n) * 2.399963  # golden angle: spread around the listener
    t0 = time.perf_counter()
    frame = 0
    while not stop.is_set() and time.perf_counter() - t0 < seconds:
        ang = phase0 + 0.5 * frame / rate
        xs, zs = radius * np.cos(ang), radius * np.sin(ang)
        for lo in range(0, n, BATCH_ITEMS):
            items = [
                {"type": "object", "name": names[i], "position": [float(xs[i]), 0.0, float(zs[i])]}
                for i in range(lo, min(n, lo + BATCH_ITEMS))
            ]
            s.send(pack({"v": 1, "type": "batch", "items": items}))
        sent.value += n
        frame += 1
        wait = t0 + frame / rate - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
    s.close(linger=0)
    ctx.term()


def trigger_movers(client, n: int) -> tuple[list[str], int]:
    """Trigger ``n`` movers in batches; returns the objects of accepted ones and the refusals."""
    names, refused = [], 0
    per = BATCH_ITEMS // 2  # two items per mover: its object, its trigger
    for lo in range(0, n, per):
        b = client.batch()
        chunk = [f"m{i}" for i in range(lo, min(n, lo + per))]
        for name in chunk:
            b.object(name, [0.0, 0.0, -5.0])
            b.trigger("mover", object=name)
        try:
            b.send()
            names += chunk
        except Exception as exc:  # the whole batch is refused (atomic) when it passes a cap
            refused += len(chunk)
            print(f"  refused a batch of {len(chunk)}: {exc}")
    return names, refused


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instances", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--rate", type=float, default=60.0, help="object updates per object per second")
    ap.add_argument("--backend", default="null")
    ap.add_argument("--lookahead", type=int, default=0, help="0: callback mode")
    ap.add_argument("--ping-interval", type=float, default=0.05)
    args = ap.parse_args()
    from middleware.client import Client, Subscriber

    with tempfile.TemporaryDirectory() as tmp:
        scene = write_scene(Path(tmp))
        proc, info = start_daemon(scene, args.backend, args.lookahead)
        ctx = zmq.Context()
        try:
            client = Client(info["bind"], name="bench-objects", context=ctx, timeout=10.0)
            sub = Subscriber(info["pub"], ["instance_out"], context=ctx)
            client.hello()
            names, refused = trigger_movers(client, args.instances)
            client.sync()
            time.sleep(1.0)
            stop, sent = mp.Event(), mp.Value("q", 0)
            loader = mp.Process(
                target=mover, args=(info["bind"], names, args.rate, args.seconds + 5, stop, sent)
            )
            loader.start()
            time.sleep(2.0)  # steady state
            before = client.stats()
            load0 = os.getloadavg()[0]
            procs = {"network": proc.pid, "audio": _child(proc.pid), "mover": loader.pid}
            cpu0 = {k: _cpu_seconds(pid) for k, pid in procs.items()}
            sent0, t_start = sent.value, time.perf_counter()
            pings: dict[int, int] = {}
            outs: dict[int, dict] = {}
            while time.perf_counter() - t_start < args.seconds:
                t_send = time.perf_counter_ns()
                pings[client.trigger("ping")] = t_send
                deadline = time.perf_counter() + args.ping_interval
                while (left := deadline - time.perf_counter()) > 0:
                    got = sub.recv(left)
                    if got is not None:
                        outs[got[1]["instance"]] = got[1]
            elapsed = time.perf_counter() - t_start
            moved = sent.value - sent0
            after = client.stats()
            cpu = {k: (_cpu_seconds(pid) - cpu0[k]) / elapsed for k, pid in procs.items()}
            while len(outs) < len(pings) and (got := sub.recv(1.0)) is not None:
                outs[got[1]["instance"]] = got[1]
            stop.set()
            loader.join()
            report(args, info, names, refused, before, after, pings, outs, elapsed, moved, load0)
            print(
                "process CPU (share of one core): "
                + ", ".join(f"{k} {100 * v:.0f} %" for k, v in cpu.items())
            )
            client.close()
            sub.close()
        finally:
            stop_daemon(proc)
            ctx.destroy(linger=0)
    return 0


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process so far (Linux /proc), NaN when unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def _child(pid: int) -> int | None:
    """The daemon's audio process: its network process's child."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as fh:
            kids = [int(k) for k in fh.read().split()]
    except OSError:
        return None
    for kid in kids:  # multiprocessing's spawn: skip its resource tracker
        try:
            cmd = Path(f"/proc/{kid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmd and b"resource_tracker" not in cmd:
            return kid
    return None


def report(args, info, names, refused, before, after, pings, outs, elapsed, moved, load0) -> None:
    a0, a1, n0, n1 = before["audio"], after["audio"], before["net"], after["net"]
    callbacks = max(1, a1.get("callbacks", 0) - a0.get("callbacks", 0))
    late = a1["late_callbacks"] - a0["late_callbacks"]
    print(f"daemon: {a1['render_mode']} mode, {a1['backend']}, block 256, period {a1['period_frames']}")
    print(f"instances: {len(names)} accepted of {args.instances} ({refused} refused); "
          f"voices real {a1.get('voices_real')}, virtual {a1.get('voices_virtual')}")  # fmt: skip
    rate = (n1["received"] - n0["received"]) / elapsed
    to_audio = (n1["commands_to_audio"] - n0["commands_to_audio"]) / elapsed
    frames = (n1.get("object_frames", 0) - n0.get("object_frames", 0)) / elapsed
    print(f"object updates: {moved / elapsed:.0f}/s sent ({args.rate:.0f} Hz x {len(names)}), "
          f"{rate:.0f} msgs/s received, {to_audio:.0f} commands/s to audio in {frames:.0f} object "
          f"frames/s; coalesced {n1.get('coalesced', 0) - n0.get('coalesced', 0)}, "
          f"dropped to audio {n1.get('dropped_to_audio', 0) - n0.get('dropped_to_audio', 0)}")  # fmt: skip
    print(f"underruns: {a1['underruns'] - a0['underruns']}, late callbacks: {late} of {callbacks} "
          f"({100.0 * late / callbacks:.2f} %), deferred drains: "
          f"{a1.get('deferred_drains', 0) - a0.get('deferred_drains', 0)}")  # fmt: skip
    print(f"audio CPU: {100.0 * a1.get('cpu_load', float('nan')):.1f} %; render per block p50 "
          f"{a1['render_ms_p50']:.2f} ms, p99 {a1['render_ms_p99']:.2f} ms, max {a1['render_ms_max']:.2f} ms "
          f"(block {256 / SR * 1e3:.2f} ms)")  # fmt: skip
    heard = [i for i in pings if i in outs]
    if heard:
        lat = np.array([(outs[i]["t_ns"] - pings[i]) / 1e6 for i in heard])
        p50, p99 = np.percentile(lat, [50, 99])
        print(f"event-to-sound ({len(heard)} of {len(pings)} pings heard): median {p50:.2f} ms, "
              f"p99 {p99:.2f} ms, max {lat.max():.2f} ms")  # fmt: skip
        # where the time goes: send -> applied on the render path (network process, the hop to the
        # audio process, its receiver and the wait for the next block), then applied -> out of the callback
        to_apply = np.array([(outs[i]["applied_ns"] - pings[i]) / 1e6 for i in heard])
        to_out = lat - to_apply
        for name, x in (("send -> applied", to_apply), ("applied -> out", to_out)):
            q50, q99 = np.percentile(x, [50, 99])
            print(f"  {name}: median {q50:.2f} ms, p99 {q99:.2f} ms, max {x.max():.2f} ms")
    else:
        print(f"event-to-sound: none of {len(pings)} pings heard")
    print(f"machine load average (1 min) at start/end: {load0:.2f} / {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} cores; {math.ceil(elapsed)} s measured")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
