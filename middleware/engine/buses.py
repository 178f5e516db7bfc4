"""The bus tree: groups that sum their inputs, filter, reverberate, duck and pass to their parent.

A bus is processed after all of its children (deepest first), then added into its parent with a
ramped gain. Master ends in the look-ahead limiter. Ducking reads each source bus's level from
the previous block (one block, ~5 ms, of detection latency) so the order of sibling buses never
matters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import EngineError
from .dsp.dynamics import duck_gain_db
from .dsp.filters import biquad_block_into, biquad_coeffs, biquad_identity, biquad_state
from .dsp.limiter import Limiter
from .dsp.reverb import Reverb
from .mixkernels import add_ramped, mean_square, scale_ramped
from .specs import BusSpec, DuckSpec, ReverbSpec

BUTTERWORTH_Q = 1.0 / math.sqrt(2.0)
AGC_TAU = 0.5  # s: smoothing of the master loudness automatic gain
AGC_ONSET_LU = 3.0
AGC_RANGE_DB = 12.0


def db_to_gain(db: float) -> float:
    return 10.0 ** (db / 20.0)


@dataclass
class BusRuntime:
    """A playing bus: its spec plus ramps, filter memories and reverb state."""

    spec: BusSpec
    index: int
    parent: int
    depth: int
    gain0: float = 1.0
    gain1: float = 1.0
    duck_db: float = 0.0  # current ducking attenuation (<= 0)
    duck0: float = 1.0
    lp_from: np.ndarray = field(default_factory=biquad_identity)
    lp_to: np.ndarray = field(default_factory=biquad_identity)
    lp_state: np.ndarray = field(default_factory=biquad_state)
    hp_from: np.ndarray = field(default_factory=biquad_identity)
    hp_to: np.ndarray = field(default_factory=biquad_identity)
    hp_state: np.ndarray = field(default_factory=biquad_state)
    reverb: Reverb | None = None
    level_ms: float = 0.0  # mean square of the bus output, last block

    lp_active: bool = False  # filter runs this block (it is on, or ramping on/off)
    hp_active: bool = False

    def set_filters(self, lowpass_hz: float | None, highpass_hz: float | None, sr: int) -> None:
        self.lp_to = (
            biquad_coeffs("lowpass", min(lowpass_hz, 0.49 * sr), BUTTERWORTH_Q, 0.0, sr)
            if lowpass_hz
            else biquad_identity()
        )
        self.hp_to = (
            biquad_coeffs("highpass", highpass_hz, BUTTERWORTH_Q, 0.0, sr)
            if highpass_hz
            else biquad_identity()
        )
        self.lp_active = not (_is_identity(self.lp_from) and _is_identity(self.lp_to))
        self.hp_active = not (_is_identity(self.hp_from) and _is_identity(self.hp_to))


class BusGraph:
    """All buses of an engine, in processing order."""

    def __init__(self, sample_rate: int, block: int) -> None:
        self.sr = sample_rate
        self.block = block
        self.buses: list[BusRuntime] = []
        self.by_name: dict[str, int] = {}
        self.ducks: list[DuckSpec] = []
        self.order: list[int] = []
        self.acc = np.zeros((0, block, 2), dtype=np.float32)
        self.limiter = Limiter(sample_rate)
        self.meters: dict[int, Any] = {}
        self.agc_target: float | None = None
        self.agc_db = 0.0
        self._agc_meter: Any = None  # bus index -> LoudnessMeter (post-fader; master after the limiter)
        self.add(BusSpec("master", parent=None))

    def index(self, name: str) -> int:
        try:
            return self.by_name[name]
        except KeyError:
            from ..hints import did_you_mean

            raise EngineError(
                f"unknown bus '{name}' ({did_you_mean(name, self.by_name, 'known buses')})"
            ) from None

    def add(self, spec: BusSpec) -> int:
        if spec.name in self.by_name:
            raise EngineError(f"bus '{spec.name}' already exists")
        if spec.parent is None:
            if spec.name != "master":
                raise EngineError(f"bus '{spec.name}': only 'master' may have no parent")
            parent, depth = -1, 0
        else:
            parent = self.index(spec.parent)
            depth = self.buses[parent].depth + 1
        rt = BusRuntime(spec=spec, index=len(self.buses), parent=parent, depth=depth)
        rt.gain0 = rt.gain1 = 0.0 if spec.muted else db_to_gain(spec.gain_db)
        rt.set_filters(spec.lowpass_hz, spec.highpass_hz, self.sr)
        rt.lp_from = rt.lp_to.copy()
        rt.hp_from = rt.hp_to.copy()
        if spec.reverb is not None:
            rt.reverb = _make_reverb(spec.reverb, self.sr)
        self.buses.append(rt)
        self.by_name[spec.name] = rt.index
        self.order = sorted(range(len(self.buses)), key=lambda b: -self.buses[b].depth)
        self.acc = np.zeros((len(self.buses), self.block, 2), dtype=np.float32)
        return rt.index

    def set(
        self,
        name: str,
        gain_db: float | None = None,
        lowpass_hz: float | bool | None = False,
        highpass_hz: float | bool | None = False,
        muted: bool | None = None,
    ) -> None:
        """Change a bus; every change ramps over the next block. ``False`` = leave unchanged."""
        rt = self.buses[self.index(name)]
        spec = rt.spec
        if gain_db is not None:
            spec = BusSpec(**{**spec.__dict__, "gain_db": float(gain_db)})
        if lowpass_hz is not False:
            spec = BusSpec(**{**spec.__dict__, "lowpass_hz": lowpass_hz})
        if highpass_hz is not False:
            spec = BusSpec(**{**spec.__dict__, "highpass_hz": highpass_hz})
        if muted is not None:
            spec = BusSpec(**{**spec.__dict__, "muted": bool(muted)})
        rt.spec = spec
        rt.gain1 = 0.0 if spec.muted else db_to_gain(spec.gain_db)
        rt.set_filters(spec.lowpass_hz, spec.highpass_hz, self.sr)

    def set_reverb(self, name: str, spec: ReverbSpec) -> None:
        rt = self.buses[self.index(name)]
        if rt.reverb is None:
            rt.reverb = _make_reverb(spec, self.sr)
        else:
            rt.reverb.set_params(**spec.__dict__)
        rt.spec = BusSpec(**{**rt.spec.__dict__, "reverb": spec})

    def enable_meters(self, names: list[str] | None = None, deferred: bool = False) -> None:
        """Meter BS.1770 loudness (momentary, short-term, integrated, true peak) on buses (None: all).

        ``deferred``: the render thread only copies each block into a ``MeterTap``; another thread
        meters it (``drain_meters``), keeping ~0.15 ms per block off the render path.
        """
        from .dsp.loudness import LoudnessMeter
        from .meter_tap import MeterTap

        for name in names if names is not None else list(self.by_name):
            b = self.index(name)
            if b not in self.meters:
                tp = b == 0
                self.meters[b] = (
                    MeterTap(self.sr, tp) if deferred else LoudnessMeter(self.sr, 2, true_peak=tp)
                )

    def drain_meters(self) -> None:
        """Feed deferred meters what the render thread queued (call from one other thread only)."""
        from .meter_tap import MeterTap

        for m in list(self.meters.values()):
            if isinstance(m, MeterTap):
                m.drain()

    def set_loudness_target(self, lufs: float | None) -> None:
        """A slow automatic gain on master that holds the mix at ``lufs`` (momentary loudness).

        Feed-forward, not a feedback loop (so it cannot oscillate): the mix's short-term loudness (3 s)
        is metered before the gain and the gain glides (0.5 s) to ``target - level``, limited to
        +-12 dB and frozen near silence (below -60 LUFS). Levels situations; the 3 s window keeps it
        from pumping on beats and single events.
        """
        from .dsp.loudness import LoudnessMeter

        self.agc_target = lufs
        if lufs is not None and self._agc_meter is None:
            self._agc_meter = LoudnessMeter(self.sr, 2, true_peak=False)

    def loudness(self) -> dict[str, dict[str, float]]:
        """Latest meter readings per metered bus (readers on other threads get a consistent copy)."""
        return {self.buses[b].spec.name: m.snapshot() for b, m in list(self.meters.items())}

    def add_duck(self, duck: DuckSpec) -> None:
        self.index(duck.source)
        self.index(duck.target)
        self.ducks.append(duck)

    def process(self, n: int, out: np.ndarray) -> None:
        """Run every bus for ``n`` frames of ``self.acc`` and write the limited master into ``out``."""
        acc = self.acc
        self._update_ducking(n)
        for b in self.order:
            rt = self.buses[b]
            x = acc[b, :n]
            if rt.lp_active:
                biquad_block_into(x, x, rt.lp_from, rt.lp_to, rt.lp_state)
                rt.lp_from = rt.lp_to
                rt.lp_active = not _is_identity(rt.lp_to)
            if rt.hp_active:
                biquad_block_into(x, x, rt.hp_from, rt.hp_to, rt.hp_state)
                rt.hp_from = rt.hp_to
                rt.hp_active = not _is_identity(rt.hp_to)
            if rt.reverb is not None:
                rt.reverb.process_inplace(x)
            g1 = rt.gain1 * db_to_gain(rt.duck_db)
            if b in self.meters and b != 0:
                self.meters[b].push(x * np.float32(g1))
            if rt.parent >= 0:
                add_ramped(x, acc[rt.parent], n, rt.gain0 * rt.duck0, g1)
            else:
                scale_ramped(x, n, rt.gain0 * rt.duck0, g1)
            rt.gain0 = rt.gain1
            rt.duck0 = db_to_gain(rt.duck_db)
            rt.level_ms = mean_square(x, n)
        master = acc[0, :n]
        if self.agc_target is not None:
            self._agc(master, n)
        self.limiter.process_into(master, out[:n])
        if 0 in self.meters:
            self.meters[0].push(out[:n])

    def _agc(self, master: np.ndarray, n: int) -> None:
        """Feed-forward: meter the mix before the gain, steer the gain to target minus that level."""
        self._agc_meter.push(master)
        # The 3 s reading, unless the 0.4 s one jumps 3 LU above it: a loud onset is caught quickly,
        # while ordinary beats and events leave the gain alone.
        st, mom = self._agc_meter.short_term, self._agc_meter.momentary
        level = mom if mom > st + AGC_ONSET_LU else st
        before = self.agc_db
        if math.isfinite(level) and level > -60.0:
            want = min(AGC_RANGE_DB, max(-AGC_RANGE_DB, self.agc_target - level))
            self.agc_db += (want - self.agc_db) * (1.0 - math.exp(-n / (AGC_TAU * self.sr)))
        scale_ramped(master, n, db_to_gain(before), db_to_gain(self.agc_db))

    def _update_ducking(self, n: int) -> None:
        """Move each target's ducking attenuation toward its rule's amount (attack) or 0 (release)."""
        if not self.ducks:
            return
        wanted: dict[int, float] = {}
        for d in self.ducks:
            src = self.buses[self.by_name[d.source]]
            level_db = 10.0 * math.log10(src.level_ms + 1e-20)
            # Soft knee of 6 dB around the threshold so a source hovering there does not flutter.
            tgt = self.by_name[d.target]
            wanted[tgt] = min(wanted.get(tgt, 0.0), duck_gain_db(level_db, d.threshold_db, d.amount_db))
        for tgt, want in wanted.items():
            rt = self.buses[tgt]
            rule = next(d for d in self.ducks if self.by_name[d.target] == tgt)
            tau = rule.attack if want < rt.duck_db else rule.release
            k = 1.0 if tau <= 0 else 1.0 - math.exp(-n / (tau * self.sr))
            rt.duck_db += (want - rt.duck_db) * k

    def reset_accumulators(self, n: int) -> None:
        self.acc[:, :n, :] = 0.0


def _is_identity(c: np.ndarray) -> bool:
    return c[0] == 1.0 and c[1] == 0.0 and c[2] == 0.0 and c[3] == 0.0 and c[4] == 0.0


def _make_reverb(spec: ReverbSpec, sr: int) -> Reverb:
    return Reverb(
        sr, room_size=spec.room_size, damping=spec.damping, wet=spec.wet, dry=spec.dry, width=spec.width
    )
