"""ccserd refuses a model whose card was edited after export (e.g. emotions reordered,
which would silently swap every label) or breaks the card schema: one line naming
the file and the field, exit 2, before any audio is read."""

from __future__ import annotations

import json

import pytest
from daemon_helpers import build_model, ccserd, silence, write_wav

from ccser_core.model import CARD_NAME


def refused(folder, wav) -> str:
    proc = ccserd("--model", str(folder), "--source", str(wav), "--no-realtime")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(("edit", "words"), [
    (lambda c: c["emotions"].reverse(), "emotions differs"),
    (lambda c: c["emotions"].__setitem__(0, 3), "emotions[0]: must be a string"),
    (lambda c: c["normalisation"]["prior"]["var"].pop(), "normalisation.prior.var has"),
    (lambda c: c.update(feature_config=[]), "feature_config: must be an object"),
])
def test_edited_card_is_refused_naming_file_and_field(tmp_path, edit, words):
    folder = build_model(tmp_path / "m")
    card = json.loads((folder / CARD_NAME).read_text())
    edit(card)
    (folder / CARD_NAME).write_text(json.dumps(card))
    line = refused(folder, write_wav(tmp_path / "s.wav", silence(0.5)))
    assert f"{folder / CARD_NAME}: " in line and words in line
