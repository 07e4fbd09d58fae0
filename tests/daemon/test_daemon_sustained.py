"""A sustained single-emotion session of a speaker the model never saw keeps its label
through ccserd: 12 utterances in a row, one emotion, each its own utterance event."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from daemon_helpers import run_file, silence, write_wav

from ccser_core.events import UtteranceEvent


@pytest.mark.parametrize("emotion", ["angry", "sad"])
def test_a_sustained_session_keeps_its_label_live(sustained_sessions, tmp_path, emotion):
    model, unseen = sustained_sessions
    parts = [silence(0.5)]
    for path in unseen[emotion]:
        parts += [sf.read(str(path), dtype="float32")[0], silence(0.8, seed=len(parts))]
    events, proc = run_file(model, write_wav(tmp_path / f"{emotion}.wav", *parts))
    assert proc.returncode == 0, proc.stderr
    got = [e.emotion for e in events if isinstance(e, UtteranceEvent)]
    assert len(got) == 12, proc.stderr
    assert got.count(emotion) >= 11, got
    assert np.all(np.diff([e.t_start for e in events if isinstance(e, UtteranceEvent)]) > 1.0)
