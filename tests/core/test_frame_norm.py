"""The session rule on frame sequences: it is the vector rule fed with utterance means."""

from __future__ import annotations

import numpy as np
import pytest

from ccser_core.frame_norm import (
    fit_frame_prior,
    normalise_frames,
    step_frames,
    stream_frame_sessions,
    stream_frames,
    summaries,
)
from ccser_core.normalisation import (
    Prior,
    SpeakerNormaliser,
    StreamingNormaliser,
    fit_prior,
    stream_sessions,
    streaming_transform,
)

D = 5


@pytest.fixture
def session():
    """Three speakers, utterances of 3-40 frames with speaker-specific offsets."""
    rng = np.random.default_rng(3)
    seqs, groups, labels = [], [], []
    for g, offset in enumerate((2.0, -1.0, 7.0)):
        for i in range(6 + 2 * g):
            seqs.append(offset + rng.standard_normal((int(rng.integers(3, 40)), D)))
            groups.append(f"s{g}")
            labels.append(i % 2)
    return seqs, np.array(groups), np.array(labels)


@pytest.fixture
def prior():
    return Prior(np.linspace(-1, 1, D), np.linspace(0.5, 2.0, D), 2.0)


def test_each_frame_gets_its_utterance_mean_normalised_like_a_vector(session, prior):
    seqs, _, _ = session
    frames_stream, vector_stream = StreamingNormaliser(prior), StreamingNormaliser(prior)
    for seq in seqs[:5]:
        z = step_frames(frames_stream, seq)
        assert z.shape == seq.shape and z.dtype == np.float32
        # Affine per dimension: the mean of the normalised frames is the normalised mean.
        np.testing.assert_allclose(z.mean(axis=0), vector_stream.step(seq.mean(axis=0)),
                                   rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(frames_stream.stats()[0], vector_stream.stats()[0])


def test_before_then_learn(session, prior):
    """The first utterance of a session sees the prior alone; it then moves the statistics."""
    seqs, _, _ = session
    stream = StreamingNormaliser(prior)
    z = step_frames(stream, seqs[0])
    np.testing.assert_allclose(z, (seqs[0] - prior.mean) / np.sqrt(prior.var), rtol=1e-5)
    assert stream.n == 1


def test_prior_is_fit_prior_of_the_means(session):
    seqs, groups, labels = session
    got = fit_frame_prior(seqs, groups, 2.0, labels)
    want = fit_prior(summaries(seqs), groups, 2.0, labels)
    np.testing.assert_array_equal(got.mean, want.mean)
    np.testing.assert_array_equal(got.var, want.var)


@pytest.mark.parametrize("balanced", [False, True])
def test_batch_twin_matches_speaker_normaliser(session, prior, balanced):
    seqs, groups, labels = session
    use_prior = None if balanced else prior
    Z = normalise_frames(seqs, groups, use_prior, labels if balanced else None)
    ref = SpeakerNormaliser(use_prior).transform(summaries(seqs), groups,
                                                  labels if balanced else None)
    np.testing.assert_allclose(summaries(Z), ref, rtol=1e-4, atol=1e-4)


def test_streaming_evaluation_orders_like_the_vector_path(session, prior):
    seqs, groups, _ = session
    Z = stream_frames(seqs, groups, prior, seed=5)
    ref = streaming_transform(summaries(seqs), groups, prior, seed=5)
    np.testing.assert_allclose(summaries(Z), ref, rtol=1e-4, atol=1e-4)


def test_anchored_columns_follow_the_prior_alone(session, prior):
    """With a prior that anchors columns, frames carry them z-scored by the prior only,
    as `Prior.model_input` does for vectors; the session statistics still learn."""
    seqs, _, _ = session
    anchored = Prior(prior.mean, prior.var, prior.weight, (1, 3))
    stream, vectors = StreamingNormaliser(anchored), StreamingNormaliser(anchored)
    for seq in seqs[:4]:
        z = step_frames(stream, seq)
        assert z.shape == (len(seq), D + 2)
        np.testing.assert_allclose(z[:, D:], (seq[:, [1, 3]] - prior.mean[[1, 3]])
                                   / np.sqrt(prior.var[[1, 3]]), rtol=1e-5)
        np.testing.assert_allclose(z.mean(axis=0), vectors.step(seq.mean(axis=0)), rtol=1e-4,
                                   atol=1e-4)


def test_sessions_play_like_vector_sessions(session, prior):
    seqs, _, _ = session
    sessions = [np.array([3, 0, 5]), np.array([7]), np.array([2, 9, 1, 4])]
    Z = stream_frame_sessions(seqs, sessions, prior)
    assert len(Z) == 8
    ref = stream_sessions(summaries(seqs), sessions, prior)
    np.testing.assert_allclose(summaries(Z), ref, rtol=1e-4, atol=1e-4)
