"""``soundscape validate SCENE.yaml``: every problem with file:line:col, what is wrong and a hint."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

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
        where = _model_lines(path) if model_errors or notes else lambda text: ""
        for text in notes:
            print(f"{path}:{where(text)} warning: {text}")
        if model_errors:
            failed += 1
            for text in model_errors:
                print(f"{path}:{where(text)} error: {text}")
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


def _model_lines(path: str) -> Callable[[str], str]:
    """``line:col:`` in the scene of the model a problem is about ('' when it cannot be placed).

    Model problems come from the ML modules as text naming the director or a layer uid
    (``layer 'bed.wind': ...``); this finds the ``model:`` line they refer to.
    """
    import re
    from pathlib import Path

    from yaml.nodes import MappingNode, Node, SequenceNode

    from ..scene.load import compose_scene

    def child(node: Node | None, key: str) -> Node | None:
        if isinstance(node, MappingNode):
            for k, v in node.value:
                if getattr(k, "value", None) == key:
                    return v
        return None

    root = compose_scene(Path(path).read_text(encoding="utf-8"))
    director = child(root, "director")
    places: dict[str, Node] = {"": child(director, "model") or director or root}
    for section in ("emitters", "events"):
        owners = child(root, section)
        for k, owner in owners.value if isinstance(owners, MappingNode) else ():
            layers = child(owner, "layers")
            for layer in layers.value if isinstance(layers, SequenceNode) else ():
                lid = child(layer, "id")
                source = child(layer, "source")
                if lid is not None:
                    places[f"{k.value}.{lid.value}"] = child(source, "model") or source or layer

    def where(text: str) -> str:
        m = re.match(r"layer '([^']+)'", text)
        node = places.get(m.group(1)) if m else places[""]  # the rest are about the director's model
        return "" if node is None else f"{node.start_mark.line + 1}:{node.start_mark.column + 1}:"

    return where
