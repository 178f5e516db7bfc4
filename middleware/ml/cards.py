"""Model cards: a JSON file beside each model saying what it is, what it learnt from, how well it does.

A designer (or a reviewer of a commit) reads the card to know which examples a model was trained
on (with their sha256, so a stale model is detectable), which inputs and outputs it has, its
measured error against simple baselines, and which code produced it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import ModelError


def card_path(model: Path) -> Path:
    """``models/director.onnx`` -> ``models/director.card.json``."""
    return model.with_suffix(".card.json")


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
