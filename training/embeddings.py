"""Pooled encoder embeddings of corpus files, cached per encoder like feature vectors.

The cache key is the file's identity; the cache folder is named by the encoder's
fingerprint (name, weights' sha256, layer, pooling, front-end version), so other
weights or another layer never read these entries. Extraction runs in the same
joblib workers as the features; each worker loads the encoder once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ccser_core.encoders.whisper import EncoderSpec, shared_encoder
from ccser_core.errors import CcserError
from ccser_core.features import FeatureConfig
from training.cache import FeatureCache, cached_compute

#: Bump when the log-mel front end or the pooling changes any number it produces.
EMBEDDING_CODE_VERSION = 1


def encoder_fingerprint(spec: EncoderSpec) -> str:
    ident = {"name": spec.name, "sha256": spec.sha256, "layer": spec.layer,
             "pooling": spec.pooling, "compute_type": spec.compute_type,
             "code": EMBEDDING_CODE_VERSION}
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]


class EmbeddingCache(FeatureCache):
    """FeatureCache whose entries are one encoder's pooled embeddings."""

    def __init__(self, root: Path, config: FeatureConfig, spec: EncoderSpec) -> None:
        super().__init__(root, config)
        self.fp = encoder_fingerprint(spec)
        self.dim = 2 * spec.dim
        self.root = Path(root) / "embeddings" / f"{spec.name}-{self.fp}"


@dataclass(frozen=True)
class Embed:
    """`compute` for `cached_compute`: picklable, loads its encoder in the worker."""

    name: str
    layer: int
    sha256: str

    def __call__(self, y: np.ndarray, sr: int, config: FeatureConfig) -> np.ndarray:
        return shared_encoder(self.name, self.layer, self.sha256).embed(y, sr)


def embed_files(paths: list[str], spec: EncoderSpec, cache_dir: Path, config: FeatureConfig,
                jobs: int, quiet: bool, desc: str) -> np.ndarray:
    """(len(paths), 2 * spec.dim) embeddings, cache first. The files already gave feature
    vectors, so one that fails here is an error naming it, not a skip."""
    cache = EmbeddingCache(cache_dir, config, spec)
    vectors, errors, _ = cached_compute(paths, cache, jobs, quiet, "", 0, desc,
                                        Embed(spec.name, spec.layer, spec.sha256))
    if errors:
        raise CcserError(f"{spec.name}: {errors[0]}" + (f" (and {len(errors) - 1} more)"
                                                         if len(errors) > 1 else ""))
    return np.vstack(vectors).astype(np.float32)
