"""Ducking is a use of the compressor (issue 14): a rule plays exactly as the side-chained compressor
with the ``depth`` curve, that curve and the rms detector match formulas written out here, and the
rules combine as designers expect (deepest within an owner, owners add) with the compressor's
attack time.

Levels are read from real engine renders. The music is a DC signal of 0.1 (the limiter's look-ahead
delays both renders alike; DC through an engine without filters is a constant), so the ratio of a
ducked render to an unducked one is the gain itself, sample by sample.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import SR, sine

from middleware.config import EngineConfig
from middleware.engine import BusSpec, DuckSpec, Engine
from middleware.engine.effects import EffectSpec

BLOCK = 256


def _engine(music_effects: tuple = (), extra_buses: tuple[str, ...] = ("voice",)) -> Engine:
    eng = Engine(EngineConfig(block=BLOCK, max_voices=8, voice_limit=8))
    eng.add_bus(BusSpec("music", effects=music_effects))
    for b in extra_buses:
        eng.add_bus(BusSpec(b, gain_db=-120.0))  # heard nowhere: only their level matters
    eng.bank.add("dc", np.full(SR, 0.1, np.float32))
    eng.bank.add("line", sine(330.0, 1.0, amp=0.05))  # -29 dBFS RMS
    eng.play("dc", bus="music", loop=True)
    return eng


def _gain_db(eng: Engine, plain: Engine, seconds: float) -> np.ndarray:
    """The music's gain (dB) per sample: ``eng``'s render against ``plain``'s."""
    n = int(seconds * SR)
    a = eng.render(n)[:, 0].astype(np.float64)
    b = plain.render(n)[:, 0].astype(np.float64)
    return 20 * np.log10(a / b)


def test_a_duck_rule_plays_exactly_as_the_depth_curve_compressor_on_its_target() -> None:
    rule = DuckSpec("voice", "music", amount_db=-9.0, threshold_db=-40.0, attack=0.03, release=0.2)
    comp = EffectSpec(
        "compressor",
        {
            "curve": "depth",
            "depth_db": -9.0,
            "threshold_db": -40.0,
            "knee_db": 6.0,
            "attack": 0.03,
            "release": 0.2,
            "detector": "rms",
            "sidechain": "voice",
        },
    )
    ducked, chained = _engine(), _engine((comp,))
    ducked.add_duck(rule)
    outs = []
    for eng in (ducked, chained):
        parts = [eng.render(SR // 4)]
        h = eng.play("line", bus="voice", loop=True)
        parts.append(eng.render(SR // 2))
        eng.stop(h, release=0.0)
        parts.append(eng.render(SR // 2))
        outs.append(np.concatenate(parts))
    # One code path (the compressor's kernel), the gain applied by two multiplications that compute
    # the same float64 product: equal to float32 output rounding.
    assert np.max(np.abs(outs[0] - outs[1])) < 1e-7
    before = outs[0][SR // 4 - 1, 0]  # the music alone, just before the line starts
    assert 20 * np.log10(outs[0][SR // 2, 0] / before) == pytest.approx(-9.0, abs=0.05)  # it did duck


def smoothstep_duck(level: float, threshold: float, depth: float, knee: float) -> float:
    """FMOD's ducker / Wwise's auto-ducking curve with a smoothstep knee, written out independently."""
    lo, hi = threshold - knee / 2, threshold + knee / 2
    if level <= lo:
        return 0.0
    if level >= hi:
        return depth
    t = (level - lo) / knee
    return depth * (3 * t**2 - 2 * t**3)


@pytest.mark.parametrize("level_db", [-40.0, -33.5, -32.0, -30.0, -28.5, -27.0, -26.0, -10.0])
def test_the_depth_curve_against_its_formula(level_db: float) -> None:
    spec = EffectSpec(
        "compressor",
        {"curve": "depth", "depth_db": -12.0, "threshold_db": -30.0, "knee_db": 6.0, "attack": 0.001,
         "release": 0.001, "detector": "rms"},
    )  # fmt: skip
    fx = spec.kind.instance(spec)
    fx.prepare(SR, BLOCK)
    x = np.full((BLOCK, 2), 10 ** (level_db / 20), np.float32)  # DC: its RMS level is level_db
    for _ in range(100):
        y = x.copy()
        fx.process(y)
    got = 20 * np.log10(y[-1, 0] / x[-1, 0])
    assert got == pytest.approx(smoothstep_duck(level_db, -30.0, -12.0, 6.0), abs=0.02)


def test_the_rms_detector_reads_a_tones_rms_level_where_peak_reads_its_crest() -> None:
    """A 1 kHz key at -24 dBFS RMS (-21 dBFS peak) on a depth curve at -24 dB, knee 6: the rms
    detector sits mid-knee (half the depth, -6 dB); the peak detector, with the fast attack and slow
    release peak detection is used with, is past the knee (-12 dB). 0.1 dB: the 5 ms mean square
    ripples at 2 kHz by ~1.6 % (+-0.07 dB of level, +-0.2 dB of the curve mid-knee), averaged out by
    equal attack and release (unequal ones bias it towards the faster one: -0.3 dB with 20 / 200 ms)."""
    amp = 10 ** (-24 / 20) * math.sqrt(2)
    key = np.repeat(sine(1000.0, 1.0, amp=amp)[:, None], 2, axis=1)
    for detector, attack, release, want in (("rms", 0.05, 0.05, -6.0), ("peak", 0.0005, 2.0, -12.0)):
        spec = EffectSpec(
            "compressor",
            {"curve": "depth", "depth_db": -12.0, "threshold_db": -24.0, "knee_db": 6.0, "attack": attack,
             "release": release, "detector": detector},
        )  # fmt: skip
        fx = spec.kind.instance(spec)
        fx.prepare(SR, BLOCK)
        for i in range(0, SR, BLOCK):
            fx.gain_into(key[i : i + BLOCK], BLOCK)
        assert float(np.mean(fx.gain)) == pytest.approx(want, abs=0.1), detector


def test_rules_combine_deepest_within_an_owner_and_owners_add() -> None:
    eng, plain = _engine(extra_buses=("voice", "radio")), _engine(extra_buses=("voice", "radio"))
    eng.set_ducks(
        "scene", [DuckSpec("voice", "music", amount_db=-12.0), DuckSpec("radio", "music", amount_db=-6.0)]
    )
    for e in (eng, plain):
        e.render(BLOCK * 10)  # the music's own start (a fade from 0) is not a gain
        e.play("line", bus="voice", loop=True)
        e.play("line", bus="radio", loop=True)
    g = _gain_db(eng, plain, 0.5)
    assert g[-1] == pytest.approx(-12.0, abs=0.01)  # voice and radio both speak: the deeper, not -18
    eng.set_ducks("player", [DuckSpec("voice", "music", amount_db=-5.0)])
    g = _gain_db(eng, plain, 0.5)
    assert g[-1] == pytest.approx(-17.0, abs=0.01)  # the player's boost adds to the scene's duck
    assert [d.amount_db for d in eng.buses.ducks] == [-12.0, -6.0, -5.0]


def test_a_duck_follows_its_attack_and_release_time_constants() -> None:
    """The gain change after the line starts is depth (1 - e^(-t/attack)), and after it stops it
    returns as depth e^(-t/release): the compressor's one-pole ballistics. 0.3 dB: the rms
    detector's 5 ms averaging delays the onset by well under a millisecond at this level."""
    attack, release, depth = 0.05, 0.3, -12.0
    eng, plain = _engine(), _engine()
    eng.add_duck(DuckSpec("voice", "music", amount_db=depth, attack=attack, release=release))
    for e in (eng, plain):
        e.render(BLOCK * 10)
    h = eng.play("line", bus="voice", loop=True)
    g_on = _gain_db(eng, plain, 0.6)
    onset = int(np.argmax(g_on < -0.01))
    t = np.arange(g_on.shape[0] - onset) / SR
    assert np.max(np.abs(g_on[onset:] - depth * (1 - np.exp(-t / attack)))) < 0.3
    eng.stop(h, release=0.0)
    g_off = _gain_db(eng, plain, 1.5)
    start = int(np.argmax(g_off > g_off[0] + 0.01))
    t = np.arange(g_off.shape[0] - start) / SR
    assert np.max(np.abs(g_off[start:] - g_off[start - 1] * np.exp(-t / release))) < 0.3
    assert g_off[-1] > -0.1
