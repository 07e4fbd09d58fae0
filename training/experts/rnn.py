"""Registry entry of `--models rnn` (training/rnn/: network, training loop, export)."""

from __future__ import annotations

from training.config import TrainConfig
from training.experts.base import Expert


def make(cfg: TrainConfig, names: tuple[str, ...]) -> list[Expert]:
    from training.rnn.run import RnnExpert  # PyTorch only for runs that ask for it

    return [RnnExpert(cfg) for _ in names]
