"""Per-speaker feature normalisation: batch (training, evaluation) and streaming (live).

Cross-corpus accuracy hinges on normalising each speaker (or session) by its
own statistics, never by the training corpus's. Both forms share one rule:
the statistics are a prior worth `prior_weight` pseudo-observations, pooled
with the speaker's observed vectors. So after the same vectors the streaming
statistics equal the batch ones exactly.

A session that holds one emotion throughout pulls its own statistics towards
that emotion, and the z-scores then say "average". So the model input can
carry, besides the session-normalised vector, the `anchored` features (by
default the prosody group) z-scored by the prior alone: those a sustained
emotion cannot absorb. `Prior.model_input` builds that input from any
statistics, so live, batch and the daemon's utterance snapshots agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Floor on standard deviations, so a constant feature maps to 0, not inf.
MIN_STD = 1e-6


@dataclass(frozen=True)
class Prior:
    """Starting statistics of an unseen speaker: mean of per-speaker means and mean
    within-speaker variance of the training data, worth `weight` observations.

    `anchored`: indices of features that the model input also carries z-scored by
    this prior alone (never adapted to the session); empty = session-normalised only.
    """

    mean: np.ndarray
    var: np.ndarray
    weight: float
    anchored: tuple[int, ...] = ()

    @property
    def n_inputs(self) -> int:
        """Length of the model input built from one feature vector."""
        return len(self.mean) + len(self.anchored)

    def model_input(self, x: np.ndarray, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
        """x (..., n_features) z-scored by the session statistics (mean, var), followed by
        its anchored features z-scored by the prior alone."""
        out = apply(x, mean, var)
        if not self.anchored:
            return out
        idx = list(self.anchored)
        return np.concatenate([out, apply(x[..., idx], self.mean[idx], self.var[idx])], axis=-1)

    def to_dict(self) -> dict:
        d = {"mean": self.mean.tolist(), "var": self.var.tolist(), "weight": self.weight}
        return {**d, "anchored": list(self.anchored)} if self.anchored else d

    @classmethod
    def from_dict(cls, d: dict) -> Prior:
        return cls(np.asarray(d["mean"], dtype=np.float64), np.asarray(d["var"], dtype=np.float64),
                   float(d["weight"]), tuple(int(i) for i in d.get("anchored", ())))


def balanced_stats(X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance with each label given equal total weight.

    For labelled (training) speakers only: a speaker who recorded more angry
    than sad files would otherwise get an angry-shifted reference, and a live
    session's reference is a mix of emotions, not that corpus's recording plan.
    """
    _, inv, counts = np.unique(labels, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inv]
    w /= w.sum()
    mean = w @ X
    return mean, w @ (X - mean) ** 2


def _speaker_stats(X: np.ndarray, labels: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if labels is None:
        return X.mean(axis=0), X.var(axis=0)
    return balanced_stats(X, labels)


def fit_prior(X: np.ndarray, groups: np.ndarray, weight: float,
              labels: np.ndarray | None = None, anchored: tuple[int, ...] = ()) -> Prior:
    """Prior from training data: average over speakers of their mean and variance
    (class-balanced per speaker when `labels` are given, matching the training side)."""
    means, vars_ = [], []
    for g in np.unique(groups):
        rows = groups == g
        m, v = _speaker_stats(X[rows], None if labels is None else labels[rows])
        means.append(m)
        vars_.append(v)
    return Prior(np.mean(means, axis=0), np.mean(vars_, axis=0), float(weight), tuple(anchored))


def pooled_stats(X: np.ndarray, prior: Prior | None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of `X` pooled with the prior's pseudo-observations."""
    n = X.shape[0]
    w = prior.weight if prior is not None else 0.0
    if n == 0 and w == 0:
        raise ValueError("no vectors and no prior: nothing to normalise with")
    total = w + n
    s = X.sum(axis=0)
    mean = ((w * prior.mean if w else 0.0) + s) / total
    ss = ((X - mean) ** 2).sum(axis=0)
    if w:
        ss = ss + w * (prior.var + (prior.mean - mean) ** 2)
    return mean, ss / total


def apply(x: np.ndarray, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    return ((x - mean) / np.maximum(np.sqrt(var), MIN_STD)).astype(np.float32)


class SpeakerNormaliser:
    """Batch mode: each group (speaker/session) z-scored by its own pooled statistics.

    Transductive by design: `transform(X, groups)` uses the statistics of the
    unlabelled vectors it is given (what a long live session converges to).
    """

    def __init__(self, prior: Prior | None = None) -> None:
        self.prior = prior

    def transform(self, X: np.ndarray, groups: np.ndarray,
                  labels: np.ndarray | None = None, anchor: Prior | None = None) -> np.ndarray:
        """Model inputs (see `Prior.model_input`). `labels` (training side only, no prior)
        make each group's statistics class-balanced (see `balanced_stats`); `anchor` then
        gives the prior whose anchored features are appended."""
        if labels is not None and self.prior is not None:
            raise ValueError("class-balanced statistics are for training groups, without a prior")
        anchor = self.prior if anchor is None else anchor
        width = anchor.n_inputs if anchor is not None else X.shape[1]
        out = np.empty((X.shape[0], width), dtype=np.float32)
        groups = np.asarray(groups)
        for g in np.unique(groups):
            rows = groups == g
            stats = pooled_stats(X[rows], self.prior) if labels is None else \
                balanced_stats(X[rows], np.asarray(labels)[rows])
            out[rows] = anchor.model_input(X[rows], *stats) if anchor is not None else \
                apply(X[rows], *stats)
        return out


class StreamingNormaliser:
    """Live mode: running statistics of one session, seeded by the prior.

    `transform(x)` uses the statistics of what was seen *before* x; call
    `update(x)` afterwards (the daemon does so for voiced windows only).
    """

    def __init__(self, prior: Prior) -> None:
        self.prior = prior
        self.n = 0.0
        self._sum = np.zeros_like(prior.mean)
        self._sumsq = np.zeros_like(prior.mean)

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64)
        self.n += 1
        self._sum += x
        self._sumsq += x * x

    def stats(self) -> tuple[np.ndarray, np.ndarray]:
        w = self.prior.weight
        total = w + self.n
        if total == 0:
            raise ValueError("no vectors and no prior weight: nothing to normalise with")
        mean = (w * self.prior.mean + self._sum) / total
        # Sum of squares about `mean`, expanded so no vector needs to be kept.
        ss = self._sumsq - 2 * mean * self._sum + self.n * mean**2
        ss += w * (self.prior.var + (self.prior.mean - mean) ** 2)
        return mean, np.maximum(ss / total, 0.0)

    def transform(self, x: np.ndarray) -> np.ndarray:
        """The model input for `x` under the statistics so far."""
        return self.prior.model_input(np.asarray(x, dtype=np.float64), *self.stats())

    def step(self, x: np.ndarray) -> np.ndarray:
        """The live rule in one place: normalise `x` by what came before, then learn it."""
        out = self.transform(x)
        self.update(x)
        return out


def streaming_transform(X: np.ndarray, groups: np.ndarray, prior: Prior,
                        seed: int) -> np.ndarray:
    """Evaluate streaming mode offline: per group, a seeded random file order, each
    file normalised with only the files before it (plus the prior), as the daemon would."""
    rng = np.random.default_rng(seed)
    groups = np.asarray(groups)
    sessions = []
    for g in np.unique(groups):
        idx = np.nonzero(groups == g)[0]
        rng.shuffle(idx)
        sessions.append(idx)
    out = np.empty((X.shape[0], prior.n_inputs), dtype=np.float32)
    if sessions:
        out[np.concatenate(sessions)] = stream_sessions(X, sessions, prior)
    return out


def stream_sessions(X: np.ndarray, sessions: list[np.ndarray], prior: Prior) -> np.ndarray:
    """Rows of X played as live sessions (each an ordered index array): one model input
    per (session, position), in session order, each from the statistics before it."""
    rows = [StreamingNormaliser(prior) for _ in sessions]
    out = [[stream.step(X[i]) for i in idx] for stream, idx in zip(rows, sessions, strict=True)]
    flat = [r for session in out for r in session]
    return np.vstack(flat).astype(np.float32) if flat else np.empty((0, prior.n_inputs), np.float32)
