"""The session-robust model: two experts over one model input, averaged.

The model input (`Prior.model_input`) is the session-normalised vector followed
by the anchored features (the prosody group) z-scored by the prior alone.

- Expert `session` reads the session-normalised vector and is trained on each
  training speaker normalised by its own class-balanced statistics: what
  per-speaker normalisation buys on sessions with a mix of emotions.
- Expert `anchored` reads the same vector with the prosody features replaced by
  their prior-anchored copies, and is trained on simulated live sessions of
  random emotion mix and length (`training.sessions.simulated_sessions`), so it
  learns from the drifted statistics a sustained emotion produces.

The pair (`training.experts.functional.SessionRobust`) is a soft-voting
`VotingClassifier` (probabilities weighted `1 - w` and `w`), one sklearn object
that skl2onnx converts to one ONNX graph.
Measured by leave-one-corpus-out over four corpora (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import VotingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Bunch

from ccser_core.features import FeatureConfig, feature_names
from ccser_core.normalisation import Prior, stream_sessions
from training.config import TrainConfig
from training.sessions import simulated_sessions

#: Feature groups whose values the anchored expert sees relative to the prior alone.
ANCHORED_GROUPS = ("prosody",)


def anchoring(cfg: TrainConfig) -> bool:
    """Whether a run's experts anchor (`--robust-weight` > 0 and per-session statistics)."""
    return cfg.norm != "train" and cfg.robust_weight > 0


def report_block(cfg: TrainConfig) -> dict:
    """The run report's account of anchoring."""
    return {"anchored_groups": list(ANCHORED_GROUPS) if anchoring(cfg) else []}


def anchored_indices(config: FeatureConfig, groups: tuple[str, ...] = ANCHORED_GROUPS
                     ) -> tuple[int, ...]:
    """Indices of the features of `groups` in the feature vector of `config`."""
    return tuple(i for i, n in enumerate(feature_names(config)) if n.split(".")[0] in groups)


def expert_columns(prior: Prior) -> tuple[list[int], list[int]]:
    """Model-input columns each expert reads: (session expert, anchored expert)."""
    d = len(prior.mean)
    anchored = set(prior.anchored)
    session = list(range(d))
    return session, [i for i in session if i not in anchored] + list(range(d, prior.n_inputs))


def simulated_rows(X: np.ndarray, y: np.ndarray, speakers: np.ndarray, prior: Prior,
                   seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model inputs of raw training rows played through the live rule in simulated
    sessions; with their labels and speakers (CV groups)."""
    sessions = simulated_sessions(y, speakers, seed)
    rows = np.concatenate(sessions)
    return stream_sessions(X, sessions, prior), y[rows], speakers[rows]


def _select(columns: list[int], width: int, model: Pipeline) -> Pipeline:
    pick = ColumnTransformer([("input", "passthrough", columns)])
    pick.fit(np.zeros((1, width)))
    return Pipeline([("columns", pick), ("model", model)])


def fuse(session: Pipeline, anchored: Pipeline, prior: Prior, classes: np.ndarray,
         weight: float) -> Pipeline:
    """One estimator over the model input: the two fitted experts' probabilities
    averaged with weights (1 - weight, weight)."""
    cols_s, cols_a = expert_columns(prior)
    members = [_select(cols_s, prior.n_inputs, session), _select(cols_a, prior.n_inputs, anchored)]
    vote = VotingClassifier([("session", members[0]), ("anchored", members[1])], voting="soft",
                            weights=np.array([1.0 - weight, weight]), flatten_transform=False)
    # Each expert was fitted on its own rows, so the ensemble is assembled, not refitted.
    vote.estimators_ = members
    vote.named_estimators_ = Bunch(session=members[0], anchored=members[1])
    vote.le_ = LabelEncoder().fit(classes)
    vote.classes_ = vote.le_.classes_
    return Pipeline([("clf", vote)])
