"""Inference: drop-oldest under load, deterministic normalisation, robust to odd audio."""

from __future__ import annotations

import threading

import numpy as np
from daemon_helpers import SR, speech_like

from ccser_core.model import load_model
from daemon.inference import Classifier, InferenceWorker, Job, Result


def job(kind: str, uid: int, n: int = SR) -> Job:
    return Job(kind, uid, 0, n, np.zeros(n, dtype=np.float32), 0.0)


class SlowClassifier:
    """Blocks every window until released, to simulate inference falling behind."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.seen: list[tuple[str, int]] = []

    def end_utterance(self, utterance_id: int):
        return None

    def window(self, j: Job) -> Result:
        self.release.wait(10)
        self.seen.append((j.kind, j.utterance_id))
        return Result(j, np.array([1.0]), np.zeros(1))

    def utterance(self, j: Job, stats) -> Result:
        self.seen.append((j.kind, j.utterance_id))
        return Result(j, np.array([1.0]), np.zeros(1))


def test_live_worker_drops_oldest_windows_never_utterances():
    slow, results = SlowClassifier(), []
    worker = InferenceWorker(slow, results.append, max_pending=2, lossless=False)
    worker.start()
    worker.submit(job("window", 0))  # taken by the thread, blocks
    while worker.pending:
        pass
    for uid in (1, 2, 3):
        worker.submit(job("window", uid))
    worker.submit(job("utterance", 3))
    assert worker.dropped_windows == 2  # windows 1 and 2 gave way
    slow.release.set()
    assert worker.drain(10)
    worker.stop()
    assert slow.seen == [("window", 0), ("window", 3), ("utterance", 3)]
    assert [r.job.kind for r in results] == ["window", "window", "utterance"]


def test_lossless_worker_keeps_everything():
    slow, results = SlowClassifier(), []
    slow.release.set()
    worker = InferenceWorker(slow, results.append, max_pending=1, lossless=True)
    worker.start()
    for uid in range(20):
        worker.submit(job("window", uid))
    assert worker.drain(10)
    worker.stop()
    assert worker.dropped_windows == 0 and len(results) == 20


def test_smoothing_within_an_utterance_only(model_dir):
    model = load_model(model_dir)
    plain, smooth = Classifier(model), Classifier(model, smoothing=0.5)
    a, b = speech_like(2.0, seed=1), speech_like(2.0, seed=2, level=0.8)
    p = [plain.window(Job("window", 0, 0, len(a), y, 0.0)).probabilities for y in (a, b)]
    s = [smooth.window(Job("window", 0, 0, len(a), y, 0.0)).probabilities for y in (a, b)]
    np.testing.assert_allclose(s[0], p[0])
    np.testing.assert_allclose(s[1], 0.5 * p[0] + 0.5 * p[1], atol=1e-9)
    new = smooth.window(Job("window", 1, 0, len(a), a, 0.0)).probabilities
    assert abs(new.sum() - 1) < 1e-9


def test_odd_audio_gives_finite_probabilities(model_dir):
    classifier = Classifier(load_model(model_dir))
    t = np.arange(SR) / SR
    cases = {
        "silent": np.zeros(SR, dtype=np.float32),
        "clipped": np.clip(10 * speech_like(1.0), -1, 1),
        "dc": (0.9 + 0.05 * np.sin(2 * np.pi * 200 * t)).astype(np.float32),
        "loud": (1e3 * speech_like(1.0)).astype(np.float32),
        "nan": np.full(SR, np.nan, dtype=np.float32),
        "tiny": np.zeros(10, dtype=np.float32),
    }
    for name, y in cases.items():
        for kind in ("window", "utterance"):
            j = Job(kind, 0, 0, len(y), y, 0.0)
            r = classifier.window(j) if kind == "window" else classifier.utterance(
                j, classifier.snapshot())
            assert np.all(np.isfinite(r.probabilities)), name
            assert abs(r.probabilities.sum() - 1) < 1e-6, name
