"""Envelope follower and ducking curve against closed-form one-pole responses."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal

from middleware.engine.dsp.dynamics import (
    FLOOR_DB,
    duck_gain_db,
    envelope_block,
    envelope_state,
    time_coeff,
)
from middleware.errors import EngineError

SR = 48000


def test_attack_and_release_follow_one_pole_steps() -> None:
    att, rel = time_coeff(0.01, SR), time_coeff(0.1, SR)
    assert att == pytest.approx(1 - math.exp(-1 / 480))
    x = np.zeros((6000, 2), np.float32)
    x[:3000] = 0.5
    st = envelope_state()
    levels = []
    for s in range(0, 6000, 100):
        levels.append(envelope_block(x[s : s + 100], att, rel, st, False))
    # Rising: env[n] = 0.5 (1 - (1 - att)^n); falling: env[3000 + n] = env[3000] (1 - rel)^n.
    up = 0.5 * (1 - (1 - att) ** np.arange(100, 3001, 100))
    down = up[-1] * (1 - rel) ** np.arange(100, 3001, 100)
    np.testing.assert_allclose(levels, 20 * np.log10(np.concatenate([up, down])), atol=1e-9)


def test_rising_envelope_equals_lowpass_of_abs() -> None:
    # With a monotonically rising |x| the follower is a plain one-pole low-pass of |x| (scipy reference).
    att = time_coeff(0.005, SR)
    ramp = np.linspace(0, 1, 2000) ** 2
    x = np.stack([ramp, -0.5 * ramp], axis=1).astype(np.float32)
    st = envelope_state()
    db = envelope_block(x, att, 0.5, st, False)
    ref = signal.lfilter([att], [1, att - 1], np.abs(x[:, 0]).astype(np.float64))
    assert st[0] == pytest.approx(ref[-1], rel=1e-12)
    assert db == pytest.approx(20 * math.log10(ref[-1]))


def test_rms_level_of_sine() -> None:
    t = np.arange(SR) / SR
    s = 0.5 * np.sin(2 * np.pi * 440 * t)
    x = np.stack([s, s], axis=1).astype(np.float32)
    c = time_coeff(0.05, SR)
    db = envelope_block(x, c, c, envelope_state(), True)
    assert db == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.2)
    db_peak = envelope_block(x, time_coeff(0.0, SR), time_coeff(0.5, SR), envelope_state(), False)
    assert db_peak == pytest.approx(20 * math.log10(0.5), abs=0.1)


def test_split_invariance_silence_and_nan() -> None:
    x = np.random.default_rng(0).normal(size=(5000, 2)).astype(np.float32)
    a, r = time_coeff(0.01, SR), time_coeff(0.2, SR)
    st1 = envelope_state()
    whole = envelope_block(x, a, r, st1, True)
    st2 = envelope_state()
    for s in range(0, 5000, 7):
        last = envelope_block(x[s : s + 7], a, r, st2, True)
    # exact: same kernel (no fastmath) and samples, only the cuts differ
    assert last == whole and st1[0] == st2[0]
    assert envelope_block(np.zeros((10, 2), np.float32), a, r, envelope_state(), False) == FLOOR_DB
    y = x.copy()
    y[100, 0] = np.nan
    st = envelope_state()
    assert math.isfinite(envelope_block(y, a, r, st, False)) and math.isfinite(st[0])


def test_duck_curve() -> None:
    thr, amt = -40.0, -12.0
    assert duck_gain_db(-60.0, thr, amt) == 0.0
    assert duck_gain_db(-43.0, thr, amt) == 0.0
    assert duck_gain_db(-40.0, thr, amt) == pytest.approx(-6.0)
    assert duck_gain_db(-37.0, thr, amt) == amt
    assert duck_gain_db(0.0, thr, amt) == amt
    lv = np.linspace(-50, -30, 401)
    g = np.array([duck_gain_db(v, thr, amt) for v in lv])
    assert np.all(np.diff(g) <= 0)  # monotonic: louder source, more ducking
    assert np.max(np.abs(np.diff(g))) < 0.05 * 1.5 * abs(amt) / 6.0 + 1e-12  # slope <= 1.5 amount/knee
    assert duck_gain_db(-40.0, thr, amt, 0.0) == amt
    assert duck_gain_db(-40.1, thr, amt, 0.0) == 0.0


def test_time_coeff_validation() -> None:
    assert time_coeff(0.0, SR) == 1.0
    with pytest.raises(EngineError):
        time_coeff(-1.0, SR)
    with pytest.raises(EngineError):
        time_coeff(0.1, 0.0)
