"""evaluate.metrics: the numbers of a known confusion matrix, and a bootstrap CI
that contains the UAR it is an interval for."""

import numpy as np
import pytest

from training.evaluate import bootstrap_uar_ci, metrics, uar

EMOTIONS = ["sad", "angry"]


def from_confusion(cm: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """(y_true, y_pred) whose confusion matrix (rows = true) is `cm`."""
    true, pred = [], []
    for i, row in enumerate(cm):
        for j, n in enumerate(row):
            true += [i] * n
            pred += [j] * n
    return np.array(true), np.array(pred)


def test_known_confusion_gives_known_recall_uar_accuracy_f1():
    y_true, y_pred = from_confusion([[8, 2], [3, 27]])
    m = metrics(y_true, y_pred, EMOTIONS)
    assert m["confusion_matrix"] == [[8, 2], [3, 27]]
    assert m["per_class_recall"] == pytest.approx({"sad": 0.8, "angry": 0.9})
    assert m["uar"] == pytest.approx(0.85)
    assert m["accuracy"] == pytest.approx(35 / 40)
    f1_sad = 2 * 8 / (2 * 8 + 2 + 3)
    f1_angry = 2 * 27 / (2 * 27 + 3 + 2)
    assert m["macro_f1"] == pytest.approx((f1_sad + f1_angry) / 2)
    assert m["n_test"] == 40
    assert m["chance_uar"] == 0.5


def test_uar_is_not_accuracy_on_imbalanced_data():
    # Always predicting the majority class: high accuracy, chance UAR.
    y_true, y_pred = from_confusion([[0, 10], [0, 90]])
    m = metrics(y_true, y_pred, EMOTIONS)
    assert m["accuracy"] == pytest.approx(0.9)
    assert m["uar"] == pytest.approx(0.5) == uar(y_true, y_pred)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
def test_confusion_rows_follow_the_emotion_order_and_absent_classes_have_no_recall():
    emotions = ["neutral", "happy", "sad"]
    y_true, y_pred = from_confusion([[5, 0, 0], [0, 0, 0], [1, 1, 3]])
    m = metrics(y_true, y_pred, emotions)
    assert m["confusion_matrix"] == [[5, 0, 0], [0, 0, 0], [1, 1, 3]]
    assert m["per_class_recall"] == {"neutral": 1.0, "happy": None, "sad": pytest.approx(0.6)}
    assert m["uar"] == pytest.approx(0.8)  # over the classes present
    assert m["chance_uar"] == pytest.approx(1 / 3)


def test_bootstrap_ci_contains_the_uar_and_is_seeded():
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 3, 300)
    y_pred = np.where(rng.random(300) < 0.7, y_true, rng.integers(0, 3, 300))
    m = metrics(y_true, y_pred, ["neutral", "happy", "sad"], seed=3)
    lo, hi = m["uar_ci95"]
    assert 0.0 <= lo < m["uar"] < hi <= 1.0
    assert hi - lo < 0.2  # 300 samples: a few points either side
    assert bootstrap_uar_ci(y_true, y_pred, seed=3) == (lo, hi)


def test_perfect_predictions_give_a_degenerate_interval():
    y_true, y_pred = from_confusion([[6, 0], [0, 6]])
    m = metrics(y_true, y_pred, EMOTIONS)
    assert m["uar"] == m["accuracy"] == m["macro_f1"] == 1.0
    assert m["uar_ci95"] == [1.0, 1.0]
