"""The frozen configuration of one `ccser-train` run (built from CLI flags in cli.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ccser_core.features import FeatureConfig
from training.search import SearchSettings

#: Defaults chosen by measurement (benchmarks/cross_corpus.py, benchmarks/RESULTS.md).
DEFAULT_EMOTIONS = "AHNS"
DEFAULT_MODELS = "logreg"
DEFAULT_NORM = "speaker"
DEFAULT_NORM_SCOPE = "selected"
DEFAULT_PRIOR_WEIGHT = 2.0  # the prior comes from other corpora: worth two files
#: Weight of the session-robust (anchored) expert; 0 = the session-normalised model alone.
#: 0.5 by leave-one-corpus-out over the four shared corpora (benchmarks/RESULTS.md).
DEFAULT_ROBUST_WEIGHT = 0.5


@dataclass(frozen=True)
class TrainConfig:
    train: tuple[str, ...]
    test: tuple[str, ...] = ()
    emotions: tuple[str, ...] = ("angry", "happy", "neutral", "sad")
    emotion_order: tuple[str, ...] = ()  # as --emotions listed them; names the default folder
    corpus_dir: Path | None = None
    corpus_paths: tuple[tuple[str, Path], ...] = ()
    features: FeatureConfig = field(default_factory=FeatureConfig)
    norm: str = DEFAULT_NORM
    norm_scope: str = DEFAULT_NORM_SCOPE
    prior_weight: float = DEFAULT_PRIOR_WEIGHT
    robust_weight: float = DEFAULT_ROBUST_WEIGHT
    loco: bool = False  # leave-one-corpus-out over the training corpora as well
    models: tuple[str, ...] = (DEFAULT_MODELS,)
    fuse: bool = False  # the model: all --models fused with equal weights, not the best
    cv: str = "speaker"
    search: SearchSettings = field(default_factory=SearchSettings)
    augment: tuple[str, ...] = ()
    output: Path | None = None
    export: bool = True
    report: Path | None = None
    cache_dir: Path = Path(".ccser_cache")
    quiet: bool = False
    dask: str | None = None  # Dask scheduler address; None: joblib processes on this machine

    def __post_init__(self) -> None:
        both = [c for c in self.test if c in self.train]
        if both:
            raise ValueError(
                f"--test {', '.join(both)} is also a training corpus: its files would be scored "
                "by a model trained on them, which is no test; omit --test for within-corpus CV "
                "(--cv), or test on a corpus not in --train")

    @property
    def seed(self) -> int:
        return self.search.seed

    @property
    def jobs(self) -> int:
        return self.search.jobs
