"""The engine's mix against independent references: numpy sums, pan law, sample-exact starts."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SR, max_jump, noise, sine

from middleware.config import EngineConfig
from middleware.engine import BusSpec, Engine


def _latency(eng: Engine) -> int:
    return eng.buses.limiter.latency_frames


def test_mix_equals_numpy_sum_of_sources(engine: Engine) -> None:
    a, b = noise(0.5, seed=1, amp=0.1), noise(0.5, seed=2, amp=0.1)
    engine.bank.add("a", a)
    engine.bank.add("b", b)
    engine.add_bus(BusSpec("sfx"))
    engine.play("a", gain_db=-6.0, pan=-0.5)
    engine.play("b", bus="sfx", gain_db=-3.0, pan=0.3)
    lat = _latency(engine)
    out = engine.render(a.size + lat + 512)[lat:]

    def pan(p: float) -> tuple[float, float]:
        th = (p + 1) * np.pi / 4
        return np.cos(th), np.sin(th)

    ga, gb = 10 ** (-6 / 20), 10 ** (-3 / 20)
    (al, ar), (bl, br) = pan(-0.5), pan(0.3)
    ref = np.zeros((a.size + 512, 2))
    ref[: a.size, 0] = a * ga * al + b * gb * bl
    ref[: a.size, 1] = a * ga * ar + b * gb * br
    # Filters that are off are bypassed exactly; float32 accumulation is the only difference.
    n = a.size
    assert np.max(np.abs(out[:n] - ref[:n])) < 1e-6
    assert np.max(np.abs(out[n:])) < 1e-6


def test_voice_scheduled_at_frame_starts_exactly_there() -> None:
    for block in (64, 256, 1000):
        eng = Engine(EngineConfig(block=block, max_voices=8, voice_limit=8))
        eng.bank.add("click", np.ones(64, dtype=np.float32) * 0.5)
        start = 12345
        eng.play("click", start_frame=start)
        lat = _latency(eng)
        out = eng.render(start + lat + 2000)
        nz = np.flatnonzero(np.abs(out[:, 0]) > 1e-7)
        assert nz[0] == start + lat, f"block={block}: first sample at {nz[0] - lat}, wanted {start}"
        assert nz[-1] == start + lat + 63


def test_pan_law_matches_equal_power_formula() -> None:
    tone = sine(1000.0, 1.0, amp=0.25)
    for p in np.linspace(-1, 1, 9):
        eng = Engine(EngineConfig(block=256, max_voices=4, voice_limit=4))
        eng.bank.add("tone", tone)
        eng.play("tone", pan=float(p), loop=True)
        out = eng.render(SR // 4)[4800:]
        rms = np.sqrt(np.mean(out.astype(np.float64) ** 2, axis=0))
        th = (p + 1) * np.pi / 4
        ref = 0.25 / np.sqrt(2)
        assert rms[0] == pytest.approx(ref * np.cos(th), abs=1e-4)
        assert rms[1] == pytest.approx(ref * np.sin(th), abs=1e-4)


def test_pitch_changes_frequency(engine: Engine) -> None:
    engine.bank.add("tone", sine(1000.0, 1.0))
    engine.play("tone", pitch=1.5, loop=True)
    out = engine.render(SR // 2)[4096:]
    spec = np.abs(np.fft.rfft(out[:, 0] * np.hanning(len(out))))
    freq = np.argmax(spec) * SR / len(out)
    assert abs(freq - 1500.0) < 3.0


def test_looping_voice_wraps_without_click(engine: Engine) -> None:
    # 100 Hz sine with an integer number of periods loops seamlessly.
    engine.bank.add("tone", sine(100.0, 0.1, amp=0.5))
    engine.play("tone", loop=True)
    out = engine.render(SR)
    assert max_jump(out[1000:]) <= 0.5 * 2 * np.pi * 100 / SR * 0.7072 * 1.05


def test_one_shot_ends_and_frees_its_voice(engine: Engine) -> None:
    engine.bank.add("blip", noise(0.01))
    h = engine.play("blip")
    engine.render(2048)
    assert not engine.is_playing(h)
    assert engine.stats()["voices_ended"] == 1
    kinds = [e[0] for e in engine.events]
    assert kinds == ["started", "ended"]


def test_stop_with_release_is_sample_accurate_and_fades(engine: Engine) -> None:
    engine.bank.add("tone", sine(1000.0, 1.0, amp=0.5))
    h = engine.play("tone", loop=True)
    stop_at = 5000
    engine.stop(h, release=0.01, at_frame=stop_at)
    lat = _latency(engine)
    out = engine.render(8000)[lat:, 0]
    rel = int(0.01 * SR)
    peak = 0.5 * np.cos(np.pi / 4)
    assert np.max(np.abs(out[stop_at - 96 : stop_at])) == pytest.approx(peak, rel=0.01)
    assert np.all(out[stop_at + rel + 1 :] == 0.0)
    # linear release: around its middle the envelope is about half
    mid = stop_at + rel // 2
    assert np.max(np.abs(out[mid - 24 : mid + 24])) == pytest.approx(peak / 2, rel=0.1)


def test_render_is_deterministic_and_block_size_independent_for_events() -> None:
    def run(block: int) -> np.ndarray:
        eng = Engine(EngineConfig(block=block, max_voices=16, voice_limit=16))
        eng.bank.add("n", noise(0.2, seed=3))
        eng.play("n", start_frame=777, gain_db=-6)
        eng.play("n", start_frame=3001, pan=0.5)
        return eng.render(20000)

    a, b = run(256), run(256)
    assert np.array_equal(a, b)  # exact: same code path, same inputs, run twice
    c = run(128)
    onsets = [np.flatnonzero(np.abs(x[:, 1]) > 1e-7)[0] for x in (a, c)]
    assert onsets[0] == onsets[1]


@pytest.mark.parametrize(("lp", "hp"), [(800.0, None), (None, 300.0), (2000.0, 150.0)])
def test_voice_filters_match_scipy_lfilter(lp: float | None, hp: float | None) -> None:
    """The per-voice one-pole low-pass/high-pass equal scipy's lfilter with the same coefficients."""
    from scipy.signal import lfilter

    x = noise(0.25, seed=11, amp=0.2)
    eng = Engine(EngineConfig(block=256, max_voices=4, voice_limit=4))
    eng.bank.add("x", x)
    eng.play("x", pan=-1.0, lowpass_hz=lp, highpass_hz=hp)
    lat = _latency(eng)
    out = eng.render(x.size + lat)[lat:, 0].astype(np.float64)
    ref = x.astype(np.float64)
    if lp is not None:
        a = 1 - np.exp(-2 * np.pi * lp / SR)
        ref = lfilter([a], [1, -(1 - a)], ref)
    if hp is not None:
        a = 1 - np.exp(-2 * np.pi * hp / SR)
        ref = ref - lfilter([a], [1, -(1 - a)], ref)
    assert np.max(np.abs(out - ref)) < 1e-5
