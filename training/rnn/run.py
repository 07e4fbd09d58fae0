"""`--models rnn` as an expert: frames of the run's corpora, training, the inputs of a
test corpus in each evaluation mode, and the export.

PyTorch is imported here, so only a run that names `rnn` needs the [deep] extra.
"""

from __future__ import annotations

import os

import numpy as np

from ccser_core.errors import CcserError
from ccser_core.frame_norm import normalise_frames, stream_frame_sessions
from training.config import TrainConfig
from training.data import CorpusData
from training.experts.base import Expert, Graph, RunData, Within
from training.models import RNN, RNN_GRID
from training.robust import anchoring


def require_torch() -> None:
    """A clear message instead of an ImportError when the [deep] extra is missing."""
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise CcserError("--models rnn needs PyTorch: pip install 'ccser[deep]' (CPU build: "
                         "pip install torch --index-url https://download.pytorch.org/whl/cpu "
                         "first)") from exc


class RnnExpert(Expert):
    """A recurrent network over `features.frames`, trained as the functional path is
    (per-speaker statistics plus simulated live sessions, loudness and F0 also anchored
    to the prior when the run anchors); its validation split stands in for CV folds."""

    name = RNN
    input_kind = "frames"

    def __init__(self, cfg: TrainConfig) -> None:
        require_torch()
        # Threads that sleep rather than spin while they wait: the same speed on an idle
        # machine, much less lost to spinning on a busy one (measured on 2 shared cores).
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        from training.rnn.data import FrameCache

        self.cfg = cfg
        self.robust = anchoring(cfg)
        self.normalisation = "absolute" if cfg.norm == "train" else \
            ("anchored" if self.robust else "session")
        self.cache = FrameCache(cfg.cache_dir, cfg.features)
        self._frames: dict[str, object] = {}

    def _corpus(self, part: CorpusData):  # noqa: ANN202 - training.rnn.data.FrameSet
        from training.rnn.data import corpus_frames

        if part.name not in self._frames:
            self._frames[part.name] = corpus_frames(part, self.cache, self.cfg.jobs,
                                                    self.cfg.quiet)
        return self._frames[part.name]

    def fit(self, run: RunData) -> RnnExpert:
        from training.rnn.data import (
            anchored_columns,
            corpus_frames,
            frame_prior,
            simulated_frames,
            training_frames,
        )
        from training.rnn.train import TrainSet, fit_rnn, validation_speakers

        cfg = self.cfg
        train_sets = [self._corpus(p) for p in run.train]
        prior = frame_prior(train_sets, cfg.norm, cfg.prior_weight,
                            anchored_columns(cfg.features) if self.robust else ())
        augmented: list[tuple[np.ndarray, int, str]] = []
        copies: list[int] = []  # labels of augmented copies (simulated sessions are not files)
        if self.robust and RNN_GRID.simulated_sessions:
            augmented += simulated_frames(train_sets, prior, cfg.seed, RNN_GRID.simulated_sessions)
        for part in run.train:
            for name in cfg.augment:
                fs = corpus_frames(part, self.cache, cfg.jobs, cfg.quiet, name, cfg.seed)
                # Each (speaker, augmentation) its own group with class-balanced statistics,
                # as the functional path normalises augmented copies.
                seqs = fs.seqs if cfg.norm == "train" else normalise_frames(
                    fs.seqs, fs.groups, None, fs.labels, prior)
                augmented += list(zip(seqs, fs.y.tolist(), fs.speakers.tolist(), strict=True))
                copies += fs.y.tolist()
        data = TrainSet(training_frames(train_sets, cfg.norm, prior),
                        np.concatenate([s.y for s in train_sets]),
                        np.concatenate([s.speakers for s in train_sets]), augmented)
        fitted = fit_rnn(data, len(cfg.emotions), RNN_GRID, cfg.search.balance, cfg.seed,
                         cfg.jobs, cfg.quiet)
        val = validation_speakers(data.speakers, RNN_GRID.val_fraction, cfg.seed)
        rows = [i for i, s in enumerate(data.speakers) if s in val]
        self.val_seqs_ = [data.seqs[i] for i in rows]
        self.val_y_, self.val_pred_ = data.y[rows], fitted.predict(self.val_seqs_)
        self.net_, self.prior_ = fitted, prior
        self.params_, self.cv_uar_, self.seconds_ = fitted.params, fitted.val_uar, fitted.seconds
        self.y_train_ = np.concatenate([data.y, np.array(copies, dtype=np.int64)])
        return self

    def _inputs(self, part: CorpusData, mode: str) -> list[np.ndarray]:
        from training.rnn.data import evaluation_frames

        adaptive, streaming = evaluation_frames(self._corpus(part), self.prior_, self.cfg.seed)
        return adaptive if mode == "adaptive" else streaming

    def predict_proba(self, part: CorpusData, mode: str) -> np.ndarray:
        return self.net_.predict_proba(self._inputs(part, mode))

    def predict_sessions(self, part: CorpusData, sessions: list[np.ndarray]) -> np.ndarray:
        assert self.prior_ is not None
        return self.net_.predict_proba(
            stream_frame_sessions(self._corpus(part).seqs, sessions, self.prior_))

    @property
    def live(self) -> bool:
        return self.prior_ is not None

    def within_corpus(self, run: RunData) -> Within:
        return Within(self.val_y_, self.val_pred_,
                      {"cv": self.cfg.cv, "cv_scheme": "held-out validation speakers",
                       "folds": 1})

    def graphs(self, run: RunData) -> list[Graph]:
        from training.rnn.export import graph

        check = [s for p in run.test for s in self._inputs(p, "adaptive")]
        return [graph(self.cfg, self.net_, self.prior_, check or self.val_seqs_)]
