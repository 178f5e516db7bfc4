"""A scene's audio files in the engine's sample bank, and their loudness for automatic mixing.

Each file is decoded once, keyed by path and modification time, so an edited file loads again on hot
reload while an unchanged one is shared. Its integrated loudness is measured once at load, so
``normalise_db`` can bring a layer to its bus's loudness target without any work at play time.
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

    def load(self, scene: SceneDef) -> None:
        """Decode every audio file of ``scene`` not in the bank yet (in the caller's thread)."""
        from .spec import AUDIO_EXTENSIONS

        for f in scene.asset_files():
            if f.suffix.lower() not in AUDIO_EXTENSIONS:
                continue  # models and other non-audio files are loaded by their own users
            try:
                key = f"{f}@{os.stat(f).st_mtime_ns}"
            except OSError as exc:
                raise SceneError(f"{f}: cannot read asset ({exc.strerror})") from None
            if key not in self.engine.bank:
                self.engine.bank.load(key, f)
            self._keys[f] = key
            if key not in self._lufs:
                self._lufs[key] = _asset_loudness(self.engine.bank.array(key), self.engine.sample_rate)

    def key(self, src: SampleSource) -> str:
        """The bank name a sample source plays (its file as last loaded)."""
        return self._keys[src.file]

    def normalise_db(self, scene: SceneDef, layer: LayerDef, bus: str, key: str) -> float:
        """Automatic mixing: gain that brings this asset to its bus's loudness target (0 if none)."""
        bdef = scene.buses.get(bus)
        if bdef is None or bdef.loudness_lufs is None or not layer.normalize:
            return 0.0
        lufs = self._lufs.get(key, -math.inf)
        if not math.isfinite(lufs):
            return 0.0
        return max(-NORMALISE_LIMIT_DB, min(NORMALISE_LIMIT_DB, bdef.loudness_lufs - lufs))


def _asset_loudness(x: np.ndarray, sr: int) -> float:
    """Integrated loudness (LUFS) of an asset, measured once at load for automatic mixing."""
    from ..engine.dsp.loudness import integrated_loudness

    try:
        return float(integrated_loudness(x, sr))
    except Exception:  # too short to gate, silent ...: no normalisation for this asset
        return -math.inf
