"""Window/utterance -> probabilities on two worker threads that drop rather than lag.

Feature extraction and normalisation are the training code's own functions
(`ccser_core.features.extract`, or `frames` for a sequence model, and the
model's `StreamingNormaliser`), so a live vector equals the offline one for
the same samples.

Windows run on one thread, in order, each normalised with the statistics of
the session's earlier utterances. The statistics learn once per utterance,
as the offline evaluation learns once per file (overlapping windows would
otherwise count one utterance several times and absorb a sustained emotion
faster than measured): a finished utterance travels through the same queue
as a marker; when the window thread reaches it, it takes a snapshot of the
statistics (those before the utterance), learns the mean of the utterance's
window vectors, and hands the utterance to a second thread, whose longer
extraction never delays a window. Results are deterministic for a stream.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ccser_core.audio import WORKING_RATE
from ccser_core.features import Pitch
from ccser_core.frame_norm import summary
from ccser_core.model import LoadedModel

log = logging.getLogger(__name__)

Stats = tuple[np.ndarray, np.ndarray] | None


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
    pitch: Pitch | None = None  # the samples' pitch_of, when the no-speech gate tracked it


@dataclass(frozen=True)
class Result:
    job: Job
    probabilities: np.ndarray  # (len(emotions),), sums to 1
    features: np.ndarray  # raw (un-normalised) feature vector, or (T, D) frames


class Classifier:
    """Features -> live normalisation -> ONNX -> optional smoothing over windows."""

    def __init__(self, model: LoadedModel, smoothing: float = 0.0) -> None:
        self.model = model
        self.normaliser = model.streaming_normaliser()
        self.smoothing = smoothing
        self._previous: tuple[int, np.ndarray] | None = None
        self._learn: tuple[int, list[np.ndarray]] = (-1, [])  # utterance id, window units

    def warm_up(self, seconds: float) -> None:
        """Run the feature code once (JIT compilation, caches) so the first real window
        is not late; the session statistics are left untouched."""
        t = np.arange(int(seconds * WORKING_RATE)) / WORKING_RATE
        y = (0.1 * np.sin(2 * np.pi * 150 * t) * (1 + np.sin(2 * np.pi * 4 * t))).astype(
            np.float32)
        x = self.features(y)
        # transform (never step): the model input's width, statistics untouched.
        self.model.predict_proba(self.normaliser.transform(x) if self.normaliser else x)

    def features(self, samples: np.ndarray, pitch: Pitch | None = None) -> np.ndarray:
        """The model's input: a feature vector, or (T, D) frames for a sequence model."""
        return self.model.features(samples, pitch)

    def snapshot(self) -> Stats:
        return self.normaliser.stats() if self.normaliser is not None else None

    def end_utterance(self, utterance_id: int) -> Stats:
        """At an utterance's end, in stream order: the statistics it is normalised with
        (those before it); then the session learns it once, as the mean of its windows'
        vectors (a sequence model: of their mean frames)."""
        stats = self.snapshot()
        uid, units = self._learn
        if self.normaliser is not None and uid == utterance_id and units:
            self.normaliser.update(np.mean(units, axis=0))
        self._learn = (-1, [])
        return stats

    def window(self, job: Job) -> Result:
        """Normalise with the statistics of the earlier utterances; remember this window's
        vector for when its utterance ends."""
        vec = self.features(job.samples, job.pitch)
        x = vec
        if self.normaliser is not None:
            x = self.normaliser.transform(vec)
            if self._learn[0] != job.utterance_id:
                self._learn = (job.utterance_id, [])
            self._learn[1].append(vec if vec.ndim == 1 else summary(vec))
        proba = self.model.predict_proba(x)[0]
        if self.smoothing > 0:
            prev = self._previous
            if prev is not None and prev[0] == job.utterance_id:
                proba = self.smoothing * prev[1] + (1 - self.smoothing) * proba
            self._previous = (job.utterance_id, proba)
        return Result(job, proba / proba.sum(), vec)

    def utterance(self, job: Job, stats: Stats) -> Result:
        """Whole-utterance vector, normalised with a snapshot; never updates statistics."""
        vec = self.features(job.samples)
        x = self.normaliser.prior.model_input(vec.astype(np.float64), *stats) \
            if stats is not None else vec
        proba = self.model.predict_proba(x)[0]
        return Result(job, proba / proba.sum(), vec)


class _Stage:
    """A bounded job queue served by one thread. Live: a full queue drops its oldest
    droppable item (counted); lossless: the producer waits for room."""

    def __init__(self, name: str, handle: Callable[[object], None], max_pending: int,
                 lossless: bool, droppable: Callable[[object], bool]) -> None:
        self.handle, self.max_pending, self.lossless = handle, max_pending, lossless
        self.droppable = droppable
        self.items: collections.deque = collections.deque()
        self.cond = threading.Condition()
        self.stopped = self.busy = False
        self.dropped = 0
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def put(self, item: object) -> None:
        with self.cond:
            if self.lossless:
                self.cond.wait_for(lambda: len(self.items) < self.max_pending or self.stopped)
            elif len(self.items) >= self.max_pending:
                victim = next((i for i in self.items if self.droppable(i)), None)
                if victim is not None:
                    self.items.remove(victim)
                    self.dropped += 1
            self.items.append(item)
            self.cond.notify_all()

    def idle(self) -> bool:
        return not self.items and not self.busy

    def stop(self) -> int:
        """Stop after the item in flight; returns how many droppable items were discarded."""
        with self.cond:
            self.stopped = True
            discarded = sum(self.droppable(i) for i in self.items)
            self.items.clear()
            self.cond.notify_all()
        return discarded

    def _run(self) -> None:
        while True:
            with self.cond:
                self.cond.wait_for(lambda: self.items or self.stopped)
                if self.stopped:
                    return
                item = self.items.popleft()
                self.busy = True
                self.cond.notify_all()
            try:
                self.handle(item)
            except Exception:  # one bad job must not kill the daemon; say so loudly
                log.exception("%s failed", self.thread.name)
            finally:
                with self.cond:
                    self.busy = False
                    self.cond.notify_all()


class InferenceWorker:
    """Window thread + utterance thread around one Classifier (see module docstring)."""

    def __init__(self, classifier: Classifier, on_result: Callable[[Result], None],
                 max_pending: int, lossless: bool) -> None:
        self.classifier, self.on_result = classifier, on_result
        self.done = {"window": 0, "utterance": 0}
        self._windows = _Stage("inference-windows", self._window, max_pending, lossless,
                               lambda job: job.kind == "window")
        self._utterances = _Stage("inference-utterances", self._utterance, max_pending,
                                  lossless, lambda item: True)
        self._stages = (self._windows, self._utterances)

    @property
    def dropped_windows(self) -> int:
        return self._windows.dropped

    @property
    def dropped_utterances(self) -> int:
        return self._utterances.dropped

    @property
    def pending(self) -> int:
        return len(self._windows.items) + len(self._utterances.items)

    def start(self) -> None:
        for stage in self._stages:
            stage.thread.start()

    def submit(self, job: Job) -> None:
        self._windows.put(job)

    def _window(self, job: Job) -> None:
        if job.kind == "utterance":
            self._utterances.put((job, self.classifier.end_utterance(job.utterance_id)))
            return
        self.on_result(self.classifier.window(job))
        self.done["window"] += 1

    def _utterance(self, item: tuple[Job, Stats]) -> None:
        # Live: start between windows, since both threads share the GIL and windows
        # are the latency-critical path. Lossless replay wants throughput instead.
        if not self._windows.lossless:
            with self._windows.cond:
                self._windows.cond.wait_for(self._windows.idle, timeout=0.5)
        self.on_result(self.classifier.utterance(*item))
        self.done["utterance"] += 1

    def drain(self, timeout: float) -> bool:
        """Wait until every submitted job is done (end of a lossless file)."""
        for stage in self._stages:
            with stage.cond:
                if not stage.cond.wait_for(stage.idle, timeout):
                    return False
        return True

    def stop(self, timeout: float = 1.0) -> None:
        """Finish the jobs in flight, drop the rest (counted)."""
        self._windows.dropped += self._windows.stop()
        self._utterances.dropped += self._utterances.stop()
        for stage in self._stages:
            stage.thread.join(timeout)
