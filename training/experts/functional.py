"""Experts over the functional feature vector: every scikit-learn family of
`training/models.py` (grid search inside `fit`), the stacking model over them, and
the session-robust pair that fuses a session-normalised and an anchored expert.

The model input (`Prior.model_input`) is the session-normalised vector followed by
the anchored features z-scored by the prior alone; an expert reads its `columns`
of it. Training rows are each speaker normalised by its own class-balanced
statistics (`training.data.training_matrix`); the anchored expert learns from
simulated live sessions instead (`training/robust.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import cross_val_predict

from ccser_core.features import feature_names
from ccser_core.normalisation import Prior, SpeakerNormaliser, stream_sessions
from training.cache import extract_files
from training.config import TrainConfig
from training.data import (
    CorpusData,
    normalise_adaptive,
    normalise_streaming,
    speakers,
    training_matrix,
)
from training.experts.base import Expert, Graph, RunData, Within, fit_members
from training.export import check_agreement, expert_block, to_onnx_bytes
from training.robust import anchored_indices, anchoring, expert_columns, fuse, simulated_rows
from training.search import (
    STACKING,
    SearchResult,
    grid_search,
    stacking,
    within_corpus_splitter,
)


@dataclass(frozen=True)
class Vectors:
    """The run's training rows as model inputs (augmented copies included), labels,
    CV groups (speakers), and the prior (None with --norm train)."""

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    prior: Prior | None


def vectors(run: RunData) -> Vectors:
    def compute() -> Vectors:
        cfg = run.cfg
        anchored = anchored_indices(cfg.features) if anchoring(cfg) else ()
        X, y, groups, prior = training_matrix(run.train, cfg.norm, cfg.prior_weight,
                                              anchored=anchored)
        if cfg.augment:
            Xa, ya, ga = _augmented(run, prior)
            X, y = np.vstack([X, *Xa]), np.concatenate([y, *ya])
            groups = np.concatenate([groups, *ga])
        return Vectors(X, y, groups, prior)

    return run.memo("vectors", compute)


def _augmented(run: RunData, prior: Prior | None
               ) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Augmented copies of the training files, each (speaker, augmentation) normalised
    as its own group, so augmentation never shifts a speaker's statistics."""
    cfg = run.cfg
    Xs, ys, gs = [], [], []
    for part in run.train:
        paths = [u.path for u in part.utterances]
        groups = part.groups[part.sel]
        names = np.array([u.speaker for u in part.utterances])
        for name in cfg.augment:
            ex = extract_files(paths, run.cache, jobs=cfg.jobs, quiet=cfg.quiet,
                               augmentation=name, seed=cfg.seed, desc=f"{part.name}+{name}")
            if cfg.norm == "train":
                Xs.append(ex.X)
            else:
                # Class-balanced statistics, as for the original training files.
                Xs.append(SpeakerNormaliser(None).transform(ex.X, groups[ex.ok], part.y[ex.ok],
                                                            prior))
            ys.append(part.y[ex.ok])
            gs.append(names[ex.ok])  # CV groups: copies stay in their speaker's fold
    return Xs, ys, gs


def _simulated(run: RunData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model inputs of the training files played in simulated live sessions."""
    def compute() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        prior = vectors(run).prior
        assert prior is not None
        return simulated_rows(np.vstack([p.X_scope[p.sel] for p in run.train]),
                              np.concatenate([p.y for p in run.train]), speakers(run.train),
                              prior, run.cfg.seed)

    return run.memo("simulated", compute)


class VectorExpert(Expert):
    """Shared by every expert over the model input: evaluation, CV and export of a
    fitted `estimator_` that reads the model input's `columns`."""

    input_kind = "features"
    estimator_: object
    prior_: Prior | None

    def _inputs(self, part: CorpusData, mode: str) -> np.ndarray:
        if mode == "adaptive":
            return normalise_adaptive(part, self.cfg.norm, self.prior_)
        return normalise_streaming(part, self.cfg.norm, self.prior_, self.cfg.seed)

    def _proba(self, X: np.ndarray) -> np.ndarray:
        return self.estimator_.predict_proba(X[:, self.columns] if self.columns else X)

    def predict_proba(self, part: CorpusData, mode: str) -> np.ndarray:
        return self._proba(self._inputs(part, mode))

    def predict_sessions(self, part: CorpusData, sessions: list[np.ndarray]) -> np.ndarray:
        assert self.prior_ is not None
        return self._proba(stream_sessions(part.X_scope[part.sel], sessions, self.prior_))

    @property
    def live(self) -> bool:
        return self.prior_ is not None

    def within_corpus(self, run: RunData) -> Within:
        v, cfg = vectors(run), run.cfg
        cv = within_corpus_splitter(cfg.cv, cfg.search.folds, cfg.seed, v.groups, v.y)
        X = v.X[:, self.columns] if self.columns else v.X
        pred = cross_val_predict(clone(self.estimator_), X, v.y, cv=cv.splitter,
                                 n_jobs=cfg.jobs, groups=cv.groups_for(v.groups))
        return Within(v.y, pred, {"cv": cfg.cv, **cv.describe()})

    def graphs(self, run: RunData) -> list[Graph]:
        """One graph over the whole model input (a member reading fewer columns is
        exported through its composition)."""
        n_features = len(feature_names(self.cfg.features))
        prior = self.prior_
        rows = [normalise_adaptive(p, self.cfg.norm, prior) for p in run.test]
        check_X = np.vstack(rows) if rows else vectors(run).X
        onnx = to_onnx_bytes(self.estimator_, prior.n_inputs if prior is not None else n_features)
        check = check_agreement(self.estimator_, onnx, check_X)
        block = expert_block(self.cfg, self.name, {"kind": "features", "dim": n_features}, prior,
                             self.params_, self.cv_uar_)
        return [Graph(self.name, onnx, block, check)]


class Functional(VectorExpert):
    """One scikit-learn family (`--models logreg`, `svc`, ...), grid-searched by
    speaker-grouped CV UAR. `normalisation` "session" (or "absolute" with --norm
    train) learns from each training speaker normalised by its own statistics;
    "anchored" from simulated live sessions, reading the anchored columns."""

    def __init__(self, cfg: TrainConfig, family: str, normalisation: str) -> None:
        self.cfg, self.name, self.normalisation = cfg, family, normalisation
        self.columns: list[int] = []

    def training_rows(self, run: RunData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        v = vectors(run)
        self.prior_ = v.prior
        if self.normalisation == "anchored":
            assert v.prior is not None
            self.columns = expert_columns(v.prior)[1]
            X, y, groups = _simulated(run)
            return X[:, self.columns], y, groups
        if v.prior is not None and v.prior.anchored:
            self.columns = expert_columns(v.prior)[0]
            return v.X[:, self.columns], v.y, v.groups
        return v.X, v.y, v.groups

    def fit(self, run: RunData) -> Functional:
        X, y, groups = self.training_rows(run)
        return self._learnt(self.search(X, y, groups), vectors(run).y)

    def search(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> SearchResult:
        return grid_search(self.name, X, y, groups, self.cfg.search)

    def _learnt(self, r: SearchResult, y_train: np.ndarray) -> Functional:
        self.estimator_, self.params_, self.cv_uar_, self.seconds_ = \
            r.estimator, r.best_params, r.cv_uar, r.seconds
        self.y_train_ = y_train
        return self


class Stacking(Functional):
    """The other families' best pipelines stacked under a logistic regression, on the
    same rows as its members (which are fitted first)."""

    def __init__(self, cfg: TrainConfig, members: list[Functional], normalisation: str) -> None:
        super().__init__(cfg, STACKING, normalisation)
        self.experts = members

    def fit(self, run: RunData) -> Stacking:
        fit_members(self.experts, run)
        return super().fit(run)

    def search(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> SearchResult:
        members = [SearchResult(m.name, m.estimator_, m.params_, m.cv_uar_, m.seconds_)
                   for m in self.experts]
        return stacking(members, X, y, groups, self.cfg.search)


class SessionRobust(VectorExpert):
    """The session-robust pair: a session expert and an anchored expert of one family,
    probabilities weighted (1 - weight, weight). Exported as one combined graph (a
    soft-voting `VotingClassifier` over the model input). Its CV UAR is the mean of
    its two experts'."""

    normalisation = "anchored"

    def __init__(self, cfg: TrainConfig, session: Functional, anchored: Functional,
                 weight: float) -> None:
        self.cfg, self.name, self.weight = cfg, session.name, weight
        self.experts = [session, anchored]
        self.columns = []

    def fit(self, run: RunData) -> SessionRobust:
        session, anchored = self.experts
        fit_members(self.experts, run)
        self.prior_ = vectors(run).prior
        assert self.prior_ is not None
        self.estimator_ = fuse(session.estimator_, anchored.estimator_, self.prior_,
                               np.unique(vectors(run).y), self.weight)
        self.params_ = {"session": session.params_, "anchored": anchored.params_}
        self.cv_uar_ = (session.cv_uar_ + anchored.cv_uar_) / 2
        self.seconds_ = session.seconds_ + anchored.seconds_
        self.y_train_ = session.y_train_
        return self


def make(cfg: TrainConfig, names: tuple[str, ...]) -> list[Expert]:
    """The functional experts `names` ask for: one per family, plus stacking over them;
    each a session-robust pair when the run anchors."""
    kinds = ("session", "anchored") if anchoring(cfg) else \
        ("absolute" if cfg.norm == "train" else "session",)
    families = [n for n in names if n != STACKING]
    per_kind = {k: [Functional(cfg, f, k) for f in families] for k in kinds}
    if STACKING in names:
        for k in kinds:
            per_kind[k].append(Stacking(cfg, list(per_kind[k]), k))
    if len(kinds) == 1:
        return list(per_kind[kinds[0]])
    return [SessionRobust(cfg, s, a, cfg.robust_weight)
            for s, a in zip(per_kind["session"], per_kind["anchored"], strict=True)]


