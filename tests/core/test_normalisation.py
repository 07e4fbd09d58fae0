"""Per-speaker normalisation: batch (training/evaluation) and streaming (live) agree."""

import json

import numpy as np
import pytest

from ccser_core.normalisation import (
    Prior,
    SpeakerNormaliser,
    StreamingNormaliser,
    fit_prior,
    pooled_stats,
    streaming_transform,
)

D = 6


@pytest.fixture
def data():
    """Three speakers with different offsets and scales, 5-12 vectors each."""
    rng = np.random.default_rng(7)
    X, groups = [], []
    for g, (n, offset, scale) in enumerate([(5, 3.0, 0.5), (12, -2.0, 2.0), (8, 10.0, 1.0)]):
        X.append(offset + scale * rng.standard_normal((n, D)))
        groups += [f"spk{g}"] * n
    return np.vstack(X), np.array(groups)


@pytest.fixture
def prior():
    return Prior(np.linspace(-1, 1, D), np.linspace(0.5, 2.0, D), 3.0)


@pytest.mark.parametrize("weight", [0.0, 1.0, 3.0, 20.0])
def test_streaming_stats_equal_batch_stats_after_the_same_vectors(data, prior, weight):
    X, groups = data
    prior = Prior(prior.mean, prior.var, weight)
    rows = X[groups == "spk1"]
    stream = StreamingNormaliser(prior)
    for x in rows:
        stream.update(x)
    mean, var = stream.stats()
    batch_mean, batch_var = pooled_stats(rows, prior)
    np.testing.assert_allclose(mean, batch_mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(var, batch_var, rtol=1e-9, atol=1e-12)
    if weight == 0:
        np.testing.assert_allclose(batch_mean, rows.mean(axis=0))
        np.testing.assert_allclose(batch_var, rows.var(axis=0))


def test_streaming_transform_of_a_vector_matches_batch_normalisation(data, prior):
    X, groups = data
    rows = X[groups == "spk2"]
    stream = StreamingNormaliser(prior)
    for x in rows:
        stream.update(x)
    batch = SpeakerNormaliser(prior).transform(rows, np.zeros(len(rows)))
    np.testing.assert_allclose(stream.transform(rows[3]), batch[3], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("prior_or_none", ["none", "zero-weight"])
def test_speaker_normaliser_gives_zero_mean_unit_variance_per_group(data, prior, prior_or_none):
    X, groups = data
    p = None if prior_or_none == "none" else Prior(prior.mean, prior.var, 0.0)
    Z = SpeakerNormaliser(p).transform(X, groups)
    assert Z.dtype == np.float32 and Z.shape == X.shape
    for g in np.unique(groups):
        np.testing.assert_allclose(Z[groups == g].mean(axis=0), 0, atol=1e-5)
        np.testing.assert_allclose(Z[groups == g].std(axis=0), 1, atol=1e-5)


def test_a_prior_pulls_small_groups_towards_it(data, prior):
    X, groups = data
    Z = SpeakerNormaliser(prior).transform(X, groups)
    assert np.all(np.isfinite(Z))
    # spk0 (5 vectors, far from the prior mean) is no longer exactly zero-mean.
    assert np.abs(Z[groups == "spk0"].mean(axis=0)).max() > 0.05


def test_constant_features_map_to_zero_not_inf():
    X = np.ones((4, 3))
    Z = SpeakerNormaliser().transform(X, np.zeros(4))
    np.testing.assert_array_equal(Z, 0)


def test_no_vectors_and_no_prior_is_an_error():
    with pytest.raises(ValueError):
        pooled_stats(np.zeros((0, 3)), None)
    with pytest.raises(ValueError):
        StreamingNormaliser(Prior(np.zeros(3), np.ones(3), 0.0)).stats()


def test_streaming_transform_is_seeded(data, prior):
    X, groups = data
    a = streaming_transform(X, groups, prior, seed=1)
    np.testing.assert_array_equal(a, streaming_transform(X, groups, prior, seed=1))
    assert not np.array_equal(a, streaming_transform(X, groups, prior, seed=2))
    assert a.dtype == np.float32 and a.shape == X.shape and np.all(np.isfinite(a))


def test_streaming_transform_normalises_each_first_file_with_the_prior_only(data, prior):
    X, groups = data
    out = streaming_transform(X, groups, prior, seed=3)
    prior_only = (X - prior.mean) / np.sqrt(prior.var)
    for g in np.unique(groups):
        idx = np.nonzero(groups == g)[0]
        hits = [i for i in idx if np.allclose(out[i], prior_only[i], rtol=1e-5, atol=1e-5)]
        assert len(hits) == 1, g  # exactly one file per group saw nothing before it


def test_streaming_transform_normalises_each_last_file_with_all_the_others(data, prior):
    X, groups = data
    out = streaming_transform(X, groups, prior, seed=5)
    for g in np.unique(groups):
        idx = np.nonzero(groups == g)[0]
        hits = 0
        for i in idx:
            mean, var = pooled_stats(X[idx[idx != i]], prior)
            hits += np.allclose(out[i], (X[i] - mean) / np.sqrt(var), rtol=1e-4, atol=1e-4)
        assert hits == 1, g  # exactly one file per group came after all the others


def test_fit_prior_averages_per_speaker_means_and_variances(data):
    X, groups = data
    prior = fit_prior(X, groups, weight=4)
    means = [X[groups == g].mean(axis=0) for g in np.unique(groups)]
    variances = [X[groups == g].var(axis=0) for g in np.unique(groups)]
    np.testing.assert_allclose(prior.mean, np.mean(means, axis=0))
    np.testing.assert_allclose(prior.var, np.mean(variances, axis=0))
    assert prior.weight == 4.0
    # Not the pooled statistics: a big speaker does not dominate.
    assert not np.allclose(prior.mean, X.mean(axis=0))


def test_prior_round_trips_through_dict_and_json(prior):
    again = Prior.from_dict(json.loads(json.dumps(prior.to_dict())))
    np.testing.assert_array_equal(again.mean, prior.mean)
    np.testing.assert_array_equal(again.var, prior.var)
    assert again.weight == prior.weight
    assert again.mean.dtype == again.var.dtype == np.float64


def test_balanced_stats_give_each_label_equal_weight():
    from ccser_core.normalisation import balanced_stats

    X = np.array([[0.0], [4.0], [4.0], [4.0]])
    mean, var = balanced_stats(X, np.array(["a", "b", "b", "b"]))
    assert mean[0] == pytest.approx(2.0) and var[0] == pytest.approx(4.0)
    prior = fit_prior(X, np.zeros(4), 2.0, labels=np.array(["a", "b", "b", "b"]))
    assert prior.mean[0] == pytest.approx(2.0)


def test_anchored_features_are_appended_relative_to_the_prior_alone(data, prior):
    """A sustained shift moves the session statistics, not the anchored (prior-only) copy."""
    X, groups = data
    anchored = Prior(prior.mean, prior.var, prior.weight, (1, 4))
    assert anchored.n_inputs == D + 2
    rows = X[groups == "spk1"]
    stream = StreamingNormaliser(anchored)
    out = np.vstack([stream.step(x) for x in rows])
    assert out.shape == (len(rows), D + 2)
    expected = (rows[:, [1, 4]] - prior.mean[[1, 4]]) / np.sqrt(prior.var[[1, 4]])
    np.testing.assert_allclose(out[:, D:], expected, rtol=1e-5)
    # The session part is exactly the unanchored rule's.
    plain = StreamingNormaliser(prior)
    np.testing.assert_allclose(out[:, :D], np.vstack([plain.step(x) for x in rows]), rtol=1e-6)
    # Batch twin: after all vectors, batch equals the streaming statistics applied to each.
    batch = SpeakerNormaliser(anchored).transform(rows, np.zeros(len(rows)))
    np.testing.assert_allclose(batch, anchored.model_input(rows, *stream.stats()), rtol=1e-5)
    assert Prior.from_dict(json.loads(json.dumps(anchored.to_dict()))).anchored == (1, 4)


def test_streaming_transform_keeps_row_order_with_anchored_inputs(data, prior):
    X, groups = data
    anchored = Prior(prior.mean, prior.var, prior.weight, (0,))
    out = streaming_transform(X, groups, anchored, seed=3)
    assert out.shape == (len(X), D + 1)
    np.testing.assert_allclose(out[:, D], (X[:, 0] - prior.mean[0]) / np.sqrt(prior.var[0]), rtol=1e-5)
