"""Layer source types (middleware/scene/sources/): one module per type behind one interface.

- Every source kind the scene format can build has a registered runtime type, and the runtime modules
  name no source class themselves (no isinstance dispatch outside sources/).
- A new source type is one class plus one registration: a tone source written here plays through a
  real engine, its parameters followed on refresh, and is reported unplayable before it is registered.
- An emitter layer's container state (sequence position) lives in its source type, per layer: it goes on
  across a hot reload of an unchanged layer and starts again when the source changes.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import write_wav

import middleware.scene.sources as sources_mod
from middleware.config import EngineConfig
from middleware.player import ScenePlayer
from middleware.scene import model
from middleware.scene.load import load_scene_text
from middleware.scene.sources.base import LayerSource

SR = 48000
SCENE_DIR = Path(__file__).resolve().parents[1] / "middleware" / "scene"


def test_every_scene_source_kind_has_one_registered_runtime_type() -> None:
    kinds = set(typing.get_args(model.SourceDef))
    registered = [t.model for t in sources_mod.SOURCE_TYPES]
    assert len(registered) == len(set(registered)), registered  # one type per kind
    assert kinds == set(registered)
    for t in sources_mod.SOURCE_TYPES:
        assert t.start is not LayerSource.start, t  # each one can start a voice


def test_runtime_modules_name_no_source_class() -> None:
    """Adding a source type touches sources/ only: the runtime never dispatches on a source's class."""
    names = [c.__name__ for c in typing.get_args(model.SourceDef)]
    pattern = re.compile(r"\b(" + "|".join(names) + r")\b")
    offenders = []
    for path in SCENE_DIR.glob("*.py"):
        if path.name in {"model.py", "fields.py", "spec.py", "load.py", "schema.py"}:
            continue  # the definitions and the YAML field table, not the runtime
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line) and "SampleSource" not in line:  # a sample file is what voices play
                offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert not offenders, offenders


# ------------------------------------------------------------------ a new type: one class, one line
@dataclasses.dataclass(frozen=True)
class ToneDef:
    """A test-only source kind: a sine at ``hz`` (the scene model's side of a new source type)."""

    hz: float

    @property
    def files(self) -> tuple[Path, ...]:
        return ()


class _Sine:
    channels = 2

    def __init__(self, hz: float) -> None:
        self.hz, self.phase = hz, 0

    def render(self, frames: int) -> np.ndarray:
        t = (self.phase + np.arange(frames)) / SR
        self.phase += frames
        x = (0.2 * np.sin(2 * np.pi * self.hz * t)).astype(np.float32)
        return np.stack([x, x], axis=1)


class ToneLayerSource(LayerSource):
    """The whole runtime side of the new type: start a stream, follow a parameter on refresh."""

    model = ToneDef
    streamed = True

    def start(self, li, at) -> int | None:
        li.stream = _Sine(li.layer.source.hz)
        return self.rt.voices.play_stream(li, li.stream, at)

    def refresh(self, li, env: Mapping[str, Any]) -> None:
        if li.stream is not None:
            li.stream.hz = li.layer.source.hz * (1.0 + float(env["up"]))


TONE_SCENE = """
name: tone
parameters:
  up: {range: [0, 1], default: 0}
emitters:
  bed:
    layers:
      - {id: t, source: sounds/x.wav, fade_in: 0}
"""


def _tone_player(tmp: Path) -> ScenePlayer:
    write_wav(tmp / "sounds" / "x.wav", np.zeros(4800))
    scene = load_scene_text(TONE_SCENE, str(tmp / "scene.yaml"), tmp)
    em = scene.emitters["bed"]
    layer = dataclasses.replace(em.layers[0], source=ToneDef(440.0))
    em = dataclasses.replace(em, layers=(layer,))
    scene = dataclasses.replace(scene, emitters={**scene.emitters, "bed": em})
    return ScenePlayer(scene, EngineConfig(block=256, max_voices=16, voice_limit=16), seed=1)


def _peak_hz(x: np.ndarray) -> float:
    seg = x.astype(np.float64).mean(axis=1)
    spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size)))
    return float(np.fft.rfftfreq(seg.size, 1 / SR)[int(np.argmax(spec))])


def test_a_new_source_type_is_one_class_and_one_registration(tmp_path, monkeypatch) -> None:
    player = _tone_player(tmp_path)  # not registered: reported, the rest of the scene plays on
    player.render(SR // 10)
    errors = [e for topic, e in player.runtime.events if topic == "error"]
    assert any("source type ToneDef is not playable yet" in e["message"] for e in errors), errors

    monkeypatch.setattr(sources_mod, "SOURCE_TYPES", (*sources_mod.SOURCE_TYPES, ToneLayerSource))
    player = _tone_player(tmp_path)
    player.render(SR // 10)
    # 1 Hz bins over one second; the stream's own sine, so the peak is exact to a bin
    assert _peak_hz(player.render(SR)) == pytest.approx(440.0, abs=1.0)
    player.runtime.set_param("up", 0.5)  # refresh: the source follows its parameter
    player.render(SR // 10)
    assert _peak_hz(player.render(SR)) == pytest.approx(660.0, abs=1.0)
    assert not [e for topic, e in player.runtime.events if topic == "error"]


# ------------------------------------------------------------------ container state in the source type
SEQ_SCENE = """
name: seq
states:
  door: {values: [shut, open], default: shut}
emitters:
  hinge:
    layers:
      - {id: creak, source: {sequence: [sounds/a.wav, sounds/b.wav, sounds/c.wav]}, mode: oneshot,
         when: "door == 'open'"}
"""


def _seq_player(tmp: Path, text: str = SEQ_SCENE) -> ScenePlayer:
    for i, name in enumerate("abc"):
        t = np.arange(2400) / SR
        write_wav(tmp / "sounds" / f"{name}.wav", 0.1 * np.sin(2 * np.pi * (300 + 100 * i) * t))
    return ScenePlayer(
        load_scene_text(text, str(tmp / "scene.yaml"), tmp),
        EngineConfig(block=256, max_voices=16, voice_limit=16),
        seed=1,
    )


def _opens(player: ScenePlayer, n: int) -> list[str]:
    """Open the door n times; the file each one-shot plays, read from the engine's voice table."""
    rt, eng = player.runtime, player.engine
    files = []
    for _ in range(n):
        rt.set_state("door", "open")
        player.render(256)
        handle = rt.emitters["hinge"].layers["creak"].handle
        slot = eng._slot_of[handle]
        files.append(Path(eng.bank.info(int(eng.voices.I[slot, 1])).name.split("@")[0]).stem)
        rt.set_state("door", "shut")
        player.render(SR // 10)
    return files


def test_emitter_sequence_position_survives_reload_and_restarts_when_its_source_changes(tmp_path) -> None:
    player = _seq_player(tmp_path)
    assert _opens(player, 2) == ["a", "b"]
    player.reload(load_scene_text(SEQ_SCENE + "\n", str(tmp_path / "scene.yaml"), tmp_path))
    player.render(256)
    assert _opens(player, 2) == ["c", "a"]  # unchanged layer: goes on where it was
    changed = SEQ_SCENE.replace("[sounds/a.wav, sounds/b.wav, sounds/c.wav]", "[sounds/c.wav, sounds/b.wav]")
    player.reload(load_scene_text(changed, str(tmp_path / "scene.yaml"), tmp_path))
    player.render(256)
    assert _opens(player, 3) == ["c", "b", "c"]  # a changed container starts again
