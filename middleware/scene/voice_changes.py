"""Voice changes gathered over one control tick and handed to the engine in bulk.

The runtime refreshes every playing layer's voice each tick (curves, weights, its owner's pose). One
``Engine.set_voice`` call per voice made the cost of a mix grow with how many voices move; here the
changes of a tick are grouped by which fields they touch and applied with one ``Engine.set_voices``
call per group (usually one or two: pose only, pose and gain), which the engine applies in one
compiled step per block. Fields the bulk call does not take (sends) still go per voice, at once.
Poses of voices following moving objects may also come as arrays (:meth:`add_poses`): they join the
pose group in the same call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..engine.engine import BULK_FIELDS, Engine

_CUTOFFS = ("lowpass_hz", "highpass_hz")  # None (off) is 0 in the bulk call
_POSE = tuple(k for k in BULK_FIELDS if k in ("position", "velocity"))  # the group add() makes for them


class VoiceChanges:
    """Collect ``set_voice``-style changes per handle; :meth:`flush` sends them, grouped by fields."""

    def __init__(self) -> None:
        self._groups: dict[tuple[str, ...], tuple[list[int], dict[str, list[Any]]]] = {}
        self._pose_arrays: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # add_poses' chunks

    def add(self, engine: Engine, handle: int, change: Mapping[str, Any]) -> None:
        per_voice = {k: v for k, v in change.items() if k not in BULK_FIELDS}
        if per_voice:
            engine.set_voice(handle, **per_voice)
        keys = tuple(k for k in BULK_FIELDS if k in change)
        if not keys:
            return
        handles, columns = self._groups.setdefault(keys, ([], {k: [] for k in keys}))
        handles.append(handle)
        for k in keys:
            v = change[k]
            columns[k].append(0.0 if v is None and k in _CUTOFFS else v)

    def add_pose(self, handle: int, position: Any, velocity: Any) -> None:
        """Only the voice's owner moved: its new position and velocity, nothing else."""
        handles, columns = self._groups.setdefault(_POSE, ([], {"position": [], "velocity": []}))
        handles.append(handle)
        columns["position"].append(position)
        columns["velocity"].append(velocity)

    def add_poses(self, handles: np.ndarray, positions: np.ndarray, velocities: np.ndarray) -> None:
        """Many voices whose owners moved: handles (n,), positions and velocities (n, 3)."""
        self._pose_arrays.append((handles, positions, velocities))

    def flush(self, engine: Engine) -> None:
        """One ``set_voices`` per group of fields; call once per tick, after every refresh."""
        if self._pose_arrays:
            chunks = self._pose_arrays
            handles, columns = self._groups.pop(_POSE, ([], {"position": [], "velocity": []}))
            if handles:
                chunks.append(
                    (
                        np.asarray(handles, dtype=np.int64),
                        np.asarray(columns["position"], dtype=np.float64),
                        np.asarray(columns["velocity"], dtype=np.float64),
                    )
                )
            h, p, v = (
                np.concatenate([c[i] for c in chunks]) if len(chunks) > 1 else chunks[0][i] for i in range(3)
            )
            self._pose_arrays = []
            engine.set_voices(h, position=p, velocity=v)
        for keys, (handles, columns) in self._groups.items():
            engine.set_voices(
                np.asarray(handles, dtype=np.int64),
                **{k: np.asarray(columns[k], dtype=np.float64) for k in keys},
            )
        self._groups.clear()
