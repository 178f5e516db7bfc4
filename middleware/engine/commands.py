"""Engine commands: what the API asks of the render side, one immutable record per kind.

``Engine``'s public methods validate their arguments on the caller's thread and queue one of these;
the render side applies each with the one method the engine's command table names for its class
(scsynth's command table; ``Engine._APPLY``). A command carries only checked values, by name, and
says "leave this as it is" with :data:`UNCHANGED`, never with ``False`` or ``None``: ``None`` keeps
its own meaning where it has one (a cutoff of None is "no filter", a master slot of None is "empty",
a loudness target of None is "off").

The records are ``typing.NamedTuple`` classes: frozen, slotted (no ``__dict__``), typed, and built
at the cost of a tuple. Frozen slotted dataclasses were measured first: their generated constructor
stores each field with ``object.__setattr__``, which made ``Engine.set_voice`` 0.9 us (about 40 %)
and ``Engine.play`` 4 us slower per call, and the control benchmark's per-call column with it. Read
them by name only (``cmd.gain``); the table dispatches on the class, never on a position.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

import numpy as np


class Unchanged:
    """The type of :data:`UNCHANGED`: one instance, no truth value (compare with ``is``)."""

    __slots__ = ()
    _instance: Unchanged | None = None

    def __new__(cls) -> Unchanged:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNCHANGED"

    def __bool__(self) -> bool:
        raise TypeError("UNCHANGED has no truth value: test it with `is UNCHANGED`")

    def __reduce__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Final = Unchanged()
"""A field of a command that leaves the current value as it is."""


# ---------------------------------------------------------------------------------------- voices
class PlayVoice(NamedTuple):
    """Start voice ``handle`` (at the frame it was queued for). Gains are linear, cutoffs in Hz
    (0: no filter), sends ``(bus, linear gain)`` pairs."""

    handle: int
    sample: int
    bus: str
    gain: float
    pitch: float
    pan: float
    loop: bool
    offset: float
    fade_in: float
    lowpass_hz: float
    highpass_hz: float
    sends: tuple[tuple[str, float], ...]
    priority: int
    spatial: bool
    position: tuple[float, float, float]
    velocity: tuple[float, float, float]
    min_distance: float
    max_distance: float
    rolloff_mode: int
    rolloff_table: int
    doppler: float
    binaural: bool


class SetVoice(NamedTuple):
    """Change a voice: each field a new value or UNCHANGED (gain linear; cutoffs in Hz, 0 = none;
    ``sends`` maps bus names to linear gains)."""

    handle: int
    gain: float | Unchanged = UNCHANGED
    pitch: float | Unchanged = UNCHANGED
    pan: float | Unchanged = UNCHANGED
    lowpass_hz: float | Unchanged = UNCHANGED
    highpass_hz: float | Unchanged = UNCHANGED
    position: tuple[float, float, float] | Unchanged = UNCHANGED
    velocity: tuple[float, float, float] | Unchanged = UNCHANGED
    sends: Mapping[str, float] | Unchanged = UNCHANGED


class SetVoices(NamedTuple):
    """Change many voices in one step: ``values[i, j]`` goes to column ``columns[j]`` of the voice
    with handle ``handles[i]`` (the command owns its arrays)."""

    handles: np.ndarray
    columns: np.ndarray
    values: np.ndarray


class StopVoice(NamedTuple):
    """Stop a voice with a linear release of ``release`` seconds (0: at once)."""

    handle: int
    release: float


class AttachStream(NamedTuple):
    """Feed voice ``handle`` from ``stream`` (an ``engine.StreamState``) from its first block on."""

    handle: int
    stream: Any


class SetListener(NamedTuple):
    """Place the listener: ``pose`` is position, forward, up (orthonormal) and velocity, 12 floats."""

    pose: np.ndarray


# ---------------------------------------------------------------------------------------- buses
class AddBus(NamedTuple):
    """Add bus ``spec`` with its effect chain ``chain`` (instances prepared off the audio path)."""

    spec: Any
    chain: Any


class SetBus(NamedTuple):
    """Change a bus: gain in dB; a cutoff in Hz or None (no filter); muted; a ``ReverbSpec``.
    Each UNCHANGED field stays as it is."""

    name: str
    gain_db: float | Unchanged = UNCHANGED
    lowpass_hz: float | Unchanged | None = UNCHANGED
    highpass_hz: float | Unchanged | None = UNCHANGED
    muted: bool | Unchanged = UNCHANGED
    reverb: Any = UNCHANGED


class SetBusEffects(NamedTuple):
    """Give bus ``name`` the chain ``specs``; ``chain`` holds new prepared instances, or None when the
    chain keeps its shape and its instances glide to the new parameters."""

    name: str
    specs: tuple
    chain: Any


class SetMasterEffect(NamedTuple):
    """Host ``instance`` in master's slot ``slot`` (None empties the slot)."""

    slot: str
    instance: Any


class SetDucks(NamedTuple):
    """Replace every ducking rule of ``owner`` (empty: remove them); ``prepared`` holds, per rule, a
    compressor prepared off the audio path, or the spec the rule it replaces glides to."""

    owner: str
    specs: tuple
    prepared: tuple


class SetLoudnessTarget(NamedTuple):
    """Keep the master at ``lufs`` with the automatic gain (None: off)."""

    lufs: float | None


class EnableMeters(NamedTuple):
    """Meter these buses (None: every bus, also ones added later); ``deferred``: another thread meters."""

    buses: tuple[str, ...] | None
    deferred: bool


COMMANDS: tuple[type, ...] = (
    PlayVoice,
    SetVoice,
    SetVoices,
    StopVoice,
    AttachStream,
    SetListener,
    AddBus,
    SetBus,
    SetBusEffects,
    SetMasterEffect,
    SetDucks,
    SetLoudnessTarget,
    EnableMeters,
)
"""Every command class (the engine's table must apply each: tests/test_engine_commands.py)."""
