"""Character presets: synthesiser settings plus an effect chain, as plain data.

Pitch and vocal-tract length are set in the synthesiser itself (the formant engine scales f0 and all
formant targets exactly); for an external engine (espeak-ng) the same ``pitch_ratio`` and
``formant_ratio`` are applied afterwards by :mod:`middleware.voice.shift`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from functools import cached_property

from ..errors import EngineError
from ..hints import suggestion
from .formant import VoiceParams


@dataclass(frozen=True)
class VoicePreset:
    """A character. ``voice`` drives the formant engine; ``effects`` run on the result in order."""

    name: str
    description: str
    voice: VoiceParams
    effects: tuple[tuple[str, dict], ...] = field(default_factory=tuple)

    @cached_property
    def settings_digest(self) -> str:
        """sha256 (16 hex) of everything that shapes the sound (voice settings, effects and their
        parameters; not the name or description): part of the line cache key."""
        blob = json.dumps([asdict(self.voice), [[n, p] for n, p in self.effects]], sort_keys=True)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    @property
    def pitch_ratio(self) -> float:
        """Pitch relative to the neutral voice (120 Hz), for engines that cannot set f0 directly."""
        return self.voice.f0 / 120.0


PRESETS: dict[str, VoicePreset] = {
    p.name: p
    for p in (
        VoicePreset("neutral", "plain adult voice, no effects", VoiceParams()),
        VoicePreset(
            "ogre",
            "huge and low: 65 Hz pitch, a slightly longer vocal tract, growl and chest",
            # the size is in the pitch, the chest (low shelf) and the growl (32 Hz tremolo). Tract x0.78,
            # rate 0.8 and a soft clip were 1/10 recognised (neutral 9/10); tract x0.95, rate 0.9 and the
            # clip 7/10; each of tract x0.95, rate 0.9, intonation 0.7 and the clip cost about one
            # sentence; this is 9/10 (tests/test_voice_intelligibility.py)
            VoiceParams(f0=65.0, formant_scale=0.95, breathiness=0.15, jitter=0.01),
            (
                ("tremolo", {"rate_hz": 32.0, "depth": 0.25}),
                ("low_shelf", {"freq": 200.0, "gain_db": 6.0}),
            ),
        ),
        VoicePreset(
            "child",
            "small and bright: short vocal tract, 280 Hz pitch, lively intonation, a little faster",
            VoiceParams(f0=280.0, intonation=1.3, formant_scale=1.25, rate=1.1, breathiness=0.1),
        ),
        VoicePreset(
            "robot",
            "monotone 100 Hz buzz, ring-modulated by a 40 Hz carrier",
            VoiceParams(
                f0=100.0, intonation=0.0, jitter=0.0, breathiness=0.0, rate=0.9
            ),  # 0.95: 7/10, 0.9: 8/10
            (("ring_mod", {"freq": 40.0, "mix": 1.0}),),
        ),
        VoicePreset(
            "radio",
            "voice over a walkie-talkie: 300-3400 Hz band, clipped, with static",
            VoiceParams(f0=125.0, rate=1.05),
            (
                ("band_pass", {"low": 300.0, "high": 3400.0}),
                ("distort", {"drive": 3.0}),  # drive 5 and static at -36 dB: 6/10; these: 9/10
                ("noise_bed", {"level_db": -42.0}),
            ),
        ),
        VoicePreset(
            "ghost",
            "breathy, wavering, far away: chorus, slow tremolo, a long reverb that swells in the pauses",
            VoiceParams(
                f0=150.0,
                intonation=0.6,
                formant_scale=1.05,
                rate=0.8,
                breathiness=0.7,
                voicing=0.5,
                vibrato_hz=4.0,
                vibrato_depth=0.03,
            ),
            (
                ("chorus", {"voices": 3, "depth_ms": 8.0, "rate_hz": 0.4, "mix": 0.6}),
                ("tremolo", {"rate_hz": 3.0, "depth": 0.35}),
                # ducked 30 dB under the words: wet 0.55 undocked was 0/10 recognised, this is 9/10
                ("reverb", {"room_size": 0.92, "wet": 0.25, "tail_s": 1.5, "duck_db": 30.0}),
            ),
        ),
        VoicePreset(
            "whisper",
            "unvoiced: aspiration noise through the formants",
            VoiceParams(f0=120.0, voicing=0.0, breathiness=1.0, rate=0.9),
        ),
        VoicePreset(
            "goblin",
            "small, quick and nasal: 210 Hz, short tract, fast",
            VoiceParams(
                f0=210.0, intonation=1.4, formant_scale=1.15, rate=1.15, jitter=0.01
            ),  # rate 1.3: 7/10
            (("band_pass", {"low": 250.0, "high": 7000.0}),),
        ),
        VoicePreset(
            "elder",
            "old and unsteady: low energy, vibrato, breathy",
            VoiceParams(
                f0=105.0,
                intonation=0.8,
                formant_scale=0.97,
                rate=0.85,
                breathiness=0.35,
                jitter=0.015,
                vibrato_hz=5.5,
                vibrato_depth=0.025,
            ),
        ),
    )
}


def get_preset(name: str) -> VoicePreset:
    """The preset called ``name``; an unknown name raises EngineError naming the presets, with a
    "did you mean" only for a close misspelling (``middleware.hints``)."""
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        close = suggestion(name, PRESETS)
        hint = f" ({close})" if close else ""
        raise EngineError(
            f"voice preset={name!r}: unknown{hint}; must be one of {', '.join(PRESETS)}"
        ) from None
