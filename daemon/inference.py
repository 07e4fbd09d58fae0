"""Window/utterance -> probabilities, on a worker thread that drops rather than lags.

Feature extraction and normalisation are the training code's own functions
(`ccser_core.features.extract`, the model's `StreamingNormaliser`), so a live
vector equals the offline one for the same samples.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ccser_core.audio import WORKING_RATE
from ccser_core.features import extract
from ccser_core.model import LoadedModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """Audio to classify: a sliding window ("window") or a whole utterance ("utterance").

    start/end are stream sample indices at WORKING_RATE; `ready` is the wall time
    its last sample arrived, the origin of its latency.
    """

    kind: str
    utterance_id: int
    start: int
    end: int
    samples: np.ndarray
    ready: float
    n_windows: int = 0


@dataclass(frozen=True)
class Result:
    job: Job
    probabilities: np.ndarray  # (len(emotions),), sums to 1
    features: np.ndarray  # raw (un-normalised) feature vector


class Classifier:
    """Features -> live normalisation -> ONNX -> optional smoothing over windows.

    The session normaliser is updated with every window vector, and with an
    utterance vector only when that utterance was too short for any window,
    so each stretch of voiced audio counts once.
    """

    def __init__(self, model: LoadedModel, smoothing: float = 0.0) -> None:
        self.model = model
        self.normaliser = model.streaming_normaliser()
        self.smoothing = smoothing
        self._previous: tuple[int, np.ndarray] | None = None

    def warm_up(self, seconds: float) -> None:
        """Run the feature code once (JIT compilation, caches) so the first real window
        is not late; the session normaliser is left untouched."""
        t = np.arange(int(seconds * WORKING_RATE)) / WORKING_RATE
        y = (0.1 * np.sin(2 * np.pi * 150 * t) * (1 + np.sin(2 * np.pi * 4 * t))).astype(
            np.float32)
        vec = self.features(y)
        self.model.predict_proba(vec[None, :])

    def features(self, samples: np.ndarray) -> np.ndarray:
        return extract(samples, WORKING_RATE, self.model.feature_config)

    def classify(self, job: Job) -> Result:
        vec = self.features(job.samples)
        x = vec
        if self.normaliser is not None:
            x = self.normaliser.transform(vec)
            if job.kind == "window" or job.n_windows == 0:
                self.normaliser.update(vec)
        proba = self.model.predict_proba(x)[0]
        if job.kind == "window" and self.smoothing > 0:
            prev = self._previous
            if prev is not None and prev[0] == job.utterance_id:
                proba = self.smoothing * prev[1] + (1 - self.smoothing) * proba
            self._previous = (job.utterance_id, proba)
        return Result(job, proba / proba.sum(), vec)


class InferenceWorker:
    """Runs a Classifier on its own thread over a short queue.

    Live sources: a full queue drops its oldest job (counted), so results stay
    fresh and capture never waits. Lossless sources (files with --no-realtime)
    wait for room instead.
    """

    def __init__(self, classifier: Classifier, on_result: Callable[[Result], None],
                 max_pending: int, lossless: bool) -> None:
        self.classifier, self.on_result = classifier, on_result
        self.max_pending, self.lossless = max_pending, lossless
        self._jobs: collections.deque[Job] = collections.deque()
        self._cond = threading.Condition()
        self._stop = False
        self._busy = False
        self.dropped_windows = 0
        self.dropped_utterances = 0
        self.done = {"window": 0, "utterance": 0}
        self._thread = threading.Thread(target=self._run, name="inference", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def pending(self) -> int:
        return len(self._jobs)

    def submit(self, job: Job) -> None:
        with self._cond:
            if self.lossless:
                self._cond.wait_for(lambda: len(self._jobs) < self.max_pending or self._stop)
            elif len(self._jobs) >= self.max_pending:
                old = self._jobs.popleft()
                if old.kind == "window":
                    self.dropped_windows += 1
                else:
                    self.dropped_utterances += 1
                log.debug("inference behind: dropped %s %d", old.kind, old.utterance_id)
            self._jobs.append(job)
            self._cond.notify_all()

    def drain(self, timeout: float) -> bool:
        """Wait until every submitted job is done (end of a lossless file)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._jobs and not self._busy, timeout)

    def stop(self, timeout: float = 1.0) -> None:
        """Finish the job in flight, drop the rest."""
        with self._cond:
            self._stop = True
            self.dropped_windows += sum(j.kind == "window" for j in self._jobs)
            self._jobs.clear()
            self._cond.notify_all()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._jobs or self._stop)
                if self._stop:
                    return
                job = self._jobs.popleft()
                self._busy = True
                self._cond.notify_all()
            try:
                self.on_result(self.classifier.classify(job))
                self.done[job.kind] += 1
            except Exception:  # one bad window must not kill the daemon; say so loudly
                log.exception("classifying %s %d failed", job.kind, job.utterance_id)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
