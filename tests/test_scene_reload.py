"""Hot reload: edit a playing scene (valid, invalid, valid) and check continuity and reported errors."""

from __future__ import annotations

import math
import os
import time
import wave
from pathlib import Path

import numpy as np
from conftest import SR, max_jump

from middleware.config import EngineConfig
from middleware.player import ScenePlayer
from middleware.scene.reload import SceneWatcher

SCENE = """\
name: reload-test
parameters:
  intensity: {{range: [0, 1], default: 1}}
buses:
  ambience: {{parent: master}}
emitters:
  bed:
    bus: ambience
    layers:
      - id: hum
        source: sounds/hum.wav
        mode: loop
        gain: {hum_gain}
        fade_in: 0.2
        fade_out: 0.2
{extra}"""

EXTRA = """\
      - id: high
        source: sounds/high.wav
        mode: loop
        gain: -12
        fade_in: 0.2
        fade_out: 0.2
"""


def _write_tone(path: Path, freq: float, seconds: float = 1.0) -> None:
    t = np.arange(int(SR * seconds)) / SR
    x = (0.3 * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(SR)
        f.writeframes(x.tobytes())


def _save(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    st = os.stat(path)  # make sure the mtime moves even on coarse clocks
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))


def _band_rms(x: np.ndarray, freq: float) -> float:
    spec = np.abs(np.fft.rfft(x[:, 0] * np.hanning(len(x))))
    f = np.fft.rfftfreq(len(x), 1 / SR)
    return float(np.sqrt(np.sum(spec[(f > freq * 0.9) & (f < freq * 1.1)] ** 2)))


def test_hot_reload_valid_invalid_valid(tmp_path: Path) -> None:
    (tmp_path / "sounds").mkdir()
    _write_tone(tmp_path / "sounds" / "hum.wav", 200.0)  # 200 whole periods: loops seamlessly
    _write_tone(tmp_path / "sounds" / "high.wav", 1000.0)
    scene = tmp_path / "scene.yaml"
    _save(scene, SCENE.format(hum_gain=-6, extra=""))
    player = ScenePlayer(scene, EngineConfig(block=256, max_voices=16, voice_limit=16))
    reloaded, errors = [], []
    watcher = SceneWatcher(
        scene,
        on_scene=lambda s: (reloaded.append(s), player.reload(s)),
        on_errors=errors.append,
        scene=player.scene,
    )
    chunks = [player.render(SR // 2)]

    # 1) valid edit: the hum gets 6 dB quieter, a new layer fades in
    _save(scene, SCENE.format(hum_gain=-12, extra=EXTRA))
    assert watcher.poll() and len(reloaded) == 1 and not errors
    chunks.append(player.render(SR))
    # 2) invalid edit (typo in a key): errors with the line, the old scene keeps playing
    _save(scene, SCENE.format(hum_gain=-12, extra=EXTRA).replace("fade_out: 0.2\n", "fade_ot: 0.2\n", 1))
    assert watcher.poll() and len(reloaded) == 1
    assert errors and errors[-1][0].line == 15 and "fade_ot" in errors[-1][0].message
    chunks.append(player.render(SR // 2))
    # 3) valid again: the new layer is removed (fades out), hum back to -6 dB
    _save(scene, SCENE.format(hum_gain=-6, extra=""))
    assert watcher.poll() and len(reloaded) == 2
    chunks.append(player.render(SR))

    out = np.concatenate(chunks).astype(np.float64)
    # no gap: every 10 ms window carries the hum
    win = SR // 100
    rms = np.sqrt(np.mean(out[: len(out) // win * win, 0].reshape(-1, win) ** 2, axis=1))
    assert rms[25:].min() > 0.02  # the hum alone at -12 dB has an RMS of 0.037
    # no click: steps bounded by the two tones' own slopes plus one block's ramp share
    bound = 0.3 * 2 * math.pi * (200 + 1000) / SR + 0.3 / 256 + 1e-3
    assert max_jump(out[SR // 10 :]) <= bound
    # the edits were heard: hum level -6 -> -12 -> -6 dB, 1 kHz layer present only in between
    a, b, c, d = (out[i * SR // 2 + SR // 4 : i * SR // 2 + SR // 2] for i in (0, 2, 3, 5))
    assert 20 * math.log10(_band_rms(b, 200) / _band_rms(a, 200)) == _approx(-6.0, 0.5)
    assert _band_rms(b, 1000) > 10 * _band_rms(a, 1000)
    assert _band_rms(c, 1000) > 10 * _band_rms(a, 1000)  # the invalid edit changed nothing
    assert _band_rms(d, 1000) < 0.05 * _band_rms(c, 1000)
    assert 20 * math.log10(_band_rms(d, 200) / _band_rms(a, 200)) == _approx(0.0, 0.5)


def test_watcher_thread_reacts_within_a_second(tmp_path: Path) -> None:
    (tmp_path / "sounds").mkdir()
    _write_tone(tmp_path / "sounds" / "hum.wav", 200.0)
    _write_tone(tmp_path / "sounds" / "high.wav", 1000.0)
    scene = tmp_path / "scene.yaml"
    _save(scene, SCENE.format(hum_gain=-6, extra=""))
    seen = []
    w = SceneWatcher(scene, on_scene=seen.append, on_errors=seen.append, interval=0.05).start()
    try:
        t0 = time.monotonic()
        _save(scene, SCENE.format(hum_gain=-9, extra=""))
        while not seen and time.monotonic() - t0 < 3:
            time.sleep(0.01)
        assert seen and time.monotonic() - t0 < 1.0
    finally:
        w.stop()


class _approx:
    def __init__(self, value: float, tol: float) -> None:
        self.value, self.tol = value, tol

    def __eq__(self, other: object) -> bool:
        return abs(float(other) - self.value) <= self.tol  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"{self.value}±{self.tol}"
