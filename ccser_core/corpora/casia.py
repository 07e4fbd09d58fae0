"""CASIA (Mandarin): `<speaker>/<emotion>/<nnn>.wav`, optionally one folder deeper
(`CASIA/<speaker>/<emotion>/...`). Speaker and emotion come from the folder names."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ccser_core.corpora.base import Utterance, audio_files

EMOTIONS = {"angry": "angry", "fear": "fear", "happy": "happy", "neutral": "neutral",
            "sad": "sad", "surprise": "surprise"}
LICENCE = "research use (Institute of Automation, Chinese Academy of Sciences; Tao et al. 2008)"
EXPECTED = "<speaker>/<angry|fear|happy|neutral|sad|surprise>/<nnn>.wav, optionally under one more folder"


def parse(root: Path) -> Iterator[Utterance | str]:
    for path in audio_files(root, "casia"):
        parts = path.relative_to(root).parts
        emotion = EMOTIONS.get(path.parent.name.lower())
        if len(parts) not in (3, 4) or emotion is None:
            yield f"{path}: location does not match CASIA layout {EXPECTED}"
            continue
        yield Utterance(str(path), emotion, f"casia:{path.parent.parent.name}", "casia")
