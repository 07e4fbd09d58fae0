"""From corpus names to normalised feature matrices: metadata, selection of the
chosen emotions, cached extraction, and per-speaker normalisation.

Normalisation statistics come from every usable file of a speaker in
`norm_scope` (the chosen-emotion files, or all the speaker's files); the model
only ever sees normalised vectors. Test speakers are unlabelled, so their
statistics are plain; training speakers' statistics (and the prior) give each
emotion equal weight, so a corpus's recording plan does not shift them.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ccser_core.corpora import CorpusListing, Utterance, resolve_path
from ccser_core.errors import CorpusError, EmotionError
from ccser_core.normalisation import Prior, SpeakerNormaliser, fit_prior, streaming_transform
from training.cache import FeatureCache, extract_files
from training.meta import load_metadata

log = logging.getLogger("ccser.train")
NORMS = ("speaker", "corpus", "train")
NORM_SCOPES = ("selected", "all")


@dataclass(frozen=True)
class CorpusData:
    """Raw feature vectors of one corpus: `X_scope` covers the normalisation scope,
    `sel` marks the rows with a chosen emotion (the ones classified)."""

    name: str
    X_scope: np.ndarray
    groups: np.ndarray  # speaker (or corpus) per scope row
    sel: np.ndarray  # bool per scope row
    y: np.ndarray  # class index per selected row
    utterances: tuple[Utterance, ...]  # selected rows, in order
    n_failed: int
    problems: tuple[str, ...]
    scope_emotions: np.ndarray  # emotion name per scope row (training side: balancing)


def select(listing: CorpusListing, emotions: tuple[str, ...]) -> list[Utterance]:
    """The listing's utterances with a chosen emotion; error if one is missing."""
    have = listing.emotions()
    missing = [e for e in emotions if e not in have]
    if missing:
        raise EmotionError(f"corpus {listing.name} has no {', '.join(missing)} files; "
                           f"it has: {', '.join(have)}")
    return [u for u in listing.utterances if u.emotion in emotions]


def load_corpus(name: str, corpus_dir: Path | None, overrides: dict[str, Path],
                emotions: tuple[str, ...], cache: FeatureCache, cache_dir: Path,
                norm: str, norm_scope: str, jobs: int, quiet: bool) -> CorpusData:
    listing, _ = load_metadata(name, resolve_path(name, corpus_dir, overrides), cache_dir)
    for msg in listing.problems[:5]:
        log.warning("skipped: %s", msg)
    if len(listing.problems) > 5:
        log.warning("skipped %d more files of %s that do not match its naming rules",
                    len(listing.problems) - 5, name)
    chosen = set(select(listing, emotions))
    scope = list(listing.utterances) if norm_scope == "all" else \
        [u for u in listing.utterances if u in chosen]
    ex = extract_files([u.path for u in scope], cache, jobs=jobs, quiet=quiet, desc=name)
    for msg in ex.errors[:5]:
        log.warning("unreadable: %s", msg)
    if len(ex.errors) > 5:
        log.warning("skipped %d more unreadable files of %s", len(ex.errors) - 5, name)
    ok_utts = [u for u, ok in zip(scope, ex.ok, strict=True) if ok]
    sel = np.array([u in chosen for u in ok_utts], dtype=bool)
    utts = tuple(u for u in ok_utts if u in chosen)
    index = {e: i for i, e in enumerate(emotions)}
    y = np.array([index[u.emotion] for u in utts], dtype=np.int64)
    empty = [e for e in emotions if not np.any(y == index[e])]
    if empty:
        raise CorpusError(f"corpus {name}: no usable files left for {', '.join(empty)} "
                          f"({len(ex.errors)} unreadable)")
    group_of = (lambda u: u.corpus) if norm == "corpus" else (lambda u: u.speaker)
    groups = np.array([group_of(u) for u in ok_utts])
    emotions_ok = np.array([u.emotion for u in ok_utts])
    return CorpusData(name, ex.X, groups, sel, y, utts, len(ex.errors), listing.problems,
                      emotions_ok)


def check_disjoint(train: list[CorpusData], test: list[CorpusData]) -> None:
    """Refuse a test corpus that shares audio files with the training corpora (e.g. one
    corpus under two names): a model scored on its own training files is not tested."""
    seen = {os.path.realpath(u.path): p.name for p in train for u in p.utterances}
    for part in test:
        shared = [u.path for u in part.utterances if os.path.realpath(u.path) in seen]
        if shared:
            raise CorpusError(
                f"test corpus {part.name} shares {len(shared)} of its {len(part.utterances)} files "
                f"with training corpus {seen[os.path.realpath(shared[0])]} (e.g. {shared[0]}); "
                "that would score the model on its own training data, not cross-corpus")


def normalise_adaptive(data: CorpusData, norm: str, prior: Prior | None,
                       balanced: bool = False, anchor: Prior | None = None) -> np.ndarray:
    """Selected rows as model inputs, each speaker normalised by statistics of all its
    scope files (class-balanced if `balanced`: labelled training data only, no prior;
    `anchor` then gives the prior whose anchored features are appended)."""
    if norm == "train":
        return data.X_scope[data.sel]
    labels = data.scope_emotions if balanced else None
    return SpeakerNormaliser(prior).transform(data.X_scope, data.groups, labels,
                                              anchor)[data.sel]


def normalise_streaming(data: CorpusData, norm: str, prior: Prior | None,
                        seed: int) -> np.ndarray:
    """Selected rows as the daemon would see them: per speaker, a seeded random order,
    each file normalised by the prior plus only the files before it."""
    if norm == "train" or prior is None:
        return data.X_scope[data.sel]
    return streaming_transform(data.X_scope, data.groups, prior, seed)[data.sel]


def training_matrix(parts: list[CorpusData], norm: str, prior_weight: float,
                    balanced: bool = True, anchored: tuple[int, ...] = (),
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, Prior | None]:
    """Pooled training rows (model inputs, normalised per speaker, no prior), labels,
    speaker groups, and the prior for unseen speakers (None when the pipeline's scaler
    normalises) anchoring the features `anchored`.
    `balanced`: class-balanced speaker statistics and prior (+4 UAR points AS E->R)."""
    prior = None
    if norm != "train":
        labels = np.concatenate([p.scope_emotions for p in parts]) if balanced else None
        prior = fit_prior(np.vstack([p.X_scope for p in parts]),
                          np.concatenate([p.groups for p in parts]), prior_weight, labels,
                          anchored)
    X = np.vstack([normalise_adaptive(p, norm, None, balanced, prior) for p in parts])
    y = np.concatenate([p.y for p in parts])
    return X, y, speakers(parts), prior


def speakers(parts: list[CorpusData]) -> np.ndarray:
    """Speaker of every selected row, in training-matrix order (CV groups are always
    speakers, even when `norm` groups rows by corpus)."""
    return np.array([u.speaker for p in parts for u in p.utterances])
