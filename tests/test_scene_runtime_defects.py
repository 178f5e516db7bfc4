"""Scene runtime defects of issue 13, each on a small scene of its own, measured on the rendered audio.

- A layer value bound to a parameter (low-pass, high-pass, gain, pitch) follows the parameter on every
  playback path: sample loops, generator and morph streams, event instances, one-shots, music segments.
- Event layers keep their container state (sequence position, random no-repeat history) across fires.
- A snapshot's ``gain_db`` adds to the bus's own gain (relative), scaled by how far it has blended in.

References are independent of the engine: FFT band powers (numpy) and the one-pole response of the
voice filter (scipy.signal.freqz of y += a (x - y), a = 1 - exp(-2 pi fc / sr), as engine/targets.py
documents it).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import write_wav
from scipy import signal

from middleware.config import EngineConfig
from middleware.player import ScenePlayer
from middleware.scene.load import load_scene_text

SR = 48000
ROOT = Path(__file__).resolve().parents[1]
MORPH_MODEL = ROOT / "scenes" / "forest" / "models" / "rain_morph.onnx"


def _noise(seconds: float, seed: int = 0, amp: float = 0.25) -> np.ndarray:
    return amp * np.random.default_rng(seed).uniform(-1.0, 1.0, int(seconds * SR))


def _sine(freq: float, seconds: float, amp: float = 0.1) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return amp * np.sin(2 * np.pi * freq * t)


def _player(tmp: Path, text: str, seed: int = 1) -> ScenePlayer:
    scene = load_scene_text(text, str(tmp / "scene.yaml"), tmp)
    return ScenePlayer(scene, EngineConfig(block=256, max_voices=64, voice_limit=64), seed=seed)


def _spectrum(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    seg = x.astype(np.float64).mean(axis=1)
    return np.fft.rfftfreq(seg.size, 1 / SR), np.abs(np.fft.rfft(seg * np.hanning(seg.size))) ** 2


def _one_pole_power(fc: float, f: np.ndarray) -> np.ndarray:
    """|H(f)|^2 of the voice low-pass y += a (x - y) at cutoff fc (the engine's documented filter)."""
    a = 1.0 - math.exp(-2.0 * math.pi * min(fc, 0.49 * SR) / SR)
    _, h = signal.freqz([a], [1.0, a - 1.0], worN=f, fs=SR)
    return np.abs(h) ** 2


def _max_jump(x: np.ndarray) -> float:
    return float(np.max(np.abs(np.diff(x.astype(np.float64), axis=0))))


# ------------------------------------------------------------------------ 1. curves are followed
OPEN_HZ, DARK_HZ = 16000.0, 600.0
BAND = (5000.0, 9000.0)
LOWPASS = f"lowpass: {{param: dark, curve: [[0, {OPEN_HZ:g}], [1, {DARK_HZ:g}]], shape: exp}}"

PATHS = {
    "sample loop": f"""
emitters:
  bed:
    layers:
      - {{id: x, source: sounds/noise.wav, fade_in: 0, {LOWPASS}}}
""",
    "generator loop": f"""
emitters:
  bed:
    layers:
      - {{id: x, source: {{generator: rain, params: {{intensity: 0.8}}}}, fade_in: 0, {LOWPASS}}}
""",
    "morph loop": f"""
emitters:
  bed:
    layers:
      - id: x
        source: {{morph: [sounds/noise.wav, sounds/noise2.wav], model: models/morph.onnx}}
        fade_in: 0
        {LOWPASS}
""",
    "emitter one-shot": f"""
emitters:
  bed:
    layers:
      - {{id: x, source: sounds/long.wav, mode: oneshot, {LOWPASS}}}
""",
    "event loop": f"""
events:
  hum:
    position: null
    layers:
      - {{id: x, source: sounds/noise.wav, mode: loop, fade_in: 0, {LOWPASS}}}
""",
    "event one-shot": f"""
events:
  boom:
    position: null
    layers:
      - {{id: x, source: sounds/long.wav, mode: oneshot, {LOWPASS}}}
""",
}


def _filter_scene(tmp: Path, body: str) -> ScenePlayer:
    write_wav(tmp / "sounds" / "noise.wav", _noise(2.0, seed=1))
    write_wav(tmp / "sounds" / "noise2.wav", _noise(2.0, seed=2))
    write_wav(tmp / "sounds" / "long.wav", _noise(6.0, seed=3))
    if "morph" in body:
        (tmp / "models").mkdir(exist_ok=True)
        shutil.copy(MORPH_MODEL, tmp / "models" / "morph.onnx")
    head = "name: filters\nparameters:\n  dark: {range: [0, 1], default: 0}\nbuses: {sfx: {}}\n"
    return _player(tmp, head + body)


@pytest.mark.parametrize("path", sorted(PATHS))
def test_lowpass_curve_follows_its_parameter_on_every_playback_path(tmp_path: Path, path: str) -> None:
    if path == "morph loop" and not MORPH_MODEL.exists():
        pytest.skip("the forest morph model is not built")
    player = _filter_scene(tmp_path, PATHS[path])
    rt = player.runtime
    for ev in rt.scene.events:
        rt.trigger(ev)
    player.render(SR // 2)
    f, before = _spectrum(player.render(SR))
    rt.set_param("dark", 1.0)  # no seek: jumps at the next block
    player.render(SR // 8)
    _, after = _spectrum(player.render(SR))
    band = (f >= BAND[0]) & (f < BAND[1])
    measured = 10 * math.log10(after[band].sum() / before[band].sum())
    # what the band should keep: the source as heard before, re-filtered at the new cutoff
    ratio = _one_pole_power(DARK_HZ, f[band]) / _one_pole_power(OPEN_HZ, f[band])
    expected = 10 * math.log10((before[band] * ratio).sum() / before[band].sum())
    assert expected < -15.0  # the scene is a real test: the curve takes a lot off this band
    # 1 s windows of noise-like sources: 1.5 dB; the morph texture drifts on its own (this band
    # moves up to 3 dB from one second to the next, measured over seeds 1-3): 3.5 dB
    tolerance = 3.5 if path == "morph loop" else 1.5
    assert measured == pytest.approx(expected, abs=tolerance), (path, measured, expected)
    assert not [p for t, p in rt.events if t == "error"]


@pytest.mark.parametrize("field", ["lowpass", "highpass"])
def test_filter_curves_glide_without_clicks(tmp_path: Path, field: str) -> None:
    """A cutoff that jumps (parameter without seek) still ramps inside the voice: no sample-to-sample
    step larger than the steady tone's own (1 kHz, 0.1 amplitude: 0.0131 per sample)."""
    write_wav(tmp_path / "sounds" / "tone.wav", _sine(1000.0, 2.0))
    curve = "[[0, 16000], [1, 300]]" if field == "lowpass" else "[[0, 20], [1, 6000]]"
    text = f"""
name: clicks
parameters:
  p: {{range: [0, 1], default: 0}}
emitters:
  bed:
    layers:
      - id: tone
        source: sounds/tone.wav
        fade_in: 0
        random_start: false
        {field}: {{param: p, curve: {curve}}}
"""
    player = _player(tmp_path, text)
    player.render(SR // 4)
    steady = player.render(SR // 4)
    levels = []
    for value in (1.0, 0.0, 1.0):
        player.runtime.set_param("p", value)
        y = player.render(SR // 4)
        assert _max_jump(y) <= 1.02 * _max_jump(steady), (field, value)
        levels.append(float(np.sqrt(np.mean(y[SR // 8 :].astype(np.float64) ** 2))))
    rms = float(np.sqrt(np.mean(steady.astype(np.float64) ** 2)))
    assert levels[0] < 0.5 * rms and levels[2] < 0.5 * rms  # the filter did move (> 6 dB on the tone)
    assert levels[1] == pytest.approx(rms, rel=0.05)  # and came back


def test_event_layers_follow_global_parameters_and_overrides(tmp_path: Path) -> None:
    """Gain and pitch curves of a playing event instance follow the game's parameter."""
    write_wav(tmp_path / "sounds" / "tone.wav", _sine(500.0, 2.0))
    text = """
name: ev
parameters:
  rpm: {range: [0, 1], default: 0}
events:
  motor:
    position: null
    layers:
      - id: hum
        source: sounds/tone.wav
        mode: loop
        fade_in: 0
        gain: {param: rpm, curve: [[0, -12], [1, 0]]}
        pitch: {param: rpm, curve: [[0, 0], [1, 12]]}
"""
    player = _player(tmp_path, text)
    rt = player.runtime
    rt.trigger("motor")
    player.render(SR // 4)
    f, low = _spectrum(player.render(SR // 2))
    rt.set_param("rpm", 1.0)
    player.render(SR // 8)
    _, high = _spectrum(player.render(SR // 2))
    assert f[np.argmax(low)] == pytest.approx(500.0, abs=3.0)
    assert f[np.argmax(high)] == pytest.approx(1000.0, abs=3.0)  # +12 semitones
    gain = 10 * math.log10(high.sum() / low.sum())
    assert gain == pytest.approx(12.0, abs=0.5)  # -12 dB -> 0 dB
    rt.override("motor.hum", 0.5)  # a live weight reaches event layers too: -6 dB
    player.render(SR // 8)
    _, half = _spectrum(player.render(SR // 2))
    assert 10 * math.log10(half.sum() / high.sum()) == pytest.approx(-6.02, abs=0.3)


def test_music_segment_gain_curve_follows_its_parameter(tmp_path: Path) -> None:
    write_wav(tmp_path / "sounds" / "loop.wav", _sine(440.0, 2.4))  # 1 bar at 100 BPM 4/4
    text = """
name: music
parameters:
  danger: {range: [0, 1], default: 0}
buses: {music: {}}
music:
  bus: music
  tempo: 100
  start: calm
  segments:
    calm:
      sample: sounds/loop.wav
      bars: 1
      gain: {param: danger, curve: [[0, -18], [1, -6]]}
"""
    player = _player(tmp_path, text)
    player.render(SR // 4)
    quiet = player.render(SR // 2)
    player.runtime.set_param("danger", 1.0)
    player.render(SR // 8)
    loud = player.render(SR // 2)
    rise = 20 * math.log10(
        np.sqrt(np.mean(loud.astype(np.float64) ** 2) / np.mean(quiet.astype(np.float64) ** 2))
    )
    assert rise == pytest.approx(12.0, abs=0.3)


# -------------------------------------------------------------- 2. container state across fires
CONTAINERS = """
name: containers
emitters:
  scatter:
    layers:
      - id: seq
        source: {sequence: [sounds/a.wav, sounds/b.wav, sounds/c.wav]}
        mode: scatter
        interval: [0.1, 0.1]
      - id: rnd
        source: {random: [sounds/a.wav, sounds/b.wav, sounds/c.wav], no_repeat: 2}
        mode: scatter
        interval: [0.1, 0.1]
events:
  seq_ev:
    position: null
    layers:
      - {id: x, source: {sequence: [sounds/a.wav, sounds/b.wav, sounds/c.wav]}, mode: oneshot}
  rnd_ev:
    position: null
    layers:
      - {id: x, source: {random: [sounds/a.wav, sounds/b.wav, sounds/c.wav], no_repeat: 2}, mode: oneshot}
  once:
    position: null
    layers:
      - {id: x, source: {sequence: [sounds/a.wav, sounds/b.wav], loop: false}, mode: oneshot}
"""


def _containers(tmp: Path) -> ScenePlayer:
    for i, name in enumerate("abc"):
        write_wav(tmp / "sounds" / f"{name}.wav", _sine(300.0 + 100 * i, 0.05))
    return _player(tmp, CONTAINERS)


def _fires(player: ScenePlayer, event: str, n: int) -> list[str]:
    """Trigger ``event`` n times; the file each instance's voice plays, read from the engine."""
    rt, eng = player.runtime, player.engine
    files = []
    for _ in range(n):
        iid = rt.trigger(event)
        player.render(256)  # the instance starts in this block
        (handle,) = rt.instances[iid].handles
        slot = eng._slot_of[handle]
        files.append(Path(eng.bank.info(int(eng.voices.I[slot, 1])).name.split("@")[0]).stem)
        player.render(SR // 10)  # and ends
    return files


def test_event_sequence_container_advances_across_fires(tmp_path: Path) -> None:
    player = _containers(tmp_path)
    player.runtime.override("scatter.seq", 0.0)
    player.runtime.override("scatter.rnd", 0.0)
    assert _fires(player, "seq_ev", 7) == ["a", "b", "c", "a", "b", "c", "a"]
    assert _fires(player, "once", 4) == ["a", "b", "b", "b"]  # loop: false stays on its last file


def test_event_random_container_never_repeats_its_last_picks(tmp_path: Path) -> None:
    player = _containers(tmp_path)
    player.runtime.override("scatter.seq", 0.0)
    player.runtime.override("scatter.rnd", 0.0)
    picks = _fires(player, "rnd_ev", 30)
    for i in range(2, len(picks)):
        assert picks[i] not in picks[i - 2 : i], (i, picks)  # no_repeat: 2 over 3 files


def test_event_container_state_survives_a_hot_reload_of_an_unchanged_layer(tmp_path: Path) -> None:
    player = _containers(tmp_path)
    player.runtime.override("scatter.seq", 0.0)
    player.runtime.override("scatter.rnd", 0.0)
    assert _fires(player, "seq_ev", 2) == ["a", "b"]
    player.reload(load_scene_text(CONTAINERS + "\n", str(tmp_path / "scene.yaml"), tmp_path))
    player.render(256)
    assert _fires(player, "seq_ev", 2) == ["c", "a"]
    changed = CONTAINERS.replace(
        "[sounds/a.wav, sounds/b.wav, sounds/c.wav]}, mode: oneshot}\n  rnd_ev",
        "[sounds/c.wav, sounds/b.wav]}, mode: oneshot}\n  rnd_ev",
    )
    assert changed != CONTAINERS
    player.reload(load_scene_text(changed, str(tmp_path / "scene.yaml"), tmp_path))
    player.render(256)
    assert _fires(player, "seq_ev", 3) == ["c", "b", "c"]  # a changed container starts again


# ----------------------------------------------------------------------- 4. relative snapshots
SNAPSHOTS = """
name: snaps
buses:
  music: {gain_db: -3}
snapshots:
  wounded:
    blend: 4.0
    buses: {music: {gain_db: -9}}
  pause:
    blend: 0
    buses: {music: {gain_db: -4}}
emitters:
  band:
    bus: music
    layers:
      - {id: tone, source: sounds/tone.wav, fade_in: 0, random_start: false}
"""


def _level_db(x: np.ndarray) -> float:
    return 10 * math.log10(float(np.mean(x.astype(np.float64) ** 2)))


def test_snapshot_gain_adds_to_the_bus_gain_scaled_by_its_blend(tmp_path: Path) -> None:
    """Tolerance 0.1 dB on steady levels (a 1 kHz tone far below the limiter; windows of whole
    periods), 0.3 dB mid-blend (the blend moves 0.0125 of its way in a 50 ms window: 0.11 dB)."""
    write_wav(tmp_path / "sounds" / "tone.wav", _sine(1000.0, 1.0, amp=0.05))
    player = _player(tmp_path, SNAPSHOTS)
    rt = player.runtime
    player.render(SR // 4)
    off = _level_db(player.render(SR // 4))
    rt.snapshot("wounded", True)
    player.render(2 * SR - SR // 40)  # half of the 4 s blend, minus half the window
    half = _level_db(player.render(SR // 20))
    assert half - off == pytest.approx(-4.5, abs=0.3)
    player.render(2 * SR)
    on = _level_db(player.render(SR // 4))
    assert on - off == pytest.approx(-9.0, abs=0.1)  # 9 dB below the bus's own -3 dB
    rt.snapshot("pause", True)
    player.render(SR // 8)
    both = _level_db(player.render(SR // 4))
    assert both - off == pytest.approx(-13.0, abs=0.1)  # two snapshots add up
    rt.snapshot("pause", False)
    rt.snapshot("wounded", False)
    player.render(4 * SR + SR // 8)
    assert _level_db(player.render(SR // 4)) - off == pytest.approx(0.0, abs=0.1)


def test_dungeon_wounded_snapshot_puts_the_music_bus_9_db_down(tmp_path: Path) -> None:
    """docs/example-scenes.md: `wounded` puts the music 9 dB down (its -9 dB on top of the bus's own
    -3 dB) and low-passes it at 600 Hz. Only the music plays (the scene's emitters and events are
    dropped), rendered twice with the same seed: healthy, and wounded from the start. The same
    frames of the same music then differ by the bus gain and the low-pass alone, so below 400 Hz
    the ratio must be -9 dB plus the 2nd-order Butterworth response (scipy), within 0.2 dB."""
    import dataclasses

    from middleware.scene.load import load_scene
    from middleware.tools import example_assets as EA

    EA.ensure_example_assets(ROOT / "scenes")
    scene = load_scene(ROOT / "scenes" / "dungeon.yaml")
    music_only = dataclasses.replace(scene, emitters={}, events={}, director=None)
    snap = scene.snapshots["wounded"].buses["music"]
    assert scene.buses["music"].gain_db != 0.0  # the case that tells relative from absolute

    def render(health: float) -> np.ndarray:
        player = ScenePlayer(music_only, EngineConfig(seed=0), seed=0)
        player.runtime.set_param("health", health)
        player.render(4 * SR)  # glide (0.5/s) below 0.3 and the 1 s blend are over by 3.5 s
        return player.render(3 * SR)

    healthy, wounded = render(1.0), render(0.15)
    assert float(np.max(np.abs(healthy))) < 0.5  # far below the limiter: it changes nothing here
    f, a = _spectrum(healthy)
    _, b = _spectrum(wounded)
    band = (f >= 60.0) & (f < 400.0)
    measured = 10 * math.log10(b[band].sum() / a[band].sum())
    sos = signal.butter(2, snap.lowpass_hz, fs=SR, output="sos")
    _, h = signal.sosfreqz(sos, worN=f[band], fs=SR)
    expected = snap.gain_db + 10 * math.log10((a[band] * np.abs(h) ** 2).sum() / a[band].sum())
    assert -9.6 < expected < -9.0  # the low-pass barely touches this band: the gain is what shows
    assert measured == pytest.approx(expected, abs=0.2)


def test_hot_reload_moves_a_playing_layers_send_levels(tmp_path: Path) -> None:
    """Sends are constants, but a hot reload that changes them reaches the playing voice (the doc:
    a kept layer glides to its new settings). The dry path is silenced (bus at -120 dB), so the
    output is the send alone: -6 dB -> -18 dB is 12 dB down; a removed send goes silent."""
    write_wav(tmp_path / "sounds" / "tone.wav", _sine(1000.0, 1.0, amp=0.1))
    text = """
name: sends
buses:
  dry: {gain_db: -120}
  aux: {}
emitters:
  bed:
    bus: dry
    layers:
      - {id: tone, source: sounds/tone.wav, fade_in: 0, random_start: false, sends: {aux: -6}}
"""
    player = _player(tmp_path, text)
    player.render(SR // 4)
    before = _level_db(player.render(SR // 4))
    for edit, drop in (("sends: {aux: -18}", 12.0), ("sends: {}", 60.0)):
        player.reload(
            load_scene_text(text.replace("sends: {aux: -6}", edit), str(tmp_path / "s.yaml"), tmp_path)
        )
        player.render(SR // 8)
        after = _level_db(player.render(SR // 4))
        if drop < 60.0:
            assert after - before == pytest.approx(-drop, abs=0.1)
        else:
            assert after - before < -drop  # gone (the engine keeps the slot at -120 dB)
