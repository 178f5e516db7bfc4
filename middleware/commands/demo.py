"""``soundscape demo``: the demo game plays itself against a live daemon (the README's main job).

Starts ``soundscape serve`` on the demo scene (the sound card, or miniaudio's NULL device when there
is none), lets the bot walk the player through every situation (areas, weather, time of day, a fight,
an NPC line, footsteps on four surfaces, music on the beat, a VR head turn) using only the public
client, then renders the recorded session offline to ``out/demo.wav`` and draws ``out/demo.png``
(parameters and states above layer weights, model output marked, above a spectrogram and the
left/right balance). ``--keyboard`` plays it yourself in the terminal instead. ``--profile FILE``
plays it for a player profile (docs/accessibility.md; examples in scenes/profiles/).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import add_profile_option, require_terminal

NAME = "demo"
HELP = "the demo game plays itself against a live daemon; writes out/demo.wav and out/demo.png"

ROOT = Path(__file__).resolve().parents[2]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--keyboard", action="store_true", help="play it yourself in the terminal (arrow keys)")
    p.add_argument(
        "--out", default="out", help="folder for demo.wav, demo.png and the session log (default out/)"
    )
    p.add_argument("--scale", type=float, default=1.0, help="stretch the scripted walk-through (1 = 63 s)")
    p.add_argument(
        "--backend", default=None, help="miniaudio backend, e.g. null (default: sound card, else NULL)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed of the offline render")
    add_profile_option(
        p, "applied by the demo's daemon and its offline render, named in out/demo.png (keyboard: p cycles)"
    )


def run(args: argparse.Namespace) -> int:
    if args.keyboard:  # before anything starts: curses cannot run without a terminal
        require_terminal("--keyboard", "run it in a terminal, or drop --keyboard to let the bot play")
    if str(ROOT) not in sys.path:  # demo_game/ sits beside the package in a source checkout
        sys.path.insert(0, str(ROOT))
    try:
        from demo_game.__main__ import main as demo_main
    except ImportError as exc:
        from ..errors import SoundscapeError

        raise SoundscapeError(f"the demo game is not available ({exc}); run from a source checkout") from None
    argv = ["--out", args.out, "--scale", str(args.scale), "--seed", str(args.seed)]
    if not args.keyboard:
        argv.insert(0, "--autoplay")
    if args.backend:
        argv += ["--backend", args.backend]
    if args.profile:
        argv += ["--profile", args.profile]
    return int(demo_main(argv) or 0)
