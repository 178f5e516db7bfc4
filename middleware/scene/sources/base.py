"""The interface every layer source type implements (SoLoud's AudioSource / AudioSourceInstance split).

One object per source type lives in each runtime (``SourceSet``); it holds the type's per-scene state
(containers' positions and histories, opened models, warmed generators), while what one playing voice
needs is kept on its ``LayerInstance``. The runtime calls, for a layer whose ``source`` is of the
type's ``model`` class:

- ``prepare(layer)`` in the caller's thread before a scene plays or is swapped in: slow work (open a
  model, warm a generator) so that nothing of the kind happens on the render thread;
- ``start(li, at)`` on the render thread (``at``: a :class:`Start`, where and how the voice starts):
  start one voice (through ``rt.voices.play_sample`` or ``play_stream``) and return its handle, or
  None after reporting an ``error`` event;
- ``refresh(li, env)`` before a playing voice's settings are brought up to date (a stream follows
  its parameters);
- ``stop(li)`` once the layer's voice was told to stop: drop what it held;
- ``reload(old, new)`` when a new definition is swapped in: keep per-scene state only for layers
  whose source is unchanged.

``streamed`` says the type plays through a stream voice (rate 1: no pitch setting; the engine keeps
stream slots for them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from ..model import EmitterDef, EventDef, LayerDef, SceneDef
from ..state import LayerInstance, Vec3

if TYPE_CHECKING:
    from ..runtime import SceneRuntime

Owner = EmitterDef | EventDef


class Start(NamedTuple):
    """Where and how one layer's voice starts: what every source type passes on to the voice it
    plays (``Voices.play_sample`` / ``play_stream``) without looking inside."""

    owner: Owner  # the emitter or event the layer belongs to (its bus, gain, attenuation)
    pos: Vec3 | None  # None: 2D
    vel: Vec3
    env: Mapping[str, Any]  # parameter values the layer's curves read
    loop: bool
    fade_in: float
    start_frame: int | None = None  # sample-exact start (None: the next block)
    bus: str | None = None  # None: the owner's bus


class LayerSource:
    """Base of the layer source types: no per-scene state and nothing to prepare, refresh or stop."""

    model: ClassVar[type]  # the scene model's source class this type plays (``SampleSource`` ...)
    streamed: ClassVar[bool] = False

    def __init__(self, rt: SceneRuntime) -> None:
        self.rt = rt

    def prepare(self, layer: LayerDef) -> None:
        """Slow work for ``layer`` in the caller's thread (nothing by default)."""

    def start(self, li: LayerInstance, at: Start) -> int | None:
        raise NotImplementedError

    def refresh(self, li: LayerInstance, env: Mapping[str, Any]) -> None:
        """Follow the layer's parameters before its voice's settings are refreshed (nothing by default)."""

    def stop(self, li: LayerInstance) -> None:
        """The layer's voice was stopped: drop the stream it followed."""
        li.stream = None

    def reload(self, old: SceneDef, new: SceneDef) -> None:
        """A new definition is swapped in (no per-scene state by default)."""


def keep_unchanged(per_layer: dict[str, Any], old: SceneDef, new: SceneDef) -> None:
    """Drop the per-layer state (keyed by layer uid) of layers gone from ``new`` or whose source
    changed: a changed container starts again, an unchanged one goes on where it was."""
    was = {ly.uid: ly.source for _, ly in old.all_layers()}
    now = {ly.uid: ly.source for _, ly in new.all_layers()}
    for uid in [u for u in per_layer if u not in now or now[u] != was.get(u)]:
        del per_layer[uid]
