"""The bus tree: groups that sum their inputs, run their effect chain, duck and pass to their parent.

A bus is processed after all of its children (deepest first), then added into its parent with a
ramped gain. Its chain (``BusRuntime.chain``) is a list of effect instances (``engine/effects``):
its own low-pass, high-pass and reverb, then its ``effects`` list, each processing the bus's block
in place. An effect with a side-chain (the compressor's ``sidechain``) reads the source bus's block
after that bus's chain and before its fader; the processing order puts side-chain sources first
whenever the tree allows (otherwise, in a loop, the key is the source's previous block). Master
then runs its hosted slots (``set_master_effect``: e.g. hearing compensation) and ends in the
look-ahead limiter.

Ducking rules are side-chained compressors with a fixed-depth curve (``ducking.py``): they are
wired and ordered like any side-chain, and their combined gain is applied to the target's block
after its chain and its side-chain copy, before its fader. Rules belong to an owner (the scene, the
player's profile): an owner's rules are replaced or removed together (``set_ducks``); on one target
the deepest rule of each owner wins and the owners' depths add. A removed rule glides back to 0 dB
with its release time.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit

from ..errors import EngineError
from .commands import UNCHANGED, Unchanged
from .dsp.limiter import Limiter
from .ducking import Ducking
from .effects import Effect, EffectSpec
from .effects.filters import BUTTERWORTH_Q, HighPass, LowPass
from .effects.reverb import ReverbEffect
from .mixkernels import add_ramped, scale_ramped
from .ramp import Ramp
from .specs import BusSpec, DuckSpec, ReverbSpec

AGC_TAU = 0.5  # s: smoothing of the master loudness automatic gain
AGC_ONSET_LU = 3.0
AGC_RANGE_DB = 12.0

__all__ = ["BUTTERWORTH_Q", "BusGraph", "BusRuntime", "build_chain", "db_to_gain"]


def db_to_gain(db: float) -> float:
    return 10.0 ** (db / 20.0)


def build_chain(specs: tuple[EffectSpec, ...], sr: int, block: int) -> list[Effect]:
    """Instances for ``specs``, prepared (allocated) here: call it off the audio path."""
    out = []
    for s in specs:
        fx = s.kind.instance(s)
        fx.prepare(sr, block)
        out.append(fx)
    return out


def _prepared(fx: Effect, sr: int, block: int) -> Effect:
    fx.prepare(sr, block)
    return fx


@dataclass
class BusRuntime:
    """A playing bus: its spec, its gain ramps and its chain of effect instances.

    ``chain`` is what ``process`` runs, in order: the bus's own low-pass, high-pass and reverb (the
    ``lowpass_hz``/``highpass_hz``/``reverb`` keys), then the ``effects`` list.
    """

    spec: BusSpec
    index: int
    parent: int
    depth: int
    lowpass: LowPass
    highpass: HighPass
    fader: Ramp  # the bus gain (linear), gliding to a new value over one block
    reverb: ReverbEffect | None = None
    effects: list[Effect] = field(default_factory=list)
    chain: list[Effect] = field(default_factory=list)
    duck_db: float = 0.0  # ducking's gain change at the last block's end (<= 0), for meters and tests

    def rebuild_chain(self) -> None:
        head: list[Effect] = [self.lowpass, self.highpass]
        if self.reverb is not None:
            head.append(self.reverb)
        self.chain = head + self.effects


@njit(cache=True, nogil=True)
def copy_block(src, dst, n):
    """dst[:n] = src[:n] (a side-chain source's block, kept for the effects it drives)."""
    for i in range(n):
        dst[i, 0] = src[i, 0]
        dst[i, 1] = src[i, 1]


class BusGraph:
    """All buses of an engine, in processing order.

    Methods that change the graph run on the render side (the engine applies its commands there);
    ``stage_effects`` and ``build_chain`` run on the control side and hand prepared instances over.
    """

    def __init__(self, sample_rate: int, block: int) -> None:
        self.sr = sample_rate
        self.block = block
        self.buses: list[BusRuntime] = []
        self.by_name: dict[str, int] = {}
        self.ducking = Ducking(sample_rate, block)
        self.order: list[int] = []
        self.acc = np.zeros((0, block, 2), dtype=np.float32)
        self.keys: list[np.ndarray | None] = []  # bus index -> its last block, if an effect listens to it
        self.master_fx: list[
            tuple[str, Any]
        ] = []  # (slot, instance): after the master fader, before the limiter
        self.limiter = Limiter(sample_rate)
        self.meters: dict[int, Any] = {}
        self.agc_target: float | None = None
        self.agc_db = 0.0
        self._agc_meter: Any = None  # bus index -> LoudnessMeter (post-fader; master after the limiter)
        self._staged: dict[str, list[tuple[Any, ...]]] = {}  # control side: chain shapes handed over
        self.add(BusSpec("master", parent=None))

    def index(self, name: str) -> int:
        try:
            return self.by_name[name]
        except KeyError:
            from ..hints import did_you_mean

            raise EngineError(
                f"unknown bus '{name}' ({did_you_mean(name, self.by_name, 'known buses')})"
            ) from None

    # ------------------------------------------------------------------ control side
    def stage_effects(self, name: str, specs: tuple[EffectSpec, ...]) -> list[Effect] | None:
        """Prepared instances for bus ``name``'s new chain ``specs``, or None when the chain it has
        (or was last handed) has the same shape, so its instances glide to the new values instead.
        Call from the control thread only, before posting the change."""
        shape = [s.shape() for s in specs]
        if self._staged.get(name) == shape:
            return None
        self._staged[name] = shape
        return build_chain(specs, self.sr, self.block)

    # ------------------------------------------------------------------ render side
    def add(self, spec: BusSpec, chain: list[Effect] | None = None) -> int:
        if spec.name in self.by_name:
            raise EngineError(f"bus '{spec.name}' already exists")
        if spec.parent is None:
            if spec.name != "master":
                raise EngineError(f"bus '{spec.name}': only 'master' may have no parent")
            parent, depth = -1, 0
        else:
            parent = self.index(spec.parent)
            depth = self.buses[parent].depth + 1
        sr, block = self.sr, self.block
        g = 0.0 if spec.muted else db_to_gain(spec.gain_db)
        rt = BusRuntime(
            spec=spec,
            index=len(self.buses),
            parent=parent,
            depth=depth,
            lowpass=_prepared(LowPass(EffectSpec("lowpass", {"cutoff_hz": spec.lowpass_hz})), sr, block),
            highpass=_prepared(HighPass(EffectSpec("highpass", {"cutoff_hz": spec.highpass_hz})), sr, block),
            fader=Ramp(np.array([g]), np.array([block / sr]), sr),
        )
        if spec.reverb is not None:
            rt.reverb = _make_reverb(spec.reverb, sr, block)
        rt.effects = chain if chain is not None else build_chain(spec.effects, sr, block)
        self._staged.setdefault(spec.name, [s.shape() for s in spec.effects])
        rt.rebuild_chain()
        self.buses.append(rt)
        self.by_name[spec.name] = rt.index
        self.keys.append(None)
        self.acc = np.zeros((len(self.buses), self.block, 2), dtype=np.float32)
        self._wire()
        return rt.index

    def set(
        self,
        name: str,
        gain_db: float | Unchanged = UNCHANGED,
        lowpass_hz: float | Unchanged | None = UNCHANGED,
        highpass_hz: float | Unchanged | None = UNCHANGED,
        muted: bool | Unchanged = UNCHANGED,
    ) -> None:
        """Change a bus; every change ramps over the next block. A cutoff of None removes that
        filter; ``UNCHANGED`` leaves a field as it is."""
        rt = self.buses[self.index(name)]
        spec = rt.spec
        if gain_db is not UNCHANGED:
            spec = BusSpec(**{**spec.__dict__, "gain_db": float(gain_db)})
        if lowpass_hz is not UNCHANGED:
            spec = BusSpec(**{**spec.__dict__, "lowpass_hz": lowpass_hz})
            rt.lowpass.update(rt.lowpass.spec.with_values(cutoff_hz=lowpass_hz))
        if highpass_hz is not UNCHANGED:
            spec = BusSpec(**{**spec.__dict__, "highpass_hz": highpass_hz})
            rt.highpass.update(rt.highpass.spec.with_values(cutoff_hz=highpass_hz))
        if muted is not UNCHANGED:
            spec = BusSpec(**{**spec.__dict__, "muted": bool(muted)})
        rt.spec = spec
        rt.fader.set(0, 0.0 if spec.muted else db_to_gain(spec.gain_db))

    def set_reverb(self, name: str, spec: ReverbSpec) -> None:
        rt = self.buses[self.index(name)]
        if rt.reverb is None:
            rt.reverb = _make_reverb(spec, self.sr, self.block)
            rt.rebuild_chain()
        else:
            rt.reverb.update(EffectSpec("reverb", spec.__dict__))
        rt.spec = BusSpec(**{**rt.spec.__dict__, "reverb": spec})

    def set_effects(
        self, name: str, specs: tuple[EffectSpec, ...], chain: list[Effect] | None = None
    ) -> None:
        """Give bus ``name`` the chain ``specs``: same shape -> the instances glide to the new
        parameters (snapshots); otherwise ``chain`` (prepared by ``stage_effects``) replaces them."""
        rt = self.buses[self.index(name)]
        if chain is None and [f.spec.shape() for f in rt.effects] == [s.shape() for s in specs]:
            for fx, s in zip(rt.effects, specs, strict=True):
                fx.update(s)
        else:
            rt.effects = chain if chain is not None else build_chain(specs, self.sr, self.block)
            rt.rebuild_chain()
            self._wire()
        rt.spec = BusSpec(**{**rt.spec.__dict__, "effects": tuple(specs)})

    def set_master_effect(self, slot: str, instance: Any | None) -> None:
        """Put a prepared instance (``process(block)`` in place) into master's slot ``slot``, after
        the master fader and automatic gain and before the limiter; None empties the slot. Slots
        run in the order they were first filled."""
        for i, (name, _) in enumerate(self.master_fx):
            if name == slot:
                if instance is None:
                    del self.master_fx[i]
                else:
                    self.master_fx[i] = (slot, instance)
                break
        else:
            if instance is not None:
                self.master_fx.append((slot, instance))
        self._wire()

    def _wire(self) -> None:
        """Connect side-chains to their source buses' blocks and order the buses so that a source
        is processed before the bus it drives whenever the tree allows (then the key is this
        block's; otherwise, in a loop, the source's previous block). A side-chain naming a bus not
        in the graph yet listens to its own input until that bus is added (a scene adds its buses
        parents first, so a key bus may come after the bus it drives)."""
        listeners = [(rt.index, fx) for rt in self.buses for fx in rt.chain]
        listeners += [
            (self.by_name[r.spec.target], r.fx)
            for r in self.ducking.all_rules()
            if r.spec.target in self.by_name
        ]
        listened: set[int] = set()
        edges = [(rt.index, rt.parent) for rt in self.buses if rt.parent >= 0]
        for b, fx in listeners:
            src = self.by_name.get(fx.sidechain or "")
            if src is not None and src != b:
                listened.add(src)
                edges.append((src, b))
        for b in range(len(self.buses)):
            if b in listened and self.keys[b] is None:
                self.keys[b] = np.zeros((self.block, 2), dtype=np.float32)
            elif b not in listened:
                self.keys[b] = None
        for b, fx in listeners:
            src = self.by_name.get(fx.sidechain or "")
            fx.key = self.keys[src] if src is not None and src != b else None
        self.order = _process_order(self.buses, edges)

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

    @property
    def ducks(self) -> list[DuckSpec]:
        """Every ducking rule in force, all owners (released ones not)."""
        return [r.spec for r in self.ducking.all_rules() if not r.fx.released]

    def set_ducks(
        self, owner: str, ducks: tuple[DuckSpec, ...], prepared: tuple[Any, ...] | None = None
    ) -> None:
        """Replace ``owner``'s rules with ``ducks`` (empty: remove them); ``prepared`` are the
        instances ``ducking.stage`` made on the control side (None: made here, off-line use)."""
        for d in ducks:
            self.index(d.source), self.index(d.target)
        if prepared is None:
            prepared = tuple(self.ducking.prepare(d) for d in ducks)
        self.ducking.set(owner, tuple(ducks), prepared)
        self._wire()

    def process(self, n: int, out: np.ndarray) -> None:
        """Run every bus for ``n`` frames of ``self.acc`` and write the limited master into ``out``."""
        acc = self.acc
        ducking = self.ducking
        for b in self.order:
            rt = self.buses[b]
            x = acc[b, :n]
            for fx in rt.chain:
                fx.process(x)
            key = self.keys[b]
            if key is not None:
                copy_block(x, key, n)
            rt.duck_db = ducking.apply(rt.spec.name, x, n)
            fader = rt.fader
            fader.advance(n)
            g0, g1 = fader.start[0], fader.value[0]
            if b in self.meters and b != 0:
                self.meters[b].push(x * np.float32(g1))
            if rt.parent >= 0:
                add_ramped(x, acc[rt.parent], n, g0, g1)
            else:
                scale_ramped(x, n, g0, g1)
        master = acc[0, :n]
        if self.agc_target is not None:
            self._agc(master, n)
        for _, fx in self.master_fx:
            fx.process(master)
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

    def reset_accumulators(self, n: int) -> None:
        self.acc[:, :n, :] = 0.0


def _make_reverb(spec: ReverbSpec, sr: int, block: int) -> ReverbEffect:
    return _prepared(ReverbEffect(EffectSpec("reverb", spec.__dict__)), sr, block)  # type: ignore[return-value]


def _process_order(buses: list[BusRuntime], edges: list[tuple[int, int]]) -> list[int]:
    """Bus indices with every ``(before, after)`` edge respected, deepest first among the ready ones
    (Kahn's algorithm). If side-chains form a loop, children-before-parents alone (depth order)."""
    n = len(buses)
    succ: list[list[int]] = [[] for _ in range(n)]
    indeg = [0] * n
    for a, b in set(edges):
        succ[a].append(b)
        indeg[b] += 1
    ready = [(-buses[b].depth, b) for b in range(n) if indeg[b] == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        _, b = heapq.heappop(ready)
        order.append(b)
        for c in succ[b]:
            indeg[c] -= 1
            if indeg[c] == 0:
                heapq.heappush(ready, (-buses[c].depth, c))
    if len(order) < n:
        return sorted(range(n), key=lambda b: -buses[b].depth)
    return order
