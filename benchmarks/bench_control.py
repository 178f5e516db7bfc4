"""Control-path benchmark (issue 15): what moving every voice costs, per call and in bulk; pyo as a peer.

For each N (default 64, 256, 1024) this renders S seconds (default 10) of 48 kHz stereo on one pinned
core (``os.sched_setaffinity``; ``time.process_time``) and prints the real-time factor (seconds of
audio per CPU second) of the same patch under four control loads, driven only through the engine's
public API, each one through ``set_voice`` per voice ("call") and through ``set_voices`` ("bulk"):

- nothing changes after the start;
- every voice's gain and pan, 60 times a second;
- every voice's 3D position, 60 times a second (spatial voices: distance attenuation and pan from
  the listener, computed per block in the targets kernel);
- every voice's gain and pan, every block (256 frames: 187.5 times a second).

The patch (bench_engine.py's table): looping linear-interpolated voices at random pitches from random
offsets, a one-pole low-pass each, half of them on a reverb bus, master limiter. The automation is a
formula of time (gains wobble 3 dB, pans sweep, sources circle the listener), evaluated before the
timed loop on both sides (it is the game's work, not the engine's); the timed loop passes each
update's arrays to ``set_voices``, or their elements as Python numbers to ``set_voice`` per voice.

pyo (optional, ``pip install pyo``) renders the same patch in its offline server, in a child process
pinned to the same core, with gain and pan changed every block from the server's per-buffer callback:
pyo's own bulk path (one multichannel ``SigTo`` per group of voices, its whole value list set in one
call, ramping over one block like ours), so the peer is not handicapped by one call per voice.

``--virtual A`` adds a row with A voices alive (3D, moving at 60 Hz, bulk) of which only
``--limit`` are real: the rest virtual, re-ranked every block.

Run: ``python benchmarks/bench_control.py`` (``--voices 256``, ``--seconds 3``, ``--no-pyo``,
``--profile``, ``--cpu K``). The machine's load average is printed with every row: on a shared
2-core machine figures vary between runs, ``--repeat 2`` keeps the fastest.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_engine import (  # noqa: E402  (a sibling script, not a package)
    BLOCK,
    DAMP,
    DRY,
    PYO_WET_PER_OUR_WET,
    ROOM,
    SR,
    WET,
    WIDTH,
    make_table,
)

EXIT_NO_PYO = 3
MODES = ("static", "gainpan60", "pos60", "gainpan_block")
TITLES = {
    "static": "nothing changes",
    "gainpan60": "gain+pan 60 Hz",
    "pos60": "3D positions 60 Hz",
    "gainpan_block": "gain+pan every block",
}
# The targets: (mode, N, path) -> minimum real-time factor.
TARGETS = {("pos60", 256): 22.0, ("gainpan_block", 256): 15.0, ("pos60", 1024): 5.0}


# ------------------------------------------------------------------------------------- the patch
class Patch:
    """Per-voice constants and the automation formulas shared by our engine and the pyo child."""

    def __init__(self, n: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed + n)
        self.n = n
        self.table = make_table()
        self.pitch = 2.0 ** rng.uniform(-1.0, 1.0, n)
        self.offset = rng.integers(0, self.table.shape[0], n).astype(np.float64)
        self.lowpass = np.exp(rng.uniform(math.log(300.0), math.log(8000.0), n))
        self.verb = np.arange(n) % 2 == 1
        # Incoherent sum: -10 log10(N) keeps master near -20 dBFS, below either limiter's threshold.
        self.base_db = rng.uniform(-6.0, 0.0, n) - 10.0 * math.log10(n) - 2.0
        self.phase = rng.uniform(0.0, 2.0 * math.pi, n)
        self.freq = rng.uniform(0.1, 0.5, n)
        self.radius = rng.uniform(2.0, 30.0, n)
        self.height = rng.uniform(-2.0, 2.0, n)
        self.omega = rng.uniform(0.2, 2.0, n) * np.where(rng.random(n) < 0.5, -1.0, 1.0)

    def gain_db(self, t: float) -> np.ndarray:
        return self.base_db + 3.0 * np.sin(2.0 * math.pi * self.freq * t + self.phase)

    def pan(self, t: float) -> np.ndarray:
        return 0.9 * np.sin(2.0 * math.pi * 0.7 * self.freq * t + 2.0 * self.phase)

    def position(self, t: float) -> np.ndarray:
        a = self.omega * t + self.phase
        return np.stack([self.radius * np.cos(a), self.height, self.radius * np.sin(a)], axis=1)


def automation(p: Patch, mode: str, n_blocks: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The blocks that carry an update and each update's values (one row per update), computed
    before the timed loop: the game's own work is not the engine's control cost."""
    due = due_blocks(mode, n_blocks)
    times = np.flatnonzero(due) * BLOCK / SR
    if mode == "pos60":
        return due, {"position": np.stack([p.position(t) for t in times]) if times.size else np.zeros(0)}
    if mode == "static":
        return due, {}
    gains = np.stack([p.gain_db(t) for t in times])
    return due, {"gain_db": gains, "pan": np.stack([p.pan(t) for t in times])}


def due_blocks(mode: str, n_blocks: int) -> np.ndarray:
    """Which blocks carry an update: 60 Hz (the block where a 1/60 s tick falls) or every block."""
    b = np.arange(n_blocks)
    if mode == "static":
        return np.zeros(n_blocks, dtype=bool)
    if mode == "gainpan_block":
        return np.ones(n_blocks, dtype=bool)
    tick = (b * BLOCK * 60) // SR
    return np.concatenate([[True], tick[1:] != tick[:-1]])


# ------------------------------------------------------------------------------------------- ours
def build_ours(p: Patch, spatial: bool, voice_limit: int | None = None):
    from middleware.config import EngineConfig
    from middleware.engine import BusSpec, Engine, ReverbSpec

    limit = voice_limit or p.n
    eng = Engine(EngineConfig(sample_rate=SR, block=BLOCK, max_voices=max(p.n, 1024), voice_limit=limit))
    eng.bank.add("table", p.table)
    eng.add_bus(BusSpec("dry", parent="master"))
    verb = ReverbSpec(room_size=ROOM, damping=DAMP, wet=WET, dry=DRY, width=WIDTH)
    eng.add_bus(BusSpec("verb", parent="master", reverb=verb))
    g0, pan0, pos0 = p.gain_db(0.0), p.pan(0.0), p.position(0.0)
    handles = []
    for i in range(p.n):
        kw = {"position": tuple(pos0[i]), "max_distance": 100.0} if spatial else {"pan": float(pan0[i])}
        handles.append(
            eng.play(
                "table",
                bus="verb" if p.verb[i] else "dry",
                gain_db=float(g0[i]) + (12.0 if spatial else 0.0),  # ~distance loss at 2..30 m
                pitch=float(p.pitch[i]),
                loop=True,
                offset=float(p.offset[i]) / SR,
                lowpass_hz=float(p.lowpass[i]),
                **kw,
            )
        )
    return eng, handles


def run_ours(p: Patch, mode: str, bulk: bool, seconds: float, voice_limit: int | None = None) -> dict:
    """Render ``seconds`` under ``mode``; returns the real-time factor and the output level."""
    eng, handles = build_ours(p, mode == "pos60", voice_limit)
    harr = np.array(handles, dtype=np.int64)
    n_blocks = round(seconds * SR) // BLOCK
    due, values = automation(p, mode, n_blocks)
    buf = np.empty((BLOCK, 2), dtype=np.float32)
    acc = 0.0
    u = 0
    c0 = time.process_time()
    for b in range(n_blocks):
        if due[b]:
            if mode == "pos60":
                pos = values["position"][u]
                if bulk:
                    eng.set_voices(harr, position=pos)
                else:
                    for h, xyz in zip(handles, pos.tolist(), strict=True):
                        eng.set_voice(h, position=xyz)
            else:
                g, pan = values["gain_db"][u], values["pan"][u]
                if bulk:
                    eng.set_voices(harr, gain_db=g, pan=pan)
                else:
                    for h, gi, pi in zip(handles, g.tolist(), pan.tolist(), strict=True):
                        eng.set_voice(h, gain_db=gi, pan=pi)
            u += 1
        eng.render_into(buf)
        acc += float(np.dot(buf[:, 0], buf[:, 0]))
    cpu = time.process_time() - c0
    st = eng.stats()
    return {
        "x": n_blocks * BLOCK / SR / cpu,
        "rms_db": 10.0 * math.log10(max(acc / (n_blocks * BLOCK), 1e-30)),
        "real": st["voices_real"],
        "virtual": st["voices_virtual"],
    }


def warm_up() -> None:
    """Load every compiled path the timed loops use (first calls compile or read numba's cache)."""
    p = Patch(4)
    for mode in MODES:
        for bulk in (False, True):
            run_ours(p, mode, bulk, 0.1, voice_limit=2)


# -------------------------------------------------------------------------------------------- pyo
def pyo_child(n: int, seconds: float, out_wav: str) -> int:
    """Render the patch in pyo with gain and pan set every block (see module docstring); print JSON."""
    os.environ.setdefault("PYO_GUI_WX", "0")
    try:
        import pyo
    except ImportError as exc:
        print(f"pyo is not installed ({exc})", file=sys.stderr)
        return EXIT_NO_PYO
    from pyo_patch import span_position

    p = Patch(n)
    n_tab = p.table.shape[0]
    server = pyo.Server(sr=SR, nchnls=2, buffersize=BLOCK, duplex=0, audio="offline")
    server.setVerbosity(0)
    server.boot()
    server.recordOptions(dur=seconds, filename=out_wav, fileformat=0, sampletype=3)
    tab = pyo.DataTable(size=n_tab, init=p.table.tolist())
    keep: list = [tab]
    ramp = BLOCK / SR
    groups = [np.flatnonzero(~p.verb), np.flatnonzero(p.verb)]
    g0 = 10.0 ** (p.gain_db(0.0) / 20.0)
    s0 = span_position(p.pan(0.0))
    gains, pans, sums = [], [], []
    for idx in groups:
        gain = pyo.SigTo(g0[idx].tolist(), time=ramp, init=g0[idx].tolist())
        pan = pyo.SigTo(s0[idx].tolist(), time=ramp, init=s0[idx].tolist())
        phase = (((p.offset[idx] - p.pitch[idx]) / n_tab) % 1.0).tolist()
        osc = pyo.Osc(tab, freq=(p.pitch[idx] * SR / n_tab).tolist(), phase=phase, interp=2, mul=gain)
        lp = pyo.Tone(osc, freq=p.lowpass[idx].tolist())
        sp = pyo.SPan(lp, outs=2, pan=pan)
        mix = pyo.Mix(sp, voices=2)
        keep.extend((gain, pan, osc, lp, sp, mix))
        gains.append(gain)
        pans.append(pan)
        sums.append(mix)
    dry, verb_in = sums
    verb = pyo.Freeverb(verb_in, size=ROOM, damp=DAMP, bal=1.0, mul=WET * PYO_WET_PER_OUR_WET)
    master = pyo.Mix([dry, verb_in, verb], voices=2)
    comp = pyo.Compress(master, thresh=-1.0, ratio=100.0, risetime=0.001, falltime=0.1, lookahead=5.0, knee=0)
    last = pyo.Clip(comp, min=-1.0, max=1.0)
    keep.extend((verb, master, comp, last))
    last.out()
    block = [0]
    n_blocks = round(seconds * SR) // BLOCK + 2
    _, values = automation(p, "gainpan_block", n_blocks)  # before timing, as on our side
    g_all = 10.0 ** (values["gain_db"] / 20.0)
    s_all = span_position(values["pan"])
    per_group = [(g_all[:, idx], s_all[:, idx]) for idx in groups]

    def every_block() -> None:
        block[0] += 1
        b = min(block[0], n_blocks - 1)
        for k, (g, s) in enumerate(per_group):
            gains[k].value = g[b].tolist()  # pyo takes lists: the conversion is part of its API cost
            pans[k].value = s[b].tolist()

    server.setCallback(every_block)
    c0 = time.process_time()
    server.start()  # offline: returns when the whole file is rendered
    cpu = time.process_time() - c0
    server.shutdown()
    print(json.dumps({"cpu_s": cpu, "blocks": block[0], "pyo_version": getattr(pyo, "PYO_VERSION", "?")}))
    return 0


def run_pyo(n: int, seconds: float, cpu: int) -> dict | None:
    with tempfile.TemporaryDirectory(prefix="bench_control_") as tmp:
        wav = str(Path(tmp) / "pyo.wav")
        cmd = [sys.executable, __file__, "--pyo-child", str(n), "--seconds", repr(seconds), "--cpu", str(cpu)]
        proc = subprocess.run(
            [*cmd, "--out", wav], capture_output=True, text=True, env=dict(os.environ, PYO_GUI_WX="0")
        )
        if proc.returncode == EXIT_NO_PYO:
            return None
        if proc.returncode != 0:
            raise RuntimeError(f"pyo child failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        res = json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1])
        from bench_engine import read_wav_f32

        audio = read_wav_f32(Path(wav))
    res["x"] = seconds / res["cpu_s"]
    res["rms_db"] = 10.0 * math.log10(max(float(np.mean(audio[:, 0].astype(np.float64) ** 2)), 1e-30))
    return res


# ---------------------------------------------------------------------------------------- profile
def profile(n: int, mode: str, seconds: float, voice_limit: int | None = None) -> None:
    """Where a bulk render's time goes: each compiled stage the engine calls, timed in place."""
    import middleware.engine.engine as engine_mod

    spent: dict[str, float] = {}
    originals = []

    def timed(label, fn):
        spent[label] = 0.0

        def wrapper(*a, **k):
            c0 = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                spent[label] += time.process_time() - c0

        return wrapper

    for name in ("apply_params", "compute_targets", "rank_voices", "render_voices", "commit_ramps"):
        originals.append((name, getattr(engine_mod, name)))
        setattr(engine_mod, name, timed(name, getattr(engine_mod, name)))
    orig_sv = engine_mod.Engine.set_voices
    engine_mod.Engine.set_voices = timed("set_voices (validate + post)", orig_sv)
    orig_proc = None
    try:
        from middleware.engine.buses import BusGraph

        orig_proc = BusGraph.process
        BusGraph.process = timed("buses + reverb + limiter", orig_proc)
        whole = seconds / run_ours(Patch(n), mode, True, seconds, voice_limit)["x"]  # the timed loop
    finally:
        for name, fn in originals:
            setattr(engine_mod, name, fn)
        engine_mod.Engine.set_voices = orig_sv
        if orig_proc is not None:
            BusGraph.process = orig_proc
    label = f"N={n}" + (f" ({voice_limit} real)" if voice_limit else "")
    print(f"\n# profile, bulk, {TITLES[mode]}, {label}, {seconds:g} s (CPU ms per audio second):")
    rest = whole - sum(spent.values())
    rows = [*spent.items(), ("the rest (Python per block, automation formulas)", rest)]
    for name, t in [*rows, ("whole", whole)]:
        print(f"#   {name:52s} {t / seconds * 1000:7.1f} ms/s")


# ------------------------------------------------------------------------------------------- main
def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voices", type=int, nargs="+", default=[64, 256, 1024])
    ap.add_argument("--seconds", type=float, default=10.0, help="seconds rendered per timed run")
    ap.add_argument("--repeat", type=int, default=1, help="timed runs per cell; the fastest counts")
    ap.add_argument("--cpu", type=int, default=None, help="core to pin to (default: the last allowed)")
    ap.add_argument("--no-pyo", action="store_true")
    ap.add_argument("--profile", action="store_true", help="stage costs of the bulk 3D run at the largest N")
    ap.add_argument("--profile-only", default=None, choices=MODES, help="only profile this mode (bulk)")
    ap.add_argument("--virtual", type=int, default=0, help="extra row: this many voices alive, --limit real")
    ap.add_argument("--limit", type=int, default=256, help="real voices in the --virtual row")
    ap.add_argument("--pyo-child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    cpu = args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    if args.pyo_child is not None:
        return pyo_child(args.pyo_child, args.seconds, args.out)

    if args.profile_only:
        warm_up()
        for n in args.voices:
            profile(n, args.profile_only, args.seconds)
        return 0
    print(f"# one core (cpu {cpu}), {args.seconds:g} s of {SR} Hz stereo per run, block {BLOCK}")
    print(f"# load average at start: {load()}")
    warm_up()
    use_pyo = not args.no_pyo
    rows = []
    for n in args.voices:
        p = Patch(n)
        row: dict = {"n": n}
        cells = [(mode, bulk) for mode in MODES for bulk in ((False, True) if mode != "static" else (True,))]
        # Rounds over all cells (not one cell's repeats back to back): a busy spell on the shared
        # machine then slows one run of every cell rather than every run of one; the fastest counts.
        for _ in range(args.repeat):
            for cell in cells:
                r = run_ours(p, *cell, args.seconds)
                if cell not in row or r["x"] > row[cell]["x"]:
                    row[cell] = r
            if use_pyo:
                res = run_pyo(n, args.seconds, cpu)
                if res is None:
                    print("# pyo is not installed (pip install pyo): skipping the pyo column")
                    use_pyo = False
                elif row.get("pyo") is None or res["x"] > row["pyo"]["x"]:
                    row["pyo"] = res
        row["load"] = load()
        rows.append(row)
        levels = ", ".join(f"{m}{'' if b else ' (call)'} {row[(m, b)]['rms_db']:.1f}" for m, b in cells)
        pyo_lvl = f"; pyo {row['pyo']['rms_db']:.1f}" if row.get("pyo") else ""
        print(f"# N={n} done (load {row['load']}); left-channel RMS dB: {levels}{pyo_lvl}")

    head = "| voices | nothing changes | gain+pan 60 Hz call / bulk | 3D positions 60 Hz call / bulk "
    head += "| gain+pan every block call / bulk | pyo gain+pan every block | bulk / pyo | load avg |"
    print("\n" + head)
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [f"{r[('static', True)]['x']:.1f}x"]
        for mode in MODES[1:]:
            cells.append(f"{r[(mode, False)]['x']:.1f}x / **{r[(mode, True)]['x']:.1f}x**")
        pyo = r.get("pyo")
        cells.append(f"{pyo['x']:.1f}x" if pyo else "-")
        cells.append(f"{r[('gainpan_block', True)]['x'] / pyo['x']:.1f}" if pyo else "-")
        print(f"| {r['n']} | " + " | ".join(cells) + f" | {r['load']} |")

    print("\n# targets (issue 15), bulk path:")
    for (mode, n), want in TARGETS.items():
        hit = [r for r in rows if r["n"] == n]
        if hit:
            got = hit[0][(mode, True)]["x"]
            verdict = "met" if got >= want else f"SHORT by {100 * (1 - got / want):.1f} %"
            print(f"#   {TITLES[mode]}, {n} voices: {got:.1f}x (target >= {want:g}x): {verdict}")
    ratio = [r for r in rows if r["n"] == 256 and r.get("pyo")]
    if ratio:
        x = ratio[0][("gainpan_block", True)]["x"] / ratio[0]["pyo"]["x"]
        print(f"#   gain+pan every block, 256 voices, vs pyo: {x:.1f}x pyo (target >= 4x)")

    if args.virtual:
        p = Patch(args.virtual)
        r = run_ours(p, "pos60", True, args.seconds, voice_limit=args.limit)
        print(
            f"\n# {args.virtual} voices alive, 3D positions at 60 Hz (bulk), {args.limit} real: "
            f"{r['x']:.1f}x "
            f"real time ({r['real']} real, {r['virtual']} virtual at the end; load {load()})"
        )
    if args.profile:
        profile(max(args.voices), "pos60", min(args.seconds, 3.0))
        if args.virtual:
            profile(args.virtual, "pos60", min(args.seconds, 3.0), args.limit)
    print(f"# load average at end: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
