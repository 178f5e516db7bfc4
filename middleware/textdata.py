"""Reading the JSON and YAML that users hand us (event timelines, example sets): safely and alike.

Scenes already cap nesting (``MAX_DEPTH``) and read YAML 1.2 numbers (``scene/load.py``). Every other
file a user writes gets the same rules here, so a thousand ``[`` is one clear ``ValueError`` rather
than a ``RecursionError`` traceback, and ``5e1`` is a number in an examples file as in a scene.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from .scene.load import SceneLoader
from .scene.spec import MAX_DEPTH


def _too_deep() -> ValueError:
    return ValueError(f"nested deeper than {MAX_DEPTH} levels")


def _check_depth(value: Any) -> None:
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, (dict, list)):
            if depth > MAX_DEPTH:
                raise _too_deep()
            stack.extend((c, depth + 1) for c in (v.values() if isinstance(v, dict) else v))


def loads_json(text: str) -> Any:
    """``json.loads`` with nesting capped at ``MAX_DEPTH``; raises ``ValueError`` (incl. JSONDecodeError)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise _too_deep() from None
    _check_depth(value)
    return value


def loads_yaml(text: str) -> Any:
    """Safe YAML with the scene loader's rules (YAML 1.2 floats, nesting capped); raises yaml.YAMLError."""
    return yaml.load(text, Loader=SceneLoader)
