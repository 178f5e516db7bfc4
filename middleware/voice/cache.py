"""On-disk cache of rendered lines, keyed by a hash of (text, preset, engine, engine version, rate) and
of the preset's settings, so editing a preset's pitch, formants or effects renders its lines again.

A line is stored as ``<key>.npy`` (float32 samples) plus ``<key>.json`` (its info dict). Writes go to
a temporary name and are renamed into place, so concurrent renderers never read a half-written file.
The directory is ``SOUNDSCAPE_VOICE_CACHE`` if set, else ``$XDG_CACHE_HOME/soundscape/voices``
(``~/.cache/soundscape/voices``).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def default_cache_dir() -> Path:
    env = os.environ.get("SOUNDSCAPE_VOICE_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "soundscape" / "voices"


def _digest(parts: list[Any]) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8")).hexdigest()


def cache_key(text: str, preset: str, engine: str, engine_version: str, sr: int, settings: str = "") -> str:
    """The line's file name: every input of the rendering, ``settings`` being the preset's settings
    digest (``VoicePreset.settings_digest``), so a changed preset never reuses stale audio."""
    return _digest([text, preset, engine, engine_version, int(sr), settings])[:32]


def line_seed(text: str, preset: str, engine: str, engine_version: str, sr: int) -> int:
    """The synthesiser's noise seed for a line: from the line's identity, not from the preset's settings.

    Tuning a preset's pitch or effects must not also draw new noise (aspiration, jitter): the
    intelligibility scores of tests/test_voice_intelligibility.py move with the seeds, so a settings
    edit would be judged on different noise. It is the first 32 bits of the key this cache used before
    it hashed the settings, so every preset keeps the seeds its scores were measured with."""
    return int(_digest([text, preset, engine, engine_version, int(sr)])[:8], 16)


def load(cache_dir: Path, key: str) -> tuple[np.ndarray, dict[str, Any]] | None:
    """The cached (audio, info), or None on a miss or an unreadable entry."""
    npy, meta = cache_dir / f"{key}.npy", cache_dir / f"{key}.json"
    try:
        audio = np.load(npy, allow_pickle=False)
        info = json.loads(meta.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if audio.dtype != np.float32 or audio.ndim != 1:
        return None
    return audio, info


def store(cache_dir: Path, key: str, audio: np.ndarray, info: dict[str, Any]) -> None:
    """Store atomically; a cache that cannot be written is skipped silently (rendering still works)."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for suffix, write in (
            (".npy", lambda fh: np.save(fh, np.asarray(audio, np.float32), allow_pickle=False)),
            (".json", lambda fh: fh.write(json.dumps(info, sort_keys=True).encode("utf-8"))),
        ):
            fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=suffix + ".tmp")
            with os.fdopen(fd, "wb") as fh:
                write(fh)
            os.replace(tmp, cache_dir / f"{key}{suffix}")
    except OSError:
        return
