"""Engine throughput benchmark (issue 3): N looping voices, two buses, reverb, limiter; ours vs pyo.

For each N (default 64, 256, 1024) this renders S seconds (default 10) of 48 kHz stereo with our
``Engine`` and the same patch in pyo's offline server (``benchmarks/pyo_patch.py``, run as a child
process), both pinned to one core, and prints real-time factors (seconds of audio per CPU second,
``time.process_time``) and their ratio.

The patch, identical on both sides (same table, same seeded random per-voice values):

- a 2 s mono table (pink-ish noise plus a band-limited 110 Hz sawtooth), generated with numpy;
- per voice: looping linear-interpolated playback from a random start offset at a random pitch
  (0.5..2, log-uniform), a one-pole low-pass (300..8000 Hz), equal-power pan, and a gain that
  changes once per second and ramps over one block (``set_voice`` calls on our side, ``Linseg`` in pyo);
- voices alternate between bus "dry" and bus "verb" (Freeverb-style reverb), both into master,
  which ends in the limiter (ours: look-ahead brick-wall; pyo: Compress + Clip, see pyo_patch.py).

A baseline that plays fewer voices would flatter us, so every N also gets an equivalence check:
both engines render the same graph with the reverb's wet gain at 0 (so the mix is the plain sum of
all voices) and each render's RMS is compared with an independent numpy prediction for an
incoherent sum, ``sqrt(sum_i g_i^2 c_i^2 r_i^2)`` (gain, pan gain and the RMS of that voice's
pitched, low-passed table read computed from the formulas). The effective number of sounding
voices is printed, and anything more than 1.5 dB off is flagged loudly. The two check renders are
also compared sample by sample (after aligning the limiters' look-ahead delays), and the timed
(wet) renders by RMS and 1/3-octave long-term spectra.

Run: ``python benchmarks/bench_engine.py`` (``--voices 64 256``, ``--seconds 5``, ``--no-pyo``,
``--profile``). pyo is optional (``pip install pyo``; its Linux wheels bundle their own libraries);
without it the pyo columns are skipped. See docs/benchmarks.md for measured figures.
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

SR = 48000
BLOCK = 256
TABLE_SECONDS = 2.0
ROOM, DAMP, WET, DRY, WIDTH = 0.8, 0.5, 0.3, 1.0, 1.0
# pyo's Freeverb (bal=1, mul=1) is ~14.7 dB quieter than ours with wet=1; this gain makes its wet level match
# ours at ReverbSpec(wet=0.3). Measured by --calibrate-wet (wet-only RMS ratio, 64 voices on the verb bus).
PYO_WET_PER_OUR_WET = 5.45
SKIP_SECONDS = 0.25  # pyo's server fades in over 240 frames; compare after the start transients
FLAG_DB = 1.5
HERE = Path(__file__).resolve().parent


# ----------------------------------------------------------------------------------------- patch
def make_table(sr: int = SR, seconds: float = TABLE_SECONDS, seed: int = 1) -> np.ndarray:
    """A rich mono test sample: pink-ish noise (-3 dB/oct above 40 Hz) plus a band-limited saw."""
    rng = np.random.default_rng(seed)
    n = int(sr * seconds)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sr)
    spec *= 1.0 / np.sqrt(np.maximum(f, 40.0))
    noise = np.fft.irfft(spec, n)
    noise /= np.sqrt(np.mean(noise**2))
    t = np.arange(n) / sr
    f0 = 110.0
    saw = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, int(0.45 * sr / f0)))
    saw /= np.sqrt(np.mean(saw**2))
    x = np.sqrt(0.7) * noise + np.sqrt(0.3) * saw
    # No DC: a DC offset adds coherently across voices (N^2, not N) and would break the
    # incoherent-sum prediction the voice-count check relies on.
    x -= x.mean()
    return (0.25 * x / np.sqrt(np.mean(x**2))).astype(np.float32)  # RMS 0.25 (-12 dBFS)


def make_params(n: int, seconds: float, table: np.ndarray, seed: int = 0) -> dict:
    """Per-voice random values shared by both engines (written to .npz for the pyo child)."""
    rng = np.random.default_rng(seed + n)
    n_tab = table.shape[0]
    segments = max(1, math.ceil(seconds))
    # Level: voices sum incoherently, so scale by 1/sqrt(N) to keep master near -20 dBFS RMS, where
    # neither limiter acts (their behaviours differ; the point is the per-voice work).
    level_db = -10.0 * math.log10(n) - 2.0
    change_frames = np.array([round(k * SR / BLOCK) * BLOCK for k in range(1, segments)], dtype=np.int64)
    return {
        "sr": np.int64(SR),
        "block": np.int64(BLOCK),
        "seconds": np.float64(seconds),
        "table": table,
        "pitch": 2.0 ** rng.uniform(-1.0, 1.0, n),
        "offset_frames": rng.integers(0, n_tab, n).astype(np.float64),
        "pan": rng.uniform(-1.0, 1.0, n),
        "lowpass_hz": np.exp(rng.uniform(math.log(300.0), math.log(8000.0), n)),
        "bus": (np.arange(n) % 2).astype(np.int64),  # 0 = dry, 1 = verb
        "gain_db": rng.uniform(-12.0, 0.0, (n, segments)) + level_db,
        "change_frames": change_frames,
        "room_size": np.float64(ROOM),
        "damping": np.float64(DAMP),
        "pyo_wet_gain": np.float64(WET * PYO_WET_PER_OUR_WET),
    }


# ------------------------------------------------------------------------------------------ ours
def build_ours(p: dict, wet: float, dry_gain: float = DRY):
    """Our engine with the patch's buses and voices; returns (engine, handles)."""
    from middleware.config import EngineConfig
    from middleware.engine import BusSpec, Engine, ReverbSpec

    n = p["pitch"].shape[0]
    cfg = EngineConfig(sample_rate=SR, block=BLOCK, max_voices=max(n, 1024), voice_limit=n)
    eng = Engine(cfg)
    eng.bank.add("table", p["table"])
    eng.add_bus(BusSpec("dry", parent="master"))
    verb = ReverbSpec(room_size=ROOM, damping=DAMP, wet=wet, dry=dry_gain, width=WIDTH)
    eng.add_bus(BusSpec("verb", parent="master", reverb=verb))
    handles = []
    for i in range(n):
        h = eng.play(
            "table",
            bus="verb" if p["bus"][i] else "dry",
            gain_db=float(p["gain_db"][i, 0]),
            pitch=float(p["pitch"][i]),
            pan=float(p["pan"][i]),
            loop=True,
            offset=float(p["offset_frames"][i]) / SR,
            lowpass_hz=float(p["lowpass_hz"][i]),
        )
        handles.append(h)
    return eng, handles


def render_ours(p: dict, wet: float) -> tuple[np.ndarray, float, float, dict]:
    """Render the patch; the timed loop includes the once-per-second ``set_voice`` calls."""
    eng, handles = build_ours(p, wet)
    total = round(float(p["seconds"]) * SR)
    out = np.empty((total, 2), dtype=np.float32)
    change_blocks = {int(f) // BLOCK: k + 1 for k, f in enumerate(p["change_frames"])}
    gains = p["gain_db"]
    c0, w0 = time.process_time(), time.perf_counter()
    for b, start in enumerate(range(0, total, BLOCK)):
        k = change_blocks.get(b)
        if k is not None:
            for i, h in enumerate(handles):
                eng.set_voice(h, gain_db=float(gains[i, k]))
        eng.render_into(out[start : start + BLOCK])
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    return out, cpu, wall, eng.stats()


def warm_up() -> None:
    """Load (or compile) every numba kernel the timed loop uses, outside the timing."""
    table = make_table(seconds=0.1)
    p = make_params(2, 0.2, table)
    p["change_frames"] = np.array([BLOCK * 4], dtype=np.int64)
    p["gain_db"] = np.repeat(p["gain_db"], 2, axis=1)
    render_ours(p, WET)


def empty_engine_cost(seconds: float) -> float:
    """CPU seconds per audio second of an engine with the buses, reverb and limiter but no voice."""
    table = make_table(seconds=0.1)
    p = make_params(1, seconds, table)
    eng, handles = build_ours(p, WET)
    eng.stop(handles[0], release=0.0)
    total = round(seconds * SR)
    buf = np.empty((BLOCK, 2), dtype=np.float32)
    c0 = time.process_time()
    for _ in range(0, total, BLOCK):
        eng.render_into(buf)
    return (time.process_time() - c0) / seconds


def engine_dc_highpass_hz() -> float:
    """1.0 if our voices run an always-on 1 Hz DC high-pass (some engine versions did), else 0.0.

    Measured, not assumed: a constant table played for 0.5 s keeps its level without one and
    decays to exp(-pi) ~ 4 % with one. pyo's patch then adds the same filter per bus.
    """
    from middleware.config import EngineConfig
    from middleware.engine import Engine

    eng = Engine(EngineConfig(sample_rate=SR, block=BLOCK))
    eng.bank.add("dc", np.ones(4800, dtype=np.float32))
    eng.play("dc", gain_db=-6.0, loop=True)
    out = eng.render(SR // 2)
    return 1.0 if abs(out[-1, 0]) < 0.5 * abs(out[BLOCK, 0]) else 0.0


# ------------------------------------------------------------------------------------------- pyo
def render_pyo(params_path: Path, out_wav: Path, wet_gain: float | None, cpu: int | None) -> dict | None:
    """Run pyo_patch.py in a child process; returns its timing dict and the audio, or None."""
    cmd = [sys.executable, str(HERE / "pyo_patch.py"), str(params_path), str(out_wav)]
    if wet_gain is not None:
        cmd += ["--wet-gain", repr(wet_gain)]
    if cpu is not None:
        cmd += ["--cpu", str(cpu)]
    env = dict(os.environ, PYO_GUI_WX="0")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if proc.returncode == 3:
        return None
    if proc.returncode != 0:
        raise RuntimeError(f"pyo_patch.py failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1]
    res = json.loads(line)
    res["audio"] = read_wav_f32(out_wav)
    return res


def read_wav_f32(path: Path) -> np.ndarray:
    """Decode pyo's float32 WAV at its own rate (miniaudio would otherwise resample to 44.1 kHz)."""
    import miniaudio

    d = miniaudio.decode_file(
        str(path), output_format=miniaudio.SampleFormat.FLOAT32, nchannels=2, sample_rate=SR
    )
    return np.frombuffer(d.samples, dtype=np.float32).reshape(-1, 2).copy()


# -------------------------------------------------------------------------------------- analysis
def one_pole_a(fc: np.ndarray) -> np.ndarray:
    return 1.0 - np.exp(-2.0 * np.pi * fc / SR)


def voice_ms(p: dict, m: int = 1 << 15) -> np.ndarray:
    """Mean square of each voice's pitched, low-passed table read (unit gain), from the formulas.

    Linear interpolation is done directly on ``m`` output frames; the one-pole's power response
    ``|a / (1 - (1 - a) e^{-jw})|^2`` is applied in the frequency domain (Parseval).
    """
    table = p["table"].astype(np.float64)
    n_tab = table.shape[0]
    w = 2.0 * np.pi * np.fft.rfftfreq(m)
    out = np.empty(p["pitch"].shape[0])
    for i, (pitch, off, fc) in enumerate(zip(p["pitch"], p["offset_frames"], p["lowpass_hz"], strict=True)):
        pos = (off + pitch * np.arange(m)) % n_tab
        k = pos.astype(np.int64)
        fr = pos - k
        x = table[k] + fr * (table[(k + 1) % n_tab] - table[k])
        a = one_pole_a(fc)
        h2 = a * a / np.abs(1.0 - (1.0 - a) * np.exp(-1j * w)) ** 2
        spec = np.abs(np.fft.rfft(x)) ** 2
        spec[1:-1] *= 2.0  # one-sided
        out[i] = float(np.sum(spec * h2)) / (m * m)
    return out


def expected_ms(p: dict, vms: np.ndarray, skip: float) -> np.ndarray:
    """Per-channel mean square of the incoherent sum over [skip, seconds): (left, right)."""
    seconds = float(p["seconds"])
    edges = np.concatenate([[0], p["change_frames"], [int(seconds * SR)]]).astype(np.float64) / SR
    dur = np.clip(edges[1:], skip, seconds) - np.clip(edges[:-1], skip, seconds)
    g2 = (10.0 ** (p["gain_db"] / 10.0) * dur[None, :]).sum(axis=1) / dur.sum()
    theta = (p["pan"] + 1.0) * np.pi / 4.0
    return np.array([np.sum(g2 * np.cos(theta) ** 2 * vms), np.sum(g2 * np.sin(theta) ** 2 * vms)])


def db(x: float) -> float:
    return 10.0 * math.log10(max(x, 1e-30))


def third_octave_db(x: np.ndarray, nfft: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Long-term average spectrum in 1/3-octave bands 25 Hz..16 kHz (both channels, dB)."""
    mono = x.astype(np.float64)
    frames = (mono.shape[0] - nfft) // (nfft // 2)
    win = np.hanning(nfft)[:, None]
    psd = np.zeros(nfft // 2 + 1)
    for k in range(frames):
        seg = mono[k * nfft // 2 : k * nfft // 2 + nfft] * win
        psd += (np.abs(np.fft.rfft(seg, axis=0)) ** 2).sum(axis=1)
    f = np.fft.rfftfreq(nfft, 1.0 / SR)
    centres = 1000.0 * 2.0 ** (np.arange(-16, 13) / 3.0)
    levels = np.array([psd[(f >= fc * 2 ** (-1 / 6)) & (f < fc * 2 ** (1 / 6))].sum() for fc in centres])
    return centres, 10.0 * np.log10(np.maximum(levels, 1e-30))


def align(a: np.ndarray, b: np.ndarray, max_lag: int = 2048) -> int:
    """Lag L maximising the correlation of a[t] with b[t + L] (limiter look-ahead delays differ)."""
    seg = slice(SR // 2, SR // 2 + (1 << 15))
    x, y = a[seg, 0].astype(np.float64), b[:, 0].astype(np.float64)
    best, best_lag = -np.inf, 0
    n = x.shape[0]
    size = 1 << math.ceil(math.log2(n + 2 * max_lag))
    ys = y[SR // 2 - max_lag : SR // 2 - max_lag + n + 2 * max_lag]
    c = np.fft.irfft(np.fft.rfft(ys, size) * np.conj(np.fft.rfft(x, size)), size)
    for lag in range(-max_lag, max_lag + 1):
        v = c[lag + max_lag]
        if v > best:
            best, best_lag = v, lag
    return best_lag


def compare_samples(ours: np.ndarray, theirs: np.ndarray, skip: int) -> tuple[int, float, float]:
    """Align (theirs[t + lag] ~ ours[t]); SNR in dB of ours against ours - theirs, overall and median
    over 100 ms windows (the overall figure is dominated by the half second after each gain change,
    where our per-voice 1 Hz DC high-pass, before the gain, and pyo's per-bus one, after it, differ)."""
    lag = align(ours, theirs)
    t1 = min(ours.shape[0], theirs.shape[0] - lag)
    a = ours[skip:t1].astype(np.float64)
    b = theirs[skip + lag : t1 + lag].astype(np.float64)
    w = SR // 10
    k = a.shape[0] // w
    sig = (a[: k * w] ** 2).reshape(k, w, 2).sum(axis=(1, 2))
    err = ((a[: k * w] - b[: k * w]) ** 2).reshape(k, w, 2).sum(axis=(1, 2))
    med = float(np.median(10.0 * np.log10(np.maximum(sig, 1e-30) / np.maximum(err, 1e-30))))
    return lag, db(np.sum(a * a) / max(np.sum((a - b) ** 2), 1e-30)), med


def rms_db(x: np.ndarray) -> float:
    return db(float(np.mean(x.astype(np.float64) ** 2)))


# ------------------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voices", type=int, nargs="+", default=[64, 256, 1024])
    ap.add_argument("--seconds", type=float, default=10.0, help="seconds rendered per timed run")
    ap.add_argument("--check-seconds", type=float, default=4.0, help="seconds of each equivalence render")
    ap.add_argument("--repeat", type=int, default=1, help="timed runs per engine and N; the fastest counts")
    ap.add_argument("--no-pyo", action="store_true", help="skip the pyo comparison")
    ap.add_argument("--no-check", action="store_true", help="skip the equivalence renders")
    ap.add_argument("--cpu", type=int, default=None, help="core to pin to (default: the last allowed)")
    ap.add_argument("--profile", action="store_true", help="time each engine stage at the largest N")
    ap.add_argument("--calibrate-wet", action="store_true", help="measure PYO_WET_PER_OUR_WET and exit")
    args = ap.parse_args(argv)

    cpu = args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    print(f"# machine: {os.cpu_count()} cores; pinned to core {cpu}; {SR} Hz stereo, block {BLOCK}")
    import numba

    print(f"# python {sys.version.split()[0]}, numpy {np.__version__}, numba {numba.__version__}")
    table = make_table()
    if args.calibrate_wet:
        return calibrate_wet(table, cpu)
    c0 = time.perf_counter()
    warm_up()
    print(f"# warm-up (numba cache load/compile): {time.perf_counter() - c0:.1f} s")
    empty = empty_engine_cost(2.0)
    print(f"# empty engine (2 buses, reverb, limiter, no voice): {empty * 1000:.1f} ms CPU per audio second")

    dc_hz = engine_dc_highpass_hz()
    dc_text = f"{dc_hz:g} Hz (pyo gets the same per bus)" if dc_hz else "none"
    print(f"# our voices' always-on DC high-pass: {dc_text}")
    tmp = Path(tempfile.mkdtemp(prefix="bench_engine_"))
    use_pyo = not args.no_pyo
    rows = []
    for n in args.voices:
        p = make_params(n, args.seconds, table)
        p["dc_highpass_hz"] = np.float64(dc_hz)
        audio, cpu_s, wall_s, stats = render_ours(p, WET)
        for _ in range(args.repeat - 1):
            again = render_ours(p, WET)
            if again[1] < cpu_s:
                audio, cpu_s, wall_s, stats = again
        ours_rt = args.seconds / cpu_s
        print(
            f"\nN={n}: ours {ours_rt:6.1f}x real time (cpu {cpu_s:.2f} s, wall {wall_s:.2f} s), "
            f"voices real {stats['voices_real']} virtual {stats['voices_virtual']}, "
            f"block p99 {stats['render_ms_p99']:.2f} ms"
        )
        row = {"n": n, "ours": ours_rt, "pyo": None}
        if use_pyo:
            np.savez(tmp / f"p{n}.npz", **p)
            res = render_pyo(tmp / f"p{n}.npz", tmp / f"pyo{n}.wav", None, cpu)
            for _ in range(args.repeat - 1 if res is not None else 0):
                again = render_pyo(tmp / f"p{n}.npz", tmp / f"pyo{n}.wav", None, cpu)
                if again["cpu_s"] < res["cpu_s"]:
                    res = again
            if res is None:
                print("   pyo is not installed: skipping the pyo comparison (pip install pyo)")
                use_pyo = False
            else:
                pyo_rt = args.seconds / res["cpu_s"]
                row["pyo"] = pyo_rt
                print(
                    f"   pyo  {pyo_rt:6.1f}x real time (cpu {res['cpu_s']:.2f} s, "
                    f"wall {res['wall_s']:.2f} s, {res['objects']} objects, pyo {res['pyo_version']}); "
                    f"ours/pyo = {ours_rt / pyo_rt:.2f}"
                )
                skip = int(SKIP_SECONDS * SR)
                a, b = audio[skip:], res["audio"][skip : audio.shape[0]]
                _, la = third_octave_db(a)
                _, lb = third_octave_db(b)
                diff = np.abs(la - lb)
                print(
                    f"   timed renders: RMS ours {rms_db(a):.2f} dB, pyo {rms_db(b):.2f} dB; 1/3-oct spectra "
                    f"max |diff| {diff.max():.2f} dB, correlation {np.corrcoef(la, lb)[0, 1]:.4f}"
                )
                if abs(rms_db(a) - rms_db(b)) > FLAG_DB:
                    print(f"   !!! TIMED RENDERS DIFFER BY MORE THAN {FLAG_DB} dB RMS !!!")
        if not args.no_check:
            row.update(check(p, args.check_seconds, tmp, cpu, use_pyo))
        rows.append(row)

    print("\n| voices | ours (x real time) | pyo (x real time) | ours / pyo | sounding ours / pyo |")
    print("|---|---|---|---|---|")
    for r in rows:
        pyo_s = f"{r['pyo']:.1f}" if r["pyo"] else "-"
        ratio = f"{r['ours'] / r['pyo']:.1f}" if r["pyo"] else "-"
        snd = " / ".join(f"{r[k]:.0f}" if k in r else "-" for k in ("eff_ours", "eff_pyo"))
        print(f"| {r['n']} | {r['ours']:.1f} | {pyo_s} | {ratio} | {snd} |")
    if args.profile:
        profile(max(args.voices), table)
    return 0


def check(p_full: dict, seconds: float, tmp: Path, cpu: int, use_pyo: bool) -> dict:
    """Equivalence renders (reverb wet gain 0): voices sounding vs formula, and ours vs pyo per sample."""
    n = p_full["pitch"].shape[0]
    p = dict(p_full)
    p["seconds"] = np.float64(seconds)
    segs = max(1, math.ceil(seconds))
    p["gain_db"] = p_full["gain_db"][:, :segs]
    p["change_frames"] = p_full["change_frames"][: segs - 1]
    skip = int(SKIP_SECONDS * SR)
    exp = expected_ms(p, voice_ms(p), SKIP_SECONDS)
    exp_db = db(float(exp.mean()))
    ours, *_ = render_ours(p, 0.0)
    res = {}
    ms_ours = np.mean(ours[skip:].astype(np.float64) ** 2, axis=0)
    res["eff_ours"] = n * float(ms_ours.mean() / exp.mean())
    line = (
        f"   check (wet 0, {seconds:g} s): expected {exp_db:.2f} dB; ours {db(float(ms_ours.mean())):.2f} dB "
        f"(~{res['eff_ours']:.0f} of {n} voices sounding)"
    )
    flags = []
    if abs(db(float(ms_ours.mean())) - exp_db) > FLAG_DB:
        flags.append("OURS")
    if use_pyo:
        np.savez(tmp / f"c{n}.npz", **p)
        r = render_pyo(tmp / f"c{n}.npz", tmp / f"c{n}.wav", 0.0, cpu)
        theirs = r["audio"]
        ms_pyo = np.mean(theirs[skip : ours.shape[0]].astype(np.float64) ** 2, axis=0)
        res["eff_pyo"] = n * float(ms_pyo.mean() / exp.mean())
        line += f"; pyo {db(float(ms_pyo.mean())):.2f} dB (~{res['eff_pyo']:.0f} of {n})"
        if abs(db(float(ms_pyo.mean())) - exp_db) > FLAG_DB:
            flags.append("PYO")
        lag, snr, med = compare_samples(ours, theirs, skip)
        line += (
            f"\n   sample by sample (pyo lag {lag:+d} frames): ours / (ours - pyo) = {snr:.1f} dB overall, "
            f"{med:.1f} dB median of 100 ms windows"
        )
        chan = " / ".join(f"{db(float(x)):.2f}" for x in exp)
        line += f"\n   per channel L/R: expected {chan}, ours " + " / ".join(
            f"{db(float(x)):.2f}" for x in ms_ours
        )
        line += ", pyo " + " / ".join(f"{db(float(x)):.2f}" for x in ms_pyo)
    print(line)
    for who in flags:
        print(
            f"   !!! {who}: RMS DIFFERS FROM THE {n}-VOICE PREDICTION BY MORE THAN {FLAG_DB} dB: "
            "voices missing or extra !!!"
        )
    return res


def calibrate_wet(table: np.ndarray, cpu: int) -> int:
    """Wet-only level of our reverb (wet=1) vs pyo's Freeverb (mul=1) on the same voices."""
    p = make_params(64, 4.0, table)
    p["bus"][:] = 1
    p["dc_highpass_hz"] = np.float64(engine_dc_highpass_hz())
    skip = SR  # let both tails build up
    ours_wet, *_ = render_ours_wet_only(p)
    tmp = Path(tempfile.mkdtemp(prefix="bench_cal_"))
    np.savez(tmp / "p.npz", **p)
    r_dry = render_pyo(tmp / "p.npz", tmp / "d.wav", 0.0, cpu)
    r_wet = render_pyo(tmp / "p.npz", tmp / "w.wav", 1.0, cpu)
    if r_dry is None or r_wet is None:
        print("pyo is not installed")
        return 1
    pyo_wet = r_wet["audio"] - r_dry["audio"]
    ratio = math.sqrt(np.mean(ours_wet[skip:] ** 2) / np.mean(pyo_wet[skip:] ** 2))
    print(
        f"PYO_WET_PER_OUR_WET = {ratio:.4f}  (ours wet RMS {rms_db(ours_wet[skip:]):.2f} dB, "
        f"pyo wet RMS {rms_db(pyo_wet[skip:]):.2f} dB)"
    )
    return 0


def render_ours_wet_only(p: dict):
    eng, _ = build_ours(p, 1.0, dry_gain=0.0)
    total = round(float(p["seconds"]) * SR)
    return eng.render(total), None


def profile(n: int, table: np.ndarray, seconds: float = 3.0) -> None:
    """Where the time goes at N voices: the engine's stages timed inside a normal render.

    The kernels the engine module calls (and the bus graph's ``process``) are wrapped with
    ``process_time`` accumulators, whatever their signatures; the rest of the block is Python in
    ``Engine`` (command drain, bookkeeping) plus the benchmark's own ``set_voice`` calls.
    """
    import middleware.engine.engine as engine_mod

    p = make_params(n, seconds, table)
    eng, handles = build_ours(p, WET)
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

    labels = {
        "render_voices": "voice kernel",
        "compute_targets": "targets (gain, pan, 3D, filter coefficients)",
        "commit_ramps": "commit_ramps",
    }
    for name, label in labels.items():
        if hasattr(engine_mod, name):
            originals.append((name, getattr(engine_mod, name)))
            setattr(engine_mod, name, timed(label, getattr(engine_mod, name)))
    eng.buses.process = timed("buses + reverb + limiter", eng.buses.process)
    if hasattr(eng, "_manage_voices"):
        eng._manage_voices = timed("voice management", eng._manage_voices)
    try:
        total = round(seconds * SR)
        buf = np.empty((BLOCK, 2), dtype=np.float32)
        change_blocks = {int(f) // BLOCK: k + 1 for k, f in enumerate(p["change_frames"])}
        c0 = time.process_time()
        for b in range(total // BLOCK):
            k = change_blocks.get(b)
            if k is not None:
                for i, h in enumerate(handles):
                    eng.set_voice(h, gain_db=float(p["gain_db"][i, k]))
            eng.render_into(buf)
        whole = time.process_time() - c0
    finally:
        for name, fn in originals:
            setattr(engine_mod, name, fn)
    print(f"\n# stage costs inside a {seconds:g} s render, N={n} (CPU ms per audio s; ns per voice-sample):")
    rows = [
        *spent.items(),
        ("Python around the kernels + set_voice", whole - sum(spent.values())),
        ("whole", whole),
    ]
    for label, t in rows:
        print(f"#   {label:45s} {t / seconds * 1000:7.1f} ms/s  {t / (n * seconds * SR) * 1e9:6.2f} ns")


if __name__ == "__main__":
    sys.exit(main())
