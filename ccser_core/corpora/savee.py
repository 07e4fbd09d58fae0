"""SAVEE: speakers DC, JE, JK, KL; file prefix a d f h n sa su + number.

Both layouts: the original `AudioData/DC/a01.wav` (speaker = folder) and the
flat `DC_a01.wav` (speaker = name prefix).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ccser_core.corpora.base import Utterance, audio_files

SPEAKERS = ("DC", "JE", "JK", "KL")
EMOTIONS = {
    "a": "angry", "d": "disgust", "f": "fear", "h": "happy",
    "n": "neutral", "sa": "sad", "su": "surprise",
}
LICENCE = "free for research use (Haq & Jackson 2009, University of Surrey)"
_FLAT = re.compile(r"^(DC|JE|JK|KL)_(sa|su|a|d|f|h|n)(\d+)$")
_NESTED = re.compile(r"^(sa|su|a|d|f|h|n)(\d+)$")
EXPECTED = "AudioData/<DC|JE|JK|KL>/<a|d|f|h|n|sa|su><NN>.wav or <SPK>_<code><NN>.wav"


def parse(root: Path) -> Iterator[Utterance | str]:
    for path in audio_files(root, "savee"):
        flat = _FLAT.match(path.stem)
        nested = _NESTED.match(path.stem)
        if flat:
            speaker, code = flat.group(1), flat.group(2)
        elif nested and path.parent.name in SPEAKERS:
            speaker, code = path.parent.name, nested.group(1)
        else:
            yield f"{path}: name does not match SAVEE rule {EXPECTED}"
            continue
        yield Utterance(str(path), EMOTIONS[code], f"savee:{speaker}", "savee")
