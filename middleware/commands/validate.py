"""``soundscape validate SCENE.yaml``: every problem with file:line:col, what is wrong and a hint."""

from __future__ import annotations

import argparse
import sys

NAME = "validate"
HELP = "check scene files; print every error as file:line:col with a hint"
DESCRIPTION = (
    "Load each scene file as the daemon would and print every problem found, as "
    "'file:line:col: error: message' followed by a hint. Exit status 0 only when every file is valid."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenes", nargs="+", metavar="SCENE.yaml", help="scene file(s) to check")
    parser.add_argument(
        "--no-assets",
        action="store_true",
        help="do not require audio files to exist (paths are still checked)",
    )


def summary(scene) -> str:
    """One line describing a valid scene."""
    n_layers = sum(1 for _ in scene.all_layers())
    parts = [
        f"{len(scene.parameters)} parameters",
        f"{len(scene.states)} states",
        f"{len(scene.switches)} switches",
        f"{len(scene.buses)} buses",
        f"{len(scene.emitters)} emitters",
        f"{len(scene.events)} events",
        f"{n_layers} layers",
    ]
    if scene.music is not None:
        parts.append(f"music with {len(scene.music.segments)} segments")
    return f"scene {scene.name!r}: " + ", ".join(parts)


def run(args: argparse.Namespace) -> int:
    from ..scene.load import check_scene

    failed = 0
    for path in args.scenes:
        scene, issues = check_scene(path, check_assets=not args.no_assets)
        if issues:
            failed += 1
            for issue in issues:
                print(issue.format())
            n = len(issues)
            print(f"{path}: {n} error{'s' if n != 1 else ''}", file=sys.stderr)
            continue
        model_errors, notes = _check_models(scene) if not args.no_assets else ([], [])
        for text in notes:
            print(f"{path}: warning: {text}")
        if model_errors:
            failed += 1
            for text in model_errors:
                print(f"{path}: error: {text}")
            print(
                f"{path}: {len(model_errors)} model error(s); the daemon would play the rules instead",
                file=sys.stderr,
            )
        else:
            print(f"{path}: ok, {summary(scene)}")
    return 1 if failed else 0


def _check_models(scene) -> tuple[list[str], list[str]]:
    """ML models the scene names: missing, corrupt or mismatched ones are errors; stale ones warnings."""
    if scene.director is None and not any(
        type(layer.source).__name__ == "MorphSource" for _, layer in scene.all_layers()
    ):
        return [], []
    from ..ml.director import check_director, check_morphs, model_notes

    return check_director(scene) + check_morphs(scene), model_notes(scene)
