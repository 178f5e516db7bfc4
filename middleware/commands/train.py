"""``soundscape train director|morph SCENE.yaml``: train a scene's models with our own code, export ONNX.

Training needs the ``train`` extra only for the ``onnx`` package (graph writing and checking);
the networks themselves are numpy. Every run is seeded, shows a progress bar on stderr, checks that
onnxruntime reproduces the training forward pass, and writes a model card beside the model.

A model the scene already uses is never replaced: the new one is written beside it as the next
version (``director.v2.onnx`` + card, ``cards.plan_output``), and the scene is pointed at it only
with ``--use`` (which rewrites the one ``model:`` line, so a running ``soundscape play`` hot-reloads).
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

from ..errors import ModelError
from ._common import UsageError

NAME = "train"
HELP = "train a scene's director (layer weights) or a morph layer's texture model, export ONNX + card"
_PLAIN = re.compile(r"^[A-Za-z0-9_./-]+$")  # a path YAML reads back as the same plain string


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=["director", "morph"], help="which model to train")
    p.add_argument("scene", help="scene YAML file")
    p.add_argument("--layer", help="morph: the layer to train, as emitter.layer (or just the layer id)")
    p.add_argument(
        "-o",
        "--output",
        "--out",
        dest="out",
        metavar="PATH",
        help="model file to write (default: the scene's model path if nothing is there yet, else the "
        "next version beside it, e.g. models/director.v2.onnx)",
    )
    p.add_argument("--force", action="store_true", help="with --output: replace a model already there")
    p.add_argument(
        "--use",
        action="store_true",
        help="point the scene at the new model (rewrites its model: line); without it the scene keeps "
        "the model it had",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--steps", type=int, help="optimiser steps (default: 2000 director, 3000 morph)")
    p.add_argument("--hidden", type=int, help="hidden units per layer (default: 16 director, 32 morph)")
    p.add_argument("--no-loo", action="store_true", help="director: skip the leave-one-out evaluation")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _scene(path: str):
    from ..scene.load import load_scene

    # the model file may not exist yet (that is why we train): don't require assets to exist here
    return load_scene(path, check_assets=False)


def model_line(scene_file: Path, root: Path, model: Path) -> tuple[int, int, int, str]:
    """(line, start, end, text) of the scene's ``model:`` value that names ``model`` (character
    offsets into the file's text); ModelError unless exactly one does."""
    import yaml

    text = scene_file.read_text(encoding="utf-8")
    found = []
    for node in _mappings(yaml.compose(text)):
        for key, value in node.value:
            named = isinstance(value, yaml.ScalarNode) and key.value == "model" and value.value
            if named and (root / value.value).resolve() == model.resolve():
                found.append(value)
    if len(found) != 1:
        raise ModelError(f"{scene_file}: {len(found)} 'model:' lines name {model}; edit the scene by hand")
    v = found[0]
    return v.start_mark.line + 1, v.start_mark.index, v.end_mark.index, text


def _mappings(node: object) -> Iterator[object]:
    """Every mapping node in a composed YAML tree."""
    import yaml

    if isinstance(node, yaml.MappingNode):
        yield node
        for k, v in node.value:
            yield from _mappings(k)
            yield from _mappings(v)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _mappings(item)


def _relative(root: Path, path: Path) -> str:
    """``path`` as a scene names files: relative to its folder, which it must stay inside."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise UsageError(f"--use: {path} is outside the scene's folder {root}") from None


def use_model(scene_file: Path, root: Path, old: Path, new: Path) -> int:
    """Rewrite the scene's ``model:`` value naming ``old`` to name ``new``; atomic, so a watching
    player never reads half a file. Returns the line changed."""
    rel = _relative(root, new)
    line, start, end, text = model_line(scene_file, root, old)
    value = rel if _PLAIN.match(rel) else json.dumps(rel)
    tmp = scene_file.with_name(f".{scene_file.name}.{os.getpid()}.tmp")
    tmp.write_text(text[:start] + value + text[end:], encoding="utf-8")
    os.replace(tmp, scene_file)
    return line


def _check_use(args: argparse.Namespace, root: Path, current: Path | None) -> None:
    """Refuse --use before training when it could not be honoured afterwards."""
    if not args.use:
        return
    if current is None:
        raise UsageError("--use: the scene names no model file to switch")
    model_line(Path(args.scene), root, current)
    if args.out:
        _relative(root, Path(args.out))


def _point(args: argparse.Namespace, root: Path, old: Path, new: Path) -> str:
    """Switch the scene to the new model (``--use``), or say how to."""
    scene_file = Path(args.scene)
    if new.resolve() == old.resolve():
        return f"{scene_file} uses {new.name}"
    if args.use:
        line = use_model(scene_file, root, old, new)
        return f"{scene_file}:{line}: the scene now uses {new.name} (was {old.name})"
    line, *_ = model_line(scene_file, root, old)
    try:
        to = f"set line {line} to 'model: {_relative(root, new)}'"
    except UsageError:
        to = f"copy it into {root} and set line {line} to name it"
    return f"{scene_file} still uses {old.name}; to switch, run again with --use, or {to}"


def run(args: argparse.Namespace) -> int:
    scene = _scene(args.scene)
    out = Path(args.out) if args.out else None
    if args.force and out is None:
        raise UsageError("--force applies with --output PATH only (retraining never replaces a model)")
    if args.what == "director":
        from ..ml.train_director import DirectorConfig, summary, train_director

        current = scene.director.model if scene.director is not None else None
        _check_use(args, scene.root, current)
        cfg = DirectorConfig(seed=args.seed, loo=not args.no_loo)
        if args.steps:
            cfg.steps = args.steps
        if args.hidden:
            cfg.hidden = (args.hidden, args.hidden)
        t = train_director(scene, cfg, out=out, progress=not args.quiet, overwrite=args.force)
        print(summary(t))
    else:
        from ..ml.train_morph import MorphConfig, find_morph_layer, morph_summary, train_morph

        if not args.layer:
            raise UsageError("train morph: --layer is required (emitter.layer of a morph layer)")
        current = find_morph_layer(scene, args.layer).source.model
        _check_use(args, scene.root, current)
        cfg = MorphConfig(seed=args.seed)
        if args.steps:
            cfg.steps = args.steps
        if args.hidden:
            cfg.hidden = args.hidden
        t = train_morph(scene, args.layer, cfg, out=out, progress=not args.quiet, overwrite=args.force)
        print(morph_summary(t))
    if current is not None:
        print(_point(args, scene.root, Path(current), t.model_path))
    return 0
