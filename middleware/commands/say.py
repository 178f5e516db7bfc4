"""``soundscape say "text" --preset robot -o line.wav``: render a character line to a WAV file."""

from __future__ import annotations

import argparse
import sys

NAME = "say"
HELP = "render a synthetic character voice line to a WAV file"
DESCRIPTION = (
    "Speak TEXT in a character voice (presets: neutral, ogre, child, robot, radio, ghost, whisper, goblin, "
    "elder) with the built-in formant synthesiser, or with espeak-ng when installed (--engine espeak). "
    "The WAV's metadata labels the line as synthetic. Lines are cached by text and preset."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="?", help="what to say (1..4096 bytes)")
    parser.add_argument("--preset", default="neutral", help="character preset (default: neutral)")
    parser.add_argument("-o", "--output", metavar="OUT.wav", help="WAV file to write (required to speak)")
    parser.add_argument("--sample-rate", type=int, default=48000, help="output rate in Hz (default 48000)")
    parser.add_argument("--engine", choices=("formant", "espeak"), default="formant", help="speech engine")
    parser.add_argument("--no-cache", action="store_true", help="render afresh and do not store the line")
    parser.add_argument("--list-presets", action="store_true", help="print the presets and exit")


def run(args: argparse.Namespace) -> int:
    from ..errors import EngineError
    from ..tools.voice import PRESETS, write_line

    if args.list_presets:
        for p in PRESETS.values():
            print(f"{p.name:10s} {p.description}")
        return 0
    if args.text is None or args.output is None:
        raise EngineError("say: TEXT and -o OUT.wav are required (or --list-presets)")
    info = write_line(
        args.output,
        args.text,
        args.preset,
        args.sample_rate,
        engine=args.engine,
        use_cache=not args.no_cache,
    )
    src = "cache" if info.get("cached") else f"rendered in {info['render_s']:.2f} s"
    print(
        f"{args.output}: {info['duration_s']:.2f} s, preset {info['preset']}, engine {info['engine']} "
        f"({src}), labelled synthetic",
        file=sys.stderr,
    )
    return 0
