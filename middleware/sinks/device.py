"""Real-time playback through a miniaudio device.

Three threads touch audio:

* the **device thread** (miniaudio's, native) calls our Python callback once per period. pyminiaudio
  runs it under the GIL, so every other Python thread can delay it. It only copies frames out of a
  ring buffer (``FrameRing``) and never renders;
* the **render thread** (ours) keeps the ring ``period + lookahead`` frames full by calling
  ``renderable.render(block)``; it wakes when the callback signals that it consumed frames;
* any **control thread** talks to the renderable through its own command queue, never to the sink.

That is *ring mode* (``lookahead_blocks >= 1``). With ``lookahead_blocks=0`` the sink runs in
*callback mode* instead, as SoLoud, Godot and most C engines do: the callback renders exactly the
frames it is asked for, so a command that reached the renderable before a callback is heard in that
callback (lowest latency: nothing is queued ahead) and there is no render thread. The price is
slack: a render that takes longer than the period it fills is a late callback, which a device with
one period of buffering would hear. The daemon uses callback mode by default (its render only
applies compact, already validated commands); ``soundscape play`` keeps the ring.

Why the ring: rendering a block takes time and competes for the GIL. The callback must return within
its period whatever happens elsewhere, so it only pops audio that was rendered ahead of it. The
lookahead is the slack the render thread has before the callback runs dry (an *underrun*: the
callback emits silence for the missing frames and counts it). See docs/audio-threading.md for the
measurements behind the defaults.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any

import miniaudio
import numpy as np

from ..errors import DeviceError, EngineError
from ..rt import guard
from ..rt.ring import FrameRing
from ..rt.wake import WakeFlag
from .base import Renderable, check_block

NULL_FALLBACK_MESSAGE = "no audio device found; using miniaudio's NULL backend (silent, real-time paced)"

# Chosen by benchmarks/gil_callback.py, see docs/audio-threading.md.
DEFAULT_PERIOD_FRAMES = 256
DEFAULT_SWITCH_INTERVAL = 0.0005
# miniaudio's NULL backend paces itself with 10 ms sleeps, which oversleep to 20 ms on a busy machine,
# and then asks for all the frames due at once. Nobody hears the NULL device, so on it the lookahead
# is raised to cover that burst instead of counting underruns that no real device would cause.
NULL_MIN_LOOKAHEAD_S = 0.02

_TIMESTAMP_SLOTS = 1 << 14  # callback timestamps kept for interval statistics (power of two)
_RENDER_SLOTS = 1 << 12  # render durations kept for render-time statistics (power of two)
_BYTES_PER_FRAME = 8  # float32 stereo

OnBlock = Callable[[int, np.ndarray], None]


class _FramePeriodDevice(miniaudio.PlaybackDevice):
    """A PlaybackDevice whose period is given in frames rather than whole milliseconds.

    pyminiaudio only exposes ``periodSizeInMilliseconds``; 128 or 256 frames at 48 kHz are not whole
    milliseconds, so this mirrors ``PlaybackDevice.__init__`` (pyminiaudio 1.6x/1.7x) and sets
    ``periodSizeInFrames`` instead.
    """

    def __init__(
        self,
        *,
        sample_rate: int,
        period_frames: int,
        periods: int,
        device_id: Any = None,
        backends: list[miniaudio.Backend] | None = None,
        app_name: str = "soundscape",
    ) -> None:
        ffi, lib = miniaudio.ffi, miniaudio.lib
        miniaudio.AbstractDevice.__init__(self)
        self.format = miniaudio.SampleFormat.FLOAT32
        self.sample_width = 4
        self.nchannels = 2
        self.sample_rate = sample_rate
        self.buffersize_msec = 0
        self._ffi_handle = ffi.new_handle(self)
        self._devconfig = lib.ma_device_config_init(lib.ma_device_type_playback)
        self._devconfig.sampleRate = sample_rate
        self._devconfig.playback.channels = 2
        self._devconfig.playback.format = self.format.value
        self._devconfig.playback.pDeviceID = device_id or ffi.NULL
        self._devconfig.periodSizeInFrames = period_frames
        self._devconfig.periods = periods
        self._devconfig.pUserData = self._ffi_handle
        self._devconfig.dataCallback = lib._internal_data_callback
        self._devconfig.stopCallback = lib._internal_stop_callback
        self.callback_generator = None
        self._context = self._make_context(backends or [], miniaudio.ThreadPriority.HIGHEST, app_name)
        result = lib.ma_device_init(self._context, ffi.addressof(self._devconfig), self._device)
        if result != lib.MA_SUCCESS:
            self._device = None
            raise miniaudio.MiniaudioError("failed to init device", result)
        self.backend = ffi.string(lib.ma_get_backend_name(self._device.pContext.backend)).decode()


@contextlib.contextmanager
def _captured_stderr_fd() -> Iterator[list[str]]:
    """Collect what C libraries write to fd 2 (ALSA prints a dozen lines when there is no card).

    The text is kept (``DeviceSink.probe_log``) instead of printed, so a machine without a sound
    card gets one clear line rather than a screen of ALSA noise.
    """
    out: list[str] = []
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield out
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield out
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            out.append(tmp.read().decode("utf-8", "replace"))


def _backend_from_name(name: str) -> miniaudio.Backend:
    try:
        return miniaudio.Backend[name.upper()]
    except KeyError:
        allowed = ", ".join(b.name.lower() for b in miniaudio.Backend)
        raise DeviceError(f"backend={name!r}: unknown; allowed: {allowed}") from None


def _find_device_id(name: str, backends: list[miniaudio.Backend] | None) -> Any:
    devices = miniaudio.Devices(backends).get_playbacks()
    for dev in devices:
        if name.lower() in dev["name"].lower():
            return dev["id"]
    names = ", ".join(repr(d["name"]) for d in devices) or "none"
    raise DeviceError(f"device_name={name!r}: no playback device matches; available: {names}")


def _percentiles_ms(values_ns: np.ndarray) -> tuple[float, float, float]:
    if values_ns.size == 0:
        return 0.0, 0.0, 0.0
    p50, p99 = np.percentile(values_ns, [50, 99])
    return float(p50) / 1e6, float(p99) / 1e6, float(values_ns.max()) / 1e6


class DeviceSink:
    """Play a ``Renderable`` through a miniaudio playback device (float32, stereo, engine rate).

    ``backend``: None tries miniaudio's default backends and, when there is no sound card, prints one
    line to stderr and falls back to the NULL backend (silent, paced in real time); ``"null"``
    forces the NULL backend; any other miniaudio backend name (``"alsa"``, ``"pulseaudio"`` ...) is
    used without fallback. ``lookahead_blocks`` (default ``config.lookahead_blocks``) is how many
    engine blocks stay queued ahead of the callback after it took its period; 0 selects callback
    mode (render inside the callback, see the module docstring). ``period_frames``
    and ``periods`` size the device buffer. ``switch_interval`` lowers ``sys.setswitchinterval``
    while the sink runs (None leaves it alone): it bounds how long any busy Python thread can keep
    the callback from getting the GIL. ``on_block(start_frame, block)`` is called on the render
    thread for every rendered block (telemetry; compare ``start_frame`` with ``frames_played``).
    In ring mode on the NULL backend the lookahead is raised to ``null_min_lookahead_s`` (see
    ``NULL_MIN_LOOKAHEAD_S``); ``stats()`` reports the lookahead actually used. ``late_callbacks``
    counts callbacks whose work took longer than the audio they delivered. In callback mode that is
    the render's time, and a callback counts as an underrun when it took longer than the
    ``periods - 1`` periods the device still had queued when it called (its buffer ran dry).
    """

    def __init__(
        self,
        renderable: Renderable,
        *,
        device_name: str | None = None,
        backend: str | None = None,
        lookahead_blocks: int | None = None,
        period_frames: int | None = None,
        periods: int = 3,
        switch_interval: float | None = DEFAULT_SWITCH_INTERVAL,
        on_block: OnBlock | None = None,
        null_min_lookahead_s: float = NULL_MIN_LOOKAHEAD_S,
    ) -> None:
        cfg = renderable.config
        self.renderable = renderable
        self.sample_rate = int(cfg.sample_rate)
        self.block = int(cfg.block)
        self.lookahead_blocks = int(cfg.lookahead_blocks if lookahead_blocks is None else lookahead_blocks)
        if not 0 <= self.lookahead_blocks <= 64:
            raise EngineError(f"lookahead_blocks={self.lookahead_blocks}: must be within 0..64")
        self.render_in_callback = self.lookahead_blocks == 0
        self.period_frames = int(DEFAULT_PERIOD_FRAMES if period_frames is None else period_frames)
        if not 16 <= self.period_frames <= 16384:
            raise DeviceError(f"period_frames={self.period_frames}: must be within 16..16384")
        if not 2 <= periods <= 16:
            raise DeviceError(f"periods={periods}: must be within 2..16")
        if switch_interval is not None and not 1e-5 <= switch_interval <= 0.1:
            raise DeviceError(f"switch_interval={switch_interval}: must be within 1e-5..0.1 s or None")
        self.periods = int(periods)
        self.device_name = device_name
        self.requested_backend = backend
        self.switch_interval = switch_interval
        self.on_block = on_block
        self.null_min_lookahead_s = float(null_min_lookahead_s)
        self._out_frames = max(8192, 4 * self.period_frames)
        self._size_ring(self.lookahead_blocks)
        self._out = np.zeros((self._out_frames, 2), dtype=np.float32)
        self._out_bytes = memoryview(self._out).cast("B")
        self._timestamps = np.zeros(_TIMESTAMP_SLOTS, dtype=np.int64)
        self._render_ns = np.zeros(_RENDER_SLOTS, dtype=np.int64)
        self._signal = WakeFlag()
        self._audio_ident: int | None = None  # the device thread, marked for the real-time guard
        self._error_reported = False
        self._device: miniaudio.PlaybackDevice | None = None
        self._thread: threading.Thread | None = None
        self._running = False
        self._saved_switch_interval: float | None = None
        self._active_switch_interval = sys.getswitchinterval()
        self.backend_name = ""
        self.fell_back_to_null = False
        self.probe_log = ""
        self.render_error: BaseException | None = None
        self._reset_counters()

    def _size_ring(self, lookahead_blocks: int) -> None:
        self.lookahead_frames = lookahead_blocks * self.block
        # The render thread refills up to this; right after a callback took its period,
        # `lookahead_frames` are still queued.
        self.target_frames = self.period_frames + self.lookahead_frames
        if self.render_in_callback:
            # The callback renders whole blocks until it has what it was asked for (at most
            # `_out_frames`); the remainder of the last block waits in the ring for the next one.
            self.target_frames = 0
            self._ring = FrameRing(self._out_frames + self.block, 2)
            return
        self._ring = FrameRing(self.target_frames + self.block, 2)

    def _reset_counters(self) -> None:
        self._callbacks = 0
        self._underruns = 0
        self._underrun_frames = 0
        self._frames_played = 0
        self._last_callback_frames = 0
        self._irregular_callbacks = 0
        self._late_callbacks = 0
        self._clock = (0, 0)
        self._blocks_rendered = 0
        self._frames_rendered = 0

    # ----------------------------------------------------------------------------------- device
    def _open(self) -> miniaudio.PlaybackDevice:
        def make(backends: list[miniaudio.Backend] | None) -> miniaudio.PlaybackDevice:
            device_id = _find_device_id(self.device_name, backends) if self.device_name else None
            return _FramePeriodDevice(
                sample_rate=self.sample_rate,
                period_frames=self.period_frames,
                periods=self.periods,
                device_id=device_id,
                backends=backends,
            )

        requested = self.requested_backend
        if requested is not None:
            backend = _backend_from_name(requested)
            try:
                return make([backend])
            except miniaudio.MiniaudioError as exc:
                raise DeviceError(f"backend={requested!r}: could not open a playback device ({exc})") from exc
        device: miniaudio.PlaybackDevice | None = None
        with _captured_stderr_fd() as log:
            try:
                device = make(None)
            except (miniaudio.MiniaudioError, DeviceError):
                device = None
        self.probe_log = "".join(log)
        if device is not None and device.backend.lower() != "null":
            return device
        if device is not None:
            device.close()
        if self.device_name:
            raise DeviceError(f"device_name={self.device_name!r}: no playback device found on any backend")
        print(NULL_FALLBACK_MESSAGE, file=sys.stderr, flush=True)
        self.fell_back_to_null = True
        try:
            return make([miniaudio.Backend.NULL])
        except miniaudio.MiniaudioError as exc:
            raise DeviceError(f"backend='null': could not open miniaudio's NULL device ({exc})") from exc

    # ---------------------------------------------------------------------------- audio thread
    def _callback(self) -> Generator[memoryview | bytes, int, None]:
        """The device callback: runs on miniaudio's device thread, under the GIL, once per period.

        Contract (keep it when editing): it only copies frames from the ring into a preallocated
        buffer and updates integer counters. It never renders, decodes, allocates anything larger
        than a small view object, logs, raises, blocks or takes a lock that can wait: it releases
        the render thread's wake-up semaphore, which never waits. Anything slower here delays the
        device and every other Python thread's GIL share. Missing frames become silence and are
        counted as an underrun; reporting happens in ``stats()`` on the caller's thread.

        In callback mode it also renders, and only what this callback needs (``_render_for_callback``).
        The first callback marks the device thread for the real-time guard (``rt/guard.py``).
        """
        ring = self._ring
        out = self._out
        out_bytes = self._out_bytes
        limit = self._out_frames
        stamps = self._timestamps
        mask = _TIMESTAMP_SLOTS - 1
        signal = self._signal
        clock = time.perf_counter_ns
        period = self.period_frames
        render_here = self.render_in_callback
        ns_per_frame = 1e9 / self.sample_rate
        slack_periods = self.periods - 1  # queued in the device while it waits for this callback
        frames = yield b""
        self._audio_ident = threading.get_ident()
        guard.enter_audio_thread()
        while True:
            now = clock()
            n = self._callbacks
            if frames > limit:  # the device asked for more than it said it would: play what fits
                self._underrun_frames += frames - limit
                frames = limit
            if render_here:
                self._render_for_callback(frames)
            got = ring.read_into(out, frames)
            if got < frames:
                self._underruns += 1
                self._underrun_frames += frames - got
            if frames != period:
                self._irregular_callbacks += 1
            played = self._frames_played + frames
            self._frames_played = played
            self._last_callback_frames = frames
            # Stamped when the frames leave (the callback returns them right after): in callback
            # mode a command applied during this callback's render is in these very frames.
            done = clock()
            stamps[n & mask] = done
            self._clock = (played, done)
            self._callbacks = n + 1
            took = done - now
            if took > frames * ns_per_frame:  # took longer than the audio it delivered
                self._late_callbacks += 1
                if render_here and took > frames * slack_periods * ns_per_frame:
                    self._underruns += 1  # longer than the device's queued periods: it ran dry
            signal.raise_()
            frames = yield out_bytes[: frames * _BYTES_PER_FRAME]

    # ---------------------------------------------------------------------------- render thread
    def _render_one(self) -> None:
        t0 = time.perf_counter_ns()
        block = check_block(self.renderable.render(self.block), self.block)
        self._render_ns[self._blocks_rendered & (_RENDER_SLOTS - 1)] = time.perf_counter_ns() - t0
        start = self._frames_rendered
        written = self._ring.write(block)
        if written != self.block:  # cannot happen: capacity = target + one block
            raise EngineError(f"ring overflow: wrote {written} of {self.block} frames")
        self._blocks_rendered += 1
        self._frames_rendered = start + self.block
        if self.on_block is not None:
            self.on_block(start, block)

    def _render_for_callback(self, frames: int) -> None:
        """Callback mode: render whole blocks until the ring holds ``frames`` (the device thread).

        A failing render must not kill the device: the error is kept for ``stats()``, which reports
        it once from its caller's thread (never printed here, on the device thread), and from then on
        the callback plays silence (counted as underruns), like ring mode.
        """
        if self.render_error is not None:
            return
        try:
            while self._ring.fill < frames:
                self._render_one()
        except Exception as exc:
            self.render_error = exc

    def _fill(self) -> None:
        while self._running and self._ring.fill < self.target_frames:
            self._render_one()

    def _render_loop(self) -> None:
        # Wait at most one period: a missed wake-up costs at most one period of lookahead.
        timeout = max(0.001, self.period_frames / self.sample_rate)
        guard.enter_audio_thread()
        try:
            while self._running:
                self._fill()
                self._signal.wait(timeout)
        except Exception as exc:  # keep the device alive (silence + underruns) and report
            self.render_error = exc
        finally:
            guard.leave_audio_thread()
        self._report_render_error()  # unmarked now: this thread is done with audio

    def _report_render_error(self) -> None:
        """Say once on stderr that rendering stopped (never from the device thread: callback mode
        reports from ``stats()`` or ``stop()``, on the caller's thread)."""
        exc = self.render_error
        if exc is None or self._error_reported:
            return
        self._error_reported = True
        where = "render" if self.render_in_callback else "render thread"
        print(f"{where} stopped: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)

    # --------------------------------------------------------------------------------- control
    def start(self) -> DeviceSink:
        """Open the device, pre-fill the ring, start the render thread, then the device."""
        if self._running:
            raise DeviceError("start(): the sink is already running")
        self._reset_counters()
        self.render_error = None
        self._error_reported = False
        guard.install_from_env()  # SOUNDSCAPE_RT_GUARD: on before the audio thread starts
        device = self._open()
        self._device = device
        self.backend_name = device.backend
        blocks = self.lookahead_blocks
        if self.backend_name.lower() == "null" and not self.render_in_callback:
            blocks = max(blocks, -(-round(self.null_min_lookahead_s * self.sample_rate) // self.block))
        self._size_ring(blocks)
        if self.switch_interval is not None and sys.getswitchinterval() > self.switch_interval:
            self._saved_switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(self.switch_interval)
        self._active_switch_interval = sys.getswitchinterval()
        self._running = True
        try:
            if self.render_in_callback:
                # The first render pays one-off costs (meters created, cached kernels loaded, first
                # scene tick): here, off the device thread. The first callback plays this block.
                self._render_one()
            else:
                self._fill()
                self._thread = threading.Thread(
                    target=self._render_loop, name="soundscape-render", daemon=True
                )
                self._thread.start()
            gen = self._callback()
            next(gen)
            device.start(gen)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the device first (no more callbacks), then join the render thread, then close."""
        self._running = False
        device, self._device = self._device, None
        if device is not None:
            with contextlib.suppress(miniaudio.MiniaudioError):
                device.stop()
        self._signal.raise_()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5.0)
            if thread.is_alive():
                raise DeviceError("stop(): the render thread did not finish within 5 s (render() blocked?)")
        if device is not None:
            device.close()
        if self._audio_ident is not None:  # the device thread is gone; its ident may be reused
            guard.leave_audio_thread(self._audio_ident)
            self._audio_ident = None
        self._report_render_error()
        if self._saved_switch_interval is not None:
            if sys.getswitchinterval() == self.switch_interval:
                sys.setswitchinterval(self._saved_switch_interval)
            self._saved_switch_interval = None

    def __enter__(self) -> DeviceSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._running

    # ------------------------------------------------------------------------------- telemetry
    @property
    def frames_played(self) -> int:
        """Frames handed to the device so far (the device adds its own buffer latency after that)."""
        return self._frames_played

    def clock(self) -> tuple[int, int]:
        """``(frames_played, perf_counter_ns)`` of the latest callback, read atomically.

        Frame ``f`` left the callback at about ``t_ns + (f - frames_played) / rate`` seconds, which
        is how event-to-sound latency is measured (add ``device_latency_frames`` for the device).
        """
        return self._clock

    def frame_left_at(self, frame: int) -> int | None:
        """``perf_counter_ns`` of the callback that handed engine frame ``frame`` to the device.

        None if that frame has not been played yet or is older than the timestamp window (16384
        callbacks). Event-to-sound latency = this minus the event's arrival time (plus the device's
        own ``device_latency_frames`` on real hardware). Relies on miniaudio's fixed-size callbacks;
        returns None if a callback ever had another size.
        """
        period = self.period_frames
        k = frame // period
        n = self._callbacks
        if frame < 0 or k >= n or k < n - _TIMESTAMP_SLOTS or self._irregular_callbacks:
            return None
        stamp = int(self._timestamps[k & (_TIMESTAMP_SLOTS - 1)])
        return None if k < self._callbacks - _TIMESTAMP_SLOTS else stamp  # slot reused meanwhile

    @property
    def device_latency_frames(self) -> int:
        """Nominal frames the device buffers after the callback (period x periods)."""
        return self.period_frames * self.periods

    def callback_timestamps(self) -> np.ndarray:
        """``perf_counter_ns`` of the most recent callbacks (up to 16384), oldest first (a copy)."""
        n = self._callbacks
        count = min(n, _TIMESTAMP_SLOTS)
        return self._timestamps[np.arange(n - count, n) & (_TIMESTAMP_SLOTS - 1)]

    def stats(self) -> dict[str, Any]:
        """Counters and timing of the callback and the render thread (safe from any thread but the
        audio one: it reports a render error once on stderr)."""
        self._report_render_error()
        n = self._callbacks
        intervals = np.diff(self.callback_timestamps())
        i50, i99, imax = _percentiles_ms(intervals)
        blocks = self._blocks_rendered
        render = self._render_ns[: min(blocks, _RENDER_SLOTS)]
        r50, r99, rmax = _percentiles_ms(render)
        return {
            "backend": self.backend_name,
            "fell_back_to_null": self.fell_back_to_null,
            "sample_rate": self.sample_rate,
            "period_frames": self.period_frames,
            "periods": self.periods,
            "callback_frames": self._last_callback_frames,
            "irregular_callbacks": self._irregular_callbacks,
            "late_callbacks": self._late_callbacks,
            "render_mode": "callback" if self.render_in_callback else "ring",
            "lookahead_blocks": self.lookahead_frames // self.block,
            "lookahead_frames": self.lookahead_frames,
            "ring_target_frames": self.target_frames,
            "ring_fill": self._ring.fill,
            "switch_interval_s": self._active_switch_interval,
            "callbacks": n,
            "underruns": self._underruns,
            "underrun_frames": self._underrun_frames,
            "frames_played": self._frames_played,
            "callback_interval_p50_ms": i50,
            "callback_interval_p99_ms": i99,
            "callback_interval_max_ms": imax,
            "blocks_rendered": blocks,
            "render_ms_p50": r50,
            "render_ms_p99": r99,
            "render_ms_max": rmax,
            "render_error": None if self.render_error is None else repr(self.render_error),
        }
