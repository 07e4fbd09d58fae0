"""Metrics of one prediction run: accuracy, UAR, macro-F1, per-class recall,
confusion matrix (rows = true, in `emotions` order) and a bootstrap CI for UAR."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score


def uar(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Unweighted average recall: the mean of per-class recalls (chance = 1/K)."""
    return float(balanced_accuracy_score(y_true, y_pred))


def bootstrap_uar_ci(y_true: np.ndarray, y_pred: np.ndarray, seed: int = 0,
                     n_boot: int = 1000) -> tuple[float, float]:
    """95 % percentile interval of UAR over resampled test sets."""
    rng = np.random.default_rng(seed)
    n = len(y_true)
    k = int(max(y_true.max(), y_pred.max())) + 1
    scores = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        cm = np.bincount(y_true[idx] * k + y_pred[idx], minlength=k * k).reshape(k, k)
        support = cm.sum(axis=1)
        present = support > 0
        scores.append(float(np.mean(np.diag(cm)[present] / support[present])))
    lo, hi = np.percentile(scores, [2.5, 97.5])
    return float(lo), float(hi)


def metrics(y_true: np.ndarray, y_pred: np.ndarray, emotions: list[str],
            seed: int = 0) -> dict:
    """The report's per-test-corpus block. Labels are class indices into `emotions`."""
    labels = list(range(len(emotions)))
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    support = cm.sum(axis=1)
    recall = {e: (float(cm[i, i] / support[i]) if support[i] else None)
              for i, e in enumerate(emotions)}
    lo, hi = bootstrap_uar_ci(y_true, y_pred, seed)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "uar": uar(y_true, y_pred),
        "uar_ci95": [lo, hi],
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro",
                                   zero_division=0)),
        "per_class_recall": recall,
        "confusion_matrix": cm.tolist(),
        "n_test": int(len(y_true)),
        "chance_uar": 1.0 / len(emotions),
    }
