"""Berlin EmoDB: `SSTTTEV` (speaker, text, emotion letter, version); speaker = SS."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ccser_core.corpora.base import Utterance, audio_files

EMOTIONS = {
    "W": "angry", "L": "boredom", "E": "disgust", "A": "fear",
    "F": "happy", "T": "sad", "N": "neutral",
}
LICENCE = "free for research use (Burkhardt et al. 2005, Interspeech)"
_NAME = re.compile(r"^(\d\d)([a-z]\d\d)([A-Z])([a-z])$")
EXPECTED = "SSTTTEV, e.g. 03a01Wa.wav (E one of W L E A F T N)"


def parse(root: Path) -> Iterator[Utterance | str]:
    for path in audio_files(root, "emodb"):
        m = _NAME.match(path.stem)
        if not m:
            yield f"{path}: name does not match EmoDB rule {EXPECTED}"
            continue
        letter = m.group(3)
        if letter not in EMOTIONS:
            yield f"{path}: unknown EmoDB emotion letter {letter!r} ({EXPECTED})"
            continue
        yield Utterance(str(path), EMOTIONS[letter], f"emodb:{m.group(1)}", "emodb")
