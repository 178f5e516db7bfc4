"""Real-time primitives shared by the engine and the sinks.

Lock-free, allocation-free building blocks that both sides of the audio path use. They live apart so
that the engine and the sinks import neither each other's internals (``tests/test_layering.py``).
"""

from .ring import FrameRing

__all__ = ["FrameRing"]
