"""Hot reload: watch a scene file (and its assets), load a changed version off the render thread.

A valid edit is handed to ``on_scene`` (which swaps it into the runtime at the next block; matching
layers keep playing and glide); an invalid edit goes to ``on_errors`` and the old scene keeps
playing. Polling mtimes every ``interval`` seconds needs no extra dependency and hears a saved edit
well within a second.

:func:`play_routing` says what of a layer's voice is fixed when it starts (the engine cannot change
it on a playing voice), so the swap knows which playing voices to restart on their new routing.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from .issues import SceneIssue
from .load import check_scene
from .model import EmitterDef, EventDef, LayerDef, SceneDef

ROUTE_CROSSFADE_S = 0.05
"""A playing loop whose routing a reload changed is played again on the new routing, crossfaded
over this long (the layer's own fades would make a dip of a second or more; 50 ms is a short
crossfade that does not click)."""


def play_routing(owner: EmitterDef | EventDef, layer: LayerDef) -> tuple:
    """What a layer's voice gets from its emitter or event when it starts and keeps until it ends:
    the bus, attenuation, doppler, binaural rendering, priority, loudness normalisation. (Sends,
    gain, pitch, filters and position follow a playing voice; they are not here. Whether it is
    placed in 3D is fixed too: an emitter's ``spatial``, an event instance's trigger position.)"""
    return (
        owner.bus,
        owner.attenuation,
        owner.doppler,
        owner.binaural,
        layer.priority,
        layer.normalize,
    )


def _stamp(paths: list[Path]) -> tuple:
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append((str(p), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(p), None, None))
    return tuple(out)


class SceneWatcher:
    """Polls a scene file and its assets; calls back with a new ``SceneDef`` or the list of issues."""

    def __init__(
        self,
        path: str | Path,
        on_scene: Callable[[SceneDef], None],
        on_errors: Callable[[list[SceneIssue]], None],
        interval: float = 0.25,
        scene: SceneDef | None = None,
    ) -> None:
        self.path = Path(path)
        self.on_scene = on_scene
        self.on_errors = on_errors
        self.interval = interval
        self._assets = list(scene.asset_files()) if scene else []
        self._last = _stamp([self.path, *self._assets])
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.reloads = 0
        self.failures = 0

    def start(self) -> SceneWatcher:
        self._thread = threading.Thread(target=self._run, name="scene-watcher", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def poll(self) -> bool:
        """Check once; returns True when a change was seen (and handled)."""
        stamp = _stamp([self.path, *self._assets])
        if stamp == self._last:
            return False
        self._last = stamp
        scene, issues = check_scene(self.path)
        if issues or scene is None:
            self.failures += 1
            self.on_errors(issues)
        else:
            self._assets = list(scene.asset_files())
            self._last = _stamp([self.path, *self._assets])
            self.reloads += 1
            self.on_scene(scene)
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception as exc:  # never let the watcher die silently: report and keep watching
                self.on_errors([SceneIssue(str(self.path), 1, 1, f"reload failed: {exc}")])
