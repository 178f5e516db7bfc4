"""Ducking rules as side-chained compressors: "while bus A is above a level, bus B goes down by D dB".

Each rule (:class:`~.specs.DuckSpec`) is a compressor instance (``effects/compressor.py``) keyed by
its source bus, with the ``depth`` curve (a fixed depth past the threshold, 6 dB smoothstep knee)
and the ``rms`` detector, so the compressor's detection, static curve and attack/release ballistics
are the one implementation. What this module adds is how rules combine on one target, which a chain
of compressors in series could not express:

* rules belong to an owner (the scene, the player's profile), replaced or removed together
  (``set``); within an owner the deepest rule wins (voice and radio both ducking music by 12 dB
  lower it by 12, not 24: Wwise's auto-ducking takes the maximum too); owners' depths add (the
  player's dialogue boost lowers the rest on top of the designer's duck);
* a rule that is replaced by one with the same source and target keeps its instance and glides to
  the new values; a removed rule is ``released`` and glides back to 0 dB with its release time;
* the combined gain is applied per frame to the target's block after its effects, after its block
  was copied for the side-chains it drives and before its fader (so a ducked bus that drives
  another rule is heard there undimmed, as before).

Instances are prepared on the control side (``stage``) and handed over with the command; the
render side only matches, updates and composes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from .effects import EffectSpec
from .effects.compressor import Compressor
from .specs import DuckSpec

DUCK_KNEE_DB = (
    6.0  # smoothstep around the threshold: a source hovering there does not make the target flutter
)

__all__ = ["DUCK_KNEE_DB", "DuckRule", "Ducking", "duck_effect"]


def duck_effect(d: DuckSpec) -> EffectSpec:
    """The compressor a ducking rule is."""
    return EffectSpec(
        "compressor",
        {
            "curve": "depth",
            "depth_db": d.amount_db,
            "threshold_db": d.threshold_db,
            "knee_db": DUCK_KNEE_DB,
            "attack": d.attack,
            "release": d.release,
            "detector": "rms",
            "sidechain": d.source,
        },
        name=f"duck by {d.source}",
    )


def _keys(specs: tuple[DuckSpec, ...]) -> list[tuple[str, str, int]]:
    """(source, target, k-th such rule) per spec: what a rule is matched by across changes."""
    seen: dict[tuple[str, str], int] = {}
    out = []
    for d in specs:
        k = seen.get((d.source, d.target), 0)
        seen[(d.source, d.target)] = k + 1
        out.append((d.source, d.target, k))
    return out


@dataclass(eq=False)
class DuckRule:
    """A playing rule: its spec, its compressor (``fx.released`` once removed) and its match key."""

    spec: DuckSpec
    fx: Compressor
    key: tuple[str, str, int]


@njit(cache=True, nogil=True)
def _fill(a, n, v):
    for i in range(n):
        a[i] = v


@njit(cache=True, nogil=True)
def _min_into(dst, src, n):
    for i in range(n):
        if src[i] < dst[i]:
            dst[i] = src[i]


@njit(cache=True, nogil=True)
def _add_into(dst, src, n):
    for i in range(n):
        dst[i] += src[i]


@njit(cache=True, nogil=True)
def _apply_db(x, db, n):
    for i in range(n):
        if db[i] != 0.0:
            g = 10.0 ** (db[i] / 20.0)
            x[i, 0] = x[i, 0] * g
            x[i, 1] = x[i, 1] * g


class Ducking:
    """Every ducking rule of an engine, grouped by owner; ``apply`` runs one target's rules."""

    def __init__(self, sample_rate: int, block: int) -> None:
        self.sr = sample_rate
        self.block = block
        self.rules: dict[str, list[DuckRule]] = {}  # owner -> its rules, released ones included
        self.plan: dict[str, tuple[tuple[DuckRule, ...], ...]] = {}  # target -> per-owner groups
        self._owner_db = np.zeros(block, dtype=np.float64)
        self._total_db = np.zeros(block, dtype=np.float64)
        self._staged: dict[str, tuple[DuckSpec, ...]] = {}  # control side: what each owner was handed

    # ------------------------------------------------------------------ control side
    def staged(self, owner: str) -> tuple[DuckSpec, ...]:
        """The rules last handed over for ``owner`` (control side)."""
        return self._staged.get(owner, ())

    def stage(self, owner: str, specs: tuple[DuckSpec, ...]) -> tuple[Compressor | EffectSpec, ...]:
        """Per rule of ``specs``: a prepared compressor for a new rule, or the compressor spec a rule
        handed over before glides to (both built here, so the render side only matches and updates).
        Call from the control thread only, before posting the change."""
        before = set(_keys(self._staged.get(owner, ())))
        self._staged[owner] = specs
        return tuple(
            duck_effect(d) if k in before else self.prepare(d)
            for k, d in zip(_keys(specs), specs, strict=True)
        )

    def prepare(self, d: DuckSpec) -> Compressor:
        fx = Compressor(duck_effect(d))
        fx.prepare(self.sr, self.block)
        return fx

    # ------------------------------------------------------------------ render side
    def set(
        self, owner: str, specs: tuple[DuckSpec, ...], staged: tuple[Compressor | EffectSpec, ...]
    ) -> None:
        """Replace ``owner``'s rules with ``specs`` (``staged`` by ``stage``): a rule matching one
        it had glides to the new values, a new one starts from 0 dB, a missing one is released."""
        old = {r.key: r for r in self.rules.get(owner, []) if not (r.fx.released and r.fx.state[0] == 0.0)}
        rules = []
        for key, d, item in zip(_keys(specs), specs, staged, strict=True):
            r = old.pop(key, None)
            if r is not None:
                r.fx.released = False
                r.fx.update(item.spec if isinstance(item, Compressor) else item)
                r.spec = d
            elif isinstance(item, Compressor):
                r = DuckRule(d, item, key)
            else:
                # Staged as a reuse, but that rule settled and was dropped since: build one here
                # (rare; a few hundred bytes on the render side).
                r = DuckRule(d, self.prepare(d), key)
            rules.append(r)
        for r in old.values():
            r.fx.released = True
            rules.append(r)
        if rules:
            self.rules[owner] = rules
        else:
            self.rules.pop(owner, None)
        plan: dict[str, list[tuple[DuckRule, ...]]] = {}
        for owner_rules in self.rules.values():
            by_target: dict[str, list[DuckRule]] = {}
            for r in owner_rules:
                by_target.setdefault(r.spec.target, []).append(r)
            for target, group in by_target.items():
                plan.setdefault(target, []).append(tuple(group))
        self.plan = {t: tuple(groups) for t, groups in plan.items()}

    def all_rules(self) -> list[DuckRule]:
        return [r for rules in self.rules.values() for r in rules]

    def apply(self, target: str, x: np.ndarray, n: int) -> float:
        """Lower ``x`` (the target's block, ``n`` frames) by its rules' combined gain, per frame;
        returns that gain at the block's last frame (dB, <= 0; 0 for a bus without rules)."""
        groups = self.plan.get(target)
        if groups is None or n <= 0:
            return 0.0
        total, owner_db = self._total_db, self._owner_db
        _fill(total, n, 0.0)
        for group in groups:
            _fill(owner_db, n, 0.0)
            for r in group:
                fx = r.fx
                if fx.released and fx.state[0] == 0.0:
                    continue  # released and back at 0 dB: nothing to add
                fx.gain_into(x, n)
                _min_into(owner_db, fx.gain, n)
            _add_into(total, owner_db, n)
        _apply_db(x, total, n)
        return float(total[n - 1])
