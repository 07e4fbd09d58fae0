"""A sustained single-emotion session of a speaker the model never saw keeps its label
through `ccser-predict --stream` (the live rule): 12 files in a row, one emotion."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training import cli, predict_cli

#: Emotions that differ only in level (pitch and effort), not in pitch movement: exactly
#: what per-session normalisation absorbs when a session holds one emotion.
LEVELS = {"angry": (1.6, 0.6), "sad": (0.8, 0.15)}  # (f0 factor, amplitude)


def _voice(speech, noise, emotion: str, speaker_f0: float, seed: int):
    rng = np.random.default_rng(seed)
    factor, amp = LEVELS[emotion]
    seconds = float(rng.uniform(1.2, 1.8))
    y = speech(16000, seconds, f0=speaker_f0 * factor * rng.uniform(0.95, 1.05),
               amp=amp * rng.uniform(0.8, 1.2), glide=0.15, am=0.5)
    return y + noise(16000, seconds, amp=0.002, seed=seed)[: len(y)]


@pytest.fixture
def sessions(_session_store, speech, noise, write_audio):
    """A model trained on a RAVDESS-named corpus of 6 speakers, and an unseen speaker's 12
    angry and 12 sad files (built once per test session)."""
    if "sustained" not in _session_store:
        root = _session_store["root"] / "sustained"
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
        _session_store["sustained"] = model, unseen
    return _session_store["sustained"]


def labels(model: Path, files: list[Path], capsys) -> list[str]:
    assert predict_cli.main([*map(str, files), "--model", str(model), "--stream", "--json"]) == 0
    return [json.loads(line)["emotion"] for line in capsys.readouterr().out.splitlines()]


def test_sustained_sessions_keep_their_label(sessions, capsys):
    model, unseen = sessions
    for emotion, files in unseen.items():
        got = labels(model, files, capsys)
        assert got.count(emotion) >= 11, (emotion, got)

