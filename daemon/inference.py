"""Window/utterance -> probabilities on two worker threads that drop rather than lag.

The model is a list of experts (`ccser_core.experts`): each computes its input
with the training code's own function (`features.extract`, `frames`, ...) and
normalises it with its own `StreamingNormaliser`, so a live input equals the
offline one for the same samples; their probabilities are fused.

Windows run on one thread, in order, each normalised with the statistics of
the session's earlier utterances. The statistics learn once per utterance,
as the offline evaluation learns once per file (overlapping windows would
otherwise count one utterance several times and absorb a sustained emotion
faster than measured): a finished utterance travels through the same queue
as a marker; when the window thread reaches it, it takes a snapshot of the
statistics (those before the utterance), learns the mean of the utterance's
window units, and hands the utterance to a second thread, whose longer
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
from ccser_core.experts import Snapshot
from ccser_core.features import Pitch
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
    pitch: Pitch | None = None  # the samples' pitch_of, when the no-speech gate tracked it


@dataclass(frozen=True)
class Result:
    job: Job
    probabilities: np.ndarray  # (len(emotions),), sums to 1
    features: np.ndarray  # the first expert's raw input: a feature vector, (T, D) frames...


class Classifier:
    """Each expert's input -> its live normalisation -> its ONNX graph -> fusion ->
    optional smoothing over windows. Knows the model only as a list of experts."""

    def __init__(self, model: LoadedModel, smoothing: float = 0.0) -> None:
        self.model = model
        self.session = model.live_session()
        self.smoothing = smoothing
        self._previous: tuple[int, np.ndarray] | None = None
        # utterance id, and per window the unit each expert's statistics would learn
        self._learn: tuple[int, list[list[np.ndarray]]] = (-1, [])
        self._heard: list[np.ndarray] = []  # its windows' absolute-expert probabilities

    def warm_up(self, seconds: float) -> None:
        """Run the feature code once (JIT compilation, caches) so the first real window
        is not late; the session statistics are left untouched."""
        t = np.arange(int(seconds * WORKING_RATE)) / WORKING_RATE
        y = (0.1 * np.sin(2 * np.pi * 150 * t) * (1 + np.sin(2 * np.pi * 4 * t))).astype(
            np.float32)
        self.model.predict_one(self.session.inputs(self.features(y)))  # statistics untouched

    def features(self, samples: np.ndarray, pitch: Pitch | None = None) -> list[np.ndarray]:
        """Every expert's raw input (a feature vector, (T, D) frames, an embedding...)."""
        return self.model.features(samples, pitch)

    def snapshot(self) -> Snapshot:
        return self.session.snapshot()

    def end_utterance(self, utterance_id: int) -> Snapshot:
        """At an utterance's end, in stream order: the statistics and trust it is judged
        with (those before it); then the session learns it once, as the mean of its
        windows' units (vectors; for a sequence input, their mean frames) and, under an
        evidence rule, the mean of its windows' absolute-expert probabilities."""
        snap = self.snapshot()
        uid, units = self._learn
        if uid == utterance_id and units:
            self.session.update([np.mean(u, axis=0) for u in zip(*units, strict=True)])
            if self._heard:
                self.session.learn_evidence(np.mean(self._heard, axis=0))
        self._learn, self._heard = (-1, []), []
        return snap

    def window(self, job: Job) -> Result:
        """Normalise with the statistics of the earlier utterances; remember this window's
        units for when its utterance ends."""
        raws = self.features(job.samples, job.pitch)
        if self._learn[0] != job.utterance_id:
            self._learn, self._heard = (job.utterance_id, []), []
        self._learn[1].append([e.unit(r) for e, r in zip(self.model.experts, raws, strict=True)])
        inputs = self.session.inputs(raws)
        if self.session.rule is not None:
            p_abs = self.model.absolute([[x] for x in inputs])
            if p_abs is not None:
                self._heard.append(p_abs[0])
        proba = self.model.predict_one(inputs, self.session.trust())
        if self.smoothing > 0:
            prev = self._previous
            if prev is not None and prev[0] == job.utterance_id:
                proba = self.smoothing * prev[1] + (1 - self.smoothing) * proba
            self._previous = (job.utterance_id, proba)
        return Result(job, proba / proba.sum(), raws[0])

    def utterance(self, job: Job, snap: Snapshot) -> Result:
        """Whole-utterance inputs, normalised with a snapshot; never updates statistics."""
        raws = self.features(job.samples)
        proba = self.model.predict_one(self.session.inputs(raws, snap.stats), snap.trust)
        return Result(job, proba / proba.sum(), raws[0])


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

    def _utterance(self, item: tuple[Job, Snapshot]) -> None:
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
