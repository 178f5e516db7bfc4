"""Checks of numbers a caller hands in, shared by the engine and the scene runtime.

One definition of "a finite number" and "an [x, y, z] vector", each raising the caller's error class
(``EngineError`` in the engine, ``RuntimeErrorMsg`` in the scene runtime) with a message that names
the field and the value, so the game sees what was wrong and where.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import SoundscapeError


def finite(name: str, value: Any, error: type[SoundscapeError] = SoundscapeError) -> float:
    """``value`` as a float; ``error`` when it is not a number or is NaN or infinite."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise error(f"{name}={value!r}: must be a number") from None
    if not math.isfinite(f):
        raise error(f"{name}={value!r}: must be finite (not NaN or infinite)")
    return f


def vec3(
    name: str, value: Any, error: type[SoundscapeError] = SoundscapeError, lists_only: bool = False
) -> tuple[float, float, float]:
    """``value`` as three finite floats. ``lists_only``: accept only a list or tuple (what a game's
    decoded message holds), not any sequence; the engine's callers also pass numpy arrays."""
    if lists_only:
        if not isinstance(value, (list, tuple)) or len(value) != 3:
            raise error(f"{name}={value!r}: must be [x, y, z]")
        items = value
    else:
        try:
            items = list(value)
        except TypeError:
            raise error(f"{name}={value!r}: must be a sequence of 3 numbers [x, y, z]") from None
        if len(items) != 3:
            raise error(f"{name}={value!r}: must have exactly 3 numbers [x, y, z]")
    x, y, z = (finite(f"{name}[{i}]", v, error) for i, v in enumerate(items))
    return x, y, z
