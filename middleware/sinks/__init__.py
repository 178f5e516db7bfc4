"""Where rendered audio goes: a miniaudio device, a WAV file, or nowhere (null)."""

from ..rt.ring import FrameRing
from .base import Renderable
from .device import DeviceSink
from .null import NullSink
from .wav import WavSink, read_wav_info, read_wav_metadata, render_to_wav

__all__ = [
    "DeviceSink",
    "FrameRing",
    "NullSink",
    "Renderable",
    "WavSink",
    "read_wav_info",
    "read_wav_metadata",
    "render_to_wav",
]
