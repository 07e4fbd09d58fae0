"""Generated audio files shared by tests and benchmarks (nothing from the corpora)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def silent_flac(path: Path, seconds: float, sr: int = 16000, channels: int = 1) -> Path:
    """Digital silence as FLAC, written 10 s at a time: a few KB however long or wide
    (the decoded-size "bomb" of issue 16)."""
    block = np.zeros((sr * 10, channels), np.int16)
    with sf.SoundFile(str(path), "w", sr, channels, subtype="PCM_16", format="FLAC") as fh:
        left = int(seconds * sr)
        while left > 0:
            fh.write(block[:left])
            left -= len(block)
    return path
