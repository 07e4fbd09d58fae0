"""`--models rnn` inside a `ccser-train` run: frames of the run's corpora, training,
and the test-corpus inputs in each evaluation mode, for `training/pipeline.py`.

PyTorch is imported here, so only a run that names `rnn` needs the [deep] extra.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ccser_core.errors import CcserError
from ccser_core.frame_norm import normalise_frames, stream_frame_sessions
from ccser_core.normalisation import Prior
from training.config import TrainConfig
from training.data import CorpusData
from training.models import RNN, RNN_GRID
from training.search import SearchResult


def require_torch() -> None:
    """A clear message instead of an ImportError when the [deep] extra is missing."""
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise CcserError("--models rnn needs PyTorch: pip install 'ccser[deep]' (CPU build: "
                         "pip install torch --index-url https://download.pytorch.org/whl/cpu "
                         "first)") from exc


@dataclass
class RnnRun:
    """The trained network, its prior, and normalised test inputs per (corpus, mode)."""

    result: SearchResult  # estimator: training.rnn.train.FittedRnn
    prior: Prior | None
    inputs: dict[tuple[str, str], list[np.ndarray]]
    raw: dict[str, list[np.ndarray]]  # test corpus -> un-normalised frames, row order
    val_y: np.ndarray
    val_pred: np.ndarray
    check_seqs: list[np.ndarray]  # export's ONNX check: test inputs, else validation rows

    def predict_proba(self, corpus: str, mode: str) -> np.ndarray:
        """Probabilities for a test corpus's rows, `mode` "adaptive" or "streaming"."""
        return self.result.estimator.predict_proba(self.inputs[(corpus, mode)])

    def predict_sessions(self, corpus: str, sessions: list[np.ndarray]) -> np.ndarray:
        """Probabilities of a test corpus's rows played as live sessions (each an ordered
        row-index array), in session order: `training.sessions` kinds for frames."""
        assert self.prior is not None
        seqs = stream_frame_sessions(self.raw[corpus], sessions, self.prior)
        return self.result.estimator.predict_proba(seqs)


def train_rnn(cfg: TrainConfig, train_parts: list[CorpusData],
              test_parts: list[CorpusData]) -> RnnRun:
    require_torch()
    # Threads that sleep rather than spin while they wait: the same speed on an idle
    # machine, much less lost to spinning on a busy one (measured on 2 shared cores).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from training.rnn.data import (
        FrameCache,
        anchored_columns,
        corpus_frames,
        evaluation_frames,
        frame_prior,
        simulated_frames,
        training_frames,
    )
    from training.rnn.train import TrainSet, fit_rnn, validation_speakers

    cache = FrameCache(cfg.cache_dir, cfg.features)
    train_sets = [corpus_frames(p, cache, cfg.jobs, cfg.quiet) for p in train_parts]
    # As the functional path: anchored columns when the run anchors, and besides each
    # training speaker normalised by its own statistics, simulated live sessions.
    robust = cfg.norm != "train" and cfg.robust_weight > 0
    prior = frame_prior(train_sets, cfg.norm, cfg.prior_weight,
                        anchored_columns(cfg.features) if robust else ())
    augmented: list[tuple[np.ndarray, int, str]] = []
    if robust and RNN_GRID.simulated_sessions:
        augmented += simulated_frames(train_sets, prior, cfg.seed, RNN_GRID.simulated_sessions)
    for part in train_parts:
        for name in cfg.augment:
            fs = corpus_frames(part, cache, cfg.jobs, cfg.quiet, name, cfg.seed)
            # Each (speaker, augmentation) its own group with class-balanced statistics,
            # as the functional path normalises augmented copies.
            seqs = fs.seqs if cfg.norm == "train" else normalise_frames(fs.seqs, fs.groups, None,
                                                                       fs.labels, prior)
            augmented += list(zip(seqs, fs.y.tolist(), fs.speakers.tolist(), strict=True))
    data = TrainSet(training_frames(train_sets, cfg.norm, prior),
                    np.concatenate([s.y for s in train_sets]),
                    np.concatenate([s.speakers for s in train_sets]), augmented)
    fitted = fit_rnn(data, len(cfg.emotions), RNN_GRID, cfg.search.balance, cfg.seed, cfg.jobs,
                     cfg.quiet)
    inputs: dict[tuple[str, str], list[np.ndarray]] = {}
    raw: dict[str, list[np.ndarray]] = {}
    for part in test_parts:
        fs = corpus_frames(part, cache, cfg.jobs, cfg.quiet)
        raw[part.name] = fs.seqs
        inputs[(part.name, "adaptive")], inputs[(part.name, "streaming")] = \
            evaluation_frames(fs, prior, cfg.seed)
    val = validation_speakers(data.speakers, RNN_GRID.val_fraction, cfg.seed)
    rows = [i for i, s in enumerate(data.speakers) if s in val]
    val_seqs = [data.seqs[i] for i in rows]
    check = [s for (_, mode), seqs in inputs.items() if mode == "adaptive" for s in seqs]
    result = SearchResult(RNN, fitted, fitted.params, fitted.val_uar,  # type: ignore[arg-type]
                          fitted.seconds)
    return RnnRun(result, prior, inputs, raw, data.y[rows], fitted.predict(val_seqs),
                  check or val_seqs)
