"""``soundscape train director|morph SCENE.yaml``: train a scene's models with our own code, export ONNX.

Training needs the ``train`` extra only for the ``onnx`` package (graph writing and checking);
the networks themselves are numpy. Every run is seeded, shows a progress bar on stderr, checks that
onnxruntime reproduces the training forward pass, and writes a model card beside the model.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ModelError

NAME = "train"
HELP = "train a scene's director (layer weights) or a morph layer's texture model, export ONNX + card"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=["director", "morph"], help="which model to train")
    p.add_argument("scene", help="scene YAML file")
    p.add_argument("--layer", help="morph: the layer to train, as emitter.layer (or just the layer id)")
    p.add_argument("--out", help="model file to write (default: the path the scene names)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--steps", type=int, help="optimiser steps (default: 2000 director, 3000 morph)")
    p.add_argument("--hidden", type=int, help="hidden units per layer (default: 16 director, 32 morph)")
    p.add_argument("--no-loo", action="store_true", help="director: skip the leave-one-out evaluation")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _scene(path: str):
    from ..scene.load import load_scene

    # the model file may not exist yet (that is why we train): don't require assets to exist here
    return load_scene(path, check_assets=False)


def run(args: argparse.Namespace) -> int:
    scene = _scene(args.scene)
    out = Path(args.out) if args.out else None
    if args.what == "director":
        from ..ml.train_director import DirectorConfig, summary, train_director

        cfg = DirectorConfig(seed=args.seed, loo=not args.no_loo)
        if args.steps:
            cfg.steps = args.steps
        if args.hidden:
            cfg.hidden = (args.hidden, args.hidden)
        t = train_director(scene, cfg, out=out, progress=not args.quiet)
        print(summary(t))
        return 0
    from ..ml.train_morph import MorphConfig, morph_summary, train_morph

    if not args.layer:
        raise ModelError("soundscape train morph: --layer is required (emitter.layer of a morph layer)")
    cfg = MorphConfig(seed=args.seed)
    if args.steps:
        cfg.steps = args.steps
    if args.hidden:
        cfg.hidden = args.hidden
    t = train_morph(scene, args.layer, cfg, out=out, progress=not args.quiet)
    print(morph_summary(t))
    return 0
