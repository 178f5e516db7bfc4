"""The scene graph: definitions from YAML (``load``, ``model``) and their live instances (``runtime``)."""

from .load import check_scene, load_scene, load_scene_text

__all__ = ["check_scene", "load_scene", "load_scene_text"]
