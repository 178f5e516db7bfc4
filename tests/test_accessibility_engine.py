"""Hearing profiles inside the real engine (issue 17, part 1): the effect in master's slot before the
limiter, a profile switched while rendering, and the player volumes / dialogue boost as bus gains and
ducking rules the engine already runs. References: numpy on the rendered blocks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import SR, noise, sine

from middleware.accessibility.compensation import HearingCompensation
from middleware.accessibility.mix import bus_roles, player_mix
from middleware.accessibility.profile import HearingProfile, ProfileError, profile_from_dict
from middleware.config import EngineConfig
from middleware.engine import BusSpec, Engine

ROOT = Path(__file__).resolve().parents[1]


def _rms_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.asarray(x, dtype=np.float64) ** 2) + 1e-30))


def test_the_effect_runs_in_master_before_the_limiter() -> None:
    """A mono profile in master's slot: a hard-left source comes out on both channels, equal, and the
    loud, EQ-boosted mix never leaves the limiter's ceiling."""
    eng = Engine(EngineConfig(block=256, max_voices=8, voice_limit=8))
    eng.bank.add("n", noise(1.0, seed=5, amp=0.9))
    fx = HearingCompensation(
        profile_from_dict(
            {
                "mono": True,
                "audiogram": {"left": [60, 65, 70, 80, 90, 100], "right": [60, 65, 70, 80, 90, 100]},
            }
        )
    )
    eng.set_master_effect("hearing", fx)
    eng.play("n", pan=-1.0, loop=True)
    out = eng.render(SR)
    assert np.max(np.abs(out[:, 0] - out[:, 1])) < 1e-6
    assert _rms_db(out[SR // 2 :, 1]) > -30.0  # the right ear hears the left-only source
    assert np.max(np.abs(out)) <= eng.buses.limiter.ceiling + 1e-6


def test_a_profile_switched_while_the_engine_renders_glides_in() -> None:
    eng = Engine(EngineConfig(block=256, max_voices=8, voice_limit=8))
    eng.bank.add("tone", sine(300.0, 1.0, amp=0.1))
    fx = HearingCompensation()
    eng.set_master_effect("hearing", fx)
    eng.play("tone", loop=True)
    before = eng.render(256 * 100)
    fx.set_profile(profile_from_dict({"audiogram": {"left": [50] * 6, "right": [50] * 6}}))
    after = eng.render(256 * 100)
    y = np.concatenate([before, after])
    steady = max(
        np.max(np.abs(np.diff(before[-4800:], axis=0))), np.max(np.abs(np.diff(after[-4800:], axis=0)))
    )
    at = before.shape[0]
    assert np.max(np.abs(np.diff(y[at - 256 : at + 9600], axis=0))) <= 1.05 * steady
    # NAL-R for a flat 50 dB HL loss gives 6 dB at 250 Hz and 15 dB at 500 Hz: about 7 dB at 300 Hz
    assert _rms_db(after[-4800:]) - _rms_db(before[-4800:]) > 5.0  # the new EQ did take over


def _demo_parents() -> dict[str, str | None]:
    scene = yaml.safe_load((ROOT / "scenes/demo.yaml").read_text(encoding="utf-8"))
    return {name: (spec or {}).get("parent", "master") for name, spec in scene["buses"].items()}


def test_the_demo_buses_fall_into_the_player_groups() -> None:
    roles = bus_roles(_demo_parents())
    assert roles == {
        "ambience": "ambience",
        "music": "music",
        "sfx": "effects",
        "footsteps": "effects",
        "voice": "dialogue",
    }
    assert bus_roles(_demo_parents(), {"footsteps": "ambience"})["footsteps"] == "ambience"
    with pytest.raises(ProfileError, match="bus sfx"):
        bus_roles(_demo_parents(), {"sfx": "noise"})


def _tone_amp(x: np.ndarray, freq: float) -> float:
    """Amplitude of ``freq`` on the left channel (a whole number of cycles in ``x``)."""
    t = np.arange(x.shape[0]) / SR
    return float(2 * np.abs(np.mean(x[:, 0] * np.exp(-2j * np.pi * freq * t))))


def _render_with(profile: HearingProfile, parents: dict[str, str | None]) -> tuple[np.ndarray, np.ndarray]:
    """1 s of music alone, then 0.25 s of music while a line plays (after 0.5 s for the duck to settle)."""
    mix = player_mix(profile, parents)
    eng = Engine(EngineConfig(block=256, max_voices=8, voice_limit=8))
    for bus in parents:
        eng.add_bus(BusSpec(bus, gain_db=mix.bus_gain_db[bus]))
    for d in mix.ducks:
        eng.add_duck(d)
    eng.bank.add("music", sine(220.0, 4.0, amp=0.1))
    eng.bank.add("line", noise(1.0, seed=7, amp=0.05))  # RMS -31 dBFS: above the -45 dB threshold
    eng.play("music", bus="music")
    alone = eng.render(SR)[-SR // 4 :]
    eng.play("line", bus="voice")
    eng.render(SR // 2)
    return alone, eng.render(SR // 4)


def test_player_volumes_and_dialogue_boost_in_the_engine() -> None:
    """Music at -6 dB by the player, and lowered a further 9 dB while the voice bus speaks."""
    parents: dict[str, str | None] = {"music": "master", "voice": "master", "sfx": "master"}
    p = profile_from_dict({"volume_db": {"music": -6.0}, "dialogue_boost_db": 9.0})
    mix = player_mix(p, parents)
    assert dict(mix.bus_gain_db) == {"music": -6.0, "voice": 0.0, "sfx": 0.0}
    assert {(d.source, d.target, d.amount_db) for d in mix.ducks} == {
        ("voice", "music", -9.0),
        ("voice", "sfx", -9.0),
    }
    assert player_mix(HearingProfile(), parents).ducks == ()

    ref_alone, ref_during = _render_with(HearingProfile(), parents)
    alone, during = _render_with(p, parents)
    # 0.25 s of a 220 Hz tone is 55 whole cycles; the line's noise adds < 0.3 dB at 220 Hz
    assert 20 * np.log10(_tone_amp(alone, 220.0) / _tone_amp(ref_alone, 220.0)) == pytest.approx(
        -6.0, abs=0.1
    )
    assert 20 * np.log10(_tone_amp(ref_during, 220.0) / _tone_amp(ref_alone, 220.0)) == pytest.approx(
        0.0, abs=0.3
    )
    assert 20 * np.log10(_tone_amp(during, 220.0) / _tone_amp(alone, 220.0)) == pytest.approx(-9.0, abs=0.5)
