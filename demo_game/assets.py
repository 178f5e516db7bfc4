"""The demo's sounds: every shipped scene's assets, made by ``middleware.tools.example_assets``.

The demo scene borrows the forest, dungeon and town sounds and has its own (footsteps on four
surfaces and the enemy's heavy tread from the ``footstep`` generator, the villager's line from the
character-voice synthesiser); all of them are in that module's one catalogue, so ``soundscape
assets`` and the demo make the same files, deterministically, into ``scenes/<scene>/sounds``
(git-ignored).
"""

from __future__ import annotations

from pathlib import Path

SCENES = Path(__file__).resolve().parents[1] / "scenes"
DEMO_SCENE = SCENES / "demo.yaml"


def ensure_demo_assets(force: bool = False) -> list[str]:
    """Write every missing asset the demo scene needs; returns a note per file written."""
    from middleware.tools.example_assets import ensure_example_assets

    return [str(p.relative_to(SCENES)) for p in ensure_example_assets(SCENES, force=force)]
