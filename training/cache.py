"""Feature cache and parallel extraction.

One `.npy` + JSON sidecar per (audio file identity, feature fingerprint,
augmentation). Entries are written atomically (temp file + rename, sidecar
last), so an interrupted run never leaves an entry that a later run reads.
Extraction goes through joblib, so under `--dask` (training/executor.py) the
misses run on the cluster; workers return vectors and only this process writes
the cache, so cached files never leave this machine.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from joblib.parallel import get_active_backend
from tqdm import tqdm

from ccser_core.audio import load_audio
from ccser_core.errors import AudioError, CcserError
from ccser_core.features import FeatureConfig, extract, feature_names, fingerprint
from ccser_core.files import atomic_write
from training.augment import augment

# loky restarts a worker whose memory grew (a loaded encoder looks like a leak to it) and
# says so as a UserWarning in the user's terminal; the jobs are rerun, nothing is lost.
warnings.filterwarnings("ignore", message="A worker stopped while some jobs were given",
                        category=UserWarning)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ccser"


@dataclass(frozen=True)
class Extracted:
    """Vectors for the files that worked, and a message per file that did not."""

    X: np.ndarray  # (n_ok, n_features) float32
    ok: np.ndarray  # bool per requested file
    errors: tuple[str, ...]
    n_extracted: int  # cache misses actually computed this run


class FeatureCache:
    def __init__(self, root: Path, config: FeatureConfig) -> None:
        self.config = config
        self.fp = fingerprint(config)
        self.dim = len(feature_names(config))
        self.root = Path(root) / "features" / self.fp

    def key(self, path: str, augmentation: str = "") -> str:
        st = Path(path).stat()
        ident = f"{Path(path).resolve()}|{st.st_size}|{st.st_mtime_ns}|{augmentation}"
        return hashlib.sha256(os.fsencode(ident)).hexdigest()  # file names need not be UTF-8

    def _paths(self, key: str) -> tuple[Path, Path]:
        folder = self.root / key[:2]
        return folder / f"{key}.npy", folder / f"{key}.json"

    def get(self, key: str) -> np.ndarray | None:
        npy, side = self._paths(key)
        if not side.is_file():
            return None
        try:
            info = json.loads(side.read_text())
            vec = np.load(npy, allow_pickle=False)
        except (OSError, ValueError, EOFError):  # np.load raises EOFError on a 0-byte file
            return None
        if not isinstance(info, dict) or not self.fits(vec) or info.get("key") != key:
            return None
        return vec

    def fits(self, arr: np.ndarray) -> bool:
        """Whether a stored array has this cache's shape (a feature vector)."""
        return arr.shape == (self.dim,)

    def put(self, key: str, vec: np.ndarray, source: str) -> None:
        npy, side = self._paths(key)
        buf = io.BytesIO()
        np.save(buf, vec, allow_pickle=False)
        atomic_write(npy, buf.getvalue())  # sidecar last: an entry counts only once it exists
        atomic_write(side, json.dumps({"key": key, "source": source, "fingerprint": self.fp,
                                       "shape": list(vec.shape)}).encode())


class WorkerPathError(CcserError):
    """A Dask worker cannot read a file this machine can (corpora not shared)."""


def _dask_worker() -> str | None:
    """The Dask worker running this task, or None (never imports `distributed` itself)."""
    dist = sys.modules.get("distributed")
    if dist is None:
        return None
    try:
        return f"{dist.get_worker().address} on {socket.gethostname()}"
    except ValueError:  # not inside a worker
        return None


def _extract_one(path: str, config: FeatureConfig, augmentation: str, seed: int,
                 compute: Callable[[np.ndarray, int, FeatureConfig], np.ndarray] = extract,
                 ) -> np.ndarray | str:
    """Worker: a vector (or what `compute` gives, e.g. `features.frames`), or an error
    message naming the file (never raises for bad audio). On a Dask worker, a path it
    cannot read (this machine could) stops the run instead."""
    try:
        y = load_audio(path, config.sample_rate)
        if augmentation:
            y = augment(y, config.sample_rate, augmentation, seed)
        return compute(y, config.sample_rate, config)
    except Exception as exc:  # a library failing on odd audio must not stop the run
        worker = _dask_worker()
        if worker is not None and not os.access(path, os.R_OK):
            raise WorkerPathError(
                f"Dask worker {worker} cannot read {path}; corpora must be at the same path "
                "on every worker (a shared file system)") from None
        if isinstance(exc, AudioError):
            return str(exc)
        return f"{path}: feature extraction failed ({type(exc).__name__}: {exc})"


def extract_files(paths: list[str], cache: FeatureCache, jobs: int = 1, quiet: bool = False,
                  augmentation: str = "", seed: int = 0, desc: str = "features") -> Extracted:
    """Vectors for `paths` (cache first, parallel extraction of the rest)."""
    vectors, errors, n_todo = cached_compute(paths, cache, jobs, quiet, augmentation, seed, desc)
    ok = np.array([v is not None for v in vectors], dtype=bool)
    X = np.stack([v for v in vectors if v is not None]) if ok.any() else \
        np.zeros((0, cache.dim), dtype=np.float32)
    return Extracted(X.astype(np.float32), ok, tuple(errors), n_todo)


def cached_compute(paths: list[str], cache: FeatureCache, jobs: int, quiet: bool,
                   augmentation: str, seed: int, desc: str,
                   compute: Callable[[np.ndarray, int, FeatureConfig], np.ndarray] = extract,
                   ) -> tuple[list[np.ndarray | None], list[str], int]:
    """(array per path, None where it failed; error messages; cache misses computed):
    cache first, the rest in parallel; augmentation seeds are seed + file index."""
    vectors: list[np.ndarray | None] = [None] * len(paths)
    errors: list[str] = []
    todo: list[tuple[int, str]] = []
    for i, p in enumerate(paths):
        try:
            key = cache.key(p, augmentation)
        except OSError as exc:
            errors.append(f"{p}: cannot read file ({exc.strerror or exc})")
            continue
        vec = cache.get(key)
        if vec is None:
            todo.append((i, key))
        else:
            vectors[i] = vec
    if todo:
        # Workers elsewhere have another working directory: send them absolute paths.
        remote = type(get_active_backend()[0]).__name__.startswith("Dask")
        where = os.path.abspath if remote else str
        tasks = (delayed(_extract_one)(where(paths[i]), cache.config, augmentation, seed + i,
                                       compute) for i, _ in todo)
        results = Parallel(n_jobs=jobs, return_as="generator", batch_size=8)(tasks)
        for (i, key), res in tqdm(zip(todo, results, strict=True), total=len(todo),
                                  desc=desc, unit="file", disable=quiet):
            if isinstance(res, str):
                errors.append(res)
            else:
                cache.put(key, res, paths[i])
                vectors[i] = res
    return vectors, errors, len(todo)
