"""What an open studio costs the daemon: bench_latency's measurement with and without the studio.

Issue 16's cost check. The daemon serves the browser tests' scene (a hum bed, a brook, a `ping`
event; synthesised assets in a temporary folder) on the NULL device in callback mode. Each round
runs bench_latency.py's measurement twice, alternating: once with the daemon alone, once with
``--studio`` and one headless chromium page (Debian's, through Playwright's ``executable_path``) on
the 3D tab, the page's worst case while 100 objects move (the map redraws every frame). It prints,
per run, the event-to-sound p99 and underruns (bench_latency's figures), the CPU of each process as
a share of one core over the measurement (network, audio, studio, chromium), the audio process's own
render time per block, the live feed's frames per second drawn by the page (at most 25) and the
machine's load.

    python benchmarks/bench_studio.py [--rounds 2] [--triggers 400]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_latency import measure, stop_daemon  # noqa: E402  (a sibling script, not a package)

from middleware.tools.example_assets import SR, write_wav  # noqa: E402  (48 kHz PCM16, atomic)

CHROMIUM = os.environ.get("SOUNDSCAPE_CHROMIUM", "/usr/bin/chromium")
TICK = os.sysconf("SC_CLK_TCK")
FRAMES = "() => window.studio.S.frames"  # live-feed frames the page has drawn (as tests/test_studio.py reads)

SCENE = """name: studio_bench
parameters:
  intensity: {range: [0, 1], default: 0.5}
buses:
  sfx: {}
emitters:
  bed:
    bus: sfx
    layers:
      - {id: hum, source: sounds/hum.wav, gain: {param: intensity, curve: [[0, -40], [1, -12]]}}
  brook:
    bus: sfx
    position: [6, 0, -4]
    attenuation: {min: 2, max: 20}
    layers: [{id: water, source: sounds/hum.wav}]
events:
  ping:
    bus: sfx
    layers: [{id: beep, source: sounds/beep.wav, mode: oneshot}]
"""


def _tone(path: Path, seconds: float, hz: float) -> None:
    t = np.arange(int(seconds * SR)) / SR
    write_wav(path, 0.3 * np.sin(2 * np.pi * hz * t))


def _procs() -> dict[int, tuple[int, str, int]]:
    """pid -> (parent pid, command line, CPU ticks so far) for every process we may read."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
            cmd = Path(f"/proc/{d}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        out[int(d)] = (int(fields[1]), cmd, int(fields[11]) + int(fields[12]))
    return out


def _roles(daemon: int, procs: dict[int, tuple[int, str, int]]) -> dict[int, str]:
    """The daemon's processes by role (network: the serve process; audio; studio) and chromium's."""
    roles = {daemon: "network"}
    changed = True
    while changed:
        changed = False
        for pid, (ppid, cmd, _) in procs.items():
            if pid not in roles and ppid in roles and roles[ppid] != "chromium":
                role = "studio" if " studio " in cmd else "audio" if "multiprocessing" in cmd else "other"
                roles[pid] = role
                changed = True
    for pid, (_, cmd, _) in procs.items():
        if pid not in roles and "chromium" in cmd.split(" ", 1)[0]:
            roles[pid] = "chromium"
    return roles


def run_once(root: Path, studio: bool, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, "-m", "middleware.cli", "serve", str(root / "scene.yaml"), "--backend", "null",
           "--bind", "tcp://127.0.0.1:0", "--pub", "tcp://127.0.0.1:0", "--json"]  # fmt: skip
    cmd += ["--studio", "--no-browser"] if studio else []
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    info = json.loads(proc.stdout.readline())
    pw = browser = page = None
    frames0 = 0
    try:
        if studio:
            url = json.loads(proc.stdout.readline())["studio"]
            from playwright.sync_api import sync_playwright

            pw = sync_playwright().start()
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 860})
            page.goto(url)
            page.wait_for_selector("#link.ok", timeout=15_000)
            page.click("button.tab[data-view=world]")
            frames0 = page.evaluate(FRAMES)
        before = _procs()
        t0 = time.monotonic()
        text = io.StringIO()
        with contextlib.redirect_stdout(text):
            measure(args, info)
        elapsed = time.monotonic() - t0
        after = _procs()
        fps = (page.evaluate(FRAMES) - frames0) / elapsed if page is not None else None
    finally:
        if browser is not None:
            browser.close()
        if pw is not None:
            pw.stop()
        stop_daemon(proc)
    roles = _roles(proc.pid, after)
    cpu: dict[str, float] = {}
    for pid, role in roles.items():
        if pid in before:
            cpu[role] = cpu.get(role, 0.0) + (after[pid][2] - before[pid][2]) / TICK / elapsed
    out = text.getvalue()
    p99 = float(re.search(r"median [\d.]+ ms, p99 ([\d.]+) ms", out).group(1))
    med = float(re.search(r"median ([\d.]+) ms, p99", out).group(1))
    underruns = int(re.search(r"underruns during the run: (\d+)", out).group(1))
    render = re.search(r"render per block: p50 ([\d.]+) ms", out).group(1)
    return {"p99": p99, "median": med, "underruns": underruns, "cpu": cpu, "render_p50_ms": float(render),
            "fps": fps, "load": os.getloadavg()[0]}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--triggers", type=int, default=400)
    ap.add_argument("--load-rate", type=float, default=10_000.0)
    args = ap.parse_args()
    margs = argparse.Namespace(triggers=args.triggers, interval=0.02, load_rate=args.load_rate, objects=100)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _tone(root / "sounds" / "hum.wav", 1.0, 110.0)
        _tone(root / "sounds" / "beep.wav", 0.05, 880.0)
        (root / "scene.yaml").write_text(SCENE, encoding="utf-8")
        load = os.getloadavg()[0]
        print(f"# {args.triggers} triggers under {args.load_rate:.0f} object updates/s (100 objects), NULL "
              f"device, callback mode; load average {load:.2f} on {os.cpu_count()} cores")  # fmt: skip
        print(
            "| run | event-to-sound median / p99 | underruns | CPU network / audio / studio / chromium "
            "| render p50 per 5.3 ms block | page frames/s | load |"
        )
        print("|---|---|---|---|---|---|---|")
        for _ in range(args.rounds):
            for studio in (False, True):
                r = run_once(root, studio, margs)
                c = r["cpu"]
                roles = ("network", "audio", "studio", "chromium")
                shares = " / ".join(f"{100 * c[k]:.0f} %" if k in c else "-" for k in roles)
                fps = f"{r['fps']:.1f}" if r["fps"] is not None else "-"
                name = "studio + page" if studio else "no studio"
                print(f"| {name} | {r['median']:.1f} / {r['p99']:.1f} ms | {r['underruns']} | {shares} "
                      f"| {r['render_p50_ms']:.2f} ms | {fps} | {r['load']:.2f} |", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
