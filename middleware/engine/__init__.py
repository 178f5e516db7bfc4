"""The audio engine: sample bank, voices, buses, DSP kernels (see engine.py for the threading rules)."""

from ..config import EngineConfig
from .engine import Engine
from .specs import BusSpec, DuckSpec, ReverbSpec

__all__ = ["BusSpec", "DuckSpec", "Engine", "EngineConfig", "ReverbSpec"]
