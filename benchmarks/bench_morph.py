"""Morph benchmark: speed of one MorphStream (real-time factor on one core), quality figures, a plot.

    python benchmarks/bench_morph.py                                  # forest rain morph (trains if missing)
    python benchmarks/bench_morph.py --model scenes/forest/models/rain_morph.onnx --seconds 30
    python benchmarks/bench_morph.py --plot out/morph_vs_crossfade.png   # needs matplotlib (plots extra)

Speed: the stream is rendered in engine-sized calls (256, 1024 and 4096 frames) while the position
sweeps 0..1, pinned to one core, timed with ``time.process_time`` (CPU seconds: other work on the
machine does not count against it). The real-time factor is seconds of audio per CPU second;
the issue's target is >= 50x for one stream.

Quality: band-level statistics at the endpoints vs the sources (mean and spread over time, audible
bands only), the morph's band levels across positions vs an equal-power crossfade of the sources,
and the largest band-envelope autocorrelation over 0.5..30 s lags of a 60 s stream (a loop would
show a peak near 1).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from middleware.engine.bank import decode_file  # noqa: E402
from middleware.ml.morph import (  # noqa: E402
    MorphModel,
    MorphStream,
    audible_bands,
    band_levels,
    band_stats,
    frame_size,
    render_morph,
)

DEFAULT_MODEL = ROOT / "scenes" / "forest" / "models" / "rain_morph.onnx"
DEFAULT_SOURCES = [
    ROOT / "scenes" / "forest" / "sounds" / "rain_light.wav",
    ROOT / "scenes" / "forest" / "sounds" / "rain_heavy.wav",
]


def pin_one_core() -> str:
    try:
        cpu = sorted(os.sched_getaffinity(0))[-1]
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    except (AttributeError, OSError):
        return "not pinned"


def speed(model: MorphModel, sr: int, seconds: float, block: int) -> float:
    stream = MorphStream(model, sr, seed=1)
    total = int(seconds * sr)
    n_calls = total // block
    pos = np.linspace(0.0, 1.0, n_calls)
    stream.render(block, 0.0)  # warm-up (first onnxruntime run)
    t0 = time.process_time()
    for p in pos:
        stream.render(block, float(p))
    cpu = time.process_time() - t0
    return (n_calls * block / sr) / cpu


def envelope_peak(y: np.ndarray, sr: int, edges: np.ndarray, aud: np.ndarray) -> float:
    env = band_levels(y[:, 0].astype(np.float64), sr, edges)[:, aud].mean(axis=1)
    env = env - env.mean()
    n = env.size
    spec = np.fft.rfft(env, 2 * n)
    ac = np.fft.irfft(spec * np.conj(spec))[:n]
    ac = ac / ac[0] / (1 - np.arange(n) / n)
    hop_s = (frame_size(sr) // 2) / sr
    return float(np.max(ac[int(0.5 / hop_s) : int(30 / hop_s)]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument(
        "--sources", type=Path, nargs="*", default=None, help="source files (for quality figures)"
    )
    ap.add_argument("--seconds", type=float, default=20.0, help="audio per speed run (default 20)")
    ap.add_argument("--rate", type=int, default=48000)
    ap.add_argument("--plot", type=Path, help="write a PNG: band levels across the morph vs a crossfade")
    args = ap.parse_args(argv)
    sources = (
        args.sources if args.sources is not None else (DEFAULT_SOURCES if args.model == DEFAULT_MODEL else [])
    )
    if not args.model.is_file():
        if args.model != DEFAULT_MODEL:
            print(f"no model at {args.model}", file=sys.stderr)
            return 2
        from middleware.ml.train_morph import train_morph_files
        from middleware.tools.example_assets import ensure_example_assets

        ensure_example_assets()
        print(f"training {args.model} ...")
        train_morph_files(
            DEFAULT_SOURCES, args.model, name="forest/weather_bed.rain_morph", param="intensity"
        )
    print(pin_one_core())
    model = MorphModel(args.model)
    sr = args.rate
    print(
        f"model {args.model.name}: {args.model.stat().st_size} bytes, {model.n_bands} bands, "
        f"latent {model.latent_dim}, {model.n_anchors} anchors"
    )
    print("speed (one stream, position sweeping 0..1, CPU time on one core):")
    for block in (256, 1024, 4096):
        rtf = speed(model, sr, args.seconds, block)
        print(f"  block {block:5d}: {rtf:7.1f}x real time  ({1000 * block / sr / rtf:.3f} ms CPU per block)")
    if not sources:
        return 0
    audio = [decode_file(p, sr).astype(np.float64) for p in sources]
    edges = model.edges
    print("endpoints (audible bands: within 30 dB of the loudest):")
    positions = [0.0] if len(sources) == 1 else [i / (len(sources) - 1) for i in range(len(sources))]
    for pos, a, p in zip(positions, audio, sources, strict=True):
        sm, ss = band_stats(a, sr, edges)
        gm, gs = band_stats(render_morph(model, 20.0, pos, sr=sr, seed=123).astype(np.float64), sr, edges)
        aud = audible_bands(sm)
        print(
            f"  {p.name} @ {pos:.2f}: mean |diff| {np.mean(np.abs(gm - sm)[aud]):.2f} dB "
            f"(max {np.max(np.abs(gm - sm)[aud]):.2f}), "
            f"spread {np.mean(gs[aud]):.2f} vs {np.mean(ss[aud]):.2f} dB "
            f"(max band diff {np.max(np.abs(gs - ss)[aud]):.2f})"
        )
    aud = audible_bands(band_stats(audio[0], sr, edges)[0]) | audible_bands(
        band_stats(audio[-1], sr, edges)[0]
    )
    y = render_morph(model, 60.0, 0.5, sr=sr, seed=5)
    print(
        f"no loop: max band-envelope autocorrelation over 0.5..30 s lags of 60 s at 0.5: "
        f"{envelope_peak(y, sr, edges, aud):.3f}"
    )
    looped = np.tile(audio[0], (int(np.ceil(60 * sr / len(audio[0]))), 1))[: 60 * sr]
    print(f"         the looped source for comparison: {envelope_peak(looped, sr, edges, aud):.3f}")
    if len(audio) >= 2:
        ps = np.linspace(0, 1, 9)
        morph = np.array(
            [
                band_stats(render_morph(model, 6.0, p, sr=sr, seed=9).astype(np.float64), sr, edges)[0]
                for p in ps
            ]
        )
        a, b = audio[0], audio[-1]
        n = min(len(a), len(b))
        xfade = np.array([band_stats(np.sqrt(1 - p) * a[:n] + np.sqrt(p) * b[:n], sr, edges)[0] for p in ps])
        lo, hi = morph[0], morph[-1]
        moving = (np.abs(hi - lo) > 6) & aud
        mid = len(ps) // 2
        print(
            f"midway, bands that move > 6 dB ({int(moving.sum())}): |level - dB midpoint| median "
            f"morph {np.median(np.abs(morph[mid] - 0.5 * (lo + hi))[moving]):.2f} dB, crossfade "
            f"{np.median(np.abs(xfade[mid] - 0.5 * (xfade[0] + xfade[-1]))[moving]):.2f} dB"
        )
        if args.plot:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            centres = model.centres
            fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
            cmap = plt.get_cmap("viridis")
            for ax, data, title in (
                (axes[0], morph, "neural morph (latent path)"),
                (axes[1], xfade, "equal-power crossfade (sum)"),
            ):
                for k, p in enumerate(ps):
                    ax.semilogx(centres, data[k], color=cmap(p), label=f"{p:.2f}" if k % 2 == 0 else None)
                ax.set_title(title)
                ax.set_xlabel("band centre (Hz)")
                ax.grid(True, which="both", alpha=0.3)
            axes[0].set_ylabel("band level (dB)")
            axes[0].legend(title="position", fontsize=8)
            fig.suptitle(f"{args.model.name}: band levels across the morph")
            fig.tight_layout()
            args.plot.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(args.plot, dpi=110)
            print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
