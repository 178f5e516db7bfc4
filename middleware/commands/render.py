"""``soundscape render``: a scene and an events timeline to a WAV file, offline and reproducible."""

from __future__ import annotations

import argparse

from ._common import UsageError, add_profile_option

NAME = "render"
HELP = "render a scene driven by an events file to WAV (offline, bit-identical for the same seed)"
MAX_SECONDS = 24 * 3600


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scene", help="scene YAML file")
    p.add_argument("--events", help="JSON-lines timeline: one protocol message per line plus 't' in seconds")
    p.add_argument("--seconds", type=float, default=10.0, help="length to render (default 10)")
    p.add_argument(
        "-o", "--output", default="out/render.wav", help="WAV file to write (default out/render.wav)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (scatter timing, random containers)")
    p.add_argument("--block", type=int, default=256, help="engine block size in frames (default 256)")
    p.add_argument("--rate", type=int, default=48000, help="sample rate in Hz (default 48000)")
    add_profile_option(p, "applied to the render (the WAV's metadata names it)")


def run(args: argparse.Namespace) -> int:
    from ..offline import render_scene_file

    if not 0 < args.seconds <= MAX_SECONDS:
        raise UsageError(f"--seconds={args.seconds:g}: must be within (0, {MAX_SECONDS}]")
    info = render_scene_file(
        args.scene,
        args.events,
        args.seconds,
        args.output,
        seed=args.seed,
        block=args.block,
        sample_rate=args.rate,
        profile=args.profile,
    )
    st = info["engine"]
    print(
        f"wrote {info['path']}: {info['seconds']:.2f} s, peak {info['peak']:.3f}, "
        f"{info['events_applied']} events, {st['voices_started']} voices started"
    )
    return 0
