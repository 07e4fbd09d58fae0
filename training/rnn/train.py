"""The training loop of `--models rnn`: grid over `RnnGrid`, early stopping on a
speaker-grouped validation split of the training corpora, class balancing.

Deterministic for a given `--seed` (seeded initialisation and batch order,
deterministic kernels, a fixed number of CPU threads). The validation speakers
are a seeded `val_fraction` of each training corpus's speakers; their files
(and their augmented copies) never reach a gradient. The kept network is the
epoch with the best validation UAR; that UAR is its `cv_uar`.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np
import torch
from sklearn.utils.class_weight import compute_class_weight
from tqdm import tqdm

from ccser_core.errors import CorpusError
from training.evaluate import uar
from training.models import RnnGrid
from training.rnn.net import EmotionRnn, NetConfig
from training.search import oversample


@dataclass(frozen=True)
class TrainSet:
    """Normalised training rows with what the split and balancing need."""

    seqs: list[np.ndarray]
    y: np.ndarray
    speakers: np.ndarray  # "<corpus>:<speaker>", as corpus parsers name them
    augmented: list[tuple[np.ndarray, int, str]] = ()  # (frames, class, speaker) copies


@dataclass
class FittedRnn:
    net: EmotionRnn
    params: dict
    val_uar: float
    epochs: int  # epoch of the kept weights (1-based)
    seconds: float
    n_train: int
    n_val: int

    def predict_proba(self, seqs: list[np.ndarray]) -> np.ndarray:
        return predict_proba(self.net, seqs)

    def predict(self, seqs: list[np.ndarray]) -> np.ndarray:
        return self.predict_proba(seqs).argmax(axis=1)


def validation_speakers(speakers: np.ndarray, fraction: float, seed: int) -> set[str]:
    """A seeded `fraction` (at least one) of each corpus's speakers; corpora with one
    speaker give none, so every training corpus stays in training."""
    rng = np.random.default_rng(seed)
    by_corpus: dict[str, list[str]] = {}
    for s in sorted(set(speakers.tolist())):
        by_corpus.setdefault(s.split(":", 1)[0], []).append(s)
    chosen: set[str] = set()
    for names in by_corpus.values():
        if len(names) >= 2:
            k = max(1, int(round(fraction * len(names))))
            chosen.update(rng.choice(names, size=k, replace=False).tolist())
    if not chosen:
        raise CorpusError("--models rnn needs at least two speakers in a training corpus for "
                          "its validation split")
    return chosen


def _batch(seqs: list[np.ndarray], rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(seqs[i]) for i in rows])
    x = torch.zeros(len(rows), int(lengths.max()), seqs[rows[0]].shape[1])
    for j, i in enumerate(rows):
        x[j, : len(seqs[i])] = torch.from_numpy(np.asarray(seqs[i], dtype=np.float32))
    return x, lengths


def _batches(seqs: list[np.ndarray], order: np.ndarray, size: int) -> Iterator[np.ndarray]:
    """Batches of similar length (less padding): sort within runs of 8 batches."""
    for start in range(0, len(order), 8 * size):
        run = order[start:start + 8 * size]
        run = run[np.argsort([len(seqs[i]) for i in run], kind="stable")]
        yield from (run[k:k + size] for k in range(0, len(run), size))


@torch.no_grad()
def predict_proba(net: EmotionRnn, seqs: list[np.ndarray], batch_size: int = 32) -> np.ndarray:
    """Class probabilities (N, K) of normalised frame sequences (the network in eval mode)."""
    net.eval()
    out = np.zeros((len(seqs), net.cfg.n_classes))
    order = np.argsort([len(s) for s in seqs], kind="stable")
    for k in range(0, len(order), batch_size):
        rows = order[k:k + batch_size]
        out[rows] = torch.softmax(net(*_batch(seqs, rows)), dim=-1).double().numpy()
    return out


@contextlib.contextmanager
def _torch_settings(threads: int) -> Iterator[None]:
    old_threads, old_det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det)


def _fit_one(cfg: NetConfig, lr: float, grid: RnnGrid, seqs: list[np.ndarray], y: np.ndarray,
             val_seqs: list[np.ndarray], val_y: np.ndarray, balance: str, seed: int,
             desc: str, quiet: bool) -> tuple[EmotionRnn, float, int]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = EmotionRnn(cfg)
    stacked = np.concatenate(seqs)
    net.in_mean.copy_(torch.from_numpy(stacked.mean(axis=0).astype(np.float32)))
    net.in_std.copy_(torch.from_numpy(np.maximum(stacked.std(axis=0), 1e-3).astype(np.float32)))
    weight = None
    if balance == "weights":
        w = compute_class_weight("balanced", classes=np.arange(cfg.n_classes), y=y)
        weight = torch.tensor(w, dtype=torch.float32)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-3)
    best = (-1.0, 0, {k: v.clone() for k, v in net.state_dict().items()})
    bar = tqdm(range(1, grid.max_epochs + 1), desc=desc, unit="epoch", disable=quiet, leave=False)
    for epoch in bar:
        net.train()
        rows = oversample(y, seed + epoch) if balance == "oversample" else np.arange(len(y))
        for batch in _batches(seqs, rng.permutation(rows), grid.batch_size):
            opt.zero_grad()
            loss = loss_fn(net(*_batch(seqs, batch)), torch.from_numpy(y[batch]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
        score = uar(val_y, predict_proba(net, val_seqs).argmax(axis=1))
        if score > best[0]:
            best = (score, epoch, {k: v.clone() for k, v in net.state_dict().items()})
        bar.set_postfix(val_uar=f"{score:.3f}", best=f"{best[0]:.3f}@{best[1]}")
        if epoch - best[1] >= grid.patience:
            break
    net.load_state_dict(best[2])
    net.eval()
    return net, best[0], best[1]


def fit_rnn(data: TrainSet, n_classes: int, grid: RnnGrid, balance: str, seed: int,
            jobs: int, quiet: bool = False) -> FittedRnn:
    """Train every grid point; keep the one with the best validation UAR."""
    start = time.perf_counter()
    val = validation_speakers(data.speakers, grid.val_fraction, seed)
    is_val = np.array([s in val for s in data.speakers])
    tr = np.nonzero(~is_val)[0]
    seqs = [data.seqs[i] for i in tr] + [a[0] for a in data.augmented if a[2] not in val]
    y = np.concatenate([data.y[tr], [a[1] for a in data.augmented if a[2] not in val]]).astype(
        np.int64)
    val_seqs = [data.seqs[i] for i in np.nonzero(is_val)[0]]
    val_y = data.y[is_val]
    if len(np.unique(y)) < n_classes:
        raise CorpusError("--models rnn: an emotion has no training files outside the "
                          "validation speakers")
    n_inputs = data.seqs[0].shape[1]
    points = list(itertools.product(grid.hidden, grid.layers, grid.dropout, grid.lr))
    best: FittedRnn | None = None
    with _torch_settings(max(1, jobs)):
        for k, (hidden, layers, dropout, lr) in enumerate(points):
            cfg = NetConfig(n_inputs, n_classes, hidden, layers, dropout, grid.conv_channels)
            net, score, epoch = _fit_one(
                cfg, lr, grid, seqs, y, val_seqs, val_y, balance, seed,
                f"rnn {k + 1}/{len(points)} h{hidden} l{layers}", quiet)
            if best is None or score > best.val_uar:
                params = {**{k2: v for k2, v in asdict(cfg).items()
                             if k2 not in ("n_inputs", "n_classes")}, "lr": lr}
                best = FittedRnn(net, params, score, epoch, 0.0, len(y), len(val_y))
    assert best is not None
    best.params["epochs"] = best.epochs
    best.seconds = time.perf_counter() - start
    return best
