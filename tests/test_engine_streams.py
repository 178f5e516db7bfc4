"""Streaming voices: sources rendered block by block (generators, morph textures) play like samples."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SR

from middleware.config import EngineConfig
from middleware.engine import Engine
from middleware.errors import EngineError


class Ramp:
    """Counts frames: sample k of the stream is k / SR * 0.1, so any gap or repeat is visible."""

    channels = 1

    def __init__(self, stop_after: int | None = None) -> None:
        self.k = 0
        self.stop_after = stop_after
        self.calls: list[int] = []

    def render(self, frames: int) -> np.ndarray:
        self.calls.append(frames)
        x = (np.arange(self.k, self.k + frames) % SR) / SR * 0.1
        self.k += frames
        return x.astype(np.float32)

    @property
    def finished(self) -> bool:
        return self.stop_after is not None and self.k >= self.stop_after


@pytest.mark.parametrize("block", [64, 256, 1000])
def test_stream_plays_its_frames_in_order_from_the_exact_start(block: int) -> None:
    eng = Engine(EngineConfig(block=block, max_voices=8, voice_limit=8))
    src = Ramp()
    start = 1234
    eng.stream = eng.play_stream(src, pan=-1.0, start_frame=start)
    lat = eng.buses.limiter.latency_frames
    out = eng.render(start + lat + 3 * SR // 4)[lat:, 0]
    assert np.all(out[:start] == 0.0)
    got = out[start:].astype(np.float64)
    want = (np.arange(got.size) % SR) / SR * 0.1
    assert np.max(np.abs(got - want)) < 1e-6
    assert sum(src.calls) == got.size + lat  # asked for exactly what played (incl. the limiter delay)


def test_finished_stream_ends_its_voice_and_recycles_the_region() -> None:
    eng = Engine(EngineConfig(block=256, max_voices=8, voice_limit=8))
    h = eng.play_stream(Ramp(stop_after=2000))
    eng.render(4096)
    assert not eng.is_playing(h)
    regions = len(eng.bank)
    h2 = eng.play_stream(Ramp(stop_after=100))
    eng.render(1024)
    assert len(eng.bank) == regions and not eng.is_playing(h2)


def test_failing_stream_goes_silent_and_the_mix_goes_on() -> None:
    class Broken(Ramp):
        def render(self, frames: int) -> np.ndarray:
            if self.k > 1000:
                raise RuntimeError("boom")
            return super().render(frames)

    eng = Engine(EngineConfig(block=256, max_voices=8, voice_limit=8))
    eng.play_stream(Broken())
    ok = eng.play_stream(Ramp(), pan=1.0)
    out = eng.render(8192)
    assert np.max(np.abs(out[4096:, 1])) > 0.01  # the healthy stream still plays
    assert any(e[0] == "error" for e in eng.events)
    assert eng.is_playing(ok)


def test_stream_rejects_pitch_and_doppler() -> None:
    eng = Engine(EngineConfig(block=256, max_voices=8, voice_limit=8))
    with pytest.raises(EngineError, match="pitch"):
        eng.play_stream(Ramp(), pitch=2.0)
    with pytest.raises(EngineError, match="doppler"):
        eng.play_stream(Ramp(), doppler=1.0)
