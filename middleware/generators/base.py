"""What every generator shares: parameter specs and validation, smoothing, seeded random streams,
and the grain pool that renders short events (drops, crackles, footstep grains, impact modes).

Determinism and block-split invariance come from three rules:

1. randomness is drawn from numpy ``Generator(PCG64)`` streams, one stream per purpose, each
   refilled in fixed-size chunks, so the n-th number a stream hands out never depends on how many
   frames a render call asked for;
2. every per-sample recurrence (smoothing, filters, phase accumulators, grains) lives in a numba
   kernel whose state survives between calls;
3. events are placed at absolute frames and started exactly there (``GrainPool``).

A parameter change takes effect at the frame where ``set_params`` was called (the first frame of
the next ``render``) and glides there with a one-pole smoother, so live changes never click.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..errors import EngineError
from ..hints import suggestion
from ..rt.guard import forbidden
from . import _kernels as K

VERSION = "1.0"


@dataclass(frozen=True)
class ParamSpec:
    """One generator parameter: range, default, unit and a one-line doc.

    A categorical parameter lists its ``choices``; ``min``/``max`` are then 0 and len-1 (the index
    range) and the value is one of the strings.
    """

    min: float
    max: float
    default: float | str
    unit: str = ""
    doc: str = ""
    choices: tuple[str, ...] | None = None

    @staticmethod
    def categorical(choices: tuple[str, ...], default: str, doc: str = "") -> ParamSpec:
        return ParamSpec(0.0, float(len(choices) - 1), default, "choice", doc, tuple(choices))


class RandStream:
    """Numbers from one PCG64 stream, drawn in fixed chunks so takes of any size give the same
    sequence."""

    def __init__(self, seed: np.random.SeedSequence, kind: str = "uniform", chunk: int = 8192) -> None:
        self._rng = np.random.Generator(np.random.PCG64(seed))
        self._kind = kind
        self._chunk = chunk
        self._buf = np.empty(0)
        self._pos = 0

    def _draw(self) -> np.ndarray:
        if self._kind == "normal":
            return self._rng.standard_normal(self._chunk)
        if self._kind == "white":
            # Unit-variance uniform white noise: three times cheaper than Gaussian draws, and
            # indistinguishable once filtered (every bed filters its noise).
            return (self._rng.random(self._chunk) - 0.5) * math.sqrt(12.0)
        return self._rng.random(self._chunk)

    def take(self, n: int) -> np.ndarray:
        """The next ``n`` numbers (uniform in [0, 1), standard normal or unit-variance white)."""
        end = self._pos + n
        if end <= self._buf.shape[0]:
            out = self._buf[self._pos : end]
            self._pos = end
            return out
        parts = [self._buf[self._pos :]]
        have = parts[0].shape[0]
        while have < n:
            fresh = self._draw()
            need = n - have
            if need < fresh.shape[0]:
                parts.append(fresh[:need])
                self._buf = fresh
                self._pos = need
                have = n
            else:
                parts.append(fresh)
                self._buf = np.empty(0)
                self._pos = 0
                have += fresh.shape[0]
        return np.concatenate(parts)


_GRAIN_ARGS = (
    "amp",
    "pan",
    "freq",
    "glide",
    "vib_rate",
    "vib_depth",
    "attack",
    "tone",
    "tone_t60",
    "noise",
    "noise_t60",
    "noise_fc",
    "noise_q",
    "noise_lp",
    "noise_bp",
    "noise_off",
    "am_rate",
    "am_depth",
    "length",
)
_GRAIN_DEFAULTS = {
    "amp": 1.0,
    "pan": 0.0,
    "freq": 1000.0,
    "glide": 1.0,
    "vib_rate": 0.0,
    "vib_depth": 0.0,
    "attack": 0.0,
    "tone": 0.0,
    "tone_t60": 0.1,
    "noise": 0.0,
    "noise_t60": 0.05,
    "noise_fc": 2000.0,
    "noise_q": 0.7,
    "noise_lp": 0.0,
    "noise_bp": 1.0,
    "noise_off": 0.0,
    "am_rate": 0.0,
    "am_depth": 0.0,
    "length": 0.0,
}


def make_grains(m: int, sr: float, max_length: float = 4.0, **kw: Any) -> np.ndarray:
    """Field rows for ``m`` grains, from physical units to kernel units.

    Keywords (each a scalar or an (m,) array): ``amp``, ``pan`` (-1..1, equal power), ``freq``
    (Hz), ``glide`` (per-sample frequency multiplier), ``vib_rate`` (Hz), ``vib_depth`` (fraction),
    ``attack`` (s), ``tone`` (tone amplitude), ``tone_t60`` (s), ``noise`` (noise amplitude),
    ``noise_t60`` (s), ``noise_fc`` (Hz), ``noise_q``, ``noise_lp``/``noise_bp`` (mix of the
    low-pass and unity-peak band-pass outputs), ``noise_off`` (noise table offset), ``am_rate``
    (Hz), ``am_depth``, ``length`` (s; default: until the slower of tone and noise is ~48 dB down).
    """
    cols = np.empty((len(_GRAIN_ARGS), m))
    for i, name in enumerate(_GRAIN_ARGS):
        cols[i] = kw.pop(name, _GRAIN_DEFAULTS[name])
    if kw:
        raise TypeError(f"make_grains: unknown fields {sorted(kw)}")
    auto = bool(np.all(cols[-1] == 0.0))
    return K.fill_grains(cols, m, float(sr), float(max_length), auto)


_NO_ONSETS = np.zeros(0, dtype=np.int64)
_NO_FIELDS = np.zeros((0, K.G_FIELDS))


class GrainPool:
    """A fixed pool of grain slots plus a queue of grains scheduled for later frames."""

    NOISE_BITS = 16

    def __init__(self, slots: int, noise_seed: np.random.SeedSequence) -> None:
        self.table = np.zeros((slots, K.G_FIELDS))
        self.state = np.zeros((slots, K.S_FIELDS))
        self.end = np.zeros(slots, dtype=np.int64)
        # A frozen table of white noise that grains read from random offsets: every grain gets
        # different noise without a per-sample draw, and a grain never spans the whole table.
        rng = np.random.Generator(np.random.PCG64(noise_seed))
        self.noise = rng.standard_normal(1 << self.NOISE_BITS)
        self._p_on = np.zeros(0, dtype=np.int64)
        self._p_fields = np.zeros((0, K.G_FIELDS))
        self.dropped = 0

    def noise_offsets(self, u: np.ndarray) -> np.ndarray:
        """Table offsets from uniforms in [0, 1)."""
        return np.floor(u * (1 << self.NOISE_BITS))

    def schedule(self, onset: np.ndarray, fields: np.ndarray) -> None:
        """Queue grains at absolute frames (may lie in later blocks)."""
        if onset.shape[0] == 0:
            return
        on = np.concatenate([self._p_on, np.asarray(onset, dtype=np.int64)])
        fl = np.concatenate([self._p_fields, fields])
        order = np.argsort(on, kind="stable")
        self._p_on = on[order]
        self._p_fields = fl[order]

    def render(
        self,
        out: np.ndarray,
        block_start: int,
        onset: np.ndarray | None = None,
        fields: np.ndarray | None = None,
    ) -> None:
        """Add this block's grains into ``out`` (n, 2) float64.

        ``onset``/``fields`` are optional grains starting inside this block (sorted absolute
        frames); they skip the queue, which saves a sort on every block of dense rain.
        """
        n = out.shape[0]
        if onset is None:
            onset, fields = _NO_ONSETS, _NO_FIELDS
        if self._p_on.shape[0] and self._p_on[0] < block_start + n:
            due = int(np.searchsorted(self._p_on, block_start + n, side="left"))
            on = self._p_on[:due]
            fl = self._p_fields[:due]
            self._p_on = self._p_on[due:]
            self._p_fields = self._p_fields[due:]
            if onset.shape[0]:
                on = np.concatenate([on, onset])
                fl = np.concatenate([fl, fields])
                order = np.argsort(on, kind="stable")
                on, fl = on[order], fl[order]
            onset, fields = on, fl
        self.dropped += K.grains_process(
            self.table, self.state, self.end, onset, fields, block_start, self.noise, out
        )

    def busy_until(self) -> int:
        """Absolute frame after which the pool is silent and nothing is queued."""
        last = int(self.end.max()) if self.end.shape[0] else 0
        if self._p_on.shape[0]:
            last = max(last, int(self._p_on[-1] + self._p_fields[-1, K.G_LEN]))
        return last


class Generator:
    """Base of all generators: a live instance with parameters, seed and a render position.

    Subclasses set ``NAME``, ``PARAMS``, ``oneshot`` and implement ``_render(n, ctrl)`` returning
    (n, 2) float64, where ``ctrl`` is (n, P) of smoothed numeric parameters (see ``col``).
    """

    NAME: ClassVar[str] = ""
    PARAMS: ClassVar[dict[str, ParamSpec]] = {}
    oneshot: ClassVar[bool] = False
    channels: ClassVar[int] = 2  # render() always returns stereo (the engine's play_stream reads this)
    SMOOTH_TIME: ClassVar[float] = 0.05
    GAIN: ClassVar[float] = 1.0

    @forbidden("generator construction")  # never on the audio thread (rt/guard.py)
    def __init__(
        self,
        sample_rate: int = 48000,
        seed: int = 0,
        params: Mapping[str, Any] | None = None,
        variation: int = 0,
    ) -> None:
        if not isinstance(sample_rate, int | np.integer) or not 8000 <= int(sample_rate) <= 192000:
            raise EngineError(f"sample_rate={sample_rate!r}: must be an integer within 8000..192000 Hz")
        for name, v in (("seed", seed), ("variation", variation)):
            if not isinstance(v, int | np.integer) or isinstance(v, bool) or v < 0:
                raise EngineError(f"{name}={v!r}: must be a non-negative integer")
        self.sample_rate = int(sample_rate)
        self.seed = int(seed)
        self.variation = int(variation)
        self._values: dict[str, Any] = {k: spec.default for k, spec in self.PARAMS.items()}
        self._values.update(self._validate(params or {}))
        self._numeric = [k for k, spec in self.PARAMS.items() if spec.choices is None]
        self._index = {k: i for i, k in enumerate(self._numeric)}
        self._target = np.array([float(self._values[k]) for k in self._numeric], dtype=np.float64)
        self._cur = self._target.copy()
        self._coef = 1.0 - math.exp(-1.0 / (self.SMOOTH_TIME * self.sample_rate))
        self.frame = 0
        tag = zlib.crc32(self.NAME.encode())
        self._seedseq = np.random.SeedSequence([self.seed, self.variation, tag])
        self._children = iter(self._seedseq.spawn(16))
        self._setup()

    # -- streams -------------------------------------------------------------------------------
    def _next_seed(self) -> np.random.SeedSequence:
        return next(self._children)

    def _stream(self, kind: str = "uniform") -> RandStream:
        """A new independent random stream (one per purpose keeps draws split-invariant)."""
        return RandStream(self._next_seed(), kind)

    # -- parameters ----------------------------------------------------------------------------
    @classmethod
    def _validate(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(params, Mapping):
            raise EngineError(f"params={params!r}: must be a mapping of parameter name to value")
        ok: dict[str, Any] = {}
        for name, value in params.items():
            spec = cls.PARAMS.get(name)
            if spec is None:
                close = suggestion(name, cls.PARAMS)
                hint = f"; {close}" if close else ""
                raise EngineError(
                    f"generator {cls.NAME!r}: unknown parameter {name!r}{hint} "
                    f"(known: {', '.join(cls.PARAMS)})"
                )
            if spec.choices is not None:
                if isinstance(value, str) and value in spec.choices:
                    ok[name] = value
                    continue
                close = suggestion(value, spec.choices)
                hint = f"; {close}" if close else ""
                raise EngineError(
                    f"generator {cls.NAME!r}: {name}={value!r} is not one of {', '.join(spec.choices)}{hint}"
                )
            if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
                raise EngineError(
                    f"generator {cls.NAME!r}: {name}={value!r} must be a number within "
                    f"{spec.min:g}..{spec.max:g} {spec.unit}".rstrip()
                )
            v = float(value)
            if not (math.isfinite(v) and spec.min <= v <= spec.max):
                raise EngineError(
                    f"generator {cls.NAME!r}: {name}={value!r} is out of range "
                    f"{spec.min:g}..{spec.max:g} {spec.unit}".rstrip()
                )
            ok[name] = v
        return ok

    def set_params(self, params: Mapping[str, Any]) -> None:
        """Change parameters live. All are validated before any is applied; numeric ones glide.

        Call it from the rendering thread between ``render`` calls (as the engine does when it
        drains its command queue); the change then lands exactly at the next rendered frame.
        """
        ok = self._validate(params)
        target = self._target.copy()
        for k, v in ok.items():
            if k in self._index:
                target[self._index[k]] = v
        # One reference swap: a render running in another thread keeps the old targets until its
        # next block instead of seeing half of the change.
        self._target = target
        self._values = {**self._values, **ok}
        self._on_params(ok)

    @property
    def params(self) -> dict[str, Any]:
        """Current target values (what was last set, not the gliding value)."""
        return dict(self._values)

    def col(self, name: str) -> int:
        """Column of a numeric parameter in ``ctrl``."""
        return self._index[name]

    # -- rendering -----------------------------------------------------------------------------
    def render(self, frames: int) -> np.ndarray:
        """The next ``frames`` frames as (frames, 2) float32."""
        if isinstance(frames, bool) or not isinstance(frames, int | np.integer) or frames < 0:
            raise EngineError(f"frames={frames!r}: must be a non-negative integer")
        n = int(frames)
        if n == 0:
            return np.zeros((0, 2), dtype=np.float32)
        ctrl = K.smooth_params(self._cur, self._target, self._coef, n)
        out = self._render(n, ctrl)
        self.frame += n
        if self.GAIN != 1.0:
            out *= self.GAIN
        return out.astype(np.float32)

    @property
    def finished(self) -> bool:
        """A continuous generator never finishes; one-shots override this."""
        return False

    # -- hooks ---------------------------------------------------------------------------------
    def _setup(self) -> None:
        """Create streams and filter state (called once from ``__init__``)."""

    def _on_params(self, changed: dict[str, Any]) -> None:
        """React to a validated parameter change (categorical ones, mostly)."""

    def _render(self, n: int, ctrl: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        vals = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"<{type(self).__name__} {self.NAME} seed={self.seed} variation={self.variation} {vals}>"


class OneShot(Generator):
    """A single hit rendered from frame 0 until ``finished``; ``trigger()`` fires a fresh variation."""

    oneshot: ClassVar[bool] = True

    def _setup(self) -> None:
        self._pool = GrainPool(64, self._next_seed())
        self._u = self._stream()
        self._triggered = False
        self._hits = 0

    def trigger(self) -> None:
        """Queue another hit at the next rendered frame (a new variation of the same sound)."""
        self._triggered = False

    def _render(self, n: int, ctrl: np.ndarray) -> np.ndarray:
        out = np.zeros((n, 2))
        if not self._triggered:
            self._triggered = True
            offsets, fields = self._hit(self._u)
            self._pool.schedule(self.frame + offsets, fields)
            self._hits += 1
        self._pool.render(out, self.frame)
        return out

    def _hit(self, u: RandStream) -> tuple[np.ndarray, np.ndarray]:
        """(onset offsets in frames, grain rows) of one hit, drawing from ``u``."""
        raise NotImplementedError

    @property
    def finished(self) -> bool:
        return self._triggered and self.frame >= self._pool.busy_until()
