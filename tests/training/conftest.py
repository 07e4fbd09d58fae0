"""Fake corpora for the training tests, built in a temporary folder with the real
naming rules, from the shared speech generator in tests/conftest.py.

"angry" is loud, high-pitched, with a wide f0 glide and a deep syllable envelope;
"sad" is quiet, low and flat. Each speaker has its own pitch, so per-speaker
normalisation has something to remove. Building a corpus and warming the feature
extractor cost seconds, so each fake corpus is built once per session and tests
that change files work on a copy (`copy_corpus`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

RAVDESS_CODES = {"angry": "05", "sad": "04", "happy": "03", "neutral": "01"}
EMODB_CODES = {"angry": "W", "sad": "T", "happy": "F", "neutral": "N"}
#: (f0 Hz, amplitude, relative f0 glide, envelope depth) per emotion.
VOICES = {
    "angry": (210.0, 0.6, 0.5, 0.85),
    "sad": (110.0, 0.06, 0.03, 0.25),
}


@pytest.fixture
def emotional_speech(speech, noise):
    """emotional_speech(emotion, sr, speaker_scale, seed) -> float32 utterance (1.0-1.6 s)."""

    def make(emotion: str, sr: int, speaker_scale: float, seed: int) -> np.ndarray:
        f0, amp, glide, am = VOICES[emotion]
        rng = np.random.default_rng(seed)
        seconds = float(rng.uniform(1.0, 1.6))
        y = speech(sr, seconds, f0=f0 * speaker_scale * rng.uniform(0.95, 1.05),
                   amp=amp * rng.uniform(0.8, 1.2), glide=glide, am=am)
        return y + noise(sr, seconds, amp=0.002, seed=seed)[: len(y)]

    return make


@pytest.fixture
def build_ravdess(emotional_speech, write_audio):
    """build_ravdess(root, actors=4, per_emotion=3) -> root: Actor_NN folders, actors 1-2 as
    48 kHz stereo WAV (like the originals), the rest as 16 kHz mono FLAC."""

    def build(root: Path, actors: int = 4, per_emotion: int = 3,
              emotions: tuple[str, ...] = ("angry", "sad")) -> Path:
        for actor in range(1, actors + 1):
            scale = 0.8 if actor % 2 else 1.25  # odd actors are male
            wav = actor <= 2
            for emotion in emotions:
                for rep in range(per_emotion):
                    code = RAVDESS_CODES[emotion]
                    stem = f"03-01-{code}-01-{rep % 2 + 1:02d}-{rep // 2 + 1:02d}-{actor:02d}"
                    sr = 48000 if wav else 16000
                    y = emotional_speech(emotion, sr, scale, seed=actor * 100 + rep * 10 + len(emotion))
                    write_audio(root / f"Actor_{actor:02d}" / f"{stem}{'.wav' if wav else '.flac'}",
                                y, sr, channels=2 if wav else 1)
        return root

    return build


@pytest.fixture
def build_emodb(emotional_speech, write_audio):
    """build_emodb(root, speakers=4, per_emotion=3) -> root with wav/SSTTTEV files, even
    speakers as 16 kHz FLAC, odd ones as 16 kHz WAV."""

    def build(root: Path, speakers: int = 4, per_emotion: int = 3,
              emotions: tuple[str, ...] = ("angry", "sad")) -> Path:
        for i, spk in enumerate((3, 8, 9, 10, 11, 12)[:speakers]):
            scale = 0.85 if spk in (3, 10, 11, 12) else 1.2
            for emotion in emotions:
                for rep in range(per_emotion):
                    stem = f"{spk:02d}a{rep + 1:02d}{EMODB_CODES[emotion]}{'abc'[rep % 3]}"
                    y = emotional_speech(emotion, 16000, scale, seed=5000 + spk * 100 + rep * 10
                                         + len(emotion))
                    write_audio(root / "wav" / f"{stem}{'.flac' if i % 2 else '.wav'}", y, 16000)
        return root

    return build


@pytest.fixture(scope="session")
def _session_store(tmp_path_factory) -> dict:
    return {"root": tmp_path_factory.mktemp("fake_corpora")}


@pytest.fixture
def fake_corpora(_session_store, build_ravdess, build_emodb) -> Path:
    """A corpus folder with ravdess/ and emodb/ (angry + sad, 4 speakers x 3 files each),
    built once per session. Treat it as read-only; use `copy_corpus` to change files."""
    root = _session_store["root"] / "corpora"
    if not root.is_dir():
        build_ravdess(root / "ravdess")
        build_emodb(root / "emodb")
    return root


@pytest.fixture
def shared_cache(_session_store) -> Path:
    """A feature cache shared by the session, so the fake corpora are extracted once."""
    return _session_store["root"] / "cache"


@pytest.fixture
def copy_corpus(fake_corpora, tmp_path):
    """copy_corpus(name) -> a private copy of fake corpus `name` under tmp_path/corpora."""

    def copy(name: str) -> Path:
        dest = tmp_path / "corpora" / name
        shutil.copytree(fake_corpora / name, dest)
        return dest

    return copy
