"""Adaptive soundscape middleware.

Data flows one way: transport (ZeroMQ + msgpack) -> control state -> scene runtime (control rate)
-> engine (audio rate, numba kernels) -> sink (miniaudio device, WAV file, null).
"""

__version__ = "0.1.0"
