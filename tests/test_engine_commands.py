"""Engine commands: immutable records, one applier each, and an explicit UNCHANGED.

Every command class of ``engine/commands.py`` must have exactly one applier in ``Engine._APPLY``;
a field a caller leaves out is ``UNCHANGED`` (never ``False`` or ``None``, which have meanings of
their own), so a value that compares equal to ``False`` (a cutoff of 0) can no longer pass for it.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from middleware.config import EngineConfig
from middleware.engine import Engine
from middleware.engine.buses import db_to_gain
from middleware.engine.commands import COMMANDS, UNCHANGED, PlayVoice, SetBus, SetVoice, Unchanged
from middleware.engine.specs import BusSpec
from middleware.engine.voices import P_GAIN
from middleware.errors import EngineError


@pytest.fixture
def eng() -> Engine:
    e = Engine(EngineConfig(block=256, max_voices=16, voice_limit=16))
    e.bank.add("m", np.full(48000, 0.1, dtype=np.float32))
    e.add_bus(BusSpec("fx"))
    e.render(256)
    return e


def test_every_command_class_has_exactly_one_applier_and_nothing_else_is_applied() -> None:
    assert set(Engine._APPLY) == set(COMMANDS)
    assert len(set(COMMANDS)) == len(COMMANDS)


@pytest.mark.parametrize("cls", COMMANDS, ids=lambda c: c.__name__)
def test_commands_are_immutable_and_carry_no_instance_dict(cls: type) -> None:
    cmd = cls(*(None,) * len(cls._fields))
    with pytest.raises(AttributeError):
        setattr(cmd, cls._fields[0], 1)
    assert not hasattr(cmd, "__dict__")


def test_unchanged_is_one_object_without_a_truth_value() -> None:
    assert Unchanged() is UNCHANGED and repr(UNCHANGED) == "UNCHANGED"
    assert pickle.loads(pickle.dumps(UNCHANGED)) is UNCHANGED
    with pytest.raises(TypeError, match="no truth value"):
        bool(UNCHANGED)


def test_set_voice_queues_the_fields_given_and_unchanged_for_the_rest(eng: Engine) -> None:
    h = eng.play("m", loop=True)
    eng.render(256)
    eng.set_voice(h, gain_db=-6.0, position=[1, 2, 3])
    (cmd,) = eng.pending_commands()
    assert cmd.__class__ is SetVoice and cmd.handle == h
    assert abs(cmd.gain - db_to_gain(-6.0)) < 1e-12  # the same formula on both sides: float rounding only
    assert cmd.position == (1.0, 2.0, 3.0)
    assert [f for f in SetVoice._fields if getattr(cmd, f) is UNCHANGED] == [
        "pitch",
        "pan",
        "lowpass_hz",
        "highpass_hz",
        "velocity",
        "sends",
    ]
    pitch_before = eng.voice_info(h)["rate"]
    eng.render(512)
    assert eng.voice_info(h)["rate"] == pitch_before  # an UNCHANGED pitch stayed what it was


def test_set_bus_keeps_what_it_is_not_given_and_none_removes_a_filter(eng: Engine) -> None:
    eng.set_bus("fx", lowpass_hz=800.0, gain_db=-3.0)
    eng.render(256)
    eng.set_bus("fx", gain_db=-6.0)
    (cmd,) = eng.pending_commands()
    assert cmd == SetBus("fx", -6.0, UNCHANGED, UNCHANGED, UNCHANGED, UNCHANGED)
    eng.render(256)
    spec = eng.buses.buses[eng.buses.index("fx")].spec
    assert (spec.gain_db, spec.lowpass_hz) == (-6.0, 800.0)
    eng.set_bus("fx", lowpass_hz=None)
    eng.render(256)
    assert eng.buses.buses[eng.buses.index("fx")].spec.lowpass_hz is None


@pytest.mark.parametrize("cutoff", [0, 0.0])
def test_a_cutoff_of_zero_is_refused_not_taken_for_leave_it(eng: Engine, cutoff: float) -> None:
    """Was: ``0 in (False, None)`` is true, so a cutoff of 0 skipped the range check (as if it were
    the "unchanged" marker) and reached the bus's filter unchecked."""
    with pytest.raises(EngineError, match=r"lowpass_hz=0\.0: must be within \(0, 24000\.0\) Hz, or None"):
        eng.set_bus("fx", lowpass_hz=cutoff)
    with pytest.raises(EngineError, match=r"highpass_hz=0\.0: must be within"):
        eng.set_bus("fx", highpass_hz=cutoff)


def test_a_voice_scheduled_ahead_is_playing_from_the_call_on(eng: Engine) -> None:
    """Was: a play queued for a later frame was not found among the queued commands (it sat in a
    timed wrapper ``is_playing`` did not open) until the next block moved it to the heap."""
    h = eng.play("m", start_frame=eng.frame + 10 * 256)
    assert eng.is_playing(h)
    (cmd,) = eng.pending_commands()
    assert cmd.__class__ is PlayVoice and cmd.handle == h
    eng.render(256)
    assert eng.is_playing(h)  # waiting in the heap
    eng.render(10 * 256)
    assert eng.voice_info(h)["state"] == "playing"


def test_timed_commands_apply_in_frame_order_whatever_order_they_were_sent_in(eng: Engine) -> None:
    h = eng.play("m", loop=True)
    eng.render(256)
    base = eng.frame
    eng.set_voice(h, gain_db=-12.0, at_frame=base + 2 * 256)
    eng.set_voice(h, gain_db=-3.0, at_frame=base + 256)
    eng.render(256)
    assert abs(eng.voices.P[eng._slot_of[h], P_GAIN] - 1.0) < 1e-12  # nothing due yet: still 0 dB
    eng.render(256)
    eng.render(256)
    assert abs(eng.voices.P[eng._slot_of[h], P_GAIN] - db_to_gain(-12.0)) < 1e-12  # the later one last


def test_a_play_queues_its_record_with_every_value_under_its_own_name(eng: Engine) -> None:
    """``play`` builds its record in field order (tuple speed); every value must land under its name."""
    h = eng.play(
        "m",
        bus="fx",
        gain_db=-6.0,
        pitch=1.5,
        pan=-0.25,
        loop=True,
        offset=0.125,
        fade_in=0.01,
        lowpass_hz=5000.0,
        highpass_hz=80.0,
        sends={"fx": -12.0},
        priority=3,
        position=(1.0, 2.0, 3.0),
        velocity=(0.5, 0.0, 0.0),
        min_distance=2.0,
        max_distance=40.0,
        rolloff="linear",
        doppler=0.5,
        binaural=True,
    )
    (cmd,) = eng.pending_commands()
    got = cmd._asdict()
    # the gains through the one formula on both sides: float rounding only
    assert abs(got.pop("gain") - db_to_gain(-6.0)) < 1e-12
    (send_bus, send_gain), *_ = got.pop("sends")
    assert send_bus == "fx" and abs(send_gain - db_to_gain(-12.0)) < 1e-12
    assert got.pop("rolloff_mode") != 0 and got.pop("rolloff_table") == 0  # linear: a built-in curve
    assert got == {
        "handle": h,
        "sample": eng.bank.index("m"),
        "bus": "fx",
        "pitch": 1.5,
        "pan": -0.25,
        "loop": True,
        "offset": 0.125,
        "fade_in": 0.01,
        "lowpass_hz": 5000.0,
        "highpass_hz": 80.0,
        "priority": 3,
        "spatial": True,
        "position": (1.0, 2.0, 3.0),
        "velocity": (0.5, 0.0, 0.0),
        "min_distance": 2.0,
        "max_distance": 40.0,
        "doppler": 0.5,
        "binaural": True,
    }


def test_each_set_voice_field_reaches_its_own_column(eng: Engine) -> None:
    """``set_voice`` builds and its applier unpacks the record in field order; one field at a time,
    only that field's column may move."""
    from middleware.engine import voices as V

    h = eng.play("m", loop=True, position=(0.0, 0.0, -1.0))
    eng.render(256)
    cases = {
        "gain_db": (-6.0, [V.P_GAIN], db_to_gain(-6.0)),
        "pitch": (1.25, [V.P_PITCH], 1.25),
        "pan": (0.5, [V.P_PAN], 0.5),
        "lowpass_hz": (3000.0, [V.P_LP], 3000.0),
        "highpass_hz": (120.0, [V.P_HP], 120.0),
        "position": ((4.0, 5.0, 6.0), [V.P_X, V.P_Y, V.P_Z], (4.0, 5.0, 6.0)),
        "velocity": ((1.0, 2.0, 3.0), [V.P_VX, V.P_VY, V.P_VZ], (1.0, 2.0, 3.0)),
    }
    for field, (value, cols, want) in cases.items():
        slot = eng._slot_of[h]
        before = eng.voices.P[slot].copy()
        eng.set_voice(h, **{field: value})
        eng.render(256)
        after = eng.voices.P[slot]
        np.testing.assert_allclose(after[cols], want, rtol=1e-12, err_msg=field)  # one formula: rounding
        others = np.setdiff1d(np.arange(after.size), cols)
        np.testing.assert_array_equal(after[others], before[others], err_msg=field)
