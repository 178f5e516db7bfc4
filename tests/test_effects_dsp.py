"""Bus effects against independent references: EQ vs the RBJ cookbook through scipy, compressor vs its
static curve and time constants, delay vs its impulse response; plus the Ramp and the effect lifecycle.

Tolerances: the effects compute in float64 and write float32 blocks, so a single pass is exact to
~1e-7 relative; the EQ response is compared in dB (0.01 dB ~ 1e-3 relative, far above float32 noise and
far below any wrong coefficient); the compressor's measured gain to 0.05 dB (its dB-domain smoother is
exact up to float rounding of the output sample).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal

from middleware.engine.effects import REGISTRY, EffectSpec
from middleware.engine.ramp import Ramp
from middleware.errors import EngineError

SR = 48000
BLOCK = 256


def make(kind: str, **values):
    spec = EffectSpec(kind, values)
    fx = spec.kind.instance(spec)
    fx.prepare(SR, BLOCK)
    return fx


def run(fx, x: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """Process ``x`` (frames, 2) through ``fx`` block by block; returns the output (a copy)."""
    y = x.astype(np.float32).copy()
    for i in range(0, len(y), block):
        fx.process(y[i : i + block])
    return y


# ------------------------------------------------------------------------------------------ EQ
def rbj(kind: str, f0: float, q: float, gain_db: float, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Audio EQ Cookbook (R. Bristow-Johnson), written out again here independently of the engine."""
    A = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * f0 / fs
    alpha = np.sin(w0) / (2 * q)
    c = np.cos(w0)
    if kind == "peak":
        b = [1 + alpha * A, -2 * c, 1 - alpha * A]
        a = [1 + alpha / A, -2 * c, 1 - alpha / A]
    elif kind == "lowshelf":
        s = 2 * np.sqrt(A) * alpha
        b = [
            A * ((A + 1) - (A - 1) * c + s),
            2 * A * ((A - 1) - (A + 1) * c),
            A * ((A + 1) - (A - 1) * c - s),
        ]
        a = [(A + 1) + (A - 1) * c + s, -2 * ((A - 1) + (A + 1) * c), (A + 1) + (A - 1) * c - s]
    elif kind == "highshelf":
        s = 2 * np.sqrt(A) * alpha
        b = [
            A * ((A + 1) + (A - 1) * c + s),
            -2 * A * ((A - 1) + (A + 1) * c),
            A * ((A + 1) + (A - 1) * c - s),
        ]
        a = [(A + 1) - (A - 1) * c + s, 2 * ((A - 1) - (A + 1) * c), (A + 1) - (A - 1) * c - s]
    elif kind == "lowpass":
        b = [(1 - c) / 2, 1 - c, (1 - c) / 2]
        a = [1 + alpha, -2 * c, 1 - alpha]
    else:  # highpass
        b = [(1 + c) / 2, -(1 + c), (1 + c) / 2]
        a = [1 + alpha, -2 * c, 1 - alpha]
    return np.array(b) / a[0], np.array(a) / a[0]


BANDS = [
    {"kind": "lowshelf", "freq_hz": 120.0, "gain_db": 6.0, "q": 0.707},
    {"kind": "peak", "freq_hz": 1000.0, "gain_db": -9.0, "q": 2.0},
    {"kind": "highshelf", "freq_hz": 6000.0, "gain_db": 4.0, "q": 0.9},
    {"kind": "highpass", "freq_hz": 40.0, "q": 0.707},
    {"kind": "lowpass", "freq_hz": 18000.0, "q": 0.707},
]


def test_eq_response_matches_the_rbj_cookbook_through_scipy():
    fx = make("eq", bands=BANDS)
    n = 1 << 15
    imp = np.zeros((n, 2), np.float32)
    imp[0] = 1.0
    h = run(fx, imp)[:, 0].astype(np.float64)
    freqs = np.fft.rfftfreq(n, 1 / SR)
    measured = 20 * np.log10(np.abs(np.fft.rfft(h)) + 1e-30)
    sos = np.array(
        [np.concatenate(rbj(b["kind"], b["freq_hz"], b["q"], b.get("gain_db", 0.0), SR)) for b in BANDS]
    )
    _, resp = signal.sosfreqz(sos, worN=freqs, fs=SR)
    expected = 20 * np.log10(np.abs(resp) + 1e-30)
    band = (freqs >= 20) & (freqs <= 16000)
    err = np.max(np.abs(measured[band] - expected[band]))
    assert err < 0.01, f"EQ deviates from the cookbook by {err:.4f} dB"
    # and the response is what a designer asked for: -9 dB at 1 kHz (within the shelves' small overlap)
    assert expected[np.argmin(abs(freqs - 1000))] == pytest.approx(-9.0, abs=0.3)


def test_eq_single_peak_band_matches_freqz():
    fx = make("eq", bands=[{"kind": "peak", "freq_hz": 3000.0, "gain_db": 12.0, "q": 4.0}])
    x = np.zeros((8192, 2), np.float32)
    x[0] = 1.0
    h = run(fx, x)[:, 1].astype(np.float64)
    b, a = rbj("peak", 3000.0, 4.0, 12.0, SR)
    ref = signal.lfilter(b, a, np.r_[1.0, np.zeros(8191)])
    assert np.max(np.abs(h - ref)) < 1e-6


def test_eq_gain_change_glides_without_a_step():
    fx = make("eq", bands=[{"kind": "peak", "freq_hz": 1000.0, "gain_db": 0.0, "q": 1.0}])
    t = np.arange(SR // 2) / SR
    x = np.stack([np.sin(2 * np.pi * 1000 * t)] * 2, axis=1).astype(np.float32) * 0.5
    y = x.copy()
    half = (len(y) // 2) // BLOCK * BLOCK
    for i in range(0, half, BLOCK):
        fx.process(y[i : i + BLOCK])
    fx.update(EffectSpec("eq", {"bands": [{"kind": "peak", "freq_hz": 1000.0, "gain_db": -12.0, "q": 1.0}]}))
    for i in range(half, len(y), BLOCK):
        fx.process(y[i : i + BLOCK])
    env = np.abs(signal.hilbert(y[:, 0]))
    # 50 ms ramp: no sample-to-sample envelope jump anywhere, and -12 dB at the end
    assert np.max(np.abs(np.diff(env[1000:-1000]))) < 0.002
    assert 20 * np.log10(env[-3000] / 0.5) == pytest.approx(-12.0, abs=0.1)


# ------------------------------------------------------------------------------------------ compressor
def static_curve(level, t, r, w):
    """Giannoulis et al. 2012, eq. (4), written out independently: output level for input ``level``."""
    if 2 * (level - t) < -w:
        return level
    if w > 0 and 2 * abs(level - t) <= w:
        return level + (1 / r - 1) * (level - t + w / 2) ** 2 / (2 * w)
    return t + (level - t) / r


@pytest.mark.parametrize("knee", [0.0, 6.0, 12.0])
@pytest.mark.parametrize("level_db", [-40.0, -24.0, -20.0, -17.0, -10.0, -3.0])
def test_compressor_static_curve(level_db, knee):
    fx = make("compressor", threshold_db=-20.0, ratio=4.0, knee_db=knee, attack=0.001, release=0.01)
    amp = 10 ** (level_db / 20)
    x = np.full((SR // 2, 2), amp, np.float32)  # DC: the peak level is exactly level_db every sample
    y = run(fx, x)
    got = 20 * np.log10(y[-1, 0])
    assert got == pytest.approx(static_curve(level_db, -20.0, 4.0, knee), abs=0.05)


def test_compressor_attack_and_release_follow_their_time_constants():
    attack, release = 0.02, 0.2
    fx = make("compressor", threshold_db=-30.0, ratio=10.0, knee_db=0.0, attack=attack, release=release)
    loud, quiet = 10 ** (-6 / 20), 10 ** (-60 / 20)
    n1, n2 = SR // 2, SR
    x = np.concatenate([np.full((n1, 2), loud), np.full((n2, 2), quiet)]).astype(np.float32)
    y = run(fx, x)
    gr = 20 * np.log10(y[:, 0] / x[:, 0])  # the gain applied, dB
    full = (1 / 10 - 1) * (-6 - -30)  # static reduction while loud: -21.6 dB
    k = np.arange(1, n1 + 1)
    expect_att = full * (1 - np.exp(-k / (attack * SR)))
    assert np.max(np.abs(gr[:n1] - expect_att)) < 0.05
    # 1 - 1/e of the way after exactly `attack` seconds
    assert gr[int(attack * SR) - 1] == pytest.approx(full * (1 - math.exp(-1)), abs=0.05)
    start = gr[n1 - 1]
    k = np.arange(1, n2 + 1)
    expect_rel = start * np.exp(-k / (release * SR))
    assert np.max(np.abs(gr[n1:] - expect_rel)) < 0.05


def test_compressor_makeup_and_key_input():
    fx = make(
        "compressor", threshold_db=-20.0, ratio=2.0, knee_db=0.0, attack=0.0, release=0.0, makeup_db=3.0
    )
    key = np.full((BLOCK, 2), 10 ** (-10 / 20), np.float32)  # 10 dB over: -5 dB at ratio 2
    fx.key = key
    x = np.full((BLOCK, 2), 0.01, np.float32)  # quiet programme, loud key
    fx.process(x)
    assert 20 * np.log10(x[-1, 0] / 0.01) == pytest.approx(-5.0 + 3.0, abs=0.01)


# ------------------------------------------------------------------------------------------ delay
@pytest.mark.parametrize("time,feedback,mix", [(0.25, 0.4, 0.3), (0.0105, 0.9, 1.0), (0.1, 0.0, 0.5)])
def test_delay_impulse_response_has_taps_at_the_delay_time_with_feedback_powers(time, feedback, mix):
    fx = make("delay", time=time, feedback=feedback, mix=mix)
    n = SR * 2
    x = np.zeros((n, 2), np.float32)
    x[0] = 1.0
    y = run(fx, x)[:, 0].astype(np.float64)
    d = round(time * SR)
    ref = np.zeros(n)
    ref[0] = 1 - mix
    for k in range(1, n // d + 1):
        if k * d < n:
            ref[k * d] = mix * feedback ** (k - 1)
    assert np.max(np.abs(y - ref)) < 1e-6  # float32 output of float64 arithmetic


def test_delay_reset_clears_the_tail():
    fx = make("delay", time=0.01, feedback=0.9, mix=1.0)
    x = np.zeros((BLOCK * 4, 2), np.float32)
    x[0] = 1.0
    run(fx, x)
    fx.reset()
    y = run(fx, np.zeros((SR // 10, 2), np.float32))
    assert not np.any(y)


# ------------------------------------------------------------------------------------------ Ramp and specs
def test_ramp_is_linear_takes_its_time_whatever_the_distance_and_lands_exactly():
    r = Ramp(np.array([0.0, 10.0]), np.array([0.01, 0.0]), SR)
    r.set(0, 1.0)
    r.set(1, -5.0)
    blocks = 0
    while r.moving:
        r.advance(48)
        blocks += 1
        if blocks == 1:
            assert r.value[0] == pytest.approx(0.1) and r.start[0] == 0.0
            assert r.value[1] == -5.0  # ramp time 0: the next block
    assert blocks == 10 and r.value[0] == 1.0
    r.set(0, 3.0)  # twice the distance, same time
    r.advance(240)
    assert r.value[0] == pytest.approx(2.0)


def test_spec_checks_come_from_the_parameter_table():
    with pytest.raises(EngineError, match="feedback"):
        EffectSpec("delay", {"feedback": 1.5})
    with pytest.raises(EngineError, match=r"did you mean|known"):
        EffectSpec("delai")
    with pytest.raises(EngineError, match="bands"):
        EffectSpec("eq", {"bands": [{"freq_hz": 100.0}] * 9})
    assert EffectSpec("delay").values["time"] == REGISTRY["delay"].param("time").default


def test_every_registered_effect_prepares_processes_silence_to_silence_and_resets():
    for name, kind in REGISTRY.items():
        values = {"bands": [{}]} if kind.group is not None else {}
        if name in ("lowpass", "highpass"):
            values = {"cutoff_hz": 1000.0}
        fx = make(name, **values)
        y = run(fx, np.zeros((BLOCK * 3, 2), np.float32))
        assert not np.any(y), name
        fx.reset()


def test_a_gliding_chain_allocates_nothing_per_block():
    """The render path of a bus graph with EQ, side-chained compressor, delay and a ducking rule, while every
    parameter glides: traced peak memory over 300 blocks stays below one block's buffer (2 KiB),
    i.e. only the transient array views the graph always made (about 0.9 KiB measured)."""
    import tracemalloc

    from middleware.engine.buses import BusGraph
    from middleware.engine.specs import BusSpec, DuckSpec

    g = BusGraph(SR, BLOCK)
    g.add(BusSpec("dialogue"))
    chain = (
        EffectSpec(
            "eq", {"bands": [{"kind": "lowshelf", "freq_hz": 120.0, "gain_db": 3.0}, {"freq_hz": 2500.0}]}
        ),
        EffectSpec("compressor", {"sidechain": "dialogue"}),
        EffectSpec("delay"),
    )
    g.add(BusSpec("music", lowpass_hz=8000.0, effects=chain))
    g.set_ducks("scene", (DuckSpec("dialogue", "music"),))  # a ducking rule is a compressor too
    out = np.zeros((BLOCK, 2), np.float32)
    src = np.random.default_rng(0).standard_normal((BLOCK, 2)).astype(np.float32) * 0.1
    for _ in range(20):
        g.acc[1:, :] = src
        g.process(BLOCK, out)
    glide = (
        chain[0].with_values(
            bands=({"kind": "lowshelf", "freq_hz": 200.0, "gain_db": -6.0}, {"freq_hz": 900.0})
        ),
        chain[1].with_values(threshold_db=-40.0),
        chain[2].with_values(mix=0.7, time=0.3),
    )
    g.set_effects("music", glide)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(300):
            g.acc[1:, :] = src
            g.process(BLOCK, out)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert g.buses[2].effects[2].params.value[2] == pytest.approx(0.7)  # the glides did run
    assert peak < 2048, f"{peak} bytes allocated while rendering"


def test_warm_up_compiles_every_effect_kernel_a_scene_will_use():
    """After ``warm_up`` a scene's effects (other values, other block sizes) compile nothing more:
    a first compile on the render thread costs tens of ms (underruns)."""
    from numba.core.registry import CPUDispatcher

    from middleware.engine import effects
    from middleware.engine import ramp as ramp_mod
    from middleware.engine.dsp import filters as dsp_filters

    effects.warm_up()
    mods = [ramp_mod, dsp_filters] + [
        __import__(f"middleware.engine.effects.{m}", fromlist=["x"]) for m in effects.EFFECT_MODULES
    ]
    kernels = {id(f): f for m in mods for f in vars(m).values() if isinstance(f, CPUDispatcher)}
    before = {k: len(f.signatures) for k, f in kernels.items()}
    called = (
        "ramp_advance",
        "biquad_cascade_into",
        "compressor_gain",
        "apply_gain_db",
        "delay_block",
        "cutoff_filter_block",
    )
    assert all(before[id(f)] for f in kernels.values() if f.__name__ in called)
    for name, kind in REGISTRY.items():
        values = {"bands": [{"kind": "highshelf"}, {}]} if kind.group is not None else {}
        spec = EffectSpec(name, values)
        fx = spec.kind.instance(spec)
        fx.prepare(44100, 512)
        run(fx, np.random.default_rng(1).standard_normal((2048, 2)).astype(np.float32), block=512)
    after = {k: len(f.signatures) for k, f in kernels.items()}
    assert after == before


def test_reset_mid_glide_lands_on_the_target_sound():
    """``reset`` ends glides on their targets; effects caching coefficients must follow (the ramp
    reports one move after ``settle``), so the next block sounds like a fresh instance of the target."""
    target = EffectSpec("eq", {"bands": [{"kind": "peak", "freq_hz": 500.0, "gain_db": -12.0, "q": 2.0}]})
    fx = make("eq", bands=[{"kind": "peak", "freq_hz": 4000.0, "gain_db": 9.0, "q": 0.7}])
    run(fx, np.zeros((BLOCK * 2, 2), np.float32))
    fx.update(target)
    run(fx, np.zeros((BLOCK, 2), np.float32))  # 5 ms into a 50 ms glide
    fx.reset()
    fresh = target.kind.instance(target)
    fresh.prepare(SR, BLOCK)
    imp = np.zeros((BLOCK * 8, 2), np.float32)
    imp[0] = 1.0
    assert np.max(np.abs(run(fx, imp) - run(fresh, imp))) < 1e-7


def test_an_idle_ramp_skips_its_kernel_and_a_set_wakes_it():
    r = Ramp(np.array([1.0]), np.array([0.01]), SR)
    assert r.advance(256) is False and r.idle
    r.set(0, 2.0)
    assert not r.idle and r.advance(240) is True and r.value[0] == pytest.approx(1.5)
    assert r.advance(240) is True and r.value[0] == 2.0
    assert r.advance(240) is False and r.idle and r.start[0] == 2.0


def test_specs_are_hashable_and_compare_by_value_like_the_other_frozen_specs():
    from middleware.engine.specs import BusSpec

    a = EffectSpec("eq", {"bands": [{"freq_hz": 200.0}]})
    b = EffectSpec("eq", {"bands": [{"freq_hz": 200.0, "gain_db": 0.0}]})
    assert a == b and hash(a) == hash(b) and a != a.with_values(bands=[{"freq_hz": 300.0}])
    assert len({BusSpec("m", effects=(a,)), BusSpec("m", effects=(b,))}) == 1
