"""Procedural, physically informed sound generators that stream block by block.

>>> from middleware.generators import create_generator, GENERATORS
>>> g = create_generator("wind", sample_rate=48000, seed=1234, params={"speed": 0.5})
>>> g.set_params({"speed": 0.8})      # live; glides inside the generator
>>> block = g.render(256)             # (256, 2) float32

Output is deterministic for a given seed (and variation) and sequence of ``set_params`` and
``render`` calls, and independent of how the frames are split into render calls. See
docs/generators.md for every generator, its parameters and the physics behind it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import EngineError
from ..hints import suggestion
from .base import VERSION, Generator, OneShot, ParamSpec
from .birds import Birds
from .engine import Engine
from .fire import Fire
from .footsteps import SURFACES, Footstep, Footsteps
from .impact import MATERIALS, Impact
from .insects import Insects
from .rain import Rain
from .water import Water
from .wind import Wind

GENERATORS: dict[str, type[Generator]] = {
    cls.NAME: cls for cls in (Rain, Wind, Fire, Water, Footsteps, Birds, Insects, Engine, Impact, Footstep)
}


def create_generator(
    name: str,
    sample_rate: int = 48000,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
    variation: int = 0,
) -> Generator:
    """A new generator instance by registry name; ``EngineError`` for unknown names or bad params."""
    cls = GENERATORS.get(name) if isinstance(name, str) else None
    if cls is None:
        close = suggestion(name, GENERATORS)
        hint = f"; {close}" if close else ""
        raise EngineError(f"generator={name!r} is unknown{hint} (known: {', '.join(sorted(GENERATORS))})")
    return cls(sample_rate=sample_rate, seed=seed, params=params, variation=variation)


def params_table(name: str) -> str:
    """The Markdown parameter table of a generator (docs/generators.md embeds these verbatim, and a
    test checks they match the code, so the docs cannot drift from ``PARAMS``)."""
    cls = GENERATORS[name]
    rows = ["| parameter | range | default | unit | meaning |", "|---|---|---|---|---|"]
    for key, spec in cls.PARAMS.items():
        rng = " \\| ".join(spec.choices) if spec.choices else f"{spec.min:g} .. {spec.max:g}"
        default = spec.default if isinstance(spec.default, str) else f"{spec.default:g}"
        rows.append(f"| `{key}` | {rng} | {default} | {spec.unit} | {spec.doc} |")
    return "\n".join(rows)


__all__ = [
    "GENERATORS",
    "MATERIALS",
    "SURFACES",
    "VERSION",
    "EngineError",
    "Generator",
    "OneShot",
    "ParamSpec",
    "create_generator",
    "params_table",
]
