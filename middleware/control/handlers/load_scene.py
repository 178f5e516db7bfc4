"""``load_scene``: replace the scene with another file from the current scene's folder (never
outside it). Here the load and ``reload`` happen in the caller's thread; the daemon loads on its
audio process's main thread and swaps on the render thread."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..handler import Handler, Lane
from ..runtime_protocol import Runtime


def perform(rt: Runtime, f: Mapping[str, Any], at: int | None) -> Any:
    rt.reload(scene_beside(rt, f["path"]))
    return {}


def scene_beside(rt: Runtime, path: str) -> Any:
    """Load ``path`` from the folder of ``rt``'s current scene (a runtime without one refuses)."""
    from ...scene.load import load_scene
    from ...scene.runtime import RuntimeErrorMsg

    if rt.scene is None:
        raise RuntimeErrorMsg(f"load_scene path={path!r}: this runtime has no scene folder")
    folder = Path(rt.scene.file).resolve().parent
    target = (folder / path).resolve()
    if not target.is_relative_to(folder) or target.suffix.lower() not in (".yaml", ".yml"):
        raise RuntimeErrorMsg(f"load_scene path={path!r}: must be a .yaml file inside the scene folder")
    return load_scene(target)


HANDLER = Handler("load_scene", perform, needs=("scene", "reload"), lane=Lane.SCENE, flush=True)
