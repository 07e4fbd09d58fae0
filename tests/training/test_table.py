"""The terminal summary printed by ccser-train."""

from training.table import results_table


def report(**changes) -> dict:
    base = {
        "train": ["ravdess"], "test": ["emodb"], "emotions": ["sad", "angry"], "n_train": 24,
        "best_model": "svc", "best_params": {"C": 1.0},
        "models": {
            "svc": {"cv_uar": 0.9123, "test_uar": {"emodb": 0.8761}},
            "logreg": {"cv_uar": 0.85, "test_uar": {"emodb": 0.9}},
        },
        "results": {"emodb": {"accuracy": 0.875, "uar": 0.8761, "uar_ci95": [0.8, 0.95],
                              "uar_streaming": 0.81, "n_test": 24, "chance_uar": 0.5}},
        "within_corpus": None,
        "n_unreadable": {"ravdess": 0, "emodb": 0},
        "n_skipped_names": {"ravdess": 0, "emodb": 0},
    }
    base.update(changes)
    return base


def test_table_marks_the_best_model_and_shows_cv_and_test_columns():
    text = results_table(report())
    lines = text.splitlines()
    assert lines[0].startswith("emotions: sad, angry") and "ravdess (24 files)" in lines[0]
    assert lines[1].split() == ["model", "CV-UAR", "emodb", "acc", "emodb", "UAR"]
    assert set(lines[2]) <= {"-", " "}
    svc = next(line for line in lines if "svc" in line and "CV" not in line and "best" not in line)
    assert svc.split() == ["*", "svc", "0.912", "0.875", "0.876"]
    logreg = next(line for line in lines if "logreg" in line)
    assert logreg.split() == ["logreg", "0.850", "-", "0.900"]  # accuracy only for the best
    assert "best by speaker-grouped CV UAR on the training data: svc {'C': 1.0}" in text
    assert ("emodb: UAR 0.876 [95% CI 0.800-0.950], streaming UAR 0.810, accuracy 0.875, n=24, "
            "chance 0.500") in text
    assert "skipped" not in text and "within-corpus" not in text


def test_columns_line_up():
    lines = results_table(report()).splitlines()[1:5]
    starts = {line.index("0.") for line in lines[2:4]}
    assert len(starts) == 1


def test_skipped_files_and_within_corpus_cv_are_reported():
    text = results_table(report(
        test=[], results={}, models={"svc": {"cv_uar": 0.9, "test_uar": {}}},
        within_corpus={"cv": "speaker", "folds": 3, "uar": 0.9, "accuracy": 0.91},
        n_unreadable={"ravdess": 2}, n_skipped_names={"ravdess": 1}))
    assert "within-corpus speaker CV (3 folds): UAR 0.900, accuracy 0.910" in text
    assert "unreadable files skipped: ravdess 2" in text
    assert "files not matching naming rules skipped: ravdess 1" in text
