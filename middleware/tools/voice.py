"""Character voice lines for tools and the daemon: a thin re-export of :mod:`middleware.voice`.

``render_line(text, preset, sr=48000) -> (float32 mono, info)``; ``info["synthetic"]`` is always True.
:func:`write_line` writes a line to WAV with the synthetic label in its metadata.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..voice import MAX_TEXT_BYTES, PRESETS, get_preset, render_line

__all__ = ["MAX_TEXT_BYTES", "PRESETS", "get_preset", "render_line", "write_line"]


def write_line(
    path: str | Path, text: str, preset: str = "neutral", sr: int = 48000, subtype: str = "pcm24", **kw: Any
) -> dict:
    """Render ``text`` and write it as a mono WAV labelled synthetic; returns the line's info."""
    from ..sinks.wav import WavSink

    audio, info = render_line(text, preset, sr, **kw)
    metadata = {
        "synthetic": True,
        "generated_by": "soundscape say",
        "engine": info["engine"],
        "engine_version": info["engine_version"],
        "preset": info["preset"],
        "text": text[:200],
    }
    with WavSink(path, sr, 1, subtype, metadata) as sink:
        sink.write(audio)
    return info
