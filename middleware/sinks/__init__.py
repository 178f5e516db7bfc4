"""Where rendered audio goes: a miniaudio device, a WAV file, or nowhere (null)."""

from .base import Renderable
from .device import DeviceSink
from .null import NullSink
from ..rt.ring import FrameRing
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
