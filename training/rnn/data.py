"""Frame sequences of a corpus's chosen files: cached `features.frames`, and their
normalisation by the same rule and statistics as the functional vectors.

Training speakers get class-balanced statistics of their own utterance means
(no prior), test speakers the prior plus their own files (speaker-adaptive)
or only the files before each (streaming), as `training/data.py` does for
vectors, through `ccser_core.frame_norm`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from tqdm import tqdm

from ccser_core.audio import load_audio
from ccser_core.errors import AudioError, CorpusError
from ccser_core.features import FRAME_CODE_VERSION, FeatureConfig, frame_names, frames
from ccser_core.frame_norm import (
    fit_frame_prior,
    normalise_frames,
    stream_frame_sessions,
    stream_frames,
)
from ccser_core.normalisation import Prior
from training.augment import augment
from training.cache import FeatureCache
from training.data import CorpusData
from training.sessions import simulated_sessions


class FrameCache(FeatureCache):
    """The feature cache's keys and atomic entries, holding (T, D) frame arrays."""

    def __init__(self, root: Path, config: FeatureConfig) -> None:
        super().__init__(root, config)
        self.dim = len(frame_names(config))
        self.root = Path(root) / "frames" / f"{self.fp}-f{FRAME_CODE_VERSION}"

    def get(self, key: str) -> np.ndarray | None:
        npy, side = self._paths(key)
        if not side.is_file():
            return None
        try:
            arr = np.load(io.BytesIO(npy.read_bytes()), allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
        return arr if arr.ndim == 2 and arr.shape[1] == self.dim else None


def _frames_one(path: str, config: FeatureConfig, augmentation: str,
                seed: int) -> np.ndarray | str:
    """Worker: frames, or an error message naming the file (never raises for bad audio)."""
    try:
        y = load_audio(path, config.sample_rate)
        if augmentation:
            y = augment(y, config.sample_rate, augmentation, seed)
        return frames(y, config.sample_rate, config)
    except AudioError as exc:
        return str(exc)
    except Exception as exc:  # a library failing on odd audio must not stop the run
        return f"{path}: frame extraction failed ({type(exc).__name__}: {exc})"


def frame_files(paths: list[str], cache: FrameCache, jobs: int, quiet: bool,
                augmentation: str = "", seed: int = 0,
                desc: str = "frames") -> list[np.ndarray | str]:
    """Frames per path (an error message where the file failed), cache first, the rest in
    parallel; augmentation seeds follow `training.cache.extract_files` (seed + file index)."""
    out: list[np.ndarray | str] = [""] * len(paths)
    todo = []
    for i, p in enumerate(paths):
        try:
            key = cache.key(p, augmentation)
        except OSError as exc:
            out[i] = f"{p}: cannot read file ({exc.strerror or exc})"
            continue
        hit = cache.get(key)
        if hit is None:
            todo.append((i, key))
        else:
            out[i] = hit
    if todo:
        tasks = (delayed(_frames_one)(paths[i], cache.config, augmentation, seed + i)
                 for i, _ in todo)
        results = Parallel(n_jobs=jobs, return_as="generator", batch_size=8)(tasks)
        for (i, key), res in tqdm(zip(todo, results, strict=True), total=len(todo), desc=desc,
                                  unit="file", disable=quiet):
            if not isinstance(res, str):
                cache.put(key, res, paths[i])
            out[i] = res
    return out


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
    seqs = frame_files(paths, cache, jobs, quiet, augmentation, seed,
                       f"{part.name}{'+' + augmentation if augmentation else ''} frames")
    ok = np.array([not isinstance(s, str) for s in seqs], dtype=bool)
    if not augmentation and not ok.all():
        raise CorpusError(next(s for s in seqs if isinstance(s, str)))
    groups = part.groups[part.sel]
    speakers = np.array([u.speaker for u in part.utterances])
    labels = part.scope_emotions[part.sel]
    return FrameSet(part.name, [s for s in seqs if not isinstance(s, str)], part.y[ok], groups[ok],
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
