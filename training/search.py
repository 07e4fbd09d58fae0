"""Speaker-grouped grid search scored by UAR, and the within-corpus CV splitters.

The winner is chosen by this cross-validation on the training corpora only,
never by a test-corpus score.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.ensemble import StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    KFold,
    StratifiedKFold,
    cross_val_score,
)
from sklearn.pipeline import Pipeline
from sklearn.utils.class_weight import compute_sample_weight

from ccser_core.errors import CorpusError
from training.models import MODELS, STACKING, ModelSpec, make_pipeline

CV_KINDS = ("speaker", "kfold", "shuffle", "stratified")


@dataclass(frozen=True)
class SearchSettings:
    balance: str = "weights"  # weights | oversample | none
    select_k: int = 0
    pca: int = 0
    folds: int = 5
    jobs: int = 1
    seed: int = 0


@dataclass
class SearchResult:
    name: str
    estimator: Pipeline  # refitted on all training data with the best params
    best_params: dict[str, Any]
    cv_uar: float
    seconds: float


@dataclass(frozen=True)
class Folds:
    """A cross-validation splitter and what it guarantees (recorded in the report)."""

    splitter: Any
    scheme: str  # "speaker-grouped" (no speaker on both sides), "stratified", "kfold", "shuffle"
    n_splits: int  # the folds actually used; fewer than asked when speakers or files run out
    warning: str | None = None  # set when speaker-grouped folds were asked for but impossible

    @property
    def speaker_independent(self) -> bool:
        return self.scheme == "speaker-grouped"

    def groups_for(self, groups: np.ndarray) -> np.ndarray | None:
        """What to pass as `groups` to scikit-learn (only a grouped splitter takes them)."""
        return groups if self.speaker_independent else None

    def describe(self) -> dict:
        return {"folds": self.n_splits, "cv_scheme": self.scheme,
                "speaker_independent": self.speaker_independent}


def speaker_folds(groups: np.ndarray, folds: int) -> GroupKFold:
    n = len(np.unique(groups))
    if n < 2:
        raise CorpusError(
            f"speaker-grouped folds need at least two speakers in the training data, found "
            f"{n}: {', '.join(map(str, np.unique(groups)))} (a CSV corpus without a speaker "
            "column is one speaker; add a speaker column)")
    return GroupKFold(n_splits=min(folds, n))


def training_folds(groups: np.ndarray, y: np.ndarray, folds: int, seed: int) -> Folds:
    """Speaker-grouped folds, at most one per speaker. With a single speaker (a CSV
    corpus without a speaker column) there is nothing to group by: stratified folds
    instead, which are NOT speaker-independent; callers warn and the report says so."""
    if len(np.unique(groups)) >= 2:
        cv = speaker_folds(groups, folds)
        return Folds(cv, "speaker-grouped", cv.get_n_splits())
    smallest = int(np.unique(y, return_counts=True)[1].min()) if len(y) else 0
    if smallest < 2:
        raise CorpusError(f"one speaker and an emotion with {smallest} file(s): too few to "
                          "cross-validate; add files or a speaker column")
    k = min(folds, smallest)
    return Folds(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed), "stratified", k,
                 "the training data has a single speaker (a CSV corpus without a speaker column "
                 f"is one): cross-validation uses {k} stratified folds instead, which are NOT "
                 "speaker-independent, so CV UAR is optimistic")


def within_corpus_splitter(kind: str, folds: int, seed: int, groups: np.ndarray,
                           y: np.ndarray) -> Folds:
    """The `--cv` splitter for within-corpus evaluation (shuffling uses `seed`)."""
    if kind == "speaker":
        return training_folds(groups, y, folds, seed)
    if kind == "kfold":
        return Folds(KFold(n_splits=folds), "kfold", folds)
    if kind == "shuffle":
        return Folds(KFold(n_splits=folds, shuffle=True, random_state=seed), "shuffle", folds)
    if kind == "stratified":
        return Folds(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed),
                     "stratified", folds)
    raise ValueError(f"unknown --cv {kind!r}; choose from {', '.join(CV_KINDS)}")


def oversample(y: np.ndarray, seed: int) -> np.ndarray:
    """Row indices that repeat minority-class rows (seeded) up to the majority count."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    idx = [np.nonzero(y == c)[0] for c in classes]
    extra = [rng.choice(i, counts.max() - len(i), replace=True) for i in idx]
    return np.sort(np.concatenate(idx + extra))


def _fit_inputs(name: str, X: np.ndarray, y: np.ndarray, groups: np.ndarray,
                settings: SearchSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Apply the model's way of balancing classes: weights, or oversampled rows.
    Oversampled copies keep their speaker, so they never cross a speaker fold."""
    how = MODELS[name].balancing if name in MODELS else "class_weight"
    if settings.balance == "oversample" or (settings.balance == "weights" and how == "oversample"):
        rows = oversample(y, settings.seed)
        return X[rows], y[rows], groups[rows], {}
    if settings.balance == "weights" and how == "sample_weight":
        return X, y, groups, {"clf__sample_weight": compute_sample_weight("balanced", y)}
    return X, y, groups, {}


def grid_search(name: str, X: np.ndarray, y: np.ndarray, groups: np.ndarray,
                settings: SearchSettings, spec: ModelSpec | None = None) -> SearchResult:
    """Grid search of family `name` (its `MODELS` entry, or `spec`) by grouped CV UAR."""
    spec = spec or MODELS[name]
    balanced = settings.balance == "weights" and spec.balancing == "class_weight"
    pipe = make_pipeline(spec.build(balanced, settings.seed), settings.select_k, settings.pca,
                         settings.seed)
    grid = {f"clf__{k}": v for k, v in spec.grid.items()}
    Xf, yf, gf, fit_params = _fit_inputs(name, X, y, groups, settings)
    start = time.perf_counter()
    folds = training_folds(gf, yf, settings.folds, settings.seed)
    search = GridSearchCV(pipe, grid, scoring="balanced_accuracy", cv=folds.splitter,
                          n_jobs=settings.jobs, refit=True, error_score="raise")
    search.fit(Xf, yf, groups=folds.groups_for(gf), **fit_params)
    best = {k.removeprefix("clf__"): v for k, v in search.best_params_.items()}
    return SearchResult(name, search.best_estimator_, best, float(search.best_score_),
                        time.perf_counter() - start)


def stacking(results: list[SearchResult], X: np.ndarray, y: np.ndarray, groups: np.ndarray,
             settings: SearchSettings) -> SearchResult:
    """Stack the other models' best pipelines under a logistic regression."""
    if not results:
        raise ValueError("stacking needs at least one other model")
    start = time.perf_counter()
    stack = StackingClassifier(
        [(r.name, clone(r.estimator)) for r in results],
        final_estimator=LogisticRegression(class_weight="balanced", max_iter=2000),
        cv=StratifiedKFold(n_splits=min(settings.folds, 5), shuffle=True,
                           random_state=settings.seed),
        stack_method="predict_proba", n_jobs=1)
    folds = training_folds(groups, y, settings.folds, settings.seed)
    scores = cross_val_score(stack, X, y, groups=folds.groups_for(groups),
                             scoring="balanced_accuracy", cv=folds.splitter, n_jobs=settings.jobs)
    stack.fit(X, y)
    pipe = Pipeline([("clf", stack)])
    return SearchResult(STACKING, pipe, {"members": [r.name for r in results]},
                        float(np.mean(scores)), time.perf_counter() - start)
