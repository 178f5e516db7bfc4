"""Curves against independent formulas: numpy.interp for linear, the textbook smoothstep, a staircase,
and the exp/log ease pair (each the other's inverse)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.errors import SceneError
from middleware.scene.curves import SHAPES, Curve

POINTS = ((0.0, -60.0), (0.5, -6.0), (1.0, 0.0))


def test_linear_matches_numpy_interp_and_clamps():
    c = Curve(POINTS, "linear")
    xs = np.linspace(-1, 2, 301)
    want = np.interp(xs, [p[0] for p in POINTS], [p[1] for p in POINTS])
    np.testing.assert_allclose(c.evaluate(xs), want, rtol=0, atol=1e-12)
    assert c.evaluate(-5.0) == -60.0 and c.evaluate(7.0) == 0.0


def test_smooth_is_smoothstep_between_points():
    c = Curve(POINTS, "smooth")
    for x in np.linspace(0, 0.5, 11):
        t = x / 0.5
        assert c.evaluate(float(x)) == pytest.approx(-60 + 54 * (3 * t * t - 2 * t**3), abs=1e-12)
    # flat at the points: the slope just either side of 0.5 is ~0
    eps = 1e-6
    assert abs(c.evaluate(0.5 + eps) - c.evaluate(0.5)) / eps < 1e-3
    assert abs(c.evaluate(0.5) - c.evaluate(0.5 - eps)) / eps < 1e-3


def test_step_holds_left_value_until_next_point():
    c = Curve(POINTS, "step")
    assert c.evaluate(0.0) == -60 and c.evaluate(0.49) == -60 and c.evaluate(0.5) == -6
    assert c.evaluate(0.99) == -6 and c.evaluate(1.0) == 0
    np.testing.assert_array_equal(c.evaluate(np.array([0.49, 0.5, 0.99, 1.0, 3.0])), [-60, -6, -6, 0, 0])


def test_exp_and_log_are_ease_in_and_ease_out_and_inverse():
    e = Curve(((0.0, 0.0), (1.0, 1.0)), "exp")
    lg = Curve(((0.0, 0.0), (1.0, 1.0)), "log")
    k = math.log(64)
    for x in np.linspace(0.05, 0.95, 19):
        assert e.evaluate(float(x)) == pytest.approx(math.expm1(k * x) / math.expm1(k), rel=1e-12)
        assert e.evaluate(float(x)) < x < lg.evaluate(float(x))  # slow start vs fast start
        assert lg.evaluate(e.evaluate(float(x))) == pytest.approx(x, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.floats(-100, 100), min_size=1, max_size=6, unique=True),
    st.lists(st.floats(-96, 24), min_size=6, max_size=6),
    st.sampled_from(SHAPES),
    st.lists(st.floats(-200, 200), min_size=1, max_size=20),
)
def test_vectorised_equals_scalar_and_stays_within_the_points(xs, ys, shape, probe):
    pts = tuple(zip(sorted(xs), ys, strict=False))
    c = Curve(pts, shape)
    arr = c.evaluate(np.array(probe))
    lo, hi = c.y_range
    for x, v in zip(probe, arr, strict=True):
        assert v == pytest.approx(c.evaluate(x), abs=1e-9)
        assert lo - 1e-9 <= v <= hi + 1e-9


@pytest.mark.parametrize(
    ("points", "shape", "fragment"),
    [
        (((0, 0), (0, 1)), "linear", "x must increase"),
        (((0, 0), (1, 1), (0.5, 2)), "linear", "x must increase"),
        ((), "linear", "at least one"),
        (((0, 0),), "wobbly", "unknown curve shape"),
        (((0, float("nan")),), "linear", "finite"),
    ],
)
def test_bad_curves_are_rejected(points, shape, fragment):
    with pytest.raises(SceneError, match=fragment):
        Curve(points, shape)


def test_nan_input_holds_first_point():
    c = Curve(POINTS)
    assert c.evaluate(float("nan")) == -60.0
    assert c.evaluate(np.array([np.nan]))[0] == -60.0
