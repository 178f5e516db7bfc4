"""What every subcommand shares: usage errors, scene-path arguments, the terminal check.

The leading underscore keeps ``middleware.cli`` from taking this module for a subcommand.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

from ..errors import SoundscapeError

SCENE_DESTS = ("scene", "scenes")
"""A positional argument with one of these names is a scene file path: ``middleware.cli`` checks
that it exists before the subcommand runs, so a missing scene reads the same everywhere."""


def add_profile_option(parser: argparse.ArgumentParser, where: str) -> None:
    """``--profile FILE``, the player profile, worded once for every command that applies one."""
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="player profile (YAML/JSON, docs/accessibility.md): hearing compensation, mono, dynamic "
        f"range and per-group volumes, {where}",
    )


class UsageError(SoundscapeError):
    """A command line that cannot run as given: one line on stderr, exit status 2."""


def scene_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The positional arguments of a (sub)command parser that name scene files."""
    return [a for a in parser._actions if not a.option_strings and a.dest in SCENE_DESTS]


def check_scene_paths(paths: Iterable[str | None]) -> None:
    """Raise ``UsageError`` for the first path that is not an existing file (None is skipped:
    an optional scene that was not given)."""
    for text in paths:
        if text is None:
            continue
        path = Path(text)
        if path.is_dir():
            raise UsageError(f"{text}: is a folder, not a scene file")
        if not path.is_file():
            raise UsageError(f"{text}: scene file not found")


def scene_paths(args: argparse.Namespace, dests: Iterable[str]) -> list[str | None]:
    """The values of the scene arguments ``dests`` in parsed ``args``, flattened."""
    out: list[str | None] = []
    for dest in dests:
        value = getattr(args, dest, None)
        out.extend(value if isinstance(value, list) else [value])
    return out


def interactive_terminal() -> bool:
    """True when both stdin and stdout are a terminal (a full-screen or key-driven view can run)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def require_terminal(what: str, instead: str) -> None:
    """Raise ``UsageError`` saying ``what`` needs a terminal and what to run ``instead``."""
    if not interactive_terminal():
        raise UsageError(f"{what} needs a terminal (stdin and stdout are not one); {instead}")
