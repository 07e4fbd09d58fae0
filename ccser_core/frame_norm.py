"""The session normalisation rule applied to frame sequences (sequence models).

A sequence model reads frames, but a session's statistics are kept, as for
functional vectors, over one summary per utterance: its mean frame vector. So
the prior, the running statistics and their batch twin are exactly those of
`ccser_core.normalisation`, fed with utterance means, and every frame of an
utterance is z-scored with the statistics that utterance gets (followed, when
the prior anchors columns, by those columns z-scored by the prior alone:
`Prior.model_input`). The daemon, `ccser-predict --stream` and the offline
streaming evaluation all go through `step_frames`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ccser_core.normalisation import (
    Prior,
    StreamingNormaliser,
    apply,
    balanced_stats,
    fit_prior,
    pooled_stats,
)


def summary(seq: np.ndarray) -> np.ndarray:
    """An utterance's mean frame vector (D,), the unit the session statistics count."""
    seq = np.asarray(seq, dtype=np.float64)
    return seq.mean(axis=0) if len(seq) else np.zeros(seq.shape[1])


def summaries(seqs: Sequence[np.ndarray]) -> np.ndarray:
    """(N, D) mean frame vectors of N utterances."""
    return np.vstack([summary(s) for s in seqs])


def fit_frame_prior(seqs: Sequence[np.ndarray], groups: np.ndarray, weight: float,
                    labels: np.ndarray | None = None, anchored: tuple[int, ...] = ()) -> Prior:
    """The prior of `fit_prior` over training speakers' utterance means (class-balanced
    per speaker when `labels` are given; `anchored` frame columns, see `Prior`)."""
    return fit_prior(summaries(seqs), np.asarray(groups), weight, labels, anchored)


def step_frames(stream: StreamingNormaliser, seq: np.ndarray) -> np.ndarray:
    """The live rule for one utterance (or window): its frames z-scored with the session
    statistics from before it, then its mean frame vector learnt (`StreamingNormaliser.step`
    for sequences)."""
    out = stream.transform(np.asarray(seq, dtype=np.float64))
    stream.update(summary(seq))
    return out


def normalise_frames(seqs: Sequence[np.ndarray], groups: np.ndarray, prior: Prior | None = None,
                     labels: np.ndarray | None = None,
                     anchor: Prior | None = None) -> list[np.ndarray]:
    """Batch twin (speaker-adaptive): each group's frames z-scored by the pooled statistics
    of all its utterance means plus the prior, or class-balanced statistics when `labels`
    are given (labelled training speakers, no prior; `anchor` then gives the prior whose
    anchored columns are appended), as `SpeakerNormaliser` does."""
    if labels is not None and prior is not None:
        raise ValueError("class-balanced statistics are for training groups, without a prior")
    means = summaries(seqs)
    groups = np.asarray(groups)
    rule = prior if prior is not None else anchor
    out: list[np.ndarray] = [np.empty((0, means.shape[1]), np.float32)] * len(seqs)
    for g in np.unique(groups):
        rows = np.nonzero(groups == g)[0]
        stats = pooled_stats(means[rows], prior) if labels is None else \
            balanced_stats(means[rows], np.asarray(labels)[rows])
        for i in rows:
            seq = np.asarray(seqs[i], dtype=np.float64)
            out[i] = rule.model_input(seq, *stats) if rule is not None else apply(seq, *stats)
    return out


def stream_frames(seqs: Sequence[np.ndarray], groups: np.ndarray, prior: Prior,
                  seed: int) -> list[np.ndarray]:
    """Streaming evaluation offline, as `streaming_transform` orders it: per group a seeded
    random order, each utterance normalised by the prior plus only the ones before it."""
    rng = np.random.default_rng(seed)
    groups = np.asarray(groups)
    out: list[np.ndarray] = [np.empty((0, 0), np.float32)] * len(seqs)
    for g in np.unique(groups):
        idx = np.nonzero(groups == g)[0]
        rng.shuffle(idx)
        stream = StreamingNormaliser(prior)
        for i in idx:
            out[i] = step_frames(stream, seqs[i])
    return out


def stream_frame_sessions(seqs: Sequence[np.ndarray], sessions: Sequence[np.ndarray],
                          prior: Prior) -> list[np.ndarray]:
    """Utterances played as live sessions (each an ordered index array), as
    `normalisation.stream_sessions` plays vectors: one input per (session, position),
    in session order."""
    out: list[np.ndarray] = []
    for idx in sessions:
        stream = StreamingNormaliser(prior)
        out += [step_frames(stream, seqs[i]) for i in idx]
    return out


def session_frames(seqs: Sequence[np.ndarray], prior: Prior | None,
                   stream: bool) -> list[np.ndarray]:
    """One session's utterances in order, normalised as `ccser-predict` does: one after
    another (`stream`, the daemon's rule) or all together with the prior (adaptive)."""
    if prior is None:
        return list(seqs)
    if stream:
        normaliser = StreamingNormaliser(prior)
        return [step_frames(normaliser, s) for s in seqs]
    return normalise_frames(seqs, np.zeros(len(seqs)), prior)
