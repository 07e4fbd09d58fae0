"""ccserd with a sequence model (`--models rnn`): a tiny RNN trained here on generated
speech, run by the daemon through onnxruntime with PyTorch made unimportable; the
window and utterance paths both classify, and a window's frames equal the offline
frames of the same samples."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from daemon_helpers import SR, run_file, silence, speech_like, write_wav

from ccser_core.audio import load_audio
from ccser_core.events import EmotionEvent, UtteranceEvent
from ccser_core.features import frame_names, frames
from ccser_core.model import load_model

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def rnn_model(tmp_path_factory) -> Path:
    """`ccser-train --models rnn` on a generated CSV corpus (4 speakers, 2 emotions)."""
    import training.rnn.run
    from training import cli
    from training.models import RnnGrid

    root = tmp_path_factory.mktemp("rnn_corpus")
    rows = []
    for spk in range(4):
        for rep in range(3):
            for emotion, level in (("angry", 0.5), ("sad", 0.05)):
                seed = spk * 100 + rep * 10 + len(emotion)
                path = write_wav(root / f"{spk}_{emotion}_{rep}.wav",
                                 speech_like(1.2, seed=seed, level=level))
                rows.append({"path": path.name, "emotion": emotion, "speaker": f"s{spk}"})
    with (root / "labels.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "emotion", "speaker"])
        writer.writeheader()
        writer.writerows(rows)
    out = tmp_path_factory.mktemp("rnn_model") / "model"
    tiny = RnnGrid(hidden=(8,), layers=(1,), max_epochs=3, patience=3, batch_size=8,
                   conv_channels=8)
    mp = pytest.MonkeyPatch()
    mp.setattr(training.rnn.run, "RNN_GRID", tiny)
    try:
        code = cli.main(["--train", "gen", "--corpus", f"gen={root / 'labels.csv'}",
                         "--emotions", "angry,sad", "--models", "rnn", "--jobs", "1", "--quiet",
                         "--cache-dir", str(out.parent / "cache"), "--output", str(out)])
    finally:
        mp.undo()
    assert code == 0
    return out


def test_ccserd_classifies_windows_and_utterances_without_torch(rnn_model, tmp_path):
    blocker = tmp_path / "block" / "torch"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('ccserd must not import torch')\n")
    wav = write_wav(tmp_path / "two.wav", silence(1.0), speech_like(2.5), silence(1.5),
                    speech_like(1.5, seed=3), silence(1.0))
    events, proc = run_file(rnn_model, wav, "--emit-features",
                            env_extra={"PYTHONPATH": str(blocker.parent)})
    assert proc.returncode == 0, proc.stderr
    windows = [e for e in events if isinstance(e, EmotionEvent)]
    utterances = [e for e in events if isinstance(e, UtteranceEvent)]
    assert len(windows) >= 3 and len(utterances) == 2
    for e in windows + utterances:
        assert set(e.probabilities) == {"angry", "sad"}
        assert abs(sum(e.probabilities.values()) - 1) < 1e-6

    # The live frames of a window equal the offline frames of the same samples.
    model = load_model(rnn_model)
    dim = len(frame_names(model.feature_config))
    y = load_audio(wav)
    for e in windows[:3]:
        a, b = round(e.t_start * SR), round(e.t_end * SR)
        live = np.asarray(e.features, dtype=np.float32).reshape(-1, dim)
        np.testing.assert_array_equal(live, frames(y[a:b], SR, model.feature_config))
