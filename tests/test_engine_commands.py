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
