"""The scene panel: what the scene declares, whether the file on disk is valid, and hot reload.

The studio watches the scene file. When it changes, the studio checks it with the same loader
``soundscape validate`` uses (so each problem has ``file:line:col`` and a hint) and, only when it
is valid, asks the daemon to ``load_scene`` it over the protocol. A rejected edit leaves the
previous version playing, and the panel says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..scene.issues import SceneIssue
from ..scene.load import check_scene
from ..scene.model import AttenuationDef, SceneDef

RELOADED = "reloaded"
REJECTED = "rejected, still playing the previous version"


def _issue(i: SceneIssue, root: Path) -> dict[str, Any]:
    try:
        shown = os.path.relpath(i.file, root)
    except ValueError:
        shown = i.file
    return {"file": shown, "line": i.line, "col": i.col, "message": i.message, "hint": i.hint,
            "snippet": i.snippet, "text": f"{shown}:{i.line}:{i.col}: {i.message}"}  # fmt: skip


def _att(a: AttenuationDef) -> dict[str, float]:
    return {"min": a.min_distance, "max": a.max_distance}


def describe(scene: SceneDef) -> dict[str, Any]:
    """What the page shows of a scene: names, ranges, descriptions and places (JSON-ready)."""
    d = scene.director
    return {
        "name": scene.name,
        "file": scene.file.name,
        "description": scene.description,
        "parameters": {
            p.name: {"min": p.min, "max": p.max, "default": p.default, "description": p.description}
            for p in scene.parameters.values()
        },
        "states": {
            g.name: {"values": list(g.values), "default": g.default, "description": g.description}
            for g in scene.states.values()
        },
        "switches": {
            g.name: {"values": list(g.values), "default": g.default, "description": g.description}
            for g in scene.switches.values()
        },
        "snapshots": {s.name: {"description": s.description} for s in scene.snapshots.values()},
        "events": {
            e.name: {
                "description": e.description,
                "parameters": sorted(e.parameters),
                "position": e.position if not isinstance(e.position, tuple) else list(e.position),
                "attenuation": _att(e.attenuation),
            }
            for e in scene.events.values()
        },
        "emitters": {
            e.name: {
                "description": e.description,
                "bus": e.bus,
                "position": list(e.position) if e.position is not None else None,
                "follows": e.follows,
                "path": [list(p) for p in e.path.points] if e.path is not None else None,
                "spatial": e.spatial,
                "attenuation": _att(e.attenuation),
                "layers": [
                    {"uid": layer.uid, "description": layer.description, "director": bool(layer.director)}
                    for layer in e.layers
                ],
            }
            for e in scene.emitters.values()
        },
        "listener": {"position": list(scene.listener.position), "forward": list(scene.listener.forward)},
        "buses": sorted(scene.buses),
        "director": None
        if d is None
        else {
            "inputs": list(d.inputs),
            "outputs": list(d.outputs),
            "model": d.model.name if d.model is not None else None,
            "examples": d.examples.name if d.examples is not None else None,
        },
    }


@dataclass
class ScenePanel:
    """The scene file the studio watches, its last good definition and the reload status."""

    path: Path
    scene: SceneDef | None = None
    issues: list[dict[str, Any]] = field(default_factory=list)
    status: str = ""
    detail: str = ""
    mtime: float = 0.0
    version: int = 0

    def __post_init__(self) -> None:
        self.path = Path(self.path).resolve()
        self.scene = self.check()
        self.status = "loaded" if self.scene is not None else REJECTED
        self.mtime = self._mtime()

    @property
    def root(self) -> Path:
        return self.path.parent

    def _mtime(self) -> float:
        try:
            return self.path.stat().st_mtime_ns / 1e9
        except OSError:
            return 0.0

    def changed(self) -> bool:
        """Whether the file changed since the last look (and remember the new time)."""
        m = self._mtime()
        if m == self.mtime:
            return False
        self.mtime = m
        return True

    def check(self) -> SceneDef | None:
        """Validate the file now: its definition, or None (then ``issues`` says why)."""
        scene, issues = check_scene(self.path)
        self.issues = [_issue(i, self.root) for i in issues]
        return scene if scene is not None and not issues else None

    def accept(self, scene: SceneDef) -> None:
        """The daemon plays ``scene`` now: the panel describes it."""
        self.scene = scene

    def set_status(self, status: str, detail: str = "") -> None:
        self.status, self.detail = status, detail
        self.version += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.path.name,
            "status": self.status,
            "detail": self.detail,
            "issues": self.issues,
            "scene": describe(self.scene) if self.scene is not None else None,
            "version": self.version,
        }


__all__ = ["REJECTED", "RELOADED", "ScenePanel", "describe"]
