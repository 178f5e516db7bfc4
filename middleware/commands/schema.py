"""``soundscape schema``: print the scene format's JSON Schema for editors."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "schema"
HELP = "print the JSON Schema of scene files (for editor autocompletion)"
DESCRIPTION = (
    "Print the JSON Schema (draft 2020-12) of scene YAML files, generated from the same field "
    "definitions the loader validates with. Save it and add "
    "'# yaml-language-server: $schema=scene.schema.json' at the top of a scene to get completion, "
    "descriptions with units, and underlines in VS Code's YAML extension."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", type=Path, help="write to this file instead of stdout")


def run(args: argparse.Namespace) -> int:
    from ..scene.schema import schema_json

    text = schema_json()
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 0
