"""Shared test fixtures: synthetic audio (made by the tests, never shipped) and the
real-corpora folder, which skips with a clear reason where it is not available."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def _time(sr: int, seconds: float) -> np.ndarray:
    return np.arange(int(round(sr * seconds))) / sr


@pytest.fixture
def tone():
    """tone(freq_hz, sr, seconds, amp=0.5) -> float32 sine."""

    def make(freq: float, sr: int, seconds: float, amp: float = 0.5) -> np.ndarray:
        return (amp * np.sin(2 * np.pi * freq * _time(sr, seconds))).astype(np.float32)

    return make


@pytest.fixture
def speech():
    """speech(sr, seconds, f0=150, ...) -> float32 speech-like voice: harmonics with
    1/k roll-off, a slow f0 glide plus vibrato, and a syllable-rate (4 Hz) envelope.
    `glide` is the relative f0 change over the signal; `am` the envelope depth 0..1."""

    def make(sr: int, seconds: float, f0: float = 150.0, amp: float = 0.5,
             glide: float = 0.1, am: float = 0.6, harmonics: int = 12) -> np.ndarray:
        t = _time(sr, seconds)
        f = f0 * (1 + glide * (t / max(seconds, 1e-9) - 0.5)) * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
        phase = 2 * np.pi * np.cumsum(f) / sr
        y = sum(np.sin(k * phase) / k for k in range(1, harmonics + 1) if k * f0 < 0.45 * sr)
        envelope = 1 - am * (0.5 + 0.5 * np.cos(2 * np.pi * 4 * t))
        y = y * envelope
        return (amp * y / np.max(np.abs(y))).astype(np.float32)

    return make


@pytest.fixture
def noise():
    """noise(sr, seconds, amp=0.1, seed=0) -> float32 Gaussian white noise."""

    def make(sr: int, seconds: float, amp: float = 0.1, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return (amp * rng.standard_normal(len(_time(sr, seconds)))).astype(np.float32)

    return make


@pytest.fixture
def write_audio():
    """write_audio(path, y, sr, channels=1, subtype=None) -> path; WAV or FLAC by suffix.
    Extra channels are copies of `y` at decreasing gain, so their mean keeps its shape."""

    def write(path: Path, y: np.ndarray, sr: int, channels: int = 1,
              subtype: str | None = None) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = y if channels == 1 else np.stack([y * (1 - 0.2 * c) for c in range(channels)], 1)
        sf.write(str(path), data, sr, subtype=subtype)
        return path

    return write


@pytest.fixture(scope="session")
def corpora_dir() -> Path:
    """The real corpora (see shared/corpora/README.md), from $CCSER_CORPORA."""
    value = os.environ.get("CCSER_CORPORA")
    if not value:
        pytest.skip("CCSER_CORPORA is not set: real-corpus tests need the corpora folder")
    path = Path(value)
    if not path.is_dir():
        pytest.skip(f"CCSER_CORPORA={value} is not a folder: real-corpus tests skipped")
    return path
