"""Spoken lines: a synthetic voice line rendered into the bank, played on the scene's voice bus from an
emitter or a place, with its subtitle on the ``caption`` topic.

``prepare`` is slow on a cache miss (it renders): it runs in the caller's thread. ``play`` only checks
and queues; the voice starts on the render thread (``apply``). The line store (``voice.lines``) is
told when the voice starts and how long it plays, so the bank may drop the line afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .state import Vec3, game_vec3, unknown

if TYPE_CHECKING:
    from .runtime import SceneRuntime


class Lines:
    """Prepares, queues and starts one runtime's spoken lines; ``post`` queues a runtime command."""

    def __init__(self, rt: SceneRuntime, post: Callable[[tuple, int | None], None]) -> None:
        self.rt = rt
        self._post = post

    def prepare(self, text: str, preset: str = "neutral") -> tuple[str, dict]:
        """Render a character line into the bank (or take it from the cache); returns (name, label)."""
        from ..voice.say import prepare_line

        return prepare_line(self.rt.engine, text, preset)

    def play(
        self,
        name: str,
        label: dict,
        emitter: str | None = None,
        position: Sequence[float] | None = None,
        at_frame: int | None = None,
    ) -> None:
        """Check and queue a prepared line; tell the line store when it starts and how long it plays."""
        from ..voice.lines import existing_store

        rt = self.rt
        store = existing_store(rt.engine)
        start = max(rt.engine.frame, at_frame or 0)
        try:
            if emitter is not None and emitter not in rt.scene.emitters:
                raise unknown("emitter", emitter, list(rt.scene.emitters))
            pos = game_vec3("position", position) if position is not None else None
            frames = rt.engine.bank.info(name).frames
            self._post(("say", name, emitter, pos, label), at_frame)
        except Exception:
            if store is not None:
                store.played(name, start, 0)  # it will not play: the line may go
            raise
        if store is not None:
            store.played(name, start, frames)

    def apply(self, name: str, emitter: str | None, pos: Vec3 | None, label: dict, at: int | None) -> None:
        """Start the line's voice (render thread), from its emitter's place when it has one."""
        rt = self.rt
        if emitter is not None and emitter in rt.emitters:
            pos = rt.emitters[emitter].position
        bus = "voice" if "voice" in rt.scene.buses else "master"
        rt.engine.play(name, bus=bus, position=pos, start_frame=at)
        rt.events.append(("say", {**label, "bus": bus, "frame": at if at is not None else rt.frame}))
        self._subtitle(label, emitter, pos, at)

    def _subtitle(self, label: Mapping[str, Any], emitter: str | None, pos: Any, at: int | None) -> None:
        """A spoken line's subtitle on the `caption` topic (when its label carries the text): the
        speaker is the emitter it comes from, else the voice preset."""
        rt = self.rt
        text = label.get("text")
        if text:
            speaker = emitter or str(label.get("preset") or "voice")
            frame = at if at is not None else rt.frame
            rec = rt.captioner.subtitle(text, speaker, pos, rt.engine.listener, frame, dict(label))
            rt.events.append(("caption", rec))
