"""Session kinds: how a test corpus is played through the live rule, as real use does.

Every kind normalises each file by what came before it in its session (the
daemon's rule, `ccser_core.normalisation.stream_sessions`); they differ in the
emotion mix a session holds:

- `balanced`: all of a speaker's files, seeded random order (an acted corpus);
- `single`: one session per (speaker, emotion), at most 30 files (a caller angry
  throughout, a patient sad all morning);
- `neutral_dominant`: per speaker, all neutral files plus every fourth other file
  (an office that is neutral most of the day); only when neutral is an emotion;
- `cold`: every file its own session (the first utterance of a new speaker).

The same generator, with random kinds and lengths, makes the simulated sessions
the session-robust expert is trained on (`training/robust.py`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ccser_core.normalisation import Prior, stream_sessions
from training.evaluate import metrics

KINDS = ("balanced", "single", "neutral_dominant", "cold")
MAX_SINGLE = 30  # files per single-emotion session


def kind_sessions(kind: str, y: np.ndarray, speakers: np.ndarray, neutral: int | None,
                  rng: np.random.Generator) -> list[np.ndarray]:
    """Ordered row-index arrays, one per session of `kind`."""
    out: list[np.ndarray] = []
    for s in np.unique(speakers):
        idx = np.nonzero(speakers == s)[0]
        if kind == "balanced":
            out.append(rng.permutation(idx))
        elif kind == "single":
            out += [rng.permutation(idx[y[idx] == e])[:MAX_SINGLE] for e in np.unique(y[idx])]
        elif kind == "neutral_dominant":
            neutral_rows, other = idx[y[idx] == neutral], idx[y[idx] != neutral]
            if len(neutral_rows):
                out.append(rng.permutation(np.concatenate([neutral_rows, other[::4]])))
        elif kind == "cold":
            out += [np.array([i]) for i in idx]
        else:
            raise ValueError(f"unknown session kind {kind!r}; choose from {', '.join(KINDS)}")
    return out


def evaluate_sessions(estimator, X: np.ndarray, y: np.ndarray, speakers: np.ndarray,
                      prior: Prior, emotions: list[str], seed: int) -> dict:
    """`sessions` block of a test corpus: per kind the metrics of every file played in
    sessions of that kind (raw feature rows X), and `worst` (the kind with the lowest UAR)."""
    return session_blocks(lambda sessions: estimator.predict(stream_sessions(X, sessions, prior)),
                          y, speakers, emotions, seed)


def session_blocks(predict: Callable[[list[np.ndarray]], np.ndarray], y: np.ndarray,
                   speakers: np.ndarray, emotions: list[str], seed: int) -> dict:
    """The `sessions` block for any model: `predict(sessions)` labels every file of the
    sessions (ordered row-index arrays), in session order, under the live rule."""
    neutral = emotions.index("neutral") if "neutral" in emotions else None
    out: dict = {}
    for kind in KINDS:
        if kind == "neutral_dominant" and neutral is None:
            continue
        sessions = kind_sessions(kind, y, speakers, neutral, np.random.default_rng(seed))
        if not sessions:
            continue
        rows = np.concatenate(sessions)
        block = metrics(y[rows], predict(sessions), emotions, seed)
        out[kind] = {**{k: block[k] for k in ("uar", "accuracy", "macro_f1", "uar_ci95",
                                              "per_class_recall", "n_test")},
                     "n_sessions": len(sessions)}
    worst = min(out, key=lambda k: out[k]["uar"])
    out["worst"] = {"kind": worst, "uar": out[worst]["uar"]}
    return out


def simulated_sessions(y: np.ndarray, speakers: np.ndarray, seed: int, per_speaker: int = 30,
                       max_len: int = 40) -> list[np.ndarray]:
    """Training sessions of random emotion mix and length (1..max_len) per speaker:
    balanced, single-emotion, one emotion dominant (a quarter others) or a cold start,
    so a model learns from the drifted statistics live sessions really give it."""
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    for s in np.unique(speakers):
        idx = np.nonzero(speakers == s)[0]
        present = np.unique(y[idx])
        for _ in range(per_speaker):
            mix = rng.integers(4)
            length = int(rng.integers(1, max_len + 1))
            if mix == 0:  # cold start
                out.append(rng.choice(idx, 1))
                continue
            if mix == 1:  # balanced
                pool = idx
            else:
                e = rng.choice(present)
                pool = idx[y[idx] == e]
                if mix == 3 and len(present) > 1:  # dominant: a quarter other emotions
                    other = idx[y[idx] != e]
                    extra = rng.choice(other, min(len(other), max(1, len(pool) // 4)), replace=False)
                    pool = np.concatenate([pool, extra])
            out.append(rng.permutation(pool)[:length])
    return out
