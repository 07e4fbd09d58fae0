"""The expert contract (STYLE.md §9): one model family, one input, one normalisation.

An expert reads one kind of input computed from a recording ("features": the
functional vector, "frames": the frame sequence, "embedding": a pretrained
encoder's pooled vector), normalised one way ("session": by the session's own
statistics plus the prior; "anchored": session-normalised with some columns
also z-scored by the prior alone; "absolute": not normalised per session). It
learns with `fit` (grid search inside), gives class probabilities for a corpus's
files (speaker-adaptive or streaming) or for files played as live sessions, and
exports itself as an ONNX graph plus its card block. A model is a list of
experts with a fusion rule (`Fused`); the pipeline never asks which family it holds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from training.cache import FeatureCache
from training.config import TrainConfig
from training.data import CorpusData

#: Input kinds an expert can read; the daemon computes each through `ccser_core.experts`.
INPUT_KINDS = ("features", "frames", "embedding")
#: How an expert's input is normalised per session.
NORMALISATIONS = ("session", "anchored", "absolute")
#: `predict_proba` modes: each test speaker normalised by all its files, or one after another.
MODES = ("adaptive", "streaming")


@dataclass
class RunData:
    """What every expert of one run reads: the configuration and the loaded corpora.
    `shared` memoises inputs several experts of one family compute (e.g. the training
    matrix of the functional experts), keyed by the family's own names."""

    cfg: TrainConfig
    train: list[CorpusData]
    test: list[CorpusData]
    cache: FeatureCache
    shared: dict[str, Any] = field(default_factory=dict)

    def memo(self, key: str, compute: Any) -> Any:
        if key not in self.shared:
            self.shared[key] = compute()
        return self.shared[key]


@dataclass(frozen=True)
class Graph:
    """One exported expert: ONNX bytes and its card block (`ccser_core.experts` reads it).
    `check` is the ONNX-against-Python agreement on the check inputs."""

    name: str
    onnx: bytes
    block: dict
    check: dict


@dataclass(frozen=True)
class Within:
    """Within-corpus evaluation (no test corpora): true and predicted labels, and how."""

    y: np.ndarray
    pred: np.ndarray
    describe: dict


class Expert(ABC):
    """One model family; hyper-parameters in `__init__`, learnt state in `*_` attributes."""

    name: str
    input_kind: str  # one of INPUT_KINDS
    normalisation: str  # one of NORMALISATIONS

    params_: dict
    cv_uar_: float
    seconds_: float
    y_train_: np.ndarray  # labels of the training files (augmented copies included)

    @abstractmethod
    def fit(self, run: RunData) -> Expert:
        """Learn from `run.train` (search inside); choose by training-corpus CV only."""

    @abstractmethod
    def predict_proba(self, part: CorpusData, mode: str) -> np.ndarray:
        """(N, K) probabilities of a test corpus's chosen files, `mode` from MODES."""

    @abstractmethod
    def predict_sessions(self, part: CorpusData, sessions: list[np.ndarray]) -> np.ndarray:
        """(N, K) probabilities of the files played as live sessions (ordered row-index
        arrays), in session order, each normalised by the files before it (live rule)."""

    @property
    @abstractmethod
    def live(self) -> bool:
        """True when the input is normalised per session (so session kinds mean something)."""

    @abstractmethod
    def within_corpus(self, run: RunData) -> Within:
        """Labels of training files predicted by models that did not see their speakers."""

    @abstractmethod
    def graphs(self, run: RunData) -> list[Graph]:
        """The exported form: one graph per expert, or one combined graph."""

    def members(self) -> list[Expert]:
        """The experts a composition is made of; an expert is its own only member."""
        return [self]

    def fusion_block(self) -> dict:
        """The card's `fusion`: how the exported graphs' probabilities combine."""
        return {"rule": "weights"}


def fit_members(experts: list[Expert], run: RunData) -> None:
    """Fit the members of a composition that are not fitted yet (members are shared:
    the families a stacking model stacks are candidates of their own)."""
    for e in experts:
        if not hasattr(e, "cv_uar_"):
            e.fit(run)


class Fused(Expert):
    """A list of experts whose probabilities are averaged with `weights` (late fusion).
    Its CV UAR is the mean of its members'; each member is fitted on its own input."""

    def __init__(self, experts: list[Expert], weights: list[float] | None = None) -> None:
        self.experts = experts
        self.weights = list(weights) if weights is not None else [1.0] * len(experts)
        self.name = "+".join(e.name for e in experts)
        kinds = {e.input_kind for e in experts}
        self.input_kind = kinds.pop() if len(kinds) == 1 else "mixed"
        self.normalisation = "mixed"

    def fit(self, run: RunData) -> Fused:
        fit_members(self.experts, run)
        self.params_ = {e.name: e.params_ for e in self.experts}
        self.cv_uar_ = float(np.mean([e.cv_uar_ for e in self.experts]))
        self.seconds_ = sum(e.seconds_ for e in self.experts)
        self.y_train_ = self.experts[0].y_train_
        return self

    def _mean(self, probas: list[np.ndarray]) -> np.ndarray:
        return np.average(np.stack(probas), axis=0, weights=np.asarray(self.weights))

    def predict_proba(self, part: CorpusData, mode: str) -> np.ndarray:
        return self._mean([e.predict_proba(part, mode) for e in self.experts])

    def predict_sessions(self, part: CorpusData, sessions: list[np.ndarray]) -> np.ndarray:
        return self._mean([e.predict_sessions(part, sessions) for e in self.experts])

    @property
    def live(self) -> bool:
        return all(e.live for e in self.experts)

    def within_corpus(self, run: RunData) -> Within:
        """Members may hold out different rows (CV folds, a validation split), so the
        figure is the best member's by CV; the report says which."""
        best = max(self.experts, key=lambda e: e.cv_uar_)
        w = best.within_corpus(run)
        return Within(w.y, w.pred, {**w.describe, "member": best.name})

    def graphs(self, run: RunData) -> list[Graph]:
        out = []
        for e, weight in zip(self.experts, self.weights, strict=True):
            out += [Graph(g.name, g.onnx, {**g.block, "weight": g.block.get("weight", 1.0)
                                           * weight / sum(self.weights)}, g.check)
                    for g in e.graphs(run)]
        return out

    def members(self) -> list[Expert]:
        return [m for e in self.experts for m in e.members()]
