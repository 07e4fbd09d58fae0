"""Frame sequences of a corpus's chosen files: cached `features.frames`, and their
normalisation by the same rule and statistics as the functional vectors.

Training speakers get class-balanced statistics of their own utterance means
(no prior), test speakers the prior plus their own files (speaker-adaptive)
or only the files before each (streaming), as `training/data.py` does for
vectors, through `ccser_core.frame_norm`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ccser_core.errors import CorpusError
from ccser_core.features import FRAME_CODE_VERSION, FeatureConfig, frame_names, frames
from ccser_core.frame_norm import (
    fit_frame_prior,
    normalise_frames,
    stream_frame_sessions,
    stream_frames,
)
from ccser_core.normalisation import Prior
from training.cache import FeatureCache, cached_compute
from training.data import CorpusData
from training.sessions import simulated_sessions


class FrameCache(FeatureCache):
    """The feature cache's keys and atomic entries, holding (T, D) frame arrays."""

    def __init__(self, root: Path, config: FeatureConfig) -> None:
        super().__init__(root, config)
        self.dim = len(frame_names(config))
        self.root = Path(root) / "frames" / f"{self.fp}-f{FRAME_CODE_VERSION}"

    def fits(self, arr: np.ndarray) -> bool:
        return arr.ndim == 2 and arr.shape[1] == self.dim


@dataclass(frozen=True)
class FrameSet:
    """Raw frames of one corpus's chosen files that both extractors could read."""

    name: str
    seqs: list[np.ndarray]
    y: np.ndarray
    groups: np.ndarray  # normalisation group (speaker, or corpus with --norm corpus)
    speakers: np.ndarray  # validation-split groups
    labels: np.ndarray  # emotion names: class-balanced statistics of training speakers


def corpus_frames(part: CorpusData, cache: FrameCache, jobs: int, quiet: bool,
                  augmentation: str = "", seed: int = 0) -> FrameSet:
    """Frames of the part's chosen files, row for row. Augmented copies that fail are
    dropped; an original file whose features were read but whose frames fail stops
    the run (the two extractors share their front end, so this means a bug)."""
    paths = [u.path for u in part.utterances]
    seqs, errors, _ = cached_compute(
        paths, cache, jobs, quiet, augmentation, seed,
        f"{part.name}{'+' + augmentation if augmentation else ''} frames", compute=frames)
    ok = np.array([s is not None for s in seqs], dtype=bool)
    if not augmentation and errors:
        raise CorpusError(errors[0])
    groups = part.groups[part.sel]
    speakers = np.array([u.speaker for u in part.utterances])
    labels = part.scope_emotions[part.sel]
    return FrameSet(part.name, [s for s in seqs if s is not None], part.y[ok], groups[ok],
                    speakers[ok], labels[ok])


#: Frame columns the model input also carries z-scored by the prior alone when the run
#: anchors (`--robust-weight` > 0): the frame-level counterparts of the prosody group.
FRAME_ANCHORED = ("spectral.loudness_rel", "pitch.f0_st")


def anchored_columns(config: FeatureConfig) -> tuple[int, ...]:
    names = frame_names(config)
    return tuple(names.index(n) for n in FRAME_ANCHORED)


def training_frames(sets: list[FrameSet], norm: str, prior: Prior | None) -> list[np.ndarray]:
    """Training rows normalised per speaker by class-balanced statistics, no prior, with
    the prior's anchored columns appended (`training.data.training_matrix` for frames);
    raw frames for --norm train."""
    out: list[np.ndarray] = []
    for s in sets:
        out += s.seqs if norm == "train" else normalise_frames(s.seqs, s.groups, None, s.labels,
                                                                prior)
    return out


def simulated_frames(sets: list[FrameSet], prior: Prior, seed: int, per_speaker: int,
                     ) -> list[tuple[np.ndarray, int, str]]:
    """Training utterances played through the live rule in simulated sessions of random
    emotion mix and length (`training.sessions.simulated_sessions`, as the functional
    path's anchored expert learns): (model input, class, speaker) per played utterance."""
    seqs = [q for s in sets for q in s.seqs]
    y = np.concatenate([s.y for s in sets])
    speakers = np.concatenate([s.speakers for s in sets])
    sessions = simulated_sessions(y, speakers, seed, per_speaker=per_speaker)
    rows = np.concatenate(sessions)
    return list(zip(stream_frame_sessions(seqs, sessions, prior), y[rows].tolist(),
                    speakers[rows].tolist(), strict=True))


def frame_prior(sets: list[FrameSet], norm: str, weight: float,
                anchored: tuple[int, ...] = ()) -> Prior | None:
    if norm == "train":
        return None
    return fit_frame_prior([q for s in sets for q in s.seqs],
                           np.concatenate([s.groups for s in sets]), weight,
                           np.concatenate([s.labels for s in sets]), anchored)


def evaluation_frames(fs: FrameSet, prior: Prior | None, seed: int,
                ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(speaker-adaptive, streaming) normalised frames of a test corpus."""
    if prior is None:
        return fs.seqs, fs.seqs
    return normalise_frames(fs.seqs, fs.groups, prior), stream_frames(fs.seqs, fs.groups,
                                                                       prior, seed)
