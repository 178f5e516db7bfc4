"""Typed errors. Every message names the field, the value and what was allowed.

Validation happens where input enters (load time, receive time, API call), never inside the
render path, so the audio thread never raises.
"""

from __future__ import annotations


class SoundscapeError(Exception):
    """Root of every error this package raises on purpose."""


class EngineError(SoundscapeError):
    """A bad argument to the engine API (unknown bus or sample, NaN position, negative pitch ...)."""


class AudioFileError(SoundscapeError):
    """An audio asset could not be read or decoded."""


class DeviceError(SoundscapeError):
    """The audio device could not be opened or failed while running."""


class SceneError(SoundscapeError):
    """A scene definition is invalid. ``errors`` holds every problem found, not just the first."""

    def __init__(self, message: str, errors: list | None = None) -> None:
        super().__init__(message)
        self.errors = list(errors or [])


class ProtocolError(SoundscapeError):
    """A message on the wire is malformed, of the wrong type, unknown or out of range."""

    def __init__(self, message: str, code: str = "bad_message", where: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.where = where


class ModelError(SoundscapeError):
    """An ONNX model is missing, corrupt or does not match what the scene expects."""
