"""Player profiles in the demo: the one given with ``--profile`` and the examples shipped in scenes/profiles/.

The keyboard mode cycles through them with a key (:class:`ProfileCycle`); each switch is one
``profile`` message through the game's :class:`~demo_game.link.Link`, so the daemon applies it live
and the session's events file records it (``soundscape render`` replays it). The first entry is the
mix as the designer made it (an empty profile: every field at its default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .assets import SCENES

PROFILES_DIR = SCENES / "profiles"
DESIGNED = "as designed"
"""The label of the empty profile (no compensation, every volume 0 dB, every preference 0.5)."""


def shipped_profiles() -> list[Path]:
    """The example profiles beside the scenes, in name order."""
    return sorted(PROFILES_DIR.glob("*.yaml"))


def label(profile: Any, path: str | Path | None = None) -> str:
    """What the status line and the picture call a profile: its name, and its file when there is one."""
    if profile is None:
        return DESIGNED
    return f"{profile.name} ({Path(path).name})" if path is not None else str(profile.name)


@dataclass
class ProfileCycle:
    """The profiles a key steps through: the designed mix, then each file (``--profile`` first)."""

    entries: list[tuple[str, Any]] = field(default_factory=list)  # (label, HearingProfile or None)
    index: int = 0

    @classmethod
    def build(cls, first: str | Path | None = None) -> ProfileCycle:
        """The cycle; with ``first`` (the ``--profile`` file) it starts there. Files are checked
        now, so a bad one is refused with its file:line:col before the game starts."""
        from middleware.accessibility.profile import load_profile

        paths = shipped_profiles()
        if first is not None:
            first = Path(first)
            paths = [first, *(p for p in paths if p.resolve() != first.resolve())]
        entries: list[tuple[str, Any]] = [(DESIGNED, None)]
        entries += [(label(hp, p), hp) for p in paths for hp in (load_profile(p),)]
        return cls(entries, 1 if first is not None else 0)

    @property
    def current(self) -> tuple[str, Any]:
        return self.entries[self.index]

    def step(self, link: Any) -> str:
        """Switch to the next profile: send it (the empty profile for the designed mix); its label."""
        from middleware.accessibility.profile import profile_from_dict

        self.index = (self.index + 1) % len(self.entries)
        name, hp = self.current
        link.profile(hp if hp is not None else profile_from_dict({}))
        return name
