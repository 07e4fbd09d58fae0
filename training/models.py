"""The classifiers `--models` can name, and their hyper-parameter grids: the one place
to read or change what grid search tries.

Every model is the last step of a real sklearn Pipeline (scaler, optional
selection and PCA, classifier), so cloning, grid search and ONNX export
work the same way for all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from sklearn.base import ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.ensemble import (
    AdaBoostClassifier,
    BaggingClassifier,
    GradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.feature_selection import SelectKBest, mutual_info_classif
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC
from sklearn.tree import DecisionTreeClassifier

from ccser_core.encoders.whisper import ENCODER_NAMES


@dataclass(frozen=True)
class ModelSpec:
    """How to build one classifier, its grid (keys without the `clf__` prefix),
    and how it honours class balancing: "class_weight", "sample_weight" or
    "oversample" (for models that accept neither)."""

    build: Callable[[bool, int], ClassifierMixin]  # (balanced, seed) -> estimator
    grid: dict[str, list[Any]]
    balancing: str


def _cw(balanced: bool) -> str | None:
    return "balanced" if balanced else None


MODELS: dict[str, ModelSpec] = {
    # Probabilities by cross-validated calibration (SVC's own `probability` is deprecated).
    "svc": ModelSpec(
        lambda b, s: CalibratedClassifierCV(
            SVC(kernel="rbf", class_weight=_cw(b), random_state=s), cv=3, ensemble=False),
        {"estimator__C": [0.3, 1.0, 3.0, 10.0]}, "class_weight"),
    "linear_svc": ModelSpec(
        lambda b, s: CalibratedClassifierCV(
            LinearSVC(class_weight=_cw(b), random_state=s, max_iter=5000), cv=3),
        {"estimator__C": [0.001, 0.01, 0.1]}, "class_weight"),
    "logreg": ModelSpec(
        lambda b, s: LogisticRegression(class_weight=_cw(b), max_iter=3000, random_state=s),
        {"C": [0.003, 0.01, 0.03, 0.1, 0.3]}, "class_weight"),
    "rf": ModelSpec(
        lambda b, s: RandomForestClassifier(n_estimators=300, class_weight=_cw(b),
                                            random_state=s, n_jobs=1),
        {"max_depth": [None, 12], "min_samples_leaf": [1, 4]}, "class_weight"),
    "gb": ModelSpec(
        lambda b, s: GradientBoostingClassifier(n_estimators=100, subsample=0.8, random_state=s),
        {"max_depth": [2, 3], "learning_rate": [0.1]}, "sample_weight"),
    "knn": ModelSpec(
        lambda b, s: KNeighborsClassifier(),
        {"n_neighbors": [5, 11, 21], "weights": ["uniform", "distance"]}, "oversample"),
    "dt": ModelSpec(
        lambda b, s: DecisionTreeClassifier(class_weight=_cw(b), random_state=s),
        {"max_depth": [4, 8, None], "min_samples_leaf": [1, 5]}, "class_weight"),
    "mlp": ModelSpec(
        lambda b, s: MLPClassifier(max_iter=600, early_stopping=True, random_state=s),
        {"hidden_layer_sizes": [(128,), (256, 64)], "alpha": [1e-3, 1e-1]}, "sample_weight"),
    "bagging": ModelSpec(
        lambda b, s: BaggingClassifier(
            DecisionTreeClassifier(class_weight=_cw(b)), n_estimators=50, random_state=s),
        {"max_samples": [0.5, 1.0]}, "class_weight"),
    "adaboost": ModelSpec(
        lambda b, s: AdaBoostClassifier(
            DecisionTreeClassifier(max_depth=2), n_estimators=100, random_state=s),
        {"learning_rate": [0.1, 0.5]}, "sample_weight"),
}
#: Stacking combines the other models' best estimators; it has no grid of its own.
STACKING = "stacking"


@dataclass(frozen=True)
class RnnGrid:
    """`--models rnn` (training/rnn/, PyTorch from the [deep] extra): a convolutional
    front end, a bidirectional GRU and attention pooling over `features.frames`. Every
    combination of the tuples is trained once, with early stopping on a speaker-grouped
    validation split; the best by validation UAR is kept. Kept small: each point costs
    a full training (minutes on two cores)."""

    hidden: tuple[int, ...] = (64,)  # GRU units per direction
    layers: tuple[int, ...] = (1,)  # 2 doubled the time and lost on validation (R->E AS, AHNS)
    dropout: tuple[float, ...] = (0.3,)
    lr: tuple[float, ...] = (2e-3,)
    max_epochs: int = 20  # the best epoch came at 5-14 in the runs measured
    patience: int = 5  # epochs without a better validation UAR before stopping
    batch_size: int = 32
    conv_channels: int = 64
    val_fraction: float = 0.2  # of each training corpus's speakers
    #: Simulated live sessions per training speaker added to the training rows (as the
    #: functional path's anchored expert is trained); 0: per-speaker statistics only.
    simulated_sessions: int = 2


#: The sequence model and its grid; not a scikit-learn pipeline, so not a stacking member.
RNN = "rnn"
RNN_GRID = RnnGrid()
#: Pretrained-encoder experts (training/experts/encoder.py): embeddings, not features.
ENCODERS = ENCODER_NAMES
ALL_MODELS = (*MODELS, RNN, STACKING, *ENCODERS)


def make_pipeline(clf: ClassifierMixin, select_k: int = 0, pca: int = 0,
                  seed: int = 0) -> Pipeline:
    """Scaler -> [SelectKBest(mutual information)] -> [PCA] -> classifier."""
    steps: list[tuple[str, Any]] = [("scale", StandardScaler())]
    if select_k:
        score = partial(mutual_info_classif, random_state=seed)
        steps.append(("select", SelectKBest(score, k=select_k)))
    if pca:
        steps.append(("pca", PCA(n_components=pca, random_state=seed)))
    steps.append(("clf", clf))
    return Pipeline(steps)


def parse_models(spec: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(s.strip().lower() for s in spec.split(",") if s.strip()))
    unknown = [n for n in names if n not in ALL_MODELS]
    if unknown or not names:
        raise ValueError(f"unknown model(s) {', '.join(unknown) or '(none)'}; "
                         f"choose from {', '.join(ALL_MODELS)}")
    if names == (STACKING,):
        raise ValueError("stacking combines other models: name at least one more, "
                         "e.g. svc,logreg,stacking")
    return names
