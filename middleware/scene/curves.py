"""Piecewise curves that map a parameter to a value: ``[[x, y], ...]`` with a shape.

A designer draws a curve as a handful of points (FMOD's automation curves, Wwise's RTPC graphs).
Between two neighbouring points the value moves from the left ``y`` to the right ``y`` along the
curve's *shape*; outside the first and last ``x`` it holds the end value (clamped), so a parameter
that overshoots its range never produces a value the designer did not draw.

Shapes (``t`` is the position between two points, 0..1):

- ``linear``: straight line.
- ``smooth``: smoothstep ``t*t*(3 - 2t)``: flat at each point, so chained segments have no corners.
- ``step``: holds the left point's ``y`` until the next point's ``x`` (a staircase).
- ``exp``: ease-in ``(e^(k t) - 1) / (e^k - 1)`` with ``k = ln 64``: slow start, fast finish.
- ``log``: ease-out, the exact inverse of ``exp``: fast start, slow finish.

Evaluation works on a float or on a numpy array (vectorised: one ``searchsorted`` and a few array
operations), and the curve is immutable, so one definition can be shared by every instance.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import overload

import numpy as np

from ..errors import SceneError

SHAPES = ("linear", "smooth", "step", "exp", "log")
"""Allowed curve shapes, in the order the docs and the JSON Schema list them."""

_K = math.log(64.0)
_EK1 = math.expm1(_K)


def _shape_scalar(shape: str, t: float) -> float:
    if shape == "linear":
        return t
    if shape == "smooth":
        return t * t * (3.0 - 2.0 * t)
    if shape == "step":
        return 0.0
    if shape == "exp":
        return math.expm1(_K * t) / _EK1
    # log: inverse of exp
    return math.log1p(_EK1 * t) / _K


def _shape_array(shape: str, t: np.ndarray) -> np.ndarray:
    if shape == "linear":
        return t
    if shape == "smooth":
        return t * t * (3.0 - 2.0 * t)
    if shape == "step":
        return np.zeros_like(t)
    if shape == "exp":
        return np.expm1(_K * t) / _EK1
    return np.log1p(_EK1 * t) / _K


@dataclass(frozen=True)
class Curve:
    """An immutable piecewise curve. ``points`` are ``(x, y)`` with strictly increasing ``x``."""

    points: tuple[tuple[float, float], ...]
    shape: str = "linear"

    def __post_init__(self) -> None:
        problem = curve_problem(self.points, self.shape)
        if problem is not None:
            raise SceneError(f"curve {list(map(list, self.points))}: {problem[1]}")
        object.__setattr__(self, "_xs", np.array([p[0] for p in self.points], dtype=np.float64))
        object.__setattr__(self, "_xt", tuple(float(p[0]) for p in self.points))
        object.__setattr__(self, "_ys", np.array([p[1] for p in self.points], dtype=np.float64))

    @property
    def x_range(self) -> tuple[float, float]:
        """The first and last ``x``: outside them the curve is flat."""
        return self.points[0][0], self.points[-1][0]

    @property
    def y_range(self) -> tuple[float, float]:
        """Smallest and largest ``y``: every shape stays within them (no overshoot)."""
        ys = [p[1] for p in self.points]
        return min(ys), max(ys)

    @overload
    def evaluate(self, x: float) -> float: ...

    @overload
    def evaluate(self, x: np.ndarray) -> np.ndarray: ...

    def evaluate(self, x):
        """Value at ``x`` (a float, or elementwise over an array). Clamped at both ends."""
        if isinstance(x, np.ndarray):
            return self._evaluate_array(x)
        return self._evaluate_scalar(float(x))

    __call__ = evaluate

    def _evaluate_scalar(self, x: float) -> float:
        pts = self.points
        if x != x:  # NaN: hold the first point rather than poison the mix
            return float(pts[0][1])
        if x <= pts[0][0]:
            return float(pts[0][1])
        if x >= pts[-1][0]:
            return float(pts[-1][1])
        i = bisect.bisect_right(self._xt, x) - 1  # type: ignore[attr-defined]
        x0, y0 = pts[i]
        x1, y1 = pts[i + 1]
        t = (x - x0) / (x1 - x0)
        return float(y0 + (y1 - y0) * _shape_scalar(self.shape, t))

    def _evaluate_array(self, x: np.ndarray) -> np.ndarray:
        xs: np.ndarray = self._xs  # type: ignore[attr-defined]
        ys: np.ndarray = self._ys  # type: ignore[attr-defined]
        xa = np.asarray(x, dtype=np.float64)
        xa = np.where(np.isnan(xa), xs[0], xa)
        if len(xs) == 1:
            return np.full(xa.shape, ys[0])
        xc = np.clip(xa, xs[0], xs[-1])
        i = np.clip(np.searchsorted(xs, xc, side="right") - 1, 0, len(xs) - 2)
        x0, x1 = xs[i], xs[i + 1]
        y0, y1 = ys[i], ys[i + 1]
        t = np.clip((xc - x0) / (x1 - x0), 0.0, 1.0)
        out = y0 + (y1 - y0) * _shape_array(self.shape, t)
        # at or beyond the last point a step curve must already show the last value
        return np.where(xc >= xs[-1], ys[-1], out)


def curve_problem(points, shape: str) -> tuple[int, str] | None:
    """Why ``points``/``shape`` do not form a curve, as ``(point index, message)``, or None.

    Shared by :class:`Curve` and the scene loader, so a curve rejected at load time and one
    rejected when built in code get the same message.
    """
    if shape not in SHAPES:
        return 0, f"unknown curve shape {shape!r}; allowed: {', '.join(SHAPES)}"
    if len(points) < 1:
        return 0, "a curve needs at least one [x, y] point"
    for i, p in enumerate(points):
        if len(p) != 2:
            return i, f"point {i} must be [x, y], got {len(p)} numbers"
        if not all(math.isfinite(float(v)) for v in p):
            return i, f"point {i} has a value that is not a finite number"
    for i in range(1, len(points)):
        if not points[i][0] > points[i - 1][0]:
            return i, (
                f"x must increase strictly: point {i} has x={points[i][0]:g} after x={points[i - 1][0]:g}"
            )
    return None
