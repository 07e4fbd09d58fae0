"""Fake corpus trees: real file names, tiny real audio, all under tmp_path."""

from pathlib import Path

import pytest


@pytest.fixture
def corpus_tree(tone, write_audio):
    """corpus_tree(root, names) -> root, with 50 ms of tone at every relative path in `names`."""

    def make(root: Path, names) -> Path:
        y = tone(220, 16000, 0.05)
        for name in names:
            write_audio(root / name, y, 16000)
        root.mkdir(parents=True, exist_ok=True)
        return root

    return make
