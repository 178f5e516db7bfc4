"""Shared fixtures: small engines and synthetic signals (the project makes its own test audio)."""

from __future__ import annotations

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


@pytest.fixture
def engine() -> Engine:
    return Engine(EngineConfig(block=256, max_voices=64, voice_limit=64))


@pytest.fixture
def sr() -> int:
    return SR
