"""The demo's sounds: the example scenes' synthesised assets, generated footsteps, the NPC's line.

Everything is made on this machine, deterministically, into ``scenes/<scene>/sounds`` (git-ignored):
the forest/dungeon/town assets by ``middleware.tools.example_assets``; footsteps on four surfaces
(and the enemy's heavy tread) by the ``footstep`` generator, four seeded variations each; and the
villager's line by the character-voice synthesiser (``middleware.voice.render_line``). If that
synthesiser is not installed the ranger's radio line from the forest scene stands in.

Why footsteps are rendered here rather than streamed from the generator at play time: a one-shot
generator voice costs a few milliseconds on the render thread at each trigger, and its first use in
a process loads compiled kernels there (measured 20-55 ms, several 5.3 ms blocks), which the daemon's
default look-ahead cannot hide. Pre-rendered variations play as plain samples; the campfire stays a
live generator (continuous, started with the scene).
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


STEP_SURFACES = ("grass", "wood", "gravel", "stone")
STEP_VARIATIONS = 4


def _render_oneshot(name: str, params: dict, seed: int, variation: int, sr: int = 48000) -> np.ndarray:
    from middleware.generators import create_generator

    gen = create_generator(name, sample_rate=sr, seed=seed, params=params, variation=variation)
    gen.trigger()
    blocks, done = [], 0
    while not gen.finished and done < 5 * sr:
        blocks.append(gen.render(1024))
        done += 1024
    y = np.concatenate(blocks).astype(np.float32)
    loud = np.flatnonzero(np.abs(y).max(axis=1) > 1e-5)
    return y[: (loud[-1] + 1 if loud.size else 1)]


def _write_steps(force: bool) -> list[str]:
    """Footstep variations per surface (weight 0.5) and heavy gravel steps (weight 1) for the enemy."""
    from middleware.generators import VERSION
    from middleware.sinks.wav import WavSink

    jobs = [(f"step_{s}_{k}", {"surface": s, "weight": 0.5}) for s in STEP_SURFACES for k in range(1, 5)]
    jobs += [(f"step_heavy_{k}", {"surface": "gravel", "weight": 1.0}) for k in range(1, 5)]
    notes = []
    for i, (stem, params) in enumerate(jobs):
        path = NPC_WAV.parent / f"{stem}.wav"
        if path.is_file() and not force:
            continue
        k = int(stem.rsplit("_", 1)[1])
        y = _render_oneshot("footstep", params, seed=1000 + i, variation=k)
        meta = {"generated_by": [f"generator:footstep {VERSION} {params} seed={1000 + i} variation={k}"]}
        with WavSink(path, 48000, y.shape[1], metadata=meta) as wav:
            wav.write(y)
        notes.append(f"{path.relative_to(SCENES)}")
    return notes


def ensure_demo_assets(force: bool = False) -> list[str]:
    """Write every missing asset the demo scene needs; returns a note per file written."""
    from middleware.tools.example_assets import ensure_example_assets

    notes = [str(p) for p in ensure_example_assets(SCENES)]
    NPC_WAV.parent.mkdir(parents=True, exist_ok=True)
    steps = _write_steps(force)
    if steps:
        notes.append(f"{len(steps)} generated footsteps (demo/sounds/step_*.wav)")
    if force or not NPC_WAV.is_file():
        notes.append(f"{NPC_WAV.relative_to(SCENES)}: {_write_line(NPC_WAV, NPC_TEXT, NPC_PRESET)}")
    return notes
