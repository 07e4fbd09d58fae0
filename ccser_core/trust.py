"""How far to trust a session's own statistics: adaptation weighted by evidence.

Session-normalised experts gain on sessions with a mix of emotions and lose on a
sustained one, whose statistics absorb the very emotion to be recognised.
Absolute experts (pretrained encoders) score the same in every session. So a
model mixes the two groups per utterance:

    p = (1 - w) * p_absolute + w * p_session,   w = w_max * n / (n + n0) * g(d)

where n is how many earlier utterances the session statistics hold and d the
diversity of those utterances as the *absolute* experts hear them: the
normalised entropy (0..1) of their mean probabilities. One emotion throughout
gives d near 0 (do not trust), a mix gives d near 1; g rises linearly from 0 at
d0 to 1 at d = 1. A cold start (n = 0) is absolute alone. The absolute experts
judge the mix because their judgement does not depend on the statistics being
judged. `w_max`, `n0` and `d0` are learned on simulated sessions of the
training corpora only (`fit_rule`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields

import numpy as np

#: Candidate rules `fit_rule` tries (w_max x n0 x d0).
W_MAX = (0.0, 0.25, 0.4, 0.55, 0.7, 0.85, 1.0)
N0 = (0.0, 2.0, 5.0, 10.0)
D0 = (0.0, 0.3, 0.5, 0.7, 0.85)


@dataclass(frozen=True)
class TrustRule:
    w_max: float = 0.5  # weight of the session group when the evidence is complete
    n0: float = 5.0  # earlier utterances (in the statistics) for half the evidence
    d0: float = 0.5  # diversity (0..1) below which the statistics are not trusted

    def weight(self, n: int, diversity: float) -> float:
        """Weight (0..w_max) of the session-normalised group for an utterance."""
        if n <= 0 or self.w_max <= 0:
            return 0.0
        g = np.clip((diversity - self.d0) / max(1.0 - self.d0, 1e-9), 0.0, 1.0)
        return float(self.w_max * n / (n + self.n0) * g)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrustRule:
        known = {f.name for f in fields(cls)}
        return cls(**{k: float(v) for k, v in d.items() if k in known})


def diversity(mean_proba: np.ndarray) -> float:
    """Normalised entropy (0..1) of a probability vector (the session's mean)."""
    p = np.clip(np.asarray(mean_proba, dtype=np.float64), 1e-12, None)
    p = p / p.sum()
    return float(-(p * np.log(p)).sum() / np.log(len(p))) if len(p) > 1 else 0.0


class SessionEvidence:
    """What a live session has heard so far, as the absolute experts heard it."""

    def __init__(self, n_classes: int) -> None:
        self.n = 0
        self.total = np.zeros(n_classes)

    def update(self, absolute_proba: np.ndarray) -> None:
        """Learn one utterance (its absolute-group probabilities)."""
        self.n += 1
        self.total += np.asarray(absolute_proba, dtype=np.float64)

    def weight(self, rule: TrustRule) -> float:
        return rule.weight(self.n, diversity(self.total / self.n) if self.n else 0.0)


def mix(p_absolute: np.ndarray, p_session: np.ndarray, w: float | np.ndarray) -> np.ndarray:
    """(N, K) or (K,): the two groups' probabilities mixed with weight(s) `w` (N or scalar)."""
    w = np.asarray(w, dtype=np.float64)
    w = w[..., None] if w.ndim else w
    return (1 - w) * p_absolute + w * p_session


def session_weights(rule: TrustRule, p_absolute: np.ndarray,
                    sessions: Iterable[np.ndarray]) -> np.ndarray:
    """Weight per row of the concatenated `sessions` (ordered row indices into
    `p_absolute`): each from the session's utterances before it (the live rule)."""
    out = []
    for rows in sessions:
        evidence = SessionEvidence(p_absolute.shape[1])
        for r in rows:
            out.append(evidence.weight(rule))
            evidence.update(p_absolute[r])
    return np.asarray(out)


def adaptive_weights(rule: TrustRule, p_absolute: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Weight per row when each group (speaker) is known at once: all its files are
    the evidence (the speaker-adaptive mode)."""
    w = np.zeros(len(groups))
    for g in np.unique(groups):
        rows = groups == g
        w[rows] = whole_session_weight(rule, p_absolute[rows])
    return w


def whole_session_weight(rule: TrustRule, p_absolute: np.ndarray) -> float:
    """Weight for a session known at once: all its recordings (rows) are the evidence."""
    return rule.weight(len(p_absolute), diversity(p_absolute.mean(axis=0)))


def fit_rule(score: Callable[[TrustRule], float]) -> TrustRule:
    """The candidate rule with the highest `score` (ties: the smaller w_max, i.e. the
    less adaptation); `score` plays the training corpora's simulated sessions."""
    best, best_score = TrustRule(0.0, 0.0, 0.0), -np.inf
    for w_max in W_MAX:
        for n0 in (N0 if w_max > 0 else (0.0,)):
            for d0 in (D0 if w_max > 0 else (0.0,)):
                rule = TrustRule(w_max, n0, d0)
                s = score(rule)
                if s > best_score + 1e-9:
                    best, best_score = rule, s
    return best
