"""DeviceSink on miniaudio's real NULL backend (real device thread, real-time pacing, no sound card).

``RENDERABLES`` maps a name to a factory of any ``Renderable``; add the engine there (or parametrise
``test_null_device_plays_without_underruns`` with your own factory) to run the same checks on it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

from middleware.config import EngineConfig
from middleware.errors import DeviceError
from middleware.sinks.device import NULL_FALLBACK_MESSAGE, DeviceSink


class Sine:
    """A small Renderable: a continuous 440 Hz tone, as the engine would hand out blocks."""

    def __init__(self, cfg: EngineConfig | None = None) -> None:
        self.config = cfg or EngineConfig()
        self.frame = 0

    def render(self, frames: int) -> np.ndarray:
        t = (self.frame + np.arange(frames)) / self.config.sample_rate
        self.frame += frames
        x = (0.2 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
        return np.stack([x, x], axis=1)


class Slow(Sine):
    """Takes ``factor`` times the audio's duration to render each block (default: 4x, so the
    callback must run dry)."""

    def __init__(self, factor: float = 4.0) -> None:
        super().__init__()
        self.factor = factor
        self.took_periods: list[float] = []  # each render's wall time, in periods of its own length

    def render(self, frames: int) -> np.ndarray:
        t0 = time.perf_counter()
        time.sleep(self.factor * frames / self.config.sample_rate)
        out = super().render(frames)
        self.took_periods.append((time.perf_counter() - t0) * self.config.sample_rate / frames)
        return out


class Failing(Sine):
    """Fails after 0.1 s: after the ring was pre-filled, so on the render thread."""

    def render(self, frames: int) -> np.ndarray:
        if self.frame >= 0.1 * self.config.sample_rate:
            raise RuntimeError("kernel exploded")
        return super().render(frames)


def engine_64_voices() -> object:
    """The real engine with 64 looping voices (tones at different pitches and pans)."""
    from middleware.engine import Engine

    eng = Engine(EngineConfig())
    t = np.arange(48000) / 48000
    eng.bank.add("tone", (0.1 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32))
    for i in range(64):
        eng.play("tone", loop=True, pitch=1.0 + 0.01 * i, pan=(i % 8) / 4 - 1.0)
    return eng


RENDERABLES: dict[str, Callable[[], object]] = {
    "sine-48k-256": lambda: Sine(),
    "sine-44k1-128": lambda: Sine(EngineConfig(sample_rate=44100, block=128)),
    "engine-64-voices": engine_64_voices,
}


def render_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "soundscape-render"]


@pytest.mark.parametrize("make", RENDERABLES.values(), ids=RENDERABLES.keys())
def test_null_device_plays_without_underruns(make: Callable[[], object]) -> None:
    renderable = make()
    rate = renderable.config.sample_rate
    seen: list[int] = []
    sink = DeviceSink(renderable, backend="null", on_block=lambda start, block: seen.append(start))
    t0 = time.perf_counter()
    with sink:
        assert render_threads()
        time.sleep(2.0)
        live = sink.stats()
        played, stamp = sink.clock()
    elapsed = time.perf_counter() - t0
    stats = sink.stats()
    assert stats["backend"] == "Null" and not stats["fell_back_to_null"]
    assert stats["underruns"] == 0 and stats["underrun_frames"] == 0, stats
    assert stats["render_error"] is None
    # real-time pacing: about 2 s worth of frames went to the device (NULL sleeps in 10 ms steps)
    assert 1.8 * rate <= stats["frames_played"] <= elapsed * rate + stats["period_frames"] * 8
    assert stats["callbacks"] * stats["period_frames"] == stats["frames_played"]
    assert stats["callback_frames"] == stats["period_frames"]
    # NULL sleeps in 10 ms steps, so its lookahead covers at least 20 ms (nobody hears the latency)
    assert stats["lookahead_frames"] >= 0.02 * rate
    assert stats["ring_target_frames"] == stats["lookahead_frames"] + stats["period_frames"]
    assert stats["callback_interval_max_ms"] >= stats["callback_interval_p99_ms"] > 0
    assert stats["render_ms_p99"] > 0 and stats["blocks_rendered"] >= stats["frames_played"] // 256
    assert live["callbacks"] > 0 and played > 0 and stamp > 0
    # frame clock: when did a given engine frame leave the callback?
    assert sink.frame_left_at(played - 1) == stamp
    assert sink.frame_left_at(played + 10 * stats["period_frames"]) is None
    first, later = sink.frame_left_at(0), sink.frame_left_at(rate)  # frame 0 and 1 s later
    assert first is not None and later is not None
    assert 0.8e9 <= later - first <= 1.3e9
    # the render thread stays ahead of the device by at most the ring's target
    ahead = stats["blocks_rendered"] * renderable.config.block - stats["frames_played"]
    assert 0 <= ahead <= stats["ring_target_frames"] + renderable.config.block
    assert seen == [i * renderable.config.block for i in range(len(seen))]
    # stop() joined the render thread and closed the device
    assert not render_threads() and not sink.running


def test_underruns_are_counted_when_rendering_is_too_slow() -> None:
    sink = DeviceSink(Slow(), backend="null")
    with sink:
        time.sleep(0.5)
    stats = sink.stats()
    assert stats["underruns"] > 0
    assert stats["underrun_frames"] > stats["frames_played"] / 2  # 4x too slow: most frames missing
    assert not render_threads()


def test_render_error_is_reported_and_stop_still_joins(capfd: pytest.CaptureFixture[str]) -> None:
    sink = DeviceSink(Failing(), backend="null", lookahead_blocks=1)
    with sink:
        time.sleep(0.3)
    stats = sink.stats()
    assert "kernel exploded" in stats["render_error"]
    assert stats["underruns"] > 0
    assert "render thread stopped: RuntimeError: kernel exploded" in capfd.readouterr().err
    assert not render_threads()


def test_default_backend_falls_back_to_null_with_one_line(capfd: pytest.CaptureFixture[str]) -> None:
    sink = DeviceSink(Sine(), period_frames=512)
    with sink:
        time.sleep(0.2)
    err = capfd.readouterr().err
    if not sink.fell_back_to_null:
        pytest.skip(f"this machine has a real audio device ({sink.backend_name})")
    assert err.strip().splitlines() == [NULL_FALLBACK_MESSAGE]
    assert sink.stats()["backend"] == "Null"


def test_switch_interval_is_lowered_while_running_and_restored() -> None:
    import sys

    before = sys.getswitchinterval()
    with DeviceSink(Sine(), backend="null", switch_interval=0.0005) as sink:
        assert sys.getswitchinterval() == pytest.approx(min(before, 0.0005))
    assert sys.getswitchinterval() == before
    assert sink.stats()["switch_interval_s"] == pytest.approx(min(before, 0.0005))


def test_render_error_during_prefill_raises_from_start() -> None:
    sink = DeviceSink(Failing(), backend="null", lookahead_blocks=64)  # pre-fill needs 0.35 s of audio
    with pytest.raises(RuntimeError, match="kernel exploded"):
        sink.start()
    assert not sink.running and not render_threads()


def test_bad_arguments_raise_device_errors() -> None:
    with pytest.raises(DeviceError, match="backend='nosuch'"):
        DeviceSink(Sine(), backend="nosuch").start()
    with pytest.raises(DeviceError, match="period_frames=8"):
        DeviceSink(Sine(), period_frames=8)
    with pytest.raises(DeviceError, match="device_name='no such card'"):
        DeviceSink(Sine(), backend="null", device_name="no such card").start()
    assert not render_threads()


# ------------------------------------------------------------------------------ callback mode
class Marked(Sine):
    """Renders silence, or 0.5 once ``mark()`` was called: which played frame first carried the mark
    tells how long a command waits before it is heard. Records the rendering thread's name."""

    def __init__(self, cfg: EngineConfig | None = None) -> None:
        super().__init__(cfg)
        self.marked_at: int | None = None  # perf_counter_ns of mark()
        self.first_marked_frame: int | None = None
        self.threads: set[str] = set()

    def mark(self) -> None:
        self.marked_at = time.perf_counter_ns()

    def render(self, frames: int) -> np.ndarray:
        self.threads.add(threading.current_thread().name)
        out = np.zeros((frames, 2), dtype=np.float32)
        if self.marked_at is not None:
            if self.first_marked_frame is None:
                self.first_marked_frame = self.frame
            out[:] = 0.5
        self.frame += frames
        return out


@pytest.mark.parametrize(("block", "period"), [(256, 256), (128, 256), (256, 480)])
def test_callback_mode_plays_a_command_in_the_first_callback_after_it(block: int, period: int) -> None:
    """lookahead 0: the callback renders what it plays, so nothing waits in a queue ahead of it."""
    rng = np.random.default_rng(block + period)
    for trial in range(6):
        renderable = Marked(EngineConfig(block=block))
        sink = DeviceSink(renderable, backend="null", lookahead_blocks=0, period_frames=period)
        with sink:
            assert not render_threads()  # no render thread in this mode
            time.sleep(0.05 + rng.uniform(0.0, 0.02))
            renderable.mark()
            time.sleep(0.08)
            stamps = sink.callback_timestamps()
            heard = sink.frame_left_at(renderable.first_marked_frame)
        st = sink.stats()
        assert st["render_mode"] == "callback" and st["lookahead_frames"] == 0
        assert st["underruns"] == 0 and st["underrun_frames"] == 0, st
        assert renderable.threads - {"MainThread"}, "blocks must be rendered on the device thread"
        # each callback takes only what it needs: less than one block ever waits rendered ahead. Both
        # counts from the stopped sink's stats (``played`` above was read while callbacks still ran, so
        # a callback rendering between that read and the stop made this look one block ahead).
        assert 0 <= st["blocks_rendered"] * block - st["frames_played"] < block
        # the first callback that ended after the mark (or, when the mark fell in the middle of its
        # render, the one right after) carries the marked frame
        assert heard is not None
        first_after = int(np.searchsorted(stamps, renderable.marked_at, side="right"))
        carried = int(np.searchsorted(stamps, heard, side="left"))
        assert carried - first_after in (0, 1), (trial, first_after, carried)


def test_ring_mode_plays_a_command_only_after_its_lookahead() -> None:
    """The peer of the test above: with 4 blocks rendered ahead the mark waits behind them."""
    renderable = Marked()
    sink = DeviceSink(renderable, backend="null", lookahead_blocks=4, null_min_lookahead_s=0.0)
    with sink:
        time.sleep(0.05)
        renderable.mark()
        time.sleep(0.1)
        stamps = sink.callback_timestamps()
        heard = sink.frame_left_at(renderable.first_marked_frame)
    assert sink.stats()["render_mode"] == "ring" and heard is not None
    first_after = int(np.searchsorted(stamps, renderable.marked_at, side="right"))
    carried = int(np.searchsorted(stamps, heard, side="left"))
    assert carried - first_after >= 4


def test_callback_mode_counts_late_callbacks_and_underruns() -> None:
    """Late: the work took longer than the audio delivered. Underrun: longer than the periods the
    device still had queued (periods - 1), so its buffer ran dry.

    The rule is checked against each render's own measured time, not against the nominal factor:
    on a loaded machine a sleep can overrun by a few ms, and such a callback really did run dry. The
    5 % band on each side absorbs the callback's own bookkeeping around the render (microseconds)."""
    for factor, periods, underrun in ((1.3, 3, False), (1.3, 2, True), (4.0, 3, True)):
        slow = Slow(factor)
        sink = DeviceSink(slow, backend="null", lookahead_blocks=0, periods=periods)
        with sink:
            time.sleep(0.3)
        stats = sink.stats()
        took = np.asarray(slow.took_periods[1:])  # the first block is rendered in start(), not a callback
        slack = periods - 1
        assert stats["late_callbacks"] >= stats["callbacks"] // 2, (factor, periods, stats)
        surely_dry = int(np.sum(took > slack * 1.05))
        maybe_dry = int(np.sum(took > slack * 0.95))
        assert surely_dry <= stats["underruns"] <= maybe_dry, (factor, periods, stats, took.round(2))
        if underrun:  # the nominal factor is beyond the slack: every callback ran dry
            assert stats["underruns"] >= stats["callbacks"] // 2, (factor, periods, stats)
        assert stats["underrun_frames"] == 0  # late, not missing: every frame was rendered and played


def test_callback_mode_render_error_plays_silence_and_keeps_the_device(
    capfd: pytest.CaptureFixture[str],
) -> None:
    sink = DeviceSink(Failing(), backend="null", lookahead_blocks=0)
    with sink:
        time.sleep(0.3)
        callbacks = sink.stats()["callbacks"]
        time.sleep(0.1)
        assert sink.stats()["callbacks"] > callbacks  # the device keeps running (silence)
    stats = sink.stats()
    assert "kernel exploded" in stats["render_error"] and stats["underrun_frames"] > 0
    assert capfd.readouterr().err.count("render stopped: RuntimeError: kernel exploded") == 1


def test_callback_mode_first_render_happens_in_start() -> None:
    class FailsAtOnce(Sine):
        def render(self, frames: int) -> np.ndarray:
            raise RuntimeError("no scene")

    sink = DeviceSink(FailsAtOnce(), backend="null", lookahead_blocks=0)
    with pytest.raises(RuntimeError, match="no scene"):
        sink.start()
    assert not sink.running
