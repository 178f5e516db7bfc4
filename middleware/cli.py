"""The ``soundscape`` command line: discovers subcommands in ``middleware.commands``.

Errors the user can fix (bad scene, missing file, busy port) print as one line on stderr and exit
with status 2; a traceback only appears with ``--debug``, because a designer needs the what and the
where, not our stack. Scene-file arguments (``commands._common.SCENE_DESTS``) are checked here, before
any subcommand runs, so a missing scene is reported in one wording by every subcommand.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from . import __version__, commands
from .commands._common import check_scene_paths, scene_actions, scene_paths
from .errors import SoundscapeError


def _discover() -> list:
    mods = []
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{commands.__name__}.{info.name}")
        if hasattr(mod, "NAME") and hasattr(mod, "run"):
            mods.append(mod)
    return mods


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="soundscape",
        description="Adaptive soundscape middleware: render, play, validate and serve YAML scenes.",
    )
    parser.add_argument("--version", action="version", version=f"soundscape {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _discover():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP))
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run, _scene_dests=tuple(a.dest for a in scene_actions(p)))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        check_scene_paths(scene_paths(args, args._scene_dests))
        return int(args._run(args) or 0)
    except SoundscapeError as exc:
        if args.debug:
            raise
        print(f"soundscape {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        if args.debug:
            raise
        print(f"soundscape {args.command}: error: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
