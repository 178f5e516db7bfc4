"""The engine: voices, buses and the master limiter, rendered block by block.

API calls (play, set_voice, stop, set_listener, bus changes) validate their arguments in the calling
thread, raising :class:`EngineError` at once, then append a command (a frozen record of
``engine/commands.py``) to the queue of ``rt/scheduler.py``. ``render`` drains it at the start of
each block, in the order commands were posted, and applies each with the method ``_APPLY`` names for
its class, so a control thread and a render thread never share a lock (design rule 5: control
reaches the renderer through one queue of timestamped commands).
Commands may carry an absolute frame: voice starts and stops land on that exact frame; other
changes apply at the start of the block containing it.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import numpy as np

from ..checks import finite, vec3
from ..config import EngineConfig
from ..errors import EngineError
from ..rt.scheduler import CommandScheduler
from .bank import SampleBank
from .buses import BusGraph, db_to_gain
from .commands import (
    UNCHANGED,
    AddBus,
    AttachStream,
    EnableMeters,
    PlayVoice,
    SetBus,
    SetBusEffects,
    SetDucks,
    SetListener,
    SetLoudnessTarget,
    SetMasterEffect,
    SetVoice,
    SetVoices,
    StopVoice,
    Unchanged,
)
from .dsp.pan import make_rolloff
from .effects import EffectSpec
from .effects import warm_up as warm_up_effects
from .kernels import commit_ramps, render_voices, zero_state
from .specs import (
    BUS_BOUNDS,
    LOUDNESS_TARGET,
    MAX_PITCH_RATIO,
    BusSpec,
    DuckSpec,
    ReverbSpec,
    check_chain,
)
from .targets import (
    MAX_TABLE_POINTS,
    ROLLOFF_CUSTOM,
    apply_params,
    compute_targets,
    pack_field,
    rank_voices,
    settle_virtual,
)
from .voices import (
    BIN,
    BUS,
    CH,
    DIRTY,
    DL0,
    DL1,
    DR0,
    DR1,
    ENDED,
    ENV,
    ENVSTEP,
    FREE,
    GL0,
    GL1,
    GR0,
    GR1,
    HANDLE,
    HPA0,
    HPA1,
    HPM0,
    HPM1,
    LE,
    LEN,
    LOOP,
    LPA0,
    LPA1,
    LS,
    MAX_SENDS,
    OFS,
    P_DOPPLER,
    P_GAIN,
    P_HP,
    P_LP,
    P_MAXD,
    P_MIND,
    P_PAN,
    P_PITCH,
    P_ROLLOFF,
    P_SENDG,
    P_TABLE,
    P_VX,
    P_VY,
    P_VZ,
    P_X,
    P_Y,
    P_Z,
    PLAYING,
    POS,
    PRIO,
    RATE0,
    RATE1,
    RELEASE,
    SEND0,
    SMP,
    SND0,
    SPATIAL,
    ST,
    START,
    STOP,
    VIRTUAL,
    VoiceTables,
)

_MAX_PITCH = MAX_PITCH_RATIO
_NO_SLOTS = np.zeros(0, dtype=np.int64)
_tuple_new = tuple.__new__
# A real voice ranks as if this much louder (1 dB) when the engine picks which voices stay real, so two
# voices of near-equal audibility do not trade places (each swap is a one-block fade) every block.
KEEP_REAL_BONUS = 10.0 ** (1.0 / 20.0)
# set_voices fields: name -> the P columns it writes (a position or velocity is one (n, 3) array).
BULK_FIELDS: dict[str, tuple[int, ...]] = {
    "gain_db": (P_GAIN,),
    "pitch": (P_PITCH,),
    "pan": (P_PAN,),
    "lowpass_hz": (P_LP,),
    "highpass_hz": (P_HP,),
    "position": (P_X, P_Y, P_Z),
    "velocity": (P_VX, P_VY, P_VZ),
}
STREAM_BLOCKS = 4  # a stream's bank region holds this many blocks (it is rewritten every block)


class StreamSource(Protocol):
    """Anything rendered block by block: ``render(frames) -> float32 (frames,) | (frames, channels)``."""

    def render(self, frames: int) -> np.ndarray: ...


@dataclass
class StreamState:
    source: Any
    region: int
    channels: int
    done: bool = False


# the project's one number and vector checks (middleware/checks.py), raising the engine's error
_finite = partial(finite, error=EngineError)
_vec3 = partial(vec3, error=EngineError)


def _pitch(value: Any) -> float:
    p = _finite("pitch", value)
    if not 0.0 < p <= _MAX_PITCH:
        raise EngineError(
            f"pitch={p}: must be > 0 and <= {_MAX_PITCH} (a playback-rate factor; 1 = original)"
        )
    return p


def _cutoff(name: str, value: Any, sr: int) -> float:
    if value is None:
        return 0.0
    f = _finite(name, value)
    if not 0.0 < f < sr / 2:
        raise EngineError(f"{name}={f}: must be within (0, {sr / 2}) Hz, or None for no filter")
    return f


_WARM = False


def warm_up_kernels() -> None:
    """Run every compiled code path once per process (steady, ramped and high-pass voice groups,
    stereo, binaural, sends, releases, virtual voices, streams, buses), so numba loads them from
    its cache now rather than on the render thread the first time a game changes something
    (a first ramp used to cost ~50 ms there: several underruns)."""
    global _WARM
    if _WARM:
        return
    _WARM = True
    eng = Engine(EngineConfig(block=64, max_voices=8, voice_limit=2), _warm=False)
    eng.add_bus(BusSpec("w", reverb=ReverbSpec(), lowpass_hz=2000.0, highpass_hz=50.0))
    eng.add_duck(DuckSpec(source="w", target="master"))
    eng.bank.add("m", np.zeros(4096, dtype=np.float32))
    eng.bank.add("s", np.zeros((4096, 2), dtype=np.float32))
    a = eng.play("m", loop=True, lowpass_hz=1000.0, sends={"w": -6.0})
    b = eng.play("m", loop=True, highpass_hz=200.0, bus="w")
    c = eng.play("s", loop=True, position=(1.0, 0.0, -1.0), binaural=True, doppler=1.0)
    eng.play("m", fade_in=0.01)
    d = eng.play("m", loop=True)  # a plain voice: the grouped paths
    eng.play_stream(_Silence())
    eng.render(256)
    eng.set_voices([c, d], gain_db=-1.0, position=np.array([[1.0, 0.0, -2.0], [0.0, 0.0, -1.0]]))
    eng.render(256)
    eng.set_voices(np.array([d]), pitch=np.array([1.2]))
    eng.set_voice(a, gain_db=-6.0, pitch=1.5)
    eng.set_voice(b, gain_db=-3.0)
    eng.stop(c, release=0.01)
    eng.set_bus("w", gain_db=-3.0, lowpass_hz=3000.0)
    eng.render(1024)
    warm_up_effects()


class _Silence:
    channels = 2

    def render(self, frames: int) -> np.ndarray:
        return np.zeros((frames, 2), dtype=np.float32)


class Engine:
    """A block-based mixing engine (see module docstring for the threading contract)."""

    def __init__(self, config: EngineConfig | None = None, _warm: bool = True) -> None:
        self.config = config or EngineConfig()
        cfg = self.config
        self.sample_rate = cfg.sample_rate
        self.block = cfg.block
        self.bank = SampleBank(cfg.sample_rate)
        self.voices = VoiceTables(cfg.max_voices)
        self.buses = BusGraph(cfg.sample_rate, cfg.block)
        self.frame = 0
        self.listener = np.array([0, 0, 0, 0, 0, -1, 0, 1, 0, 0, 0, 0], dtype=np.float64)
        self.rolloff_tables = np.full((1, MAX_TABLE_POINTS, 2), np.nan, dtype=np.float64)
        self._rolloff_keys: dict[tuple, int] = {}
        self._commands = CommandScheduler()  # from the API's thread to the render loop, each on its frame
        self._handles = itertools.count(1)
        self._slot_of: dict[int, int] = {}
        self._handle_index: tuple[np.ndarray, np.ndarray] | None = None  # see _index_handles
        self._bulk_limits = self._bulk_ranges()
        self._free_slots = list(range(cfg.max_voices - 1, -1, -1))
        self._bus_names = {"master"}
        self._scratch = np.zeros((cfg.block, 2), dtype=np.float32)
        self._lanes = np.zeros(2 * cfg.max_voices + 16, dtype=np.int64)
        self._mark = np.zeros(cfg.max_voices, dtype=np.uint8)
        self._rank_work = np.zeros(cfg.max_voices, dtype=np.int64)  # scratch of rank_voices
        self._rank_aud = np.zeros(cfg.max_voices, dtype=np.float64)
        self._going = np.zeros(cfg.max_voices, dtype=np.int64)
        self._out = np.zeros((cfg.block, 2), dtype=np.float32)
        self._fresh: list[int] = []
        self._listener_moved = True
        self._meter_all = False
        self._meter_deferred = False
        self._n_virtual = 0
        self._streams: dict[int, StreamState] = {}  # slot -> stream feeding that voice
        self._stream_pool: dict[int, list[int]] = {1: [], 2: []}  # channels -> free bank regions
        self._stream_regions = 0
        self.events: deque = deque(maxlen=4096)  # (kind, handle, frame) for telemetry: started/ended
        self._render_times = np.zeros(1024, dtype=np.float64)
        self._render_count = 0
        self.counters = {"stale_handles": 0, "voices_dropped": 0, "voices_started": 0, "voices_ended": 0}
        if _warm:
            warm_up_kernels()

    # ------------------------------------------------------------------ buses
    def has_bus(self, name: str) -> bool:
        """Whether a bus of this name exists (added, even if its first block is still to come)."""
        return name in self._bus_names

    def add_bus(self, spec: BusSpec) -> None:
        """Add a bus under an existing parent (takes effect at the next block)."""
        if spec.name in self._bus_names:
            raise EngineError(f"bus '{spec.name}' already exists")
        if spec.parent is None or spec.parent not in self._bus_names:
            self._unknown_bus(spec.parent)
        self._bus_names.add(spec.name)
        self._post(AddBus(spec, self.buses.stage_effects(spec.name, spec.effects)))

    def set_bus(
        self,
        name: str,
        *,
        gain_db: float | Unchanged | None = UNCHANGED,
        lowpass_hz: float | Unchanged | None = UNCHANGED,
        highpass_hz: float | Unchanged | None = UNCHANGED,
        muted: bool | Unchanged | None = UNCHANGED,
        reverb: ReverbSpec | Unchanged | None = UNCHANGED,
        effects: tuple[EffectSpec, ...] | Unchanged | None = UNCHANGED,
    ) -> None:
        """Change a bus's gain, filters, mute, reverb or effect chain; ramps over one block (an
        effect's parameters over their own ramp times; a chain of another shape is swapped).

        A field left out (``UNCHANGED``) keeps its value. A cutoff of None removes that filter;
        ``gain_db``, ``muted``, ``reverb`` and ``effects`` have no "off", so None leaves them too
        (a scene bus without reverb passes its None along)."""
        if name not in self._bus_names:
            self._unknown_bus(name)
        if gain_db is None:
            gain_db = UNCHANGED
        elif gain_db is not UNCHANGED:
            gain_db = _finite("gain_db", gain_db)
            BUS_BOUNDS["gain_db"].check(f"bus '{name}'", "gain_db", gain_db)
        if lowpass_hz is not UNCHANGED and lowpass_hz is not None:
            lowpass_hz = _cutoff("lowpass_hz", lowpass_hz, self.sample_rate)
        if highpass_hz is not UNCHANGED and highpass_hz is not None:
            highpass_hz = _cutoff("highpass_hz", highpass_hz, self.sample_rate)
        muted = UNCHANGED if muted is None or muted is UNCHANGED else bool(muted)
        if reverb is None:
            reverb = UNCHANGED
        self._post(SetBus(name, gain_db, lowpass_hz, highpass_hz, muted, reverb))
        if effects is not None and effects is not UNCHANGED:
            effects = tuple(effects)
            check_chain(f"bus '{name}'", effects)
            self._post(SetBusEffects(name, effects, self.buses.stage_effects(name, effects)))

    def set_master_effect(self, slot: str, instance: Any | None) -> None:
        """Host ``instance`` in master's slot ``slot``, after the master fader and automatic gain,
        before the limiter (e.g. hearing compensation); None empties the slot.

        ``instance`` has the effect lifecycle (``prepare(sample_rate, block)``, ``process(block)`` in
        place on float32 (frames, 2), ``reset()``); it is prepared here, off the audio path.
        """
        if instance is not None:
            for m in ("prepare", "process", "reset"):
                if not callable(getattr(instance, m, None)):
                    raise EngineError(f"master effect {slot!r}: {type(instance).__name__} has no {m}()")
            instance.prepare(self.sample_rate, self.block)
        self._post(SetMasterEffect(str(slot), instance))

    def enable_meters(self, buses: list[str] | None = None, deferred: bool = False) -> None:
        """Meter loudness on these buses (None: every bus, including ones added later by name).

        ``deferred=True``: the render path only queues the audio; one other thread must call
        ``drain_meters()`` regularly and read ``loudness()`` (the daemon's main thread does).
        """
        for name in buses or []:
            if name not in self._bus_names:
                self._unknown_bus(name)
        self._post(EnableMeters(None if buses is None else tuple(buses), bool(deferred)))

    def drain_meters(self) -> None:
        """Meter what deferred meters queued since the last call (see ``enable_meters``)."""
        self.buses.drain_meters()

    def set_loudness_target(self, lufs: float | None) -> None:
        """Keep the master's loudness at ``lufs`` with a slow automatic gain (None: off)."""
        if lufs is not None:
            lufs = _finite("loudness target", lufs)
            LOUDNESS_TARGET.check("master", "loudness target", lufs)
        self._post(SetLoudnessTarget(lufs))

    def loudness(self) -> dict[str, dict[str, float]]:
        """Per-bus BS.1770 readings: momentary/short-term/integrated LUFS; master also true peak."""
        return self.buses.loudness()

    def add_duck(self, spec: DuckSpec, owner: str = "scene") -> None:
        """Add one ducking rule to ``owner``'s rules (see ``set_ducks``)."""
        self.set_ducks(owner, (*self.buses.ducking.staged(str(owner)), spec))

    def set_ducks(self, owner: str, specs: Sequence[DuckSpec]) -> None:
        """Replace every ducking rule of ``owner`` (e.g. ``"scene"``, ``"player"``) with ``specs``;
        an empty sequence removes them. Takes effect at the next block; ducked buses glide to the
        new depth with the rules' attack/release (a removed rule releases), so a live change never
        steps. Owners' depths on one bus add up; within an owner the deepest rule wins. Each rule
        is a side-chained compressor (``engine/ducking.py``), prepared here, off the audio path."""
        specs = tuple(specs)
        for spec in specs:
            self._check_duck(spec)
        owner = str(owner)
        self._post(SetDucks(owner, specs, self.buses.ducking.stage(owner, specs)))

    def _check_duck(self, spec: DuckSpec) -> None:
        if not isinstance(spec, DuckSpec):
            raise EngineError(f"duck: {spec!r} is not a DuckSpec")
        for name in (spec.source, spec.target):
            if name not in self._bus_names:
                self._unknown_bus(name)

    def _unknown_bus(self, name: Any) -> None:
        from ..hints import did_you_mean

        raise EngineError(f"unknown bus '{name}' ({did_you_mean(name, self._bus_names, 'known buses')})")

    # ------------------------------------------------------------------ voices
    def play(
        self,
        sample: str,
        *,
        bus: str = "master",
        gain_db: float = 0.0,
        pitch: float = 1.0,
        pan: float = 0.0,
        loop: bool = False,
        offset: float = 0.0,
        start_frame: int | None = None,
        fade_in: float = 0.0,
        lowpass_hz: float | None = None,
        highpass_hz: float | None = None,
        sends: Mapping[str, float] | None = None,
        priority: int = 0,
        position: Sequence[float] | None = None,
        velocity: Sequence[float] = (0.0, 0.0, 0.0),
        min_distance: float = 1.0,
        max_distance: float = 50.0,
        rolloff: str | Sequence[Sequence[float]] = "inverse",
        doppler: float = 0.0,
        binaural: bool = False,
    ) -> int:
        """Start a voice; returns its handle at once (the voice starts at ``start_frame`` exactly)."""
        smp = self.bank.index(sample)
        if bus not in self._bus_names:
            self._unknown_bus(bus)
        g = _finite("gain_db", gain_db)
        if g > 24.0:
            raise EngineError(f"gain_db={g}: must be <= 24 dB")
        pan = _finite("pan", pan)
        if not -1.0 <= pan <= 1.0:
            raise EngineError(f"pan={pan}: must be within -1 (left) .. 1 (right)")
        offset = _finite("offset", offset)
        if offset < 0:
            raise EngineError(f"offset={offset}: must be >= 0 seconds")
        fade_in = _finite("fade_in", fade_in)
        if fade_in < 0:
            raise EngineError(f"fade_in={fade_in}: must be >= 0 seconds")
        if start_frame is not None and (not isinstance(start_frame, (int, np.integer)) or start_frame < 0):
            raise EngineError(f"start_frame={start_frame!r}: must be a non-negative integer frame")
        send_list = []
        for name, db in (sends or {}).items():
            if name not in self._bus_names:
                self._unknown_bus(name)
            send_list.append((name, db_to_gain(_finite(f"sends[{name}]", db))))
        if len(send_list) > MAX_SENDS:
            raise EngineError(f"sends: at most {MAX_SENDS} per voice, got {len(send_list)}")
        spatial = position is not None
        pos = _vec3("position", position) if spatial else (0.0, 0.0, 0.0)
        vel = _vec3("velocity", velocity)
        mind = _finite("min_distance", min_distance)
        maxd = _finite("max_distance", max_distance)
        roll_mode, roll_table = self._rolloff(rolloff, mind, maxd)
        dop = _finite("doppler", doppler)
        if not 0.0 <= dop <= 10.0:
            raise EngineError(f"doppler={dop}: must be within 0 (off) .. 10")
        pitch = _pitch(pitch)
        lp = _cutoff("lowpass_hz", lowpass_hz, self.sample_rate)
        hp = _cutoff("highpass_hz", highpass_hz, self.sample_rate)
        handle = next(self._handles)
        # PlayVoice's fields in their order, built like a tuple: its keyword constructor costs 1.2 us
        # more per voice (tests/test_engine_commands.py reads a play's record back by name).
        cmd = _tuple_new(
            PlayVoice,
            (
                handle,
                smp,  # sample
                bus,
                db_to_gain(g),  # gain
                pitch,
                pan,
                bool(loop),
                offset,
                fade_in,
                lp,  # lowpass_hz
                hp,  # highpass_hz
                tuple(send_list),  # sends
                int(priority),
                spatial,
                pos,  # position
                vel,  # velocity
                mind,  # min_distance
                maxd,  # max_distance
                roll_mode,  # rolloff_mode
                roll_table,  # rolloff_table
                dop,  # doppler
                bool(binaural) and spatial,  # binaural
            ),
        )
        self._post(cmd, start_frame)
        return handle

    def play_stream(self, source: StreamSource, **kwargs: Any) -> int:
        """Play a source rendered block by block (generator, morph texture) like a sample voice.

        ``source.render(frames)`` returns float32 ``(frames,)`` or ``(frames, channels)`` and is called
        on the render thread right before each block, for exactly the frames the voice plays; a
        ``finished`` attribute that turns true ends the voice. Takes ``play``'s keyword arguments
        except ``loop``, ``offset`` and ``pitch`` (a stream's pitch is its own business).
        """
        if not callable(getattr(source, "render", None)):
            raise EngineError("play_stream: source needs a render(frames) method")
        ch = int(getattr(source, "channels", 2))
        if ch not in (1, 2):
            raise EngineError(f"play_stream: source channels={ch}: must be 1 or 2")
        for bad in ("loop", "offset", "pitch", "doppler"):
            if bad in kwargs:
                raise EngineError(
                    f"play_stream: '{bad}' does not apply to a stream (it is rendered at rate 1)"
                )
        region = self._stream_region(ch)
        handle = self.play(self.bank.info(region).name, loop=True, **kwargs)
        # Same frame as the play command, so it is applied right after the voice exists.
        self._post(AttachStream(handle, StreamState(source, region, ch)), kwargs.get("start_frame"))
        return handle

    def reserve_streams(self, count: int, channels: int = 2) -> None:
        """Make ``count`` stream regions ahead of time (adding one to the bank copies the bank, which
        must not happen on the render thread when a generator or morph layer starts)."""
        if channels not in (1, 2):
            raise EngineError(f"reserve_streams: channels={channels}: must be 1 or 2")
        pool = self._stream_pool[channels]
        while len(pool) < count:
            pool.append(self._new_stream_region(channels))

    def _stream_region(self, ch: int) -> int:
        """A bank region (a looping 'sample' the kernel reads) that a stream writes into."""
        pool = self._stream_pool[ch]
        if pool:
            return pool.pop()
        return self._new_stream_region(ch)

    def _new_stream_region(self, ch: int) -> int:
        self._stream_regions += 1
        frames = STREAM_BLOCKS * self.block
        name = f"__stream{self._stream_regions}"
        return self.bank.add(name, np.zeros((frames, ch), dtype=np.float32), source="stream")

    def set_voice(self, handle: int, *, at_frame: int | None = None, **changes: Any) -> None:
        """Change a playing voice: gain_db, pitch, pan, lowpass_hz, highpass_hz, position, velocity, sends."""
        gain = pitch = pan = lp = hp = pos = vel = sends = UNCHANGED
        for key, value in changes.items():
            if key == "gain_db":
                g = _finite(key, value)
                if g > 24.0:
                    raise EngineError(f"gain_db={g}: must be <= 24 dB")
                gain = db_to_gain(g)
            elif key == "pitch":
                pitch = _pitch(value)
            elif key == "pan":
                pan = _finite(key, value)
                if not -1.0 <= pan <= 1.0:
                    raise EngineError(f"pan={pan}: must be within -1 .. 1")
            elif key == "lowpass_hz":
                lp = _cutoff(key, value, self.sample_rate)
            elif key == "highpass_hz":
                hp = _cutoff(key, value, self.sample_rate)
            elif key == "position":
                pos = _vec3(key, value)
            elif key == "velocity":
                vel = _vec3(key, value)
            elif key == "sends":
                sends = {n: db_to_gain(_finite(f"sends[{n}]", v)) for n, v in value.items()}
            else:
                raise EngineError(
                    f"set_voice: unknown field '{key}'; allowed: gain_db, pitch, pan, lowpass_hz,"
                    " highpass_hz, position, velocity, sends"
                )
        # SetVoice's fields in their order, built like a tuple (its keyword constructor costs more).
        cmd = _tuple_new(SetVoice, (int(handle), gain, pitch, pan, lp, hp, pos, vel, sends))
        self._post(cmd, at_frame)

    def set_voices(
        self,
        handles: Any,
        *,
        at_frame: int | None = None,
        **fields: Any,
    ) -> None:
        """Change many voices in one command: the bulk form of :meth:`set_voice` for moving sources.

        ``handles`` is a 1-D sequence of n voice handles; each field is an array with one entry per
        handle (or one value for all): ``gain_db``, ``pitch``, ``pan``, ``lowpass_hz`` and
        ``highpass_hz`` of shape (n,) (a cutoff of 0 means no filter), ``position`` and ``velocity``
        of shape (n, 3). Validated here at once, copied, and applied at the start of the block
        containing ``at_frame`` in one compiled step; every voice then ramps over that block exactly
        as after a ``set_voice`` call with the same values (the same parameters feed the same
        targets). Stale handles (voices that ended) are skipped and counted like ``set_voice``'s.
        """
        raw = np.asarray(handles)
        if raw.ndim != 1 or (raw.size and raw.dtype.kind not in "iu"):
            raise EngineError(
                f"set_voices: handles must be a 1-D sequence of integer handles, got {handles!r:.80}"
            )
        h = raw.astype(np.int64)  # a copy: the caller may reuse its buffer
        n = h.shape[0]
        named = []
        for name, value in fields.items():
            if name not in BULK_FIELDS:
                raise EngineError(
                    f"set_voices: unknown field '{name}'; allowed: {', '.join(BULK_FIELDS)}"
                    " (sends: use set_voice)"
                )
            if value is not None:
                named.append((name, value))
        if not named or n == 0:
            return
        cols = [c for name, _ in named for c in BULK_FIELDS[name]]
        values = np.empty((n, len(cols)), dtype=np.float64)  # the command's own copy
        col = 0
        for name, value in named:
            a = self._bulk_array(name, value, n)
            limits = self._bulk_limits[name]
            bad = pack_field(values, col, a, *limits[:4], name == "gain_db")
            if bad >= 0:
                self._bulk_error(name, a, bad, limits)
            col += a.shape[1]
        self._post(SetVoices(h, np.array(cols, dtype=np.int64), values), at_frame)

    @staticmethod
    def _bulk_array(name: str, value: Any, n: int) -> np.ndarray:
        """A set_voices field as an (n, width) float64 array (a scalar or a 3-vector broadcast)."""
        width = len(BULK_FIELDS[name])
        shape = (n, width) if width > 1 else (n,)
        try:
            a = np.asarray(value, dtype=np.float64)
            if a.shape != shape:
                a = np.broadcast_to(a, shape)
        except (TypeError, ValueError):
            want = f"({n}, 3)" if width > 1 else f"({n},)"
            raise EngineError(
                f"set_voices: {name}: must be a number or an array of shape {want} (one per handle),"
                f" got {value!r:.80}"
            ) from None
        a = a.reshape(n, width)
        if not (a.flags.c_contiguous and a.flags.writeable):
            # Broadcast scalars, strided, transposed or read-only (np.frombuffer) input: one copy, so
            # pack_field only ever sees one array type (each other layout would be a compile).
            a = np.array(a, dtype=np.float64, order="C")
        return a

    def _bulk_ranges(self) -> dict[str, tuple[float, float, bool, bool, str]]:
        """Per set_voices field: (lowest, highest, lowest excluded, highest excluded, rule), the
        ranges set_voice enforces per call (``_pitch``, ``_cutoff``, gain <= 24 dB, pan -1..1).
        Positions and velocities only need to be finite (checked for every field)."""
        nyq = self.sample_rate / 2
        cutoff = (0.0, nyq, False, True, f"within (0, {nyq}) Hz, or 0 for no filter")
        anything = (-math.inf, math.inf, False, False, "finite")
        return {
            "gain_db": (-math.inf, 24.0, False, False, "<= 24 dB"),
            "pitch": (0.0, _MAX_PITCH, True, False, f"> 0 and <= {_MAX_PITCH} (a playback-rate factor)"),
            "pan": (-1.0, 1.0, False, False, "within -1 .. 1"),
            "lowpass_hz": cutoff,
            "highpass_hz": cutoff,
            "position": anything,
            "velocity": anything,
        }

    @staticmethod
    def _bulk_error(name: str, a: np.ndarray, i: int, limits: tuple) -> None:
        """Raise for entry ``i`` of a set_voices field, the first bad one (found by pack_field)."""
        shown = a[i].tolist() if a.shape[1] > 1 else float(a[i, 0])
        why = limits[4] if np.isfinite(a[i]).all() else "finite (not NaN or infinite)"
        raise EngineError(f"set_voices: {name}[{i}]={shown}: must be {why}")

    def stop(self, handle: int, release: float = 0.05, at_frame: int | None = None) -> None:
        """Stop a voice at ``at_frame`` (default: next block) with a linear release in seconds."""
        rel = _finite("release", release)
        if rel < 0:
            raise EngineError(f"release={rel}: must be >= 0 seconds")
        self._post(StopVoice(int(handle), rel), at_frame)

    def set_listener(
        self,
        position: Sequence[float] = (0.0, 0.0, 0.0),
        forward: Sequence[float] = (0.0, 0.0, -1.0),
        up: Sequence[float] = (0.0, 1.0, 0.0),
        velocity: Sequence[float] = (0.0, 0.0, 0.0),
        at_frame: int | None = None,
    ) -> None:
        """Place the listener (OpenGL convention: -Z forward, +Y up). Forward and up are orthonormalised."""
        p = np.array(_vec3("listener position", position))
        f = np.array(_vec3("listener forward", forward))
        u = np.array(_vec3("listener up", up))
        v = np.array(_vec3("listener velocity", velocity))
        fn = np.linalg.norm(f)
        if fn < 1e-9:
            raise EngineError("listener forward: must not be the zero vector")
        f = f / fn
        u = u - f * float(np.dot(u, f))
        un = np.linalg.norm(u)
        if un < 1e-9:
            raise EngineError("listener up: must not be parallel to forward")
        u = u / un
        self._post(SetListener(np.concatenate([p, f, u, v])), at_frame)

    def is_playing(self, handle: int) -> bool:
        return handle in self._slot_of or any(
            c.__class__ is PlayVoice and c.handle == handle for c in self.pending_commands()
        )

    def voice_info(self, handle: int) -> dict | None:
        """Playhead and state of a voice (for tests and telemetry; read from the render side)."""
        slot = self._slot_of.get(handle)
        if slot is None:
            return None
        I, F = self.voices.I, self.voices.F
        return {
            "slot": slot,
            "state": {PLAYING: "playing", VIRTUAL: "virtual"}.get(int(I[slot, ST]), "free"),
            "position_frames": float(F[slot, POS]),
            "envelope": float(F[slot, ENV]),
            "gain_left": float(F[slot, GL0]),
            "gain_right": float(F[slot, GR0]),
            "rate": float(F[slot, RATE0]),
        }

    # ------------------------------------------------------------------ render
    def render(self, frames: int) -> np.ndarray:
        """Render ``frames`` frames of stereo float32, limited to [-1, 1]."""
        out = np.empty((frames, 2), dtype=np.float32)
        self.render_into(out)
        return out

    def render_into(self, out: np.ndarray) -> None:
        frames = out.shape[0]
        done = 0
        while done < frames:
            n = min(self.block, frames - done)
            self._render_block(n)
            out[done : done + n] = self._out[:n]
            done += n

    def stats(self) -> dict:
        I = self.voices.I
        st = I[:, ST]
        count = min(self._render_count, self._render_times.size)
        times = self._render_times[:count]
        block_ms = 1000.0 * self.block / self.sample_rate
        p99 = float(np.percentile(times, 99)) * 1000 if count else 0.0
        return {
            "frame": self.frame,
            "voices_real": int(np.count_nonzero(st == PLAYING)),
            "voices_virtual": int(np.count_nonzero(st == VIRTUAL)),
            "render_ms_mean": float(times.mean() * 1000) if count else 0.0,
            "render_ms_p99": p99,
            "cpu_load": (float(times.mean() * 1000) / block_ms) if count else 0.0,
            **self.counters,
        }

    # ------------------------------------------------------------------ internals
    def _post(self, cmd: Any, at_frame: int | None = None) -> None:
        if at_frame is not None:
            if not isinstance(at_frame, (int, np.integer)) or at_frame < 0:
                raise EngineError(f"at_frame={at_frame!r}: must be a non-negative integer frame")
            self._commands.post(cmd, int(at_frame))
        else:
            self._commands.post(cmd)

    def _rolloff(self, rolloff: Any, mind: float, maxd: float) -> tuple[int, int]:
        code, table_d, table_db = make_rolloff(rolloff, mind, maxd)
        if code != ROLLOFF_CUSTOM:
            return code, 0
        if table_d.size > MAX_TABLE_POINTS:
            raise EngineError(f"rolloff table: at most {MAX_TABLE_POINTS} points, got {table_d.size}")
        key = (tuple(table_d), tuple(table_db))
        if key not in self._rolloff_keys:
            table = np.full((MAX_TABLE_POINTS, 2), np.nan)
            table[: table_d.size, 0] = table_d
            table[: table_d.size, 1] = table_db
            self._rolloff_keys[key] = len(self._rolloff_keys) + 1
            # Copy-on-write so the render thread never sees a half-written table.
            self.rolloff_tables = np.concatenate([self.rolloff_tables, table[None]], axis=0)
        return code, self._rolloff_keys[key]

    def _drain(self, n: int) -> None:
        self._commands.drain(self.frame + n, self._apply_command)

    def _apply_command(self, cmd: Any, at: int | None) -> None:
        self._APPLY[cmd.__class__](self, cmd, at)

    # Each command's applier: (engine, command, frame it was queued for or None). ``_APPLY`` (after
    # the class) maps every command class of ``engine/commands.py`` to one of these.
    def _apply_set_voices(self, cmd: SetVoices, at: int | None) -> None:
        if self._handle_index is None:
            self._index_handles()
        live_h, live_s = self._handle_index
        stale = apply_params(
            self.voices.I, self.voices.P, live_h, live_s, cmd.handles, cmd.columns, cmd.values
        )
        if stale:
            self.counters["stale_handles"] += int(stale)

    def _apply_stop(self, cmd: StopVoice, at: int | None) -> None:
        slot = self._slot_of.get(cmd.handle)
        if slot is None:
            self.counters["stale_handles"] += 1
            return
        I = self.voices.I
        if I[slot, STOP] == -2:
            return  # already releasing
        I[slot, STOP] = max(self.frame, at if at is not None else self.frame)
        self.voices.F[slot, RELEASE] = cmd.release * self.sample_rate

    def _apply_stream(self, cmd: AttachStream, at: int | None) -> None:
        slot = self._slot_of.get(cmd.handle)
        if slot is None:  # the voice could not start (pool full): give the region back
            self._stream_pool[cmd.stream.channels].append(cmd.stream.region)
        else:
            self._streams[slot] = cmd.stream

    def _apply_listener(self, cmd: SetListener, at: int | None) -> None:
        self.listener = cmd.pose
        self._listener_moved = True

    def _apply_add_bus(self, cmd: AddBus, at: int | None) -> None:
        self.buses.add(cmd.spec, cmd.chain)
        if self._meter_all:
            self.buses.enable_meters([cmd.spec.name], self._meter_deferred)

    def _apply_set_bus(self, cmd: SetBus, at: int | None) -> None:
        self.buses.set(
            cmd.name,
            gain_db=cmd.gain_db,
            lowpass_hz=cmd.lowpass_hz,
            highpass_hz=cmd.highpass_hz,
            muted=cmd.muted,
        )
        if cmd.reverb is not UNCHANGED:
            self.buses.set_reverb(cmd.name, cmd.reverb)

    def _apply_bus_effects(self, cmd: SetBusEffects, at: int | None) -> None:
        self.buses.set_effects(cmd.name, cmd.specs, cmd.chain)

    def _apply_master_effect(self, cmd: SetMasterEffect, at: int | None) -> None:
        self.buses.set_master_effect(cmd.slot, cmd.instance)

    def _apply_set_ducks(self, cmd: SetDucks, at: int | None) -> None:
        self.buses.set_ducks(cmd.owner, cmd.specs, cmd.prepared)

    def _apply_loudness_target(self, cmd: SetLoudnessTarget, at: int | None) -> None:
        self.buses.set_loudness_target(cmd.lufs)

    def _apply_meters(self, cmd: EnableMeters, at: int | None) -> None:
        self._meter_all = cmd.buses is None
        self._meter_deferred = cmd.deferred
        self.buses.enable_meters(None if cmd.buses is None else list(cmd.buses), cmd.deferred)

    def _index_handles(self) -> None:
        """Sorted handles of the voices in use and their slots, for set_voices (rebuilt lazily after
        voices start or end: one argsort instead of one dict lookup per handle and command)."""
        live = np.fromiter(self._slot_of.values(), dtype=np.int64, count=len(self._slot_of))
        hs = self.voices.I[live, HANDLE]
        order = np.argsort(hs)
        self._handle_index = (np.ascontiguousarray(hs[order]), np.ascontiguousarray(live[order]))

    def _start_voice(self, a: PlayVoice, at: int | None) -> None:
        if not self._free_slots:
            self.counters["voices_dropped"] += 1
            return
        slot = self._free_slots.pop()
        vt = self.voices
        I, F, P = vt.I, vt.F, vt.P
        zero_state(F, I, vt.delay, slot)
        handle = a.handle
        off, frames, ch = self.bank.table[a.sample]
        I[slot, ST] = PLAYING
        I[slot, SMP] = a.sample
        I[slot, OFS] = off
        I[slot, LEN] = frames
        I[slot, CH] = ch
        I[slot, LOOP] = 1 if a.loop else 0
        I[slot, LS] = 0
        I[slot, LE] = frames
        I[slot, BUS] = self.buses.index(a.bus)
        I[slot, START] = max(self.frame, at if at is not None else self.frame)
        I[slot, STOP] = -1
        I[slot, HANDLE] = handle
        I[slot, BIN] = 1 if a.binaural else 0
        I[slot, PRIO] = a.priority
        I[slot, SPATIAL] = 1 if a.spatial else 0
        I[slot, SEND0 : SEND0 + MAX_SENDS] = -1
        P[slot, :] = 0.0
        for s, (name, g) in enumerate(a.sends):
            I[slot, SEND0 + s] = self.buses.index(name)
            P[slot, P_SENDG + s] = g
        start = a.offset * self.sample_rate
        if start >= frames:
            start = start % frames if a.loop else frames - 1
        F[slot, POS] = start
        if a.fade_in > 0:
            F[slot, ENV] = 0.0
            F[slot, ENVSTEP] = 1.0 / (a.fade_in * self.sample_rate)
        else:
            F[slot, ENV] = 1.0
        P[slot, P_GAIN] = a.gain
        P[slot, P_PAN] = a.pan
        P[slot, P_PITCH] = a.pitch
        P[slot, P_LP] = a.lowpass_hz
        P[slot, P_HP] = a.highpass_hz
        P[slot, P_X : P_X + 3] = a.position
        P[slot, P_VX : P_VX + 3] = a.velocity
        P[slot, P_MIND] = a.min_distance
        P[slot, P_MAXD] = a.max_distance
        P[slot, P_ROLLOFF] = a.rolloff_mode
        P[slot, P_TABLE] = a.rolloff_table
        P[slot, P_DOPPLER] = a.doppler
        I[slot, DIRTY] = 1
        self._slot_of[handle] = slot
        self._handle_index = None
        self._fresh.append(slot)
        self.counters["voices_started"] += 1
        self.events.append(("started", handle, int(I[slot, START])))

    def _set_voice(self, c: SetVoice, at: int | None) -> None:
        slot = self._slot_of.get(c.handle)
        if slot is None:
            self.counters["stale_handles"] += 1
            return
        P = self.voices.P
        self.voices.I[slot, DIRTY] = 1
        # SetVoice's fields in their order, unpacked at once: eight named reads of a NamedTuple cost
        # 0.1 us more per command (the order is pinned by tests/test_engine_commands.py).
        _, gain, pitch, pan, lowpass_hz, highpass_hz, position, velocity, sends = c
        keep = UNCHANGED
        if gain is not keep:
            P[slot, P_GAIN] = gain
        if pitch is not keep:
            P[slot, P_PITCH] = pitch
        if pan is not keep:
            P[slot, P_PAN] = pan
        if lowpass_hz is not keep:
            P[slot, P_LP] = lowpass_hz
        if highpass_hz is not keep:
            P[slot, P_HP] = highpass_hz
        if position is not keep:
            P[slot, P_X : P_X + 3] = position
        if velocity is not keep:
            P[slot, P_VX : P_VX + 3] = velocity
        if sends is not keep:
            I = self.voices.I
            for name, g in sends.items():
                b = self.buses.index(name)
                for s in range(MAX_SENDS):
                    if I[slot, SEND0 + s] in (-1, b):
                        I[slot, SEND0 + s] = b
                        P[slot, P_SENDG + s] = g
                        break

    def _manage_voices(self) -> np.ndarray:
        """Keep at most ``voice_limit`` voices real; returns slots that go virtual after this block.

        Ranking (priority, then distance-attenuated gain) and the swaps run in one compiled pass
        (``targets.rank_voices``): linear in the number of voices, cheap enough for every block with
        thousands alive. Voices coming back fade in over this block, voices leaving fade out.
        """
        limit = self.config.voice_limit
        n_active = self.config.max_voices - len(self._free_slots)
        if n_active <= limit and self._n_virtual == 0:
            return _NO_SLOTS  # the common case: everything fits, nothing to bring back
        n_going, _ = rank_voices(
            self.voices.I, self.voices.F, limit, KEEP_REAL_BONUS, self._rank_work, self._rank_aud, self._going
        )
        return self._going[:n_going]

    def _render_block(self, n: int) -> None:
        t0 = time.perf_counter()
        self._drain(n)
        vt = self.voices
        I, F = vt.I, vt.F
        compute_targets(
            I, F, vt.P, self.listener, self.rolloff_tables, float(self.sample_rate), self._listener_moved
        )
        self._listener_moved = False
        if self._fresh:
            fresh = np.array(self._fresh, dtype=np.int64)
            for a, b in (
                (RATE0, RATE1),
                (GL0, GL1),
                (GR0, GR1),
                (LPA0, LPA1),
                (HPA0, HPA1),
                (HPM0, HPM1),
                (DL0, DL1),
                (DR0, DR1),
            ):
                F[fresh, a] = F[fresh, b]
            for s in range(MAX_SENDS):
                F[fresh, SND0 + 2 * s] = F[fresh, SND0 + 2 * s + 1]
            self._fresh.clear()
        going_virtual = self._manage_voices()
        if self._streams:
            self._feed_streams(n)
        self.buses.reset_accumulators(n)
        n_ended = render_voices(
            I,
            F,
            vt.delay,
            self.bank.data,
            self.buses.acc,
            self._scratch,
            self.frame,
            n,
            self._lanes,
            self._mark,
        )
        if going_virtual.size or self._n_virtual:
            self._n_virtual = settle_virtual(I, going_virtual)
        commit_ramps(I, F, MAX_SENDS)
        if n_ended:
            self._release_ended(n)
        self.buses.process(n, self._out)
        self.frame += n
        self._render_times[self._render_count % self._render_times.size] = time.perf_counter() - t0
        self._render_count += 1

    def _feed_streams(self, n: int) -> None:
        """Write each stream's next frames where its voice will read them in this block."""
        I, F = self.voices.I, self.voices.F
        data = self.bank.data
        for slot, st in list(self._streams.items()):
            if I[slot, ST] == FREE:
                continue
            start = int(I[slot, START])
            m = n - max(0, start - self.frame)
            if m <= 0:
                continue
            if st.done:
                block = np.zeros((m, st.channels), dtype=np.float32)
            else:
                try:
                    block = np.asarray(st.source.render(m), dtype=np.float32).reshape(m, -1)
                except Exception as exc:  # a failing source goes silent and stops; the mix goes on
                    self.events.append(("error", int(I[slot, HANDLE]), f"stream source failed: {exc}"))
                    block = np.zeros((m, st.channels), dtype=np.float32)
                    st.done = True
                if block.shape[1] != st.channels:
                    block = np.repeat(block[:, :1], st.channels, axis=1)
                if not np.all(np.isfinite(block)):
                    block = np.nan_to_num(block, nan=0.0, posinf=0.0, neginf=0.0)
            off, frames, ch = self.bank.table[st.region]
            pos = int(F[slot, POS])
            first = min(m, frames - pos)
            flat = data[off : off + frames * ch].reshape(frames, ch)
            flat[pos : pos + first] = block[:first]
            if first < m:
                flat[: m - first] = block[first:]
            if not st.done and getattr(st.source, "finished", False):
                st.done = True
                I[slot, STOP] = self.frame + n  # ends after this block, with a 5 ms release
                F[slot, RELEASE] = 0.005 * self.sample_rate

    def _release_ended(self, n: int) -> None:
        I = self.voices.I
        for slot in np.flatnonzero(I[:, ENDED]):
            st = self._streams.pop(int(slot), None)
            if st is not None:
                self._stream_pool[st.channels].append(st.region)
            handle = int(I[slot, HANDLE])
            I[slot, ENDED] = 0
            if self._slot_of.get(handle) == slot:
                del self._slot_of[handle]
                self._handle_index = None
            self._free_slots.append(int(slot))
            self.counters["voices_ended"] += 1
            self.events.append(("ended", handle, self.frame + n))

    def pending_commands(self) -> list:
        """Commands not yet applied, in the order they will apply (for diagnostics and tests)."""
        return self._commands.pending()


_APPLY: dict[type, Callable[[Engine, Any, int | None], None]] = {
    PlayVoice: Engine._start_voice,
    SetVoice: Engine._set_voice,
    SetVoices: Engine._apply_set_voices,
    StopVoice: Engine._apply_stop,
    AttachStream: Engine._apply_stream,
    SetListener: Engine._apply_listener,
    AddBus: Engine._apply_add_bus,
    SetBus: Engine._apply_set_bus,
    SetBusEffects: Engine._apply_bus_effects,
    SetMasterEffect: Engine._apply_master_effect,
    SetDucks: Engine._apply_set_ducks,
    SetLoudnessTarget: Engine._apply_loudness_target,
    EnableMeters: Engine._apply_meters,
}
"""The engine's command table: each command class of ``engine/commands.py`` and the one method that
applies it on the render side (a test checks it covers ``commands.COMMANDS``)."""
Engine._APPLY = _APPLY
