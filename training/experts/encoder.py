"""Experts over a pretrained encoder's pooled embedding (`--models whisper-base`, ...).

The input is `ccser_core.encoders` `embed(y, sr)` of a recording, never normalised
per session ("absolute"): the representation was learnt on thousands of speakers
and rooms, so it needs no session statistics, and a sustained emotion cannot
corrupt it. A z-score by the training pool (inside the pipeline) and a class-
balanced logistic regression, whose C is chosen by leave-one-training-corpus-out
CV when there are several training corpora (a cross-corpus choice made on the
training side only), else by speaker-grouped CV.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict

from ccser_core.encoders.whisper import ENCODER_NAMES, EncoderSpec, load_encoder
from training.config import TrainConfig
from training.data import CorpusData, speakers
from training.embeddings import embed_files
from training.experts.base import Expert, Graph, RunData, Within
from training.export import check_agreement, expert_block, to_onnx_bytes
from training.models import ModelSpec
from training.search import grid_search, within_corpus_splitter

#: Encoder layer each packaged encoder is read at (1-based; benchmarks/encoder_layers.py).
LAYERS = MappingProxyType({"whisper-base": 3, "whisper-tiny.en": 2})
#: A strongly regularised logistic regression: embeddings are wide (768-1024 values) and
#: a weak penalty learns the training corpora's recording conditions (it also converges
#: slowly). C is still chosen by grouped CV, within this range.
CLASSIFIER = ModelSpec(
    lambda balanced, seed: LogisticRegression(class_weight="balanced" if balanced else None,
                                              max_iter=1000, random_state=seed),
    {"C": [0.001, 0.003, 0.01, 0.03]}, "class_weight")


def encoder_spec(run: RunData, name: str) -> EncoderSpec:
    """The run's spec of encoder `name` (loads it once to read its sha256 and width)."""
    return run.memo(f"encoder:{name}", lambda: load_encoder(name, LAYERS.get(name)).spec)


def embeddings(run: RunData, name: str, part: CorpusData) -> np.ndarray:
    """(len(part.utterances), dim) embeddings of a corpus's chosen files, cached."""
    def compute() -> np.ndarray:
        cfg = run.cfg
        return embed_files([u.path for u in part.utterances], encoder_spec(run, name),
                           cfg.cache_dir, cfg.features, cfg.jobs, cfg.quiet,
                           f"{part.name} {name}")

    return run.memo(f"embeddings:{name}:{part.name}", compute)


class EncoderExpert(Expert):
    input_kind = "embedding"
    normalisation = "absolute"

    def __init__(self, cfg: TrainConfig, name: str) -> None:
        self.cfg, self.name = cfg, name

    def _training(self, run: RunData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        X = np.vstack([embeddings(run, self.name, p) for p in run.train])
        y = np.concatenate([p.y for p in run.train])
        corpora = np.concatenate([[p.name] * len(p.y) for p in run.train])
        groups = corpora if len(run.train) > 1 else speakers(run.train)
        return X, y, groups

    def fit(self, run: RunData) -> EncoderExpert:
        self.run_ = run
        X, y, groups = self._training(run)
        r = grid_search("logreg", X, y, groups, self.cfg.search, CLASSIFIER)
        self.estimator_, self.params_, self.cv_uar_, self.seconds_ = \
            r.estimator, r.best_params, r.cv_uar, r.seconds
        self.y_train_ = y
        self.spec_ = encoder_spec(run, self.name)
        return self

    def predict_proba(self, part: CorpusData, mode: str) -> np.ndarray:
        return self.estimator_.predict_proba(embeddings(self.run_, self.name, part))

    def predict_sessions(self, part: CorpusData, sessions: list[np.ndarray]) -> np.ndarray:
        """Absolute: a file's probabilities do not depend on its session."""
        return self.predict_proba(part, "adaptive")[np.concatenate(sessions)]

    @property
    def live(self) -> bool:
        return False

    def within_corpus(self, run: RunData) -> Within:
        X, y, _ = self._training(run)
        who = speakers(run.train)
        cv = within_corpus_splitter(run.cfg.cv, run.cfg.search.folds, run.cfg.seed, who, y)
        pred = cross_val_predict(clone(self.estimator_), X, y, cv=cv.splitter,
                                 n_jobs=run.cfg.jobs, groups=cv.groups_for(who))
        return Within(y, pred, {"cv": run.cfg.cv, **cv.describe()})

    def graphs(self, run: RunData) -> list[Graph]:
        spec = self.spec_
        rows = [embeddings(run, self.name, p) for p in run.test] or \
            [embeddings(run, self.name, p) for p in run.train]
        onnx = to_onnx_bytes(self.estimator_, 2 * spec.dim)
        check = check_agreement(self.estimator_, onnx, np.vstack(rows))
        block = expert_block(self.cfg, self.name,
                             {"kind": "embedding", "dim": 2 * spec.dim, "encoder": spec.to_dict()},
                             None, self.params_, self.cv_uar_)
        return [Graph(self.name, onnx, block, check)]


def make(cfg: TrainConfig, names: tuple[str, ...]) -> list[Expert]:
    unknown = [n for n in names if n not in ENCODER_NAMES]
    assert not unknown, unknown
    return [EncoderExpert(cfg, n) for n in names]
