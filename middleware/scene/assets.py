"""A scene's audio files in the engine's sample bank, and their loudness for automatic mixing.

Each file is decoded once, keyed by path and modification time, so an edited file loads again on hot
reload while an unchanged one is shared. Its integrated loudness is measured once at load, so
``normalise_db`` can bring a layer to its bus's loudness target without any work at play time.

Threads: ``load`` runs in the caller's thread (``SceneRuntime.prepare``); the swap on the render path
finds the scene loaded already and touches no file. An entry that no scene file maps to any more (the
old version of an edited file) is retired, and ``release_unused``, called off the render path (the
daemon's main thread), removes it from the bank once no voice plays it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..engine import Engine
from ..errors import SceneError
from .model import LayerDef, SampleSource, SceneDef

NORMALISE_LIMIT_DB = 24.0  # automatic mixing never moves an asset further than this


class Assets:
    """Which bank entry holds each scene file, and each entry's loudness."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._keys: dict[Path, str] = {}  # file -> bank name (path@mtime)
        self._lufs: dict[str, float] = {}  # bank name -> integrated loudness (-inf: not measurable)
        self._loaded: SceneDef | None = None  # the scene whose files were loaded last
        self._loaded_files: frozenset[Path] = frozenset()  # its audio files
        self._retired: dict[str, int] = {}  # bank name -> engine frame when no scene file mapped to it

    def load(self, scene: SceneDef) -> None:
        """Decode every audio file of ``scene`` not in the bank yet (in the caller's thread). A scene
        loaded already (prepared, then swapped in on the render path) is not looked at again."""
        from .spec import AUDIO_EXTENSIONS

        if scene is self._loaded:
            return
        files = []
        for f in scene.asset_files():
            if f.suffix.lower() not in AUDIO_EXTENSIONS:
                continue  # models and other non-audio files are loaded by their own users
            files.append(f)
            try:
                key = f"{f}@{os.stat(f).st_mtime_ns}"
            except OSError as exc:
                raise SceneError(f"{f}: cannot read asset ({exc.strerror})") from None
            if key not in self.engine.bank:
                self.engine.bank.load(key, f)
            old = self._keys.get(f)
            if old is not None and old != key:  # an edited file: its old version goes once unused
                self._retired[old] = int(self.engine.frame)
            self._retired.pop(key, None)
            self._keys[f] = key
            if key not in self._lufs:
                self._lufs[key] = _asset_loudness(self.engine.bank.array(key), self.engine.sample_rate)
        self._loaded, self._loaded_files = scene, frozenset(files)

    def swapped(self, scene: SceneDef) -> None:
        """``scene`` (loaded) now plays: the entries of files it does not use are retired (render path:
        only dictionary work; the old scene starts no voice any more, and its voices end on their own)."""
        if scene is not self._loaded:
            return
        frame = int(self.engine.frame)
        for f in [f for f in self._keys if f not in self._loaded_files]:
            self._retired[self._keys.pop(f)] = frame

    def release_unused(self) -> int:
        """Remove retired entries that no voice plays from the bank; returns the bytes released.

        Never on the render path (the bank's ``remove`` copies its table). A retired entry is no
        longer handed to new voices (``key`` maps its file to the new version since ``load``); it
        goes once two blocks have passed (a start queued meanwhile has reached its voice) and no
        voice slot holds it."""
        if not self._retired:
            return 0
        engine = self.engine
        bank = engine.bank
        horizon = int(engine.frame) - 2 * int(engine.block)
        playing = _rows_playing(engine)
        freed = 0
        for key, since in list(self._retired.items()):
            if since > horizon or key not in bank:
                if key not in bank:
                    del self._retired[key]
                continue
            if bank.index(key) in playing:
                continue
            freed += bank.remove(key)
            del self._retired[key]
            self._lufs.pop(key, None)
        return freed

    def key(self, src: SampleSource) -> str:
        """The bank name a sample source plays (its file as last loaded). A SceneError for a file the
        playing scene does not use (a start scheduled before a swap to a scene without it)."""
        key = self._keys.get(src.file)
        if key is None:
            raise SceneError(f"{src.file}: not loaded (the scene that used it was swapped out)")
        return key

    def normalise_db(self, scene: SceneDef, layer: LayerDef, bus: str, key: str) -> float:
        """Automatic mixing: gain that brings this asset to its bus's loudness target (0 if none)."""
        bdef = scene.buses.get(bus)
        if bdef is None or bdef.loudness_lufs is None or not layer.normalize:
            return 0.0
        lufs = self._lufs.get(key, -math.inf)
        if not math.isfinite(lufs):
            return 0.0
        return max(-NORMALISE_LIMIT_DB, min(NORMALISE_LIMIT_DB, bdef.loudness_lufs - lufs))


def _rows_playing(engine: Engine) -> set[int]:
    """Bank rows some voice slot holds (playing or virtual), read from the engine's voice table."""
    from ..engine.voices import FREE, SMP, ST

    table = engine.voices.I
    return {int(r) for r in np.unique(table[table[:, ST] != FREE, SMP])}


def _asset_loudness(x: np.ndarray, sr: int) -> float:
    """Integrated loudness (LUFS) of an asset, measured once at load for automatic mixing."""
    from ..engine.dsp.loudness import integrated_loudness

    try:
        return float(integrated_loudness(x, sr))
    except Exception:  # too short to gate, silent ...: no normalisation for this asset
        return -math.inf
