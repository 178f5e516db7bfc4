"""Model cards: a JSON file beside each model saying what it is, what it learnt from, how well it does.

A designer (or a reviewer of a commit) reads the card to know which examples a model was trained
on (with their sha256, so a stale model is detectable), which inputs and outputs it has, its
measured error against simple baselines, and which code produced it.

Retraining never replaces a model in place (``plan_output``): the new one is written beside it as
``<name>.v<N>.onnx`` with its own card, so the model a scene uses (often a tracked, shipped file)
stays until the designer points the scene at the new one.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import ModelError


def card_path(model: Path) -> Path:
    """``models/director.onnx`` -> ``models/director.card.json``."""
    return model.with_suffix(".card.json")


_VERSIONED = re.compile(r"^(?P<base>.+)\.v(?P<n>[0-9]+)$")


def versioned_path(model: Path, version: int) -> Path:
    """``director.onnx`` (or ``director.v2.onnx``), 3 -> ``director.v3.onnx`` beside it."""
    stem = model.name[: -len(model.suffix)] if model.suffix else model.name
    m = _VERSIONED.match(stem)
    return model.with_name(f"{m['base'] if m else stem}.v{version}{model.suffix}")


def model_version(model: Path) -> int:
    """The version the model's card records; else the ``.vN`` in its name; 0 when neither exists."""
    if card_path(model).is_file():
        try:
            return int(read_card(model).get("version", 0))
        except (ModelError, ValueError, TypeError):
            pass
    m = _VERSIONED.match(model.name[: -len(model.suffix)] if model.suffix else model.name)
    return int(m["n"]) if m else (1 if model.exists() else 0)


def plan_output(current: Path, out: Path | None = None, overwrite: bool = False) -> tuple[Path, int]:
    """Where a (re)trained model goes and its version, never replacing a model unasked.

    ``current`` is the model the scene names. With ``out``: there (a model or card already there is
    refused unless ``overwrite``). Without: ``current`` itself when nothing is there yet (a first
    training), else the next free ``<name>.v<N><suffix>`` beside it, N = its version + 1. The
    version is one more than any model it supersedes."""
    current = Path(current)
    if out is not None:
        out = Path(out)
        taken = [p for p in (out, card_path(out)) if p.exists()]
        if taken and not overwrite:
            raise ModelError(f"{taken[0]} exists; choose another output path, or --force to replace it")
        m = _VERSIONED.match(out.name[: -len(out.suffix)] if out.suffix else out.name)
        named = int(m["n"]) if m else 0  # `--out director.v2.onnx` means version 2 when that is new
        replaced = model_version(out) + 1 if taken else 0  # --force: newer than what it replaces
        return out, max(model_version(current) + 1, named, replaced)
    if not current.exists() and not card_path(current).exists():
        return current, 1
    version = model_version(current) + 1
    path = versioned_path(current, version)
    while path.exists() or card_path(path).exists():
        version += 1
        path = versioned_path(current, version)
    return path, version


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    return sha256_bytes(Path(path).read_bytes())


def code_version() -> str:
    """Package version plus the git commit of the training code (``+dirty`` if edited), when known."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        return f"{__version__}+g{rev}{'.dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        return __version__


def utc_now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def write_card(model: Path, card: Mapping[str, Any]) -> Path:
    """Write the card beside ``model`` (stable key order so diffs stay small)."""
    path = card_path(model)
    path.write_text(json.dumps(card, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def read_card(model: Path) -> dict[str, Any]:
    path = card_path(model)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{path}: model card not found (retrain the model to write it)") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable model card ({exc})") from None
