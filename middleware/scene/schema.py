"""The scene format as JSON Schema (draft 2020-12), generated from the field table in ``fields.py``.

``soundscape schema > scene.schema.json`` and a ``# yaml-language-server: $schema=scene.schema.json``
line at the top of a scene give VS Code's YAML extension autocompletion, hover descriptions (with
units), enum choices and defaults. The schema describes the data as the loader reads the YAML (1.1
booleans, 1.2 numbers) and gives the loader's verdict on every rule it can express; the kinds of
rule it cannot (``issues.SCHEMA_BLIND``: cross references, names given twice, relations between
values, expressions, files, unreadable YAML) are checked by ``soundscape validate`` only.
"""

from __future__ import annotations

import json
from typing import Any

from .fields import SCENE

SCHEMA_ID = "https://soundscape.invalid/schema/scene-1.json"


def scene_schema() -> dict[str, Any]:
    """The JSON Schema of a scene file, derived from the same specs the loader validates with."""
    defs: dict[str, Any] = {}
    ref = SCENE.schema(defs)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Soundscape scene",
        "description": SCENE.description,
        **ref,
        "$defs": dict(sorted(defs.items())),
    }


def schema_json(indent: int = 2) -> str:
    """The schema as JSON text."""
    return json.dumps(scene_schema(), indent=indent, ensure_ascii=False) + "\n"
