"""Bulk control (issue 15): set_voices, spatialisation in the targets kernel, virtual voices at scale."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import SR, max_jump, noise, sine

from middleware.config import EngineConfig
from middleware.engine import BusSpec, Engine, ReverbSpec
from middleware.engine.dsp.pan import distance_gain, equal_power_pan_array
from middleware.engine.dsp.spatial import binaural_params_many, doppler_factor, relative_geometry
from middleware.engine.engine import KEEP_REAL_BONUS
from middleware.engine.voices import (
    AUD,
    BL_A1,
    BL_B0,
    BL_B1,
    BR_A1,
    BR_B0,
    BR_B1,
    DL1,
    DR1,
    ENV,
    GL1,
    GR1,
    PRIO,
    RATE1,
    ST,
    VIRTUAL,
)
from middleware.errors import EngineError

BLOCK = 256
FIELDS = ("gain_db", "pitch", "pan", "lowpass_hz", "highpass_hz", "position", "velocity")


def _random_value(rng: np.random.Generator, field: str, n: int) -> np.ndarray:
    if field == "gain_db":
        return rng.uniform(-40.0, 6.0, n)
    if field == "pitch":
        return 2.0 ** rng.uniform(-1.0, 1.0, n)
    if field == "pan":
        return rng.uniform(-1.0, 1.0, n)
    if field in ("lowpass_hz", "highpass_hz"):
        hz = np.exp(rng.uniform(math.log(40.0), math.log(12000.0), n))
        return np.where(rng.random(n) < 0.25, 0.0, hz)  # 0 = filter off
    return rng.uniform(-20.0, 20.0, (n, 3))


def _mixed_engine(voice_limit: int = 24) -> tuple[Engine, list[int]]:
    """Every kind of voice the bulk path can touch: mono and stereo, plain and 3D, binaural, Doppler,
    filters, sends, one-shots that end early (their handles go stale), fewer real voices than alive."""
    eng = Engine(EngineConfig(block=BLOCK, max_voices=64, voice_limit=voice_limit))
    eng.bank.add("mono", noise(1.0, seed=1))
    eng.bank.add("stereo", np.stack([noise(1.0, seed=2), sine(330.0, 1.0)], axis=1))
    eng.bank.add("short", noise(0.02, seed=3))
    eng.add_bus(BusSpec("verb", reverb=ReverbSpec()))
    rng = np.random.default_rng(7)
    handles = []
    for i in range(40):
        kind = i % 5
        common = {"gain_db": float(rng.uniform(-30, 0)), "lowpass_hz": 4000.0 if i % 3 == 0 else None}
        if kind == 0:
            h = eng.play("mono", loop=True, pan=float(rng.uniform(-1, 1)), **common)
        elif kind == 1:
            h = eng.play("stereo", loop=True, sends={"verb": -6.0}, **common)
        elif kind == 2:
            pos = tuple(rng.uniform(-10, 10, 3))
            h = eng.play("mono", loop=True, position=pos, doppler=1.0, rolloff="linear", **common)
        elif kind == 3:
            pos = tuple(rng.uniform(-10, 10, 3))
            h = eng.play("mono", loop=True, position=pos, binaural=True, bus="verb", **common)
        else:
            h = eng.play("short", **common)  # ends after 20 ms: later changes hit a stale handle
        handles.append(h)
    return eng, handles


def test_set_voices_renders_exactly_what_set_voice_calls_render() -> None:
    """The same changes through N set_voice calls and through set_voices give identical audio.

    Exact equality holds by construction, not by luck: both paths write the same float64 values
    into the same parameter table (gain via the same 10 ** (dB / 20)) and flag the same voices, so
    the same targets, ramps and kernels run on identical inputs. Any difference is a bug.
    """
    per_call, handles = _mixed_engine()
    bulk, handles_b = _mixed_engine()
    assert handles == handles_b
    rng = np.random.default_rng(11)
    outs: dict[str, list[np.ndarray]] = {"call": [], "bulk": []}
    for block in range(60):
        if block % 3 == 0:
            chosen = rng.choice(len(handles), size=int(rng.integers(1, len(handles))), replace=False)
            hs = np.array(handles)[chosen]
            fields = {f: _random_value(rng, f, hs.size) for f in FIELDS if rng.random() < 0.5}
            at = per_call.frame + int(rng.integers(0, 3 * BLOCK)) if block % 2 else None
            for i, h in enumerate(hs.tolist()):
                change = {}
                for f, v in fields.items():
                    if f in ("position", "velocity"):
                        change[f] = tuple(v[i])
                    elif f in ("lowpass_hz", "highpass_hz"):
                        change[f] = float(v[i]) or None
                    else:
                        change[f] = float(v[i])
                per_call.set_voice(h, at_frame=at, **change)
            bulk.set_voices(hs, at_frame=at, **fields)
        outs["call"].append(per_call.render(BLOCK))
        outs["bulk"].append(bulk.render(BLOCK))
    a, b = np.concatenate(outs["call"]), np.concatenate(outs["bulk"])
    assert np.sqrt(np.mean(a**2)) > 1e-3  # the comparison is of real audio, not of two silences
    assert np.array_equal(a, b)
    assert np.array_equal(per_call.voices.P, bulk.voices.P)
    assert per_call.counters["stale_handles"] == bulk.counters["stale_handles"] > 0
    assert per_call.stats()["voices_virtual"] == bulk.stats()["voices_virtual"] > 0


@pytest.mark.parametrize("order", ["ascending", "descending", "shuffled"])
def test_set_voices_finds_each_handles_voice_in_any_order(order: str) -> None:
    """Handles in creation order take a linear walk through the engine's handle index, others a
    binary search; either way each value lands on its own voice, repeated handles keep the last
    value (as repeated set_voice calls do) and ended voices count as stale."""
    eng = Engine(EngineConfig(block=BLOCK, max_voices=300, voice_limit=300))
    eng.bank.add("tone", sine(440.0, 1.0))
    eng.bank.add("short", noise(0.001))
    hs = [eng.play("short" if i % 7 == 0 else "tone", loop=i % 7 != 0) for i in range(280)]
    eng.render(2 * BLOCK)  # the one-shots have ended: their handles are stale
    rng = np.random.default_rng(1)
    pick = np.array(hs)[rng.random(len(hs)) < 0.6]
    pick = np.concatenate([pick, pick[:5]])  # five handles twice
    pick = {"ascending": np.sort(pick), "descending": np.sort(pick)[::-1], "shuffled": rng.permutation(pick)}[
        order
    ]
    pans = rng.uniform(-1.0, 1.0, pick.size)
    eng.set_voices(pick, pan=pans)
    eng.render(BLOCK)
    want: dict[int, float] = {}
    for h, v in zip(pick.tolist(), pans.tolist(), strict=True):
        want[h] = v  # the last occurrence wins
    for h in hs:
        info = eng.voice_info(h)
        if info is None:
            continue
        assert eng.voices.P[info["slot"], 1] == want.get(h, 0.0)  # the value itself, copied
    n_stale = sum(1 for h in pick.tolist() if eng.voice_info(h) is None)
    assert n_stale > 0
    assert eng.counters["stale_handles"] == n_stale


def test_set_voices_broadcasts_scalars_and_copies_the_callers_arrays() -> None:
    eng = Engine(EngineConfig(block=BLOCK, max_voices=8, voice_limit=8))
    eng.bank.add("tone", sine(440.0, 1.0))
    hs = [eng.play("tone", loop=True, position=(1.0, 0.0, 0.0)) for _ in range(3)]
    pos = np.array([[0.0, 0.0, -2.0], [3.0, 0.0, 0.0], [-3.0, 0.0, 0.0]])
    eng.set_voices(hs, gain_db=-6.0, position=pos)
    pos[:] = 99.0  # the command owns a copy: changing the buffer afterwards changes nothing
    eng.render(BLOCK)
    P = eng.voices.P
    slots = [eng.voice_info(h)["slot"] for h in hs]
    assert P[slots, 0] == pytest.approx([10 ** (-6 / 20)] * 3)
    assert P[slots[1], 5:8].tolist() == [3.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"gain_db": [0.0, 30.0]}, "gain_db[1]=30.0: must be <= 24 dB"),
        ({"pitch": [1.0, 0.0]}, "pitch[1]=0.0: must be > 0"),
        ({"pan": [0.0, float("nan")]}, "pan[1]=nan: must be finite"),
        ({"lowpass_hz": [24000.0, 100.0]}, "lowpass_hz[0]=24000.0: must be within (0, 24000.0) Hz"),
        ({"position": [[0, 0, 0], [1, 2, float("inf")]]}, "position[1]=[1.0, 2.0, inf]: must be finite"),
        ({"position": [1.0, 2.0]}, "position: must be a number or an array of shape (2, 3)"),
        ({"gain_db": [0.0, 0.0, 0.0]}, "gain_db: must be a number or an array of shape (2,)"),
        ({"sends": {"a": 0.0}}, "unknown field 'sends'"),
    ],
)
def test_set_voices_rejects_bad_input_and_keeps_playing(fields: dict, message: str) -> None:
    eng = Engine(EngineConfig(block=BLOCK, max_voices=8, voice_limit=8))
    eng.bank.add("tone", sine(440.0, 1.0))
    hs = [eng.play("tone", loop=True), eng.play("tone", loop=True)]
    eng.render(BLOCK)
    before = eng.voices.P.copy()
    with pytest.raises(EngineError) as err:
        eng.set_voices(hs, **fields)
    assert message in str(err.value)
    out = eng.render(BLOCK)
    assert np.array_equal(eng.voices.P, before)  # nothing half-applied
    assert np.sqrt(np.mean(out**2)) > 0.1


def test_set_voices_rejects_handles_that_are_not_integers() -> None:
    eng = Engine(EngineConfig(block=BLOCK, max_voices=8, voice_limit=8))
    with pytest.raises(EngineError, match="handles must be a 1-D sequence of integer handles"):
        eng.set_voices([1.5, 2.0], gain_db=0.0)
    with pytest.raises(EngineError, match="handles must be a 1-D"):
        eng.set_voices([[1, 2]], gain_db=0.0)


# ------------------------------------------------------------------ spatialisation in compiled code


def test_targets_kernel_matches_the_reference_spatial_functions() -> None:
    """Distance gain (all three curves), pan from the listener's orientation, Doppler and the binaural
    delays and head-shadow coefficients, computed per block for 300 voices in the compiled targets
    kernel, against the per-voice numpy references of dsp/spatial.py and dsp/pan.py.

    Tolerance 1e-9 relative (1e-12 absolute): the kernel projects on right = forward x up with
    scalar products, the reference multiplies by an orthonormal basis matrix, so the two differ by
    float64 rounding (~1e-15) amplified at most by the curves' slopes.
    """
    n = 300
    eng = Engine(EngineConfig(block=BLOCK, max_voices=n, voice_limit=n))
    eng.bank.add("mono", noise(0.5))
    rng = np.random.default_rng(3)
    curves = ["inverse", "linear", [[0.0, 0.0], [5.0, -6.0], [30.0, -40.0]]]
    gains_db = rng.uniform(-20.0, 0.0, n)
    pitch = 2.0 ** rng.uniform(-1.0, 1.0, n)
    amount = rng.choice([0.0, 0.5, 1.0, 3.0], n)
    mind = rng.uniform(0.5, 3.0, n)
    maxd = mind + rng.uniform(5.0, 60.0, n)
    binaural = rng.random(n) < 0.3
    hs = []
    for i in range(n):
        hs.append(
            eng.play(
                "mono",
                loop=True,
                gain_db=float(gains_db[i]),
                pitch=float(pitch[i]),
                position=(0.0, 0.0, -1.0),
                min_distance=float(mind[i]),
                max_distance=float(maxd[i]),
                rolloff=curves[i % 3],
                doppler=float(amount[i]),
                binaural=bool(binaural[i]),
            )
        )
    lpos, fwd, up, lvel = (4.0, 1.0, -2.0), (0.3, -0.2, -1.0), (0.1, 1.0, 0.0), (5.0, 0.0, -3.0)
    eng.set_listener(lpos, fwd, up, lvel)
    pos = np.array(lpos) + rng.uniform(-40.0, 40.0, (n, 3))
    pos[0] = lpos  # a source on the listener: distance 0, centred, no Doppler
    vel = rng.uniform(-60.0, 60.0, (n, 3))
    eng.set_voices(hs, position=pos, velocity=vel)
    eng.render(BLOCK)
    F = eng.voices.F
    slots = np.array([eng.voice_info(h)["slot"] for h in hs])

    dist, az, el, pan = relative_geometry(lpos, fwd, up, pos)
    dgain = np.array([distance_gain(dist[i], mind[i], maxd[i], curves[i % 3]) for i in range(n)])
    g = 10.0 ** (gains_db / 20.0) * dgain
    pl, pr = equal_power_pan_array(np.where(binaural, 0.0, pan))
    want_l = np.where(binaural, g, g * pl)
    want_r = np.where(binaural, g, g * pr)
    want_rate = pitch * doppler_factor(lpos, lvel, pos, vel, amount)
    tol = {"rtol": 1e-9, "atol": 1e-12}
    np.testing.assert_allclose(F[slots, GL1], want_l, **tol)
    np.testing.assert_allclose(F[slots, GR1], want_r, **tol)
    np.testing.assert_allclose(F[slots, AUD], np.maximum(want_l, want_r), **tol)
    np.testing.assert_allclose(F[slots, RATE1], want_rate, **tol)
    assert np.ptp(want_rate / pitch) > 0.2  # Doppler really moved pitches in this scene

    b = np.flatnonzero(binaural)
    delays = np.zeros((b.size, 2))
    coeffs = np.zeros((b.size, 2, 3))
    binaural_params_many(az[b], el[b], float(SR), delays, coeffs)
    np.testing.assert_allclose(F[slots[b], DL1], delays[:, 0], **tol)
    np.testing.assert_allclose(F[slots[b], DR1], delays[:, 1], **tol)
    for k, col in enumerate((BL_B0, BL_B1, BL_A1)):
        np.testing.assert_allclose(F[slots[b], col], coeffs[:, 0, k], **tol)
    for k, col in enumerate((BR_B0, BR_B1, BR_A1)):
        np.testing.assert_allclose(F[slots[b], col], coeffs[:, 1, k], **tol)


# ------------------------------------------------------------------ virtual voices by audibility


def _audibility(eng: Engine) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(slots, state, priority, audibility) of every voice alive."""
    I, F = eng.voices.I, eng.voices.F
    alive = np.flatnonzero(I[:, ST] != 0)
    return alive, I[alive, ST], I[alive, PRIO], F[alive, AUD] * np.maximum(F[alive, ENV], 1e-3)


def _assert_loudest_are_real(eng: Engine, limit: int) -> None:
    """Every real voice outranks every virtual one: higher priority, or the same priority and at
    least as loud (with the 1 dB keep-real bonus that stops near-equal voices from trading places)."""
    _, st, prio, aud = _audibility(eng)
    real, virt = st != VIRTUAL, st == VIRTUAL
    assert real.sum() == limit
    for p in np.unique(prio):
        r = real & (prio == p)
        v = virt & (prio == p)
        if r.any() and v.any():
            assert aud[r].min() * KEEP_REAL_BONUS >= aud[v].max()
        if v.any():
            assert not (real & (prio < p)).any()  # a lower priority never plays while this one waits


def test_thousands_of_moving_voices_keep_the_loudest_real() -> None:
    """2000 3D voices, 64 real: after every bulk move the real set is re-ranked by priority, then
    distance-attenuated gain, and the virtual ones keep their playheads running."""
    n, limit = 2000, 64
    eng = Engine(EngineConfig(block=BLOCK, max_voices=n, voice_limit=limit))
    eng.bank.add("mono", noise(1.0))
    rng = np.random.default_rng(5)
    hs = np.array(
        [
            eng.play(
                "mono",
                loop=True,
                position=tuple(rng.uniform(-50, 50, 3)),
                priority=int(i % 50 == 0),  # 40 voices of priority 1: always real
                max_distance=200.0,
            )
            for i in range(n)
        ]
    )
    eng.render(BLOCK)
    _assert_loudest_are_real(eng, limit)
    for _ in range(5):
        eng.set_voices(hs, position=rng.uniform(-50, 50, (n, 3)))
        eng.render(BLOCK)
        _assert_loudest_are_real(eng, limit)
    slots, st, prio, _ = _audibility(eng)
    assert (st[prio == 1] != VIRTUAL).all()
    # Playheads of virtual voices advance in real time: rate 1 for 6 blocks, from offset 0.
    virt = slots[st == VIRTUAL]
    assert virt.size == n - limit
    assert np.allclose(eng.voices.F[virt, 0], 6 * BLOCK)


def test_a_virtual_voice_comes_back_when_louder_ones_get_quiet() -> None:
    """A voice that went virtual is ranked by its own (unchanged) gain, not by the silence it was
    faded to: here nothing touches it, yet it must come back once the voice ahead of it is turned
    down (it used to stay virtual: its ranking gain had been left at the faded-out 0)."""
    eng = Engine(EngineConfig(block=BLOCK, max_voices=8, voice_limit=2))
    eng.bank.add("dc", np.ones(SR, dtype=np.float32))
    a = eng.play("dc", loop=True, gain_db=0.0)
    b = eng.play("dc", loop=True, gain_db=-6.0)
    c = eng.play("dc", loop=True, gain_db=-20.0)
    eng.render(4 * BLOCK)
    assert eng.voice_info(c)["state"] == "virtual"
    eng.set_voice(b, gain_db=-60.0)
    eng.render(4 * BLOCK)
    assert eng.voice_info(c)["state"] == "playing"
    assert eng.voice_info(b)["state"] == "virtual"
    assert eng.voice_info(a)["state"] == "playing"


@pytest.mark.parametrize("kind", ["mono", "stereo_with_send", "binaural"])
def test_swapping_voices_in_and_out_does_not_click(kind: str) -> None:
    """Constant (DC) sources make any step visible: a steady mix is flat, so every sample-to-sample
    jump comes from ramps. In a block where voices move and swap, each voice real before or after
    ramps linearly over the block between 0 and its level (0.5 x its gain, x 1.5 with a -6 dB send
    to a plain bus; the head-shadow filter passes DC at unity whatever its angle), so it moves the
    output by at most that level / block per sample; a voice coming back restarts its low-pass from
    rest, which adds at most 36 % to its step (a = 0.23 at 2 kHz: max of a t (1 - a)^(t - 1) / block).
    The bound is the sum of those steps (x 1.4); a click is a whole voice's level at once."""
    n, limit = 400, 16
    eng = Engine(EngineConfig(block=BLOCK, max_voices=n, voice_limit=limit))
    eng.bank.add("dc", np.full(SR, 0.5, dtype=np.float32))
    eng.bank.add("dc2", np.full((SR, 2), 0.5, dtype=np.float32))
    eng.add_bus(BusSpec("aux"))
    sample, extra, send_factor = "dc", {}, 1.0
    if kind == "stereo_with_send":
        sample, extra, send_factor = "dc2", {"sends": {"aux": -6.0}}, 1.0 + 10 ** (-6 / 20)
    elif kind == "binaural":
        extra = {"binaural": True}
    rng = np.random.default_rng(9)
    hs = np.array(
        [
            eng.play(sample, loop=True, position=tuple(rng.uniform(-30, 30, 3)), lowpass_hz=2000.0, **extra)
            for _ in range(n)
        ]
    )
    eng.render(8 * BLOCK)
    I, F = eng.voices.I, eng.voices.F
    swaps = 0
    for _ in range(40):
        real_before = I[:, ST] == 1
        aud_before = F[:, AUD].copy()
        eng.set_voices(hs, position=rng.uniform(-30, 30, (n, 3)))  # teleport: many swaps per move
        out = eng.render(BLOCK)
        real_after = I[:, ST] == 1  # voices that went virtual in this block are VIRTUAL now
        swaps += int(np.count_nonzero(real_before != real_after))
        level = 0.5 * send_factor * np.maximum(aud_before, F[:, AUD])
        bound = 1.4 * float(level[real_before | real_after].sum()) / BLOCK
        came = real_after & ~real_before
        assert max_jump(out) <= bound
        if came.any():
            assert bound < 0.25 * float(level[came].max())  # a click would have been 4x the bound
    assert swaps > 100  # the test really exercised swapping


@pytest.mark.parametrize("change", ["gain_pan", "position", "pitch_lowpass"])
def test_grouped_ramp_bodies_match_the_per_voice_loop(change: str) -> None:
    """The grouped kernel bodies (steady, gains ramping, everything ramping) render a voice as the
    full per-voice loop does, while its parameters change every block.

    Engine A's plain voices are grouped; engine B's identical voices each carry a send to a muted
    bus, which keeps them out of the groups (the per-voice loop) and adds nothing to the mix.
    Tolerance 1e-5 on a 0.25-RMS signal: the bodies order the same float64 operations differently
    (fastmath lets LLVM reassociate lane sums) and the output is float32 (6e-8 relative)."""

    def build(send: bool) -> tuple[Engine, list[int]]:
        eng = Engine(EngineConfig(block=BLOCK, max_voices=16, voice_limit=16))
        eng.bank.add("mono", noise(1.0, seed=4))
        eng.add_bus(BusSpec("off", muted=True))
        sends = {"off": 0.0} if send else None
        kw = {"position": (1.0, 0.0, -2.0)} if change == "position" else {}
        return eng, [eng.play("mono", loop=True, lowpass_hz=3000.0, sends=sends, **kw) for _ in range(8)]

    (a, ha), (b, hb) = build(False), build(True)
    rng = np.random.default_rng(2)
    outs = []
    for block in range(30):
        fields: dict = {}
        if block % 4 != 3:  # some blocks steady: all three grouped bodies run
            if change == "gain_pan":
                fields = {"gain_db": rng.uniform(-20, 0, 8), "pan": rng.uniform(-1, 1, 8)}
            elif change == "position":
                fields = {"position": rng.uniform(-10, 10, (8, 3))}
            else:
                fields = {"pitch": 2.0 ** rng.uniform(-1, 1, 8), "lowpass_hz": rng.uniform(200, 8000, 8)}
        if fields:
            a.set_voices(ha, **fields)
            b.set_voices(hb, **fields)
        outs.append((a.render(BLOCK), b.render(BLOCK)))
    ya = np.concatenate([o[0] for o in outs])
    yb = np.concatenate([o[1] for o in outs])
    assert np.sqrt(np.mean(ya**2)) > 0.02
    np.testing.assert_allclose(ya, yb, atol=1e-5, rtol=0)


def test_bulk_control_compiles_nothing_after_the_engines_warm_up() -> None:
    """set_voices (arrays, scalars, strided and transposed inputs), the handle walk, the gain-only
    grouped body, ranking and settling virtual voices are all compiled by the engine's warm-up: a
    first compile on the render thread (or the daemon's command thread) costs tens of ms."""
    from numba.core.registry import CPUDispatcher

    import middleware.engine.dsp.pan as pan_mod
    import middleware.engine.dsp.spatial as spatial_mod
    import middleware.engine.kernels as kernels_mod
    import middleware.engine.targets as targets_mod

    eng = Engine(EngineConfig(block=BLOCK, max_voices=64, voice_limit=4))  # runs the warm-up
    mods = (kernels_mod, targets_mod, spatial_mod, pan_mod)
    kernels = {id(f): f for m in mods for f in vars(m).values() if isinstance(f, CPUDispatcher)}
    before = {k: len(f.signatures) for k, f in kernels.items()}
    assert all(before[id(f)] for f in kernels.values() if f.__name__ in ("apply_params", "pack_field"))
    eng.bank.add("m", noise(0.5))
    eng.bank.add("s", np.stack([noise(0.5, seed=2)] * 2, axis=1))
    hs = [eng.play("m", loop=True, position=(1.0, 0.0, -1.0)) for _ in range(6)]
    hs += [eng.play("s", loop=True, binaural=i == 0, position=(0.0, 1.0, -2.0)) for i in range(2)]
    hs += [eng.play("m", loop=True) for _ in range(4)]
    eng.render(BLOCK)
    rng = np.random.default_rng(0)
    n = len(hs)
    for _ in range(4):
        pos = rng.uniform(-5, 5, (3, 2 * n))
        eng.set_voices(hs, position=pos[:, ::2].T, velocity=pos[:, :n].T.copy(order="F"))  # strided, Fortran
        eng.set_voices(np.array(hs[::-1]), gain_db=rng.uniform(-30, 0, n).astype(np.float32), pan=0.25)
        eng.set_voices(hs[-4:], pitch=rng.uniform(0.5, 2.0, 4), lowpass_hz=1000.0)
        eng.set_voices(hs, pan=np.frombuffer(np.full(n, -0.5).tobytes()))  # read-only, as from a socket
        eng.render(BLOCK)
    assert eng.stats()["voices_virtual"] > 0
    after = {k: len(f.signatures) for k, f in kernels.items()}
    assert after == before
