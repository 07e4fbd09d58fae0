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


#: Emotions that differ only in level (pitch and effort), not in pitch movement: exactly
#: what per-session normalisation absorbs when a session holds one emotion.
LEVELS = {"angry": (1.6, 0.6), "sad": (0.8, 0.15)}  # (f0 factor, amplitude)


def _voice(speech, noise, emotion: str, speaker_f0: float, seed: int):
    """Two phrases with a pause between, level set by `emotion`; timing, glide and
    envelope vary per file as real utterances do."""
    rng = np.random.default_rng(seed)
    factor, amp = LEVELS[emotion]
    f0, level = speaker_f0 * factor * rng.uniform(0.95, 1.05), amp * rng.uniform(0.8, 1.2)
    phrases = [speech(16000, float(rng.uniform(0.5, 0.9)), f0=f0 * rng.uniform(0.97, 1.03),
                      amp=level, glide=float(rng.uniform(0.05, 0.25)),
                      am=float(rng.uniform(0.3, 0.7))) for _ in range(2)]
    pause, lead, tail = (np.zeros(int(16000 * rng.uniform(a, b)), np.float32)
                         for a, b in ((0.08, 0.3), (0.2, 0.5), (0.2, 0.5)))
    y = np.concatenate([lead, phrases[0], pause, phrases[1], tail])  # recorded with margins
    return y + noise(16000, len(y) / 16000, amp=0.002, seed=seed)[: len(y)]


@pytest.fixture(scope="session")
def _sustained_store(tmp_path_factory) -> dict:
    return {"root": tmp_path_factory.mktemp("sustained")}


@pytest.fixture
def sustained_sessions(_sustained_store, speech, noise, write_audio):
    """(model folder, {emotion: files}): an AS model trained (`ccser-train` defaults) on a
    RAVDESS-named corpus of 6 speakers whose emotions differ only in level, and an unseen
    speaker's 12 angry and 12 sad files. Built once per test session."""
    store = _sustained_store
    if "sustained" not in store:
        from training import cli  # imported here: only tests that need the model pay for it

        root = store["root"]
        corpora = root / "corpora"
        for actor in range(1, 7):
            f0 = 110.0 if actor % 2 else 200.0
            for code, emotion in (("05", "angry"), ("04", "sad")):
                for rep in range(8):
                    name = f"03-01-{code}-01-01-{rep + 1:02d}-{actor:02d}.wav"
                    write_audio(corpora / "ravdess" / f"Actor_{actor:02d}" / name,
                                _voice(speech, noise, emotion, f0, actor * 100 + rep), 16000)
        unseen = {e: [write_audio(root / "unseen" / f"{e}{i:02d}.wav",
                                  _voice(speech, noise, e, 150.0, 9000 + i), 16000)
                      for i in range(12)] for e in LEVELS}
        model = root / "model"
        assert cli.main(["--train", "ravdess", "--emotions", "AS", "--folds", "2", "--jobs", "1",
                         "--quiet", "--corpus-dir", str(corpora), "--cache-dir",
                         str(root / "cache"), "--output", str(model)]) == 0
        store["sustained"] = model, unseen
    return store["sustained"]
