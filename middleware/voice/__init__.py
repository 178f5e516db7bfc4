"""Character voices: text + preset -> a synthetic spoken line (float32 mono), cached on disk.

``render_line(text, preset, sr)`` is the one entry point (the daemon's ``say`` message and the
``soundscape say`` command both call it). Engines:

* ``formant`` (default, always available): our own Klatt-style formant synthesiser with English
  letter-to-sound rules (:mod:`.lts`, :mod:`.formant`), numpy + numba only;
* ``espeak`` (optional): the espeak-ng program run as a subprocess when installed (GPL-3.0, never
  imported; see docs/voices.md).

The line is shaped into the character by the preset's pitch/formant settings and its effect chain
(:mod:`.presets`, :mod:`.effects`), normalised to ``LINE_LUFS`` and cached by (text, preset and its
settings, engine, engine version, rate). Every result is labelled synthetic: ``info["synthetic"] is True``.

To play a line in the engine: ``audio, info = render_line(...)`` then
``engine.bank.add(f"voice:{info['key']}", audio)`` (a unique, stable name per line); render off the
audio thread — a cache miss costs ~1/20 of the line's duration.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EngineError
from . import cache as _cache
from .formant import ENGINE_NAME, ENGINE_VERSION, VoiceParams, synthesize
from .limits import MAX_TEXT_BYTES, text_problem
from .lts import text_to_tokens
from .presets import PRESETS, VoicePreset, get_preset

__all__ = [
    "ENGINES",
    "MAX_TEXT_BYTES",
    "PRESETS",
    "VoiceParams",
    "VoicePreset",
    "add_line_to_bank",
    "get_preset",
    "line_key",
    "render_line",
]

LINE_LUFS = -20.0  # dialogue level before any bus gain; true peak kept under -1 dBTP
ENGINES = ("formant", "espeak")


def _check_text(text: object) -> str:
    problem = text_problem(text)
    if problem is not None:
        raise EngineError(problem[1])
    return text  # type: ignore[return-value]


def _engine_version(engine: str) -> str:
    if engine == "formant":
        return ENGINE_VERSION
    from .espeak import espeak_version

    return f"{espeak_version()}+shape1"


def _normalise(y: np.ndarray, sr: int) -> np.ndarray:
    """Bring a line to LINE_LUFS (peak-normalise lines too short to gate), true peak <= -1 dBTP."""
    from ..engine.dsp.loudness import integrated_loudness, normalize_loudness

    if y.size >= int(0.4 * sr) and math.isfinite(integrated_loudness(y, sr)):
        out, _ = normalize_loudness(y, sr, LINE_LUFS, -1.0)
        return out[:, 0] if out.ndim == 2 else out
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    return (y * (0.5 / peak) if peak > 0 else y).astype(np.float32)


def line_key(
    text: str,
    preset: str = "neutral",
    sr: int = 48000,
    *,
    engine: str = "formant",
    version: str | None = None,
) -> str:
    """The cache key of a line (what ``render_line`` would return as ``info["key"]``), without
    rendering it: lets the daemon find a line it holds already. Raises EngineError on an unknown
    preset or engine."""
    if engine not in ENGINES:
        raise EngineError(f"voice engine={engine!r}: must be one of {', '.join(ENGINES)}")
    p = get_preset(preset)
    return _cache.cache_key(text, p.name, engine, version or _engine_version(engine), sr, p.settings_digest)


def render_line(
    text: str,
    preset: str = "neutral",
    sr: int = 48000,
    *,
    engine: str = "formant",
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Render ``text`` in the voice of ``preset``; returns (float32 mono samples, info).

    ``info``: ``synthetic`` (always True), ``engine``, ``engine_version``, ``preset``, ``sample_rate``,
    ``duration_s``, ``cached`` (served from the cache), ``key`` (cache key), ``render_s``.
    Errors (EngineError): empty text, text over 4096 bytes, unknown preset ("did you mean"), unknown
    engine, espeak requested but not installed, sample rate out of range.
    """
    text = _check_text(text)
    p = get_preset(preset)
    if engine not in ENGINES:
        raise EngineError(f"voice engine={engine!r}: must be one of {', '.join(ENGINES)}")
    if not (isinstance(sr, int) and 8000 <= sr <= 192000):
        raise EngineError(f"voice sample rate={sr!r}: must be an integer within 8000..192000 Hz")
    version = _engine_version(engine)
    key = line_key(text, p.name, sr, engine=engine, version=version)
    cdir = Path(cache_dir) if cache_dir is not None else _cache.default_cache_dir()
    t0 = time.perf_counter()
    if use_cache:
        hit = _cache.load(cdir, key)
        if hit is not None:
            audio, info = hit
            info.update(cached=True, render_s=time.perf_counter() - t0)
            return audio, info
    extra: dict[str, Any] = {}
    if engine == "formant":
        tokens = text_to_tokens(text)
        if not tokens or all(t.ph in "_,." for t in tokens):
            raise EngineError(f"voice text={text[:40]!r}: nothing pronounceable (letters or digits needed)")
        y = synthesize(tokens, p.voice, sr, _cache.line_seed(text, p.name, engine, version, sr))
    else:
        from .espeak import render_espeak

        y, extra = render_espeak(text, p.voice, sr)
    from .effects import apply_chain

    y = apply_chain(y, sr, p.effects)
    y = np.ascontiguousarray(_normalise(y, sr), dtype=np.float32)
    info = {
        "synthetic": True,
        "engine": ENGINE_NAME if engine == "formant" else "espeak-ng",
        "engine_version": version,
        "preset": p.name,
        "sample_rate": sr,
        "duration_s": round(y.size / sr, 4),
        "key": key,
        "text_bytes": len(text.encode("utf-8")),
        **extra,
    }
    if use_cache:
        _cache.store(cdir, key, y, info)
    info = dict(info, cached=False, render_s=time.perf_counter() - t0)
    return y, info


def add_line_to_bank(bank: Any, text: str, preset: str = "neutral", **kw: Any) -> tuple[str, dict[str, Any]]:
    """Render (or take from cache) a line at the bank's rate and store it in an engine ``SampleBank``.

    Returns ``(sample name, info)``; the name is ``voice:<cache key>``, so saying the same line twice
    reuses the stored sample. Call from the control side (never the audio thread): a miss renders.
    """
    audio, info = render_line(text, preset, int(bank.sample_rate), **kw)
    name = f"voice:{info['key']}"
    if name not in bank:
        bank.add(name, audio, source=f"synthetic voice ({info['engine']}, preset {info['preset']})")
    return name, info
