"""The example scenes (scenes/*.yaml): they validate, render from their events files, and the renders
show the behaviour each scene is meant to demonstrate, measured on the audio.

Each scene's whole events file is rendered once per module (a few seconds each) and every check
reads windows of that render. References are independent of the engine: band energies from an FFT,
the equal-power pan law and the Doppler formula written out here, matched filtering against the
segment files on disk, and the grid arithmetic of the tempo.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np
import pytest

from middleware.config import EngineConfig
from middleware.offline import load_timeline, render_offline
from middleware.player import ScenePlayer
from middleware.scene.load import load_scene
from middleware.tools import example_assets as EA

ROOT = Path(__file__).resolve().parents[1]
SCENES = ROOT / "scenes"
SR = 48000
LENGTHS = {"forest": 48.0, "dungeon": 42.0, "town": 43.0}


@pytest.fixture(scope="module", autouse=True)
def _assets() -> None:
    EA.ensure_example_assets(SCENES)


@functools.cache
def rendered(
    scene: str, seconds: float | None = None, seed: int = 0, rules_only: bool = False
) -> tuple[ScenePlayer, np.ndarray]:
    """(player after the render, float32 stereo audio) for a scene driven by its events file.

    ``rules_only`` drops the ML director, to measure the designer's curves and conditions alone.
    """
    seconds = LENGTHS[scene] if seconds is None else seconds
    EA.ensure_example_assets(SCENES)
    definition = load_scene(SCENES / f"{scene}.yaml")
    if rules_only:
        definition = dataclasses.replace(definition, director=None)
    player = ScenePlayer(definition, EngineConfig(seed=seed), seed=seed)
    timeline = load_timeline(SCENES / f"{scene}.events.jsonl", SR)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"{scene}.wav"
        render_offline(player, timeline, seconds, out)
        return player, read_wav(out).copy()


def read_wav(path: Path) -> np.ndarray:
    """Float32 WAV (WAVE_FORMAT_IEEE_FLOAT or EXTENSIBLE) -> (frames, 2); stdlib + numpy only."""
    data = path.read_bytes()
    pos = 12
    while pos < len(data):
        cid, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        if cid == b"data":
            return np.frombuffer(data[pos + 8 : pos + 8 + size], dtype="<f4").reshape(-1, 2)
        pos += 8 + size + (size & 1)
    raise AssertionError(f"{path}: no data chunk")


def band_db(x: np.ndarray, t0: float, t1: float, lo: float, hi: float, channel: int | None = None) -> float:
    """Mean power (dB) of the mono mix (or one channel) between lo and hi Hz in [t0, t1) s, so
    windows of different lengths compare (Parseval: sum |X|^2 / N^2 = mean of x^2)."""
    seg = x[int(t0 * SR) : int(t1 * SR)].astype(np.float64)
    seg = seg.mean(axis=1) if channel is None else seg[:, channel]
    spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size))) ** 2
    f = np.fft.rfftfreq(seg.size, 1.0 / SR)
    return 10.0 * math.log10(spec[(f >= lo) & (f < hi)].sum() / seg.size**2 + 1e-30)


# ---------------------------------------------------------------------------------------------
# Every scene


@pytest.mark.parametrize("scene", sorted(LENGTHS))
def test_scene_validates_with_the_cli(scene: str) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "middleware.cli", "validate", str(SCENES / f"{scene}.yaml")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok" in r.stdout


@pytest.mark.parametrize("scene", sorted(LENGTHS))
def test_cli_render_is_bit_identical_to_the_in_process_render(scene: str, tmp_path: Path) -> None:
    """`soundscape render` in a fresh process gives the very same samples as the library (same seed)."""
    out = tmp_path / f"{scene}.wav"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "middleware.cli",
            "render",
            str(SCENES / f"{scene}.yaml"),
            "--events",
            str(SCENES / f"{scene}.events.jsonl"),
            "--seconds",
            "2",
            "-o",
            str(out),
            "--seed",
            "0",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    cli = read_wav(out)
    _, lib = rendered(scene)
    assert cli.shape == (2 * SR, 2)
    # exact: the CLI calls the same render_offline on the same inputs, only in another process
    assert np.array_equal(cli, lib[: 2 * SR])


@pytest.mark.parametrize("scene", sorted(LENGTHS))
def test_render_is_finite_bounded_and_not_silent(scene: str) -> None:
    _, x = rendered(scene)
    assert x.shape == (int(LENGTHS[scene] * SR), 2)
    assert np.all(np.isfinite(x))
    assert np.max(np.abs(x)) <= 1.0
    rms = np.sqrt(np.mean(x[: len(x) // SR * SR].astype(np.float64).reshape(-1, SR, 2) ** 2, axis=(1, 2)))
    assert rms.min() > 1e-3  # every second of every walk-through is audible


def test_same_seed_bit_identical_other_seed_differs() -> None:
    a = rendered("forest", 6.0, seed=7)[1]
    b = rendered.__wrapped__("forest", 6.0, seed=7)[1]  # a second, independent render
    c = rendered("forest", 6.0, seed=8)[1]
    assert a.tobytes() == b.tobytes()  # exact: same code path, same inputs, run twice
    assert not np.array_equal(a, c)  # the seed drives scatter timing and random picks


# ---------------------------------------------------------------------------------------------
# forest.yaml: weather, time of day, ducking, snapshot


def test_forest_rain_band_rises_with_intensity_as_its_curve_says() -> None:
    player, x = rendered("forest", rules_only=True)
    rain = player.scene.emitters["weather_bed"].layer("rain")
    # the events: rain from 8 s at intensity 0.2; intensity -> 0.9 at 14 s (glide 0.5/s: there by 15.4 s)
    low = band_db(x, 11.0, 14.0, 2000, 8000)
    high = band_db(x, 16.0, 20.0, 2000, 8000)
    want = rain.gain.evaluate({"intensity": 0.9}) - rain.gain.evaluate({"intensity": 0.2})
    assert want > 10.0
    assert high - low == pytest.approx(want, abs=2.5)
    # and before the rain (clear day) there was no 6-8 kHz hiss: birds sing below 6 kHz
    assert band_db(x, 11.0, 14.0, 6000, 8000) - band_db(x, 1.0, 7.0, 6000, 8000) > 20.0


def test_forest_birds_sing_by_day_and_not_at_night() -> None:
    _, x = rendered("forest")
    day = band_db(x, 1.0, 7.0, 2000, 6000)  # 09:00, clear
    night = band_db(x, 42.0, 48.0, 2000, 6000)  # 22:00, clear (time glides there by ~40.3 s)
    assert day - night > 30.0
    # by day the band comes and goes (separate calls), it is not a steady bed
    seg = x[SR : 7 * SR].mean(axis=1).astype(np.float64)
    spec = np.abs(np.fft.rfft(seg.reshape(-1, 2400) * np.hanning(2400), axis=1)) ** 2
    f = np.fft.rfftfreq(2400, 1 / SR)
    e = spec[:, (f >= 2000) & (f < 6000)].sum(axis=1)
    assert np.percentile(e, 95) > 30 * np.percentile(e, 10)
    # at night the insects are there instead (above 6.5 kHz)
    assert band_db(x, 42.0, 48.0, 6500, 10000) - band_db(x, 1.0, 7.0, 6500, 10000) > 20.0


def test_forest_radio_voice_ducks_the_ambience() -> None:
    player, x = rendered("forest")
    duck = player.scene.buses["ambience"].ducking[0]
    # 5-8 kHz holds only rain (the voice is band-limited to 3.4 kHz); radio at 26 s, ~2.3 s long
    before = band_db(x, 24.0, 26.0, 5000, 8000)
    during = band_db(x, 26.4, 28.2, 5000, 8000)
    after = band_db(x, 29.2, 30.0, 5000, 8000)
    assert during - before == pytest.approx(duck.amount_db, abs=3.0)
    assert abs(after - before) < 2.0
    started = [p for t, p in player.runtime.events if t == "instance_started" and p["event"] == "radio"]
    assert [p["frame"] for p in started] == [26 * SR]


def test_forest_indoors_snapshot_muffles_the_outside() -> None:
    _, x = rendered("forest")
    outside = band_db(x, 24.0, 26.0, 2000, 8000)
    inside = band_db(x, 31.0, 34.0, 2000, 8000)  # snapshot on at 30 s (0.8 s blend), off at 34 s
    assert outside - inside > 20.0
    assert abs(band_db(x, 35.0, 36.0, 2000, 8000) - outside) < 3.0


# ---------------------------------------------------------------------------------------------
# dungeon.yaml: music on the grid


def _matched_onset(x: np.ndarray, template: np.ndarray, around: int, reach: int = 20000) -> int:
    """Frame where ``template`` best matches the mix near ``around`` (normalised cross-correlation
    of first differences, which whitens the low-heavy music so the transient decides)."""
    m = np.diff(x.sum(axis=1).astype(np.float64), prepend=0.0)
    t = np.diff(template, prepend=0.0)
    lo = around - reach
    seg = m[lo : around + reach + t.size]
    c = np.correlate(seg, t, mode="valid")
    e = np.sqrt(np.convolve(seg**2, np.ones(t.size), mode="valid")) + 1e-12
    return lo + int(np.argmax(c / e))


def _wav_mono(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32767.0
        return pcm.reshape(-1, w.getnchannels()).mean(axis=1)


def test_dungeon_transitions_land_on_the_grid_to_the_sample() -> None:
    player, x = rendered("dungeon")
    music = player.scene.music
    beat = music.seconds_per_beat * SR
    assert beat == EA.BEAT and 4 * beat == EA.BAR  # the assets were made for this tempo
    segs = [p for t, p in player.runtime.events if t == "music_segment"]
    assert [s["segment"] for s in segs] == ["explore", "combat", "boss", "explore", "combat", "explore"]
    origin = segs[0]["frame"]
    # the bar callbacks tick on the same grid, with no drift over the 42 s
    bars = [p for t, p in player.runtime.events if t == "bar"]
    assert len(bars) == int(LENGTHS["dungeon"] * SR) // EA.BAR + 1
    assert all(b["frame"] == origin + (b["bar"] - 1) * EA.BAR for b in bars)
    asked = [int(t * SR) for t in (7.3, 15.1, 21.0, 34.0, 38.0)]  # threat changes in the events file
    latency = player.engine.buses.limiter.latency_frames
    for prev, cur, req in zip(segs[:-1], segs[1:], asked, strict=True):
        tr = music.transition(prev["segment"], cur["segment"])
        period = EA.BAR if tr.at == "bar" else EA.BEAT
        frame = cur["frame"]
        assert (frame - origin) % period == 0, (cur, tr.at)
        assert 0 <= frame - req < period  # the *next* grid point, not a later one
    # the audio: each new segment's opening (kick + signature pitch) starts exactly there
    for cur in segs[1:]:
        tpl = _wav_mono(SCENES / f"dungeon/sounds/music_{cur['segment']}.wav")[:2048]
        assert _matched_onset(x, tpl, cur["frame"] + latency) == cur["frame"] + latency


@pytest.mark.parametrize("segment,index", [("combat", 1), ("boss", 2)])
def test_dungeon_signature_pitch_switches_on_at_the_transition(segment: str, index: int) -> None:
    player, x = rendered("dungeon")
    segs = [p for t, p in player.runtime.events if t == "music_segment"]
    assert segs[index]["segment"] == segment
    at = (segs[index]["frame"] + player.engine.buses.limiter.latency_frames) / SR
    f = EA.SIGNATURE_HZ[segment]
    span = 2 * EA.BEAT / SR
    before = band_db(x, at - span, at, f - 4, f + 4)
    after = band_db(x, at, at + span, f - 4, f + 4)
    assert after - before > 15.0


def test_dungeon_low_health_brings_the_heartbeat_and_muffles_the_music() -> None:
    player, x = rendered("dungeon")
    assert player.runtime.telemetry()["params"]["health"] == 1.0  # healed again by the end
    # exploring both times; health 0.15 from 24 s (glide 0.5/s: below 0.35 at 25.3 s, 0.3 at 25.4 s)
    healthy, wounded = (2.4, 7.2), (26.4, 29.6)  # two whole bars each (bars alternate Am / F)
    # the heartbeat thumps at 52/64 Hz, below the explore pads
    assert band_db(x, *wounded, 40, 75) - band_db(x, *healthy, 40, 75) > 6.0
    # the `wounded` snapshot: music 9 dB down and low-passed at 600 Hz. Read on the explore bell's
    # notes (A4 C5 E5) and their octave overtones, narrow bands that the drips barely touch
    snap = player.scene.snapshots["wounded"].buses["music"]
    bell = (440.0, 523.25, 659.26)

    def tones(span: tuple[float, float], mult: float) -> float:
        return 10.0 * math.log10(
            sum(10.0 ** (band_db(x, *span, f * mult - 4, f * mult + 4) / 10) for f in bell)
        )

    notes = tones(healthy, 1) - tones(wounded, 1)
    overtones = tones(healthy, 2) - tones(wounded, 2)
    # the snapshot's gain adds to the bus's own; its low-pass (2nd-order Butterworth) takes a little
    # more off the notes themselves (|H|^2 = 1 / (1 + (f / fc)^4))
    lp_db = 10.0 * math.log10(sum(1.0 / (1.0 + (f / snap.lowpass_hz) ** 4) for f in bell) / len(bell))
    assert notes == pytest.approx(-snap.gain_db - lp_db, abs=3.5)
    assert overtones - notes > 4.0  # the low-pass darkens, not just lowers


# ---------------------------------------------------------------------------------------------
# town.yaml: a car passing a listener


def _car_windows(x: np.ndarray, t0: float, direction: float, ahead: float):
    """Per 0.5 s window of a pass: (x position, measured L/R dB, expected L/R dB, measured Hz,
    expected Hz). The car drives at 15 m/s, x = direction * (-67.5 + 15 t), ``ahead`` m in front."""
    c = 343.0
    for tc in np.arange(t0 + 1.0, t0 + 8.01, 0.5):
        a, b = int((tc - 0.25) * SR), int((tc + 0.25) * SR)
        w = x[a:b].astype(np.float64) * np.hanning(b - a)[:, None]
        spec = np.abs(np.fft.rfft(w, 1 << 18, axis=0)) ** 2
        f = np.fft.rfftfreq(1 << 18, 1.0 / SR)
        band = (f > 200) & (f < 290)  # around the engine's 240 Hz partial
        left, right = spec[band, 0].sum(), spec[band, 1].sum()
        peak = f[band][np.argmax(spec[band].sum(axis=1))]
        px = direction * (-67.5 + 15.0 * (tc - t0))
        d = math.hypot(px, ahead)
        theta = (px / d + 1.0) * math.pi / 4.0  # equal-power pan of pan = x / distance
        expect_bal = 20.0 * math.log10(math.cos(theta) / max(math.sin(theta), 1e-12))
        v_radial = direction * 15.0 * px / d  # source velocity along listener -> source
        expect_hz = EA.CAR_PARTIAL_HZ * c / (c + v_radial)
        yield px, 10.0 * math.log10(left / right), expect_bal, peak, expect_hz


@pytest.mark.parametrize("t0,direction", [(0.0, 1.0), (29.0, -1.0)])
def test_town_car_pans_with_its_position_and_doppler_bends_its_pitch(t0: float, direction: float) -> None:
    _, x = rendered("town")
    rows = list(_car_windows(x, t0, direction, 10.0))
    for px, bal, exp_bal, hz, exp_hz in rows:
        if abs(px) > 1.0:
            assert np.sign(bal) == np.sign(exp_bal)  # on the side where the car is
        if abs(exp_bal) < 30.0:
            assert bal == pytest.approx(exp_bal, abs=2.0), px
        assert hz == pytest.approx(exp_hz, rel=0.004), px
    pitches = [hz for *_, hz, _ in rows]
    assert pitches[0] > 1.03 * EA.CAR_PARTIAL_HZ  # approaching: up
    assert pitches[-1] < 0.97 * EA.CAR_PARTIAL_HZ  # receding: down
    assert all(b <= a + 0.5 for a, b in itertools.pairwise(pitches))  # falls through the pass


def test_town_footsteps_follow_the_surface_switch() -> None:
    player, x = rendered("town")
    steps = [
        p["frame"] for t, p in player.runtime.events if t == "instance_started" and p["event"] == "footstep"
    ]
    assert len(steps) == 36  # every 0.5 s from 10 to 27.5 s

    def centroid(frames: list[int]) -> float:
        cs = []
        for fr in frames:
            seg = x[fr : fr + int(0.15 * SR)].mean(axis=1).astype(np.float64)
            spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size)))
            f = np.fft.rfftfreq(seg.size, 1 / SR)
            sel = f > 120  # above the car's and fountain's rumble
            cs.append(float(np.sum(f[sel] * spec[sel]) / np.sum(spec[sel])))
        return float(np.median(cs))

    stone = centroid([f for f in steps if f < 16 * SR])
    wood = centroid([f for f in steps if 16 * SR <= f < 22 * SR])
    gravel = centroid([f for f in steps if f >= 22 * SR])
    assert wood < 0.6 * stone  # hollow boards are darker than stone
    assert gravel > 1.5 * wood


def test_town_listener_turning_round_swaps_the_fountain_side() -> None:
    _, x = rendered("town")
    # fountain at (-12, 0, -10), listener at (0, 0, -25.2): facing -Z it is ahead-left; after the
    # turn (39-41 s) the listener faces +Z and the fountain is behind-right
    north = band_db(x, 36.0, 38.8, 4000, 7000, 0) - band_db(x, 36.0, 38.8, 4000, 7000, 1)
    south = band_db(x, 41.2, 43.0, 4000, 7000, 0) - band_db(x, 41.2, 43.0, 4000, 7000, 1)
    assert north > 3.0
    assert south < -3.0


# ---------------------------------------------------------------------------------------------
# The assets


def test_assets_are_deterministic_pcm16_and_music_loops_are_whole_bars(tmp_path: Path) -> None:
    spec = next(s for s in EA.ASSETS if s.name == "music_combat.wav")
    a, b = EA.synthesise(spec), EA.synthesise(spec)
    assert np.array_equal(a, b)  # exact: same code path, same inputs, run twice
    written = EA.ensure_example_assets(tmp_path, force=False)
    assert len(written) == len(EA.ASSETS)
    assert EA.ensure_example_assets(tmp_path) == []  # nothing missing: nothing written
    for path in written:
        with wave.open(str(path), "rb") as w:
            assert (w.getframerate(), w.getsampwidth()) == (SR, 2)
            assert w.getnchannels() in (1, 2)
            if path.name.startswith("music_"):
                assert w.getnframes() % EA.BAR == 0
    assert (SCENES / spec.relpath).read_bytes() == (tmp_path / spec.relpath).read_bytes()


def test_every_scene_asset_is_in_the_catalogue() -> None:
    made = {(SCENES / s.relpath).resolve() for s in EA.ASSETS}
    for scene in LENGTHS:
        used = {
            f.resolve()
            for f in load_scene(SCENES / f"{scene}.yaml").asset_files()
            if f.suffix == ".wav"  # trained models are committed files, not synthesised assets
        }
        assert used <= made, used - made


@pytest.mark.parametrize("name", ["rain_light.wav", "wind.wav", "car_engine.wav", "drone.wav"])
def test_loops_wrap_without_a_click(name: str) -> None:
    spec = next(s for s in EA.ASSETS if s.name == name)
    x = EA.synthesise(spec)
    x = x if x.ndim == 2 else x[:, None]
    steps = np.abs(np.diff(x, axis=0))
    wrap = np.abs(x[0] - x[-1])
    assert np.all(wrap <= np.percentile(steps, 99.9, axis=0))


# ---------------------------------------------------------------------------------------------
# Runtime gaps found while writing the scenes, fixed since: kept as regression tests.


def _tone_scene(tmp_path: Path, yaml_text: str) -> Path:
    (tmp_path / "s").mkdir()
    t = np.arange(SR) / SR
    pcm = (0.5 * np.sin(2 * np.pi * 500.0 * t) * 32767).astype("<i2")  # 500 whole periods: loops cleanly
    with wave.open(str(tmp_path / "s" / "tone.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())
    path = tmp_path / "scene.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    return path


def test_scene_listener_default_orientation_is_applied(tmp_path: Path) -> None:
    scene = _tone_scene(
        tmp_path,
        "emitters:\n  east:\n    position: [5, 0, 0]\n    layers: [{id: t, source: s/tone.wav}]\n"
        "listener: {position: [0, 0, 0], forward: [0, 0, 1]}\n",
    )
    y = ScenePlayer(scene).render(SR // 2).astype(np.float64)[-SR // 10 :]
    left, right = np.sqrt(np.mean(y**2, axis=0))
    assert left > 10 * right  # facing +Z, +X is on the listener's left


def test_emitter_following_an_unseen_object_is_silent(tmp_path: Path) -> None:
    scene = _tone_scene(
        tmp_path, "emitters:\n  car:\n    follows: car\n    layers: [{id: t, source: s/tone.wav}]\n"
    )
    y = ScenePlayer(scene).render(SR // 2)
    assert np.max(np.abs(y[-SR // 10 :])) < 1e-3  # no game object 'car' yet: nothing to hear


def test_stinger_with_a_condition_plays_when_it_becomes_true(tmp_path: Path) -> None:
    scene = _tone_scene(
        tmp_path,
        "parameters: {threat: {range: [0, 1]}}\nmusic:\n  tempo: 120\n  segments: {a: {sample: s/tone.wav}}\n"
        "  stingers: {hit: {sample: s/tone.wav, at: beat, when: 'threat > 0.5'}}\n",
    )
    player = ScenePlayer(scene)
    player.render(4800)
    player.runtime.set_param("threat", 1.0)
    player.render(SR)
    assert player.engine.stats()["voices_started"] == 2  # the segment, then the stinger
