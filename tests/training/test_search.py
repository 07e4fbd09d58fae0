"""Grid search validates on held-out speakers and oversampling balances classes."""

import numpy as np
import pytest

import training.search as search
from ccser_core.errors import CcserError
from training.search import SearchSettings, grid_search, oversample, speaker_folds


def test_oversample_repeats_minority_rows_up_to_the_majority_count():
    y = np.array([0] * 10 + [1] * 3 + [2] * 6)
    rows = oversample(y, seed=0)
    assert np.bincount(y[rows]).tolist() == [10, 10, 10]
    assert set(range(len(y))) <= set(rows.tolist())  # every original row kept
    assert np.array_equal(rows, oversample(y, seed=0))
    assert not np.array_equal(rows, oversample(y, seed=1))


def test_oversample_leaves_balanced_labels_alone():
    y = np.array([0, 1, 0, 1])
    assert oversample(y, seed=0).tolist() == [0, 1, 2, 3]


def test_speaker_folds_never_put_a_speaker_on_both_sides():
    groups = np.repeat([f"spk{i}" for i in range(7)], 5)
    cv = speaker_folds(groups, folds=3)
    for train, val in cv.split(np.zeros(len(groups)), groups=groups):
        assert not set(groups[train]) & set(groups[val])


def test_speaker_folds_are_capped_by_the_number_of_speakers():
    groups = np.repeat(["a", "b", "c"], 4)
    assert speaker_folds(groups, folds=5).get_n_splits() == 3
    with pytest.raises(CcserError, match="two speakers"):
        speaker_folds(np.array(["a"] * 6), folds=3)


def speaker_data(n_speakers=6, per=8, seed=0):
    """Separable two-class data with a strong per-speaker offset."""
    rng = np.random.default_rng(seed)
    groups = np.repeat([f"s{i}" for i in range(n_speakers)], per)
    y = np.tile([0, 1], len(groups) // 2)
    offset = np.repeat(rng.normal(0, 3, (n_speakers, 6)), per, axis=0)
    X = offset + rng.normal(0, 1, (len(y), 6)) + 2.0 * y[:, None]
    return X, y, groups


@pytest.fixture
def recorded_splits(monkeypatch):
    """Every (train groups, validation groups) pair the grid search's splitter yields."""
    seen: list[tuple[set, set]] = []
    real = search.speaker_folds

    def spy(groups, folds):
        cv = real(groups, folds)
        split = cv.split

        def recording_split(X, y=None, groups=None):
            for train, val in split(X, y, groups):
                seen.append((set(groups[train]), set(groups[val])))
                yield train, val

        cv.split = recording_split
        return cv

    monkeypatch.setattr(search, "speaker_folds", spy)
    return seen


@pytest.mark.parametrize(("model", "balance"), [("logreg", "weights"), ("knn", "weights"),
                                                ("logreg", "oversample")])
def test_grid_search_validates_on_unseen_speakers(recorded_splits, model, balance):
    X, y, groups = speaker_data()
    keep = ~((y == 1) & (np.arange(len(y)) % 4 == 1))  # imbalanced, so oversampling acts
    result = grid_search(model, X[keep], y[keep], groups[keep],
                         SearchSettings(balance=balance, folds=3))
    assert len(recorded_splits) == 3
    for train_groups, val_groups in recorded_splits:
        assert val_groups and not train_groups & val_groups
    assert 0.5 < result.cv_uar <= 1.0
    assert set(result.best_params) == {k for k in search.MODELS[model].grid}
    assert result.estimator.predict(X[:4]).shape == (4,)


def test_grid_search_picks_the_params_with_the_best_cv_uar():
    X, y, groups = speaker_data(seed=2)
    result = grid_search("logreg", X, y, groups, SearchSettings(folds=3))
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    scores = {}
    for c in search.MODELS["logreg"].grid["C"]:
        pipe = clone(result.estimator).set_params(clf__C=c)
        scores[c] = cross_val_score(pipe, X, y, groups=groups, cv=speaker_folds(groups, 3),
                                    scoring="balanced_accuracy").mean()
    assert result.cv_uar == pytest.approx(max(scores.values()))
    assert scores[result.best_params["C"]] == pytest.approx(result.cv_uar)
