"""Model families as experts (base.py: the contract), and the registry that maps a
`--models` name to the module that builds it.

A new family is one module with `make(cfg, names) -> list[Expert]` and one entry
in FAMILIES; `ccser-train`, its evaluation and export never name a family.
"""

from __future__ import annotations

import importlib

from training.config import TrainConfig
from training.experts.base import Expert, Fused
from training.experts.evidence import EvidenceFused
from training.models import ENCODERS, MODELS, RNN, STACKING

#: --models name -> module building its experts (imported only when a run names it).
FAMILIES: dict[str, str] = {
    **{name: "training.experts.functional" for name in MODELS},
    STACKING: "training.experts.functional",
    RNN: "training.experts.rnn",
    **{name: "training.experts.encoder" for name in ENCODERS},
}


def candidates(cfg: TrainConfig) -> list[Expert]:
    """The experts `cfg.models` names, in order; each module builds all of its names
    at once (stacking needs the families it stacks)."""
    by_module: dict[str, list[str]] = {}
    for name in cfg.models:
        by_module.setdefault(FAMILIES[name], []).append(name)
    out: list[Expert] = []
    for module, names in by_module.items():
        out += importlib.import_module(module).make(cfg, tuple(names))
    return out


def model(cfg: TrainConfig, experts: list[Expert]) -> Expert:
    """The run's model from its fitted candidates: all of them fused (`--fuse`; session-
    normalised and absolute experts mixed by session evidence, otherwise equal weights),
    else the best by training-corpus CV UAR."""
    if cfg.fuse and len(experts) > 1:
        session = [e for e in experts if e.live]
        absolute = [e for e in experts if not e.live]
        if session and absolute:  # adaptation weighted by session evidence
            return EvidenceFused(session, absolute, lambda: candidates(cfg))
        return Fused(experts)
    return max(experts, key=lambda e: e.cv_uar_)
