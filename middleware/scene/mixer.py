"""The scene's mix: its buses and ducking in the engine, snapshots blending over them, the player's
volume per bus on top.

The mixer keeps each bus's own definition (``base``) and lays the active snapshots over it whenever
a snapshot's blend amount moves or the player's gains change (``apply``), so the engine is told only
what changed at control rate, never per sample.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Protocol

from ..engine import BusSpec, DuckSpec, Engine, ReverbSpec
from ..engine.effects import blend_chain
from ..engine.specs import BUS_BOUNDS
from .model import BusDef, SceneDef

_BUS_GAIN = BUS_BOUNDS["gain_db"]
SCENE_DUCKS = "scene"
"""The owner of the scene's own ducking rules in the engine (``Engine.set_ducks``)."""


class PlayerLayer(Protocol):
    """The player's profile as the mixer needs it (``accessibility.host.PlayerSettings``): asked again
    for every scene the runtime plays, since volumes and the dialogue boost follow the scene's buses."""

    def bus_gain_db(self, scene: SceneDef) -> Mapping[str, float]: ...

    def set_ducks(self, engine: Engine, scene: SceneDef) -> None: ...


class Mixer:
    """Buses, ducking, snapshot blending and the player's per-bus gains of one runtime."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sr = engine.sample_rate
        self.base: dict[str, BusDef] = {}  # each bus's own settings, as the scene defines them
        self.snapshot_on: dict[str, bool] = {}  # snapshots the game switched on
        self.snapshot_amount: dict[str, float] = {}  # how far each has blended in (0..1)
        self.player_gain_db: Mapping[str, float] = MappingProxyType({})
        """The player's volume per bus (dB; accessibility profile), added on top of the scene's and
        its snapshots' gains: the player's fader, which no snapshot overwrites."""
        self.player: PlayerLayer | None = None
        """The player's profile, once one is applied (``accessibility.host`` sets it, then posts the
        runtime's ``set_player_gains``): the gains and boost are derived from it for the scene playing
        when the command lands and again for every scene swapped in, never kept per bus of a scene
        the runtime has left."""

    # ---------------------------------------------------------------- scene setup and reload
    def setup(self, scene: SceneDef) -> None:
        """Create or update the scene's buses (parents first), its loudness target and ducking."""
        for b in scene.bus_order():
            spec = _bus_spec(b)
            if b.name == "master":
                self.engine.set_bus(
                    "master",
                    gain_db=b.gain_db,
                    lowpass_hz=b.lowpass_hz,
                    highpass_hz=b.highpass_hz,
                    effects=b.effects,
                )
            elif b.name in self.base or self.engine.has_bus(b.name):
                self.engine.set_bus(
                    b.name,
                    gain_db=b.gain_db,
                    lowpass_hz=b.lowpass_hz,
                    highpass_hz=b.highpass_hz,
                    muted=False,
                    reverb=spec.reverb,
                    effects=b.effects,
                )
            else:
                self.engine.add_bus(spec)
            self.base[b.name] = b
        master = scene.buses.get("master")
        self.engine.set_loudness_target(master.loudness_lufs if master is not None else None)
        # The scene's rules replace the previous scene's as a whole: a changed amount or a removed
        # rule takes effect on hot reload (the ducked bus glides to it; adding only kept the old one).
        self.engine.set_ducks(
            SCENE_DUCKS,
            [
                DuckSpec(
                    source=d.by,
                    target=b.name,
                    amount_db=d.amount_db,
                    threshold_db=d.threshold_db,
                    attack=d.attack,
                    release=d.release,
                )
                for b in scene.buses.values()
                for d in b.ducking
            ],
        )

    def reload_buses(self, scene: SceneDef) -> None:
        """Swap to ``scene``'s buses: removed ones are muted (the engine keeps its buses). The
        player's volumes and boost are derived again for the new buses and laid on at once (setup
        alone left every bus at its own gain, without the player's fader)."""
        self.setup(scene)
        for name in self.base.keys() - set(scene.buses) - {"master"}:
            self.engine.set_bus(name, muted=True)
            del self.base[name]
        self._derive_player(scene)
        self.apply(scene)

    def _derive_player(self, scene: SceneDef) -> None:
        if self.player is not None:
            self.player_gain_db = self.player.bus_gain_db(scene)
            self.player.set_ducks(self.engine, scene)

    def reload_snapshots(self, scene: SceneDef) -> None:
        """Forget removed snapshots and lay the active ones over the buses' new settings."""
        for table in (self.snapshot_on, self.snapshot_amount):
            for name in [k for k in table if k not in scene.snapshots]:
                del table[name]
        if any(a > 0 for a in self.snapshot_amount.values()):
            self.apply(scene)

    # ---------------------------------------------------------------- control rate
    def set_player_gains(self, scene: SceneDef, gains: Mapping[str, float]) -> None:
        """The player's gains per bus; with a ``player`` set they are derived from it for ``scene``
        (the caller computed them for the scene playing when it posted, which may have been swapped)."""
        self.player_gain_db = gains
        self._derive_player(scene)
        self.apply(scene)

    def update_snapshots(self, scene: SceneDef, env: Mapping[str, Any], n: int) -> None:
        """Move each snapshot's blend toward on/off (its ``when`` or the game's switch) over ``n`` frames."""
        changed = False
        for snap in scene.snapshots.values():
            on = snap.when.evaluate(env) if snap.when is not None else self.snapshot_on.get(snap.name, False)
            cur = self.snapshot_amount.get(snap.name, 0.0)
            tgt = 1.0 if on else 0.0
            if cur == tgt:
                continue
            t = snap.blend_in if on else snap.blend_out
            step = 1.0 if t <= 0 else n / (t * self.sr)
            cur = min(tgt, cur + step) if on else max(tgt, cur - step)
            self.snapshot_amount[snap.name] = cur
            changed = True
        if changed:
            self.apply(scene)

    def apply(self, scene: SceneDef) -> None:
        """Each bus's own settings with every active snapshot applied, scaled by how far it has
        blended in (0..1).

        Gains are relative (FMOD's blending snapshots, Wwise's relative state properties): a
        snapshot's ``gain_db`` adds to the bus's own, so "music 9 dB down" stays 9 dB down whatever
        the music bus's own level, and two active snapshots add up. Filter cutoffs and reverb
        amounts are absolute settings: blended from the bus's own value (log-Hz for cutoffs) toward
        the snapshot's; when several active snapshots set one, the higher ``priority`` wins.
        """
        for name, base in self.base.items():
            gain = base.gain_db
            lp = base.lowpass_hz
            hp = base.highpass_hz
            wet = base.reverb.wet if base.reverb else None
            room = base.reverb.room_size if base.reverb else None
            fx_layers = []
            for snap in sorted(scene.snapshots.values(), key=lambda s: s.priority):
                a = self.snapshot_amount.get(snap.name, 0.0)
                ov = snap.buses.get(name)
                if a <= 0 or ov is None:
                    continue
                fx_layers.append((a, ov.effects))
                if ov.gain_db is not None:
                    gain += a * ov.gain_db
                if ov.lowpass_hz is not None:
                    lp = _log_blend(lp or 0.49 * self.sr, ov.lowpass_hz, a)
                if ov.highpass_hz is not None:
                    hp = _log_blend(hp or 10.0, ov.highpass_hz, a)
                if ov.reverb_wet is not None and wet is not None:
                    wet += a * (ov.reverb_wet - wet)
                if ov.reverb_room_size is not None and room is not None:
                    room += a * (ov.reverb_room_size - room)
            reverb = None
            if base.reverb is not None:
                r = base.reverb
                reverb = ReverbSpec(room_size=room, damping=r.damping, wet=wet, dry=r.dry, width=r.width)
            lp = None if lp is not None and lp >= 0.49 * self.sr else lp
            hp = None if hp is not None and hp <= 10.0 else hp
            gain += self.player_gain_db.get(name, 0.0)  # the player's fader (accessibility profile)
            gain = min(max(gain, _BUS_GAIN.lo), _BUS_GAIN.hi)  # the engine's bus range; snapshots stack
            effects = blend_chain(base.effects, fx_layers) if base.effects else None
            self.engine.set_bus(
                name, gain_db=gain, lowpass_hz=lp, highpass_hz=hp, reverb=reverb, effects=effects
            )


def _log_blend(a: float, b: float, t: float) -> float:
    return math.exp(math.log(a) + t * (math.log(b) - math.log(a)))


def _bus_spec(b: BusDef) -> BusSpec:
    reverb = None
    if b.reverb is not None:
        r = b.reverb
        reverb = ReverbSpec(room_size=r.room_size, damping=r.damping, wet=r.wet, dry=r.dry, width=r.width)
    return BusSpec(
        b.name,
        parent=b.parent,
        gain_db=b.gain_db,
        lowpass_hz=b.lowpass_hz,
        highpass_hz=b.highpass_hz,
        reverb=reverb,
        effects=b.effects,
    )
