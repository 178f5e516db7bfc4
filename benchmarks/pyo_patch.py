"""The engine benchmark's patch rebuilt in pyo (a C engine driven from Python), rendered offline.

Benchmark-only: pyo is LGPL and never imported by ``middleware``. It runs as its own process
(``bench_engine.py`` calls this file with ``subprocess``) so that a pyo crash, its global server or
its stdout chatter cannot disturb our side, and so that a missing pyo only skips the comparison.

Why each object is what it is (pyo 1.1.0, checked with impulse/step probes at 48 kHz):

- ``Osc(table, interp=2)`` is a looping, linearly interpolated table read with a start phase; it
  outputs the sample *after* its first increment, so the phase is set to ``(offset - pitch) / len``
  to read exactly the frames our voice reads (``table[offset + n * pitch]`` at output frame n).
- ``Linseg`` carries the ramped gain: each change ramps linearly over one 256-frame block starting at
  a block boundary, exactly like ``Engine.set_voice`` (frame ``F0 + i`` gets ``(i + 1) / 256`` of the
  step). It is ``play()``ed; the pitfall list of issue 3 says why that matters.
- ``Tone`` is a one-pole low-pass with pole ``exp(-2 pi fc / sr)``: the same filter as our voice's.
- ``SPan`` uses the square-root law ``L = sqrt(1 - p), R = sqrt(p)``; ``p = sin^2((pan + 1) pi / 4)``
  gives exactly our cos/sin equal-power gains.
- Two buses are ``Mix(..., voices=2)`` of the panned voices (Mix alternates streams, so left stays
  left), minus a ``Tone`` at ``dc_highpass_hz`` if our engine runs a DC high-pass in every voice
  (``bench_engine.py`` detects it); the second feeds ``Freeverb`` (pure wet, ``bal=1``) added with
  a wet gain.
- Master: ``Compress`` (ratio 100, 5 ms look-ahead, hard knee) then ``Clip`` to [-1, 1]. pyo has no
  brick-wall look-ahead limiter; this is the closest, and the benchmark keeps levels below the point
  where either limiter acts so the renders stay comparable sample by sample.

Every object is kept in ``keep`` until rendering ends: pyo silently stops objects that Python frees.
The offline server (``audio='offline'``, not ``'offline_nb'``) renders synchronously inside
``Server.start()``, so ``time.process_time`` around it is pyo's CPU time on this core.

Usage: ``python benchmarks/pyo_patch.py PARAMS.npz OUT.wav [--wet-gain G] [--no-limiter] [--cpu K]``;
prints one JSON line ``{"cpu_s", "wall_s", "objects", "pyo_version", ...}``; exits 3 if pyo is absent.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np

EXIT_NO_PYO = 3


def span_position(pan: np.ndarray) -> np.ndarray:
    """SPan position whose sqrt-law gains equal our cos/sin equal-power gains for ``pan`` in [-1, 1]."""
    theta = (np.clip(pan, -1.0, 1.0) + 1.0) * (math.pi / 4.0)
    return np.sin(theta) ** 2


def gain_breakpoints(gains_db: np.ndarray, change_frames: np.ndarray, block: int, sr: int, seconds: float):
    """Linseg points reproducing a gain held per segment and ramped over one block at each change.

    Segment k (k >= 1) starts at block-aligned frame ``change_frames[k - 1]``; the engine's ramp gives
    frame ``F0 + i`` the value ``g_old + (g_new - g_old) (i + 1) / block``, which is a straight line
    through ``(F0 - 1, g_old)`` and ``(F0 + block - 1, g_new)``.
    """
    g = 10.0 ** (np.asarray(gains_db, dtype=np.float64) / 20.0)
    pts = [(0.0, float(g[0]))]
    for k in range(1, g.shape[0]):
        f0 = int(change_frames[k - 1])
        pts.append(((f0 - 1) / sr, float(g[k - 1])))
        pts.append(((f0 + block - 1) / sr, float(g[k])))
    pts.append((seconds + 1.0, float(g[-1])))
    return pts


def render(params: dict, out_path: str, wet_gain: float, limiter: bool) -> dict:
    """Build the patch from ``params`` (see bench_engine.make_params), render, return timings."""
    os.environ.setdefault("PYO_GUI_WX", "0")
    import pyo

    sr = int(params["sr"])
    block = int(params["block"])
    seconds = float(params["seconds"])
    table = np.asarray(params["table"], dtype=np.float32)
    n_tab = table.shape[0]
    pitch = params["pitch"]
    offset = params["offset_frames"]
    pan = span_position(params["pan"])
    lp_hz = params["lowpass_hz"]
    bus = params["bus"]
    gains_db = params["gain_db"]
    change_frames = params["change_frames"]
    room, damp = float(params["room_size"]), float(params["damping"])

    t_build = time.perf_counter()
    server = pyo.Server(sr=sr, nchnls=2, buffersize=block, duplex=0, audio="offline")
    server.setVerbosity(0)
    server.boot()
    server.recordOptions(dur=seconds, filename=out_path, fileformat=0, sampletype=3)  # WAV float32
    keep: list = []
    tab = pyo.DataTable(size=n_tab, init=table.tolist())
    keep.append(tab)
    buses: list[list] = [[], []]
    for i in range(pitch.shape[0]):
        env = pyo.Linseg(
            gain_breakpoints(gains_db[i], change_frames, block, sr, seconds), initToFirstVal=True
        )
        env.play()
        phase = ((float(offset[i]) - float(pitch[i])) / n_tab) % 1.0
        osc = pyo.Osc(tab, freq=float(pitch[i]) * sr / n_tab, phase=phase, interp=2, mul=env)
        lp = pyo.Tone(osc, freq=float(lp_hz[i]))
        sp = pyo.SPan(lp, outs=2, pan=float(pan[i]))
        keep.extend((env, osc, lp, sp))
        buses[int(bus[i])].append(sp)
    sums = [pyo.Mix(b, voices=2) if b else pyo.Sig([0.0, 0.0]) for b in buses]
    dc_hz = float(params.get("dc_highpass_hz", 0.0))
    if dc_hz > 0.0:
        # Some engine versions run an always-on DC high-pass (x - one_pole_lowpass(x)) in every
        # voice; it is linear and time-invariant, so one per bus here is the same signal (cheaper).
        lows = [pyo.Tone(m, freq=dc_hz) for m in sums]
        dry, verb_in = (m - lo for m, lo in zip(sums, lows, strict=True))
        keep.extend(sums + lows)
    else:
        dry, verb_in = sums
        keep.extend(sums)
    verb = pyo.Freeverb(verb_in, size=room, damp=damp, bal=1.0, mul=wet_gain)
    master = pyo.Mix([dry, verb_in, verb], voices=2)
    keep.extend((dry, verb_in, verb, master))
    if limiter:
        comp = pyo.Compress(
            master, thresh=-1.0, ratio=100.0, risetime=0.001, falltime=0.1, lookahead=5.0, knee=0
        )
        last = pyo.Clip(comp, min=-1.0, max=1.0)
        keep.extend((comp, last))
    else:
        last = master
    last.out()
    build_s = time.perf_counter() - t_build

    c0, w0 = time.process_time(), time.perf_counter()
    server.start()  # offline: returns when the whole file is rendered
    cpu_s, wall_s = time.process_time() - c0, time.perf_counter() - w0
    server.shutdown()
    n_objects = len(keep)
    del keep
    return {
        "cpu_s": cpu_s,
        "wall_s": wall_s,
        "build_s": build_s,
        "objects": n_objects,
        "pyo_version": getattr(pyo, "PYO_VERSION", "?"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("params", help=".npz written by bench_engine.py")
    ap.add_argument("out", help="float32 WAV to write")
    ap.add_argument("--wet-gain", type=float, default=None, help="reverb wet gain (default: from params)")
    ap.add_argument("--no-limiter", action="store_true", help="master without Compress/Clip")
    ap.add_argument("--cpu", type=int, default=None, help="pin this process to one core")
    args = ap.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    try:
        import pyo  # noqa: F401
    except ImportError as exc:
        print(f"pyo is not installed ({exc}); pip install pyo", file=sys.stderr)
        return EXIT_NO_PYO
    with np.load(args.params) as z:
        params = {k: z[k] for k in z.files}
    wet = float(params["pyo_wet_gain"]) if args.wet_gain is None else args.wet_gain
    res = render(params, args.out, wet, not args.no_limiter)
    print(json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
