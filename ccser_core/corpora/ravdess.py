"""RAVDESS: `MM-VV-EE-II-SS-RR-AA` (modality, vocal channel, emotion, intensity,
statement, repetition, actor); speech (VV=01) and song (VV=02); speaker = actor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ccser_core.corpora.base import Utterance, audio_files

EMOTIONS = {
    "01": "neutral", "02": "calm", "03": "happy", "04": "sad",
    "05": "angry", "06": "fear", "07": "disgust", "08": "surprise",
}
LICENCE = "CC BY-NC-SA 4.0 (Livingstone & Russo 2018, PLoS ONE 13(5): e0196391)"
EXPECTED = "MM-VV-EE-II-SS-RR-AA, e.g. 03-01-05-01-02-01-12.wav"


def parse(root: Path) -> Iterator[Utterance | str]:
    for path in audio_files(root, "ravdess"):
        fields = path.stem.split("-")
        if len(fields) != 7 or not all(len(f) == 2 and f.isdigit() for f in fields):
            yield f"{path}: name does not match RAVDESS rule {EXPECTED}"
            continue
        if fields[2] not in EMOTIONS or fields[1] not in ("01", "02"):
            yield f"{path}: unknown emotion code {fields[2]} or channel {fields[1]} ({EXPECTED})"
            continue
        yield Utterance(str(path), EMOTIONS[fields[2]], f"ravdess:{fields[6]}", "ravdess")
