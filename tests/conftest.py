"""Shared fixtures: small engines and synthetic signals (the project makes its own test audio)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from middleware.config import EngineConfig
from middleware.engine import Engine

SR = 48000


def sine(freq: float, seconds: float, sr: int = SR, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def noise(seconds: float, seed: int = 0, sr: int = SR, amp: float = 0.25) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (amp * rng.uniform(-1, 1, int(seconds * sr))).astype(np.float32)


def max_jump(x: np.ndarray) -> float:
    """Largest sample-to-sample step on any channel: the click metric used across the tests."""
    return float(np.max(np.abs(np.diff(x, axis=0))))


def write_wav(path: Path, x: np.ndarray, sr: int = SR) -> Path:
    """A 16-bit mono WAV of ``x`` (clipped to [-1, 1]) at ``path``, folders made: a scene's test asset."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(sr)
        f.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture
def engine() -> Engine:
    return Engine(EngineConfig(block=256, max_voices=64, voice_limit=64))


@pytest.fixture
def sr() -> int:
    return SR
