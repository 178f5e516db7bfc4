"""``soundscape assets``: make every shipped scene's sounds (scenes/<scene>/sounds/*.wav)."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "assets"
HELP = "make the WAV assets of every shipped scene (forest, dungeon, town, demo; deterministic, seconds)"
DESCRIPTION = (
    "Write every missing asset of the shipped scenes (rain, wind, birds, music segments, footsteps, "
    "the demo's NPC line ...) into scenes/<scene>/sounds/, so every scenes/*.yaml validates. The "
    "files are not in the repository; they are the same bytes on every machine. All are made by "
    "middleware/tools/example_assets.py (MIT): numpy DSP, and the project's footstep generator "
    "and voice synthesiser for the demo's own sounds."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenes", type=Path, default=None, help="scenes folder to write into (default: the repository's)"
    )
    parser.add_argument("--force", action="store_true", help="rewrite files that already exist")
    parser.add_argument(
        "--list", action="store_true", help="list the assets with a description; write nothing"
    )


def run(args: argparse.Namespace) -> int:
    from ..tools.example_assets import ASSETS, LICENCE, default_scenes_dir, ensure_example_assets, report

    if args.list:
        for spec in ASSETS:
            print(f"{spec.relpath}: {spec.description}")
        print(f"licence: {LICENCE}")
        return 0
    root = args.scenes if args.scenes is not None else default_scenes_dir()
    print(report(root, ensure_example_assets(root, force=args.force)))
    return 0
