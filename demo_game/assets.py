"""The demo's sounds: the example scenes' synthesised assets plus the NPC's spoken line.

Everything is made on this machine, deterministically, into ``scenes/<scene>/sounds`` (git-ignored):
the forest/dungeon/town assets by ``middleware.tools.example_assets``, and the villager's line by
the character-voice synthesiser (``middleware.voice.render_line``). If that synthesiser is not
installed the ranger's radio line from the forest scene stands in, so the demo always runs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

SCENES = Path(__file__).resolve().parents[1] / "scenes"
DEMO_SCENE = SCENES / "demo.yaml"
NPC_TEXT = "Welcome to the village, traveller. The road to the cave is dangerous after dark."
NPC_PRESET = "elder"
NPC_WAV = SCENES / "demo" / "sounds" / "npc_line.wav"


def _write_line(path: Path, text: str, preset: str, sr: int = 48000) -> str:
    """Synthesise the line into ``path``; returns a label for what was used."""
    from middleware.sinks.wav import WavSink

    try:
        from middleware.voice import PRESETS, render_line
    except ImportError:
        src = SCENES / "forest" / "sounds" / "radio_voice.wav"
        shutil.copyfile(src, path)
        return "forest/sounds/radio_voice.wav (voice synthesiser not installed)"
    name = preset if preset in PRESETS else "neutral"
    audio, info = render_line(text, name, sr)
    tail = np.zeros(int(0.05 * sr), dtype=np.float32)  # a short silent tail: the line ends in silence
    y = np.concatenate([np.asarray(audio, dtype=np.float32), tail])
    meta = {"generated_by": [f"voice:{info['engine']} {info['engine_version']}"], "synthetic": True}
    with WavSink(path, sr, 1, metadata=meta) as wav:
        wav.write(y[:, None])
    return f"voice preset {name!r} ({info['duration_s']:.1f} s, synthetic)"


def ensure_demo_assets(force: bool = False) -> list[str]:
    """Write every missing asset the demo scene needs; returns a note per file written."""
    from middleware.tools.example_assets import ensure_example_assets

    notes = [str(p) for p in ensure_example_assets(SCENES)]
    NPC_WAV.parent.mkdir(parents=True, exist_ok=True)
    if force or not NPC_WAV.is_file():
        notes.append(f"{NPC_WAV.relative_to(SCENES)}: {_write_line(NPC_WAV, NPC_TEXT, NPC_PRESET)}")
    return notes
