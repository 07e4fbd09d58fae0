"""The model folder: `model.onnx` + `model.json` (the card). Write, load, validate, run.

This folder is the only thing that crosses from training to the daemon, so
loading it checks everything that could make live scores differ from the
reported ones, and names the file and key at fault.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ccser_core.card import card_schema, check_tie, read_card, tag_onnx, validate_card
from ccser_core.errors import ModelError
from ccser_core.experts import INPUTS, Expert, LiveSession, absolute_proba, fuse
from ccser_core.features import (
    FRAME_CODE_VERSION,
    FeatureConfig,
    Pitch,
    feature_names,
    fingerprint,
    frame_names,
)
from ccser_core.files import current_umask, signals_deferred
from ccser_core.gate import GateConfig
from ccser_core.normalisation import Prior
from ccser_core.trust import TrustRule

CARD_SCHEMA_VERSION = 1
ONNX_NAME = "model.onnx"
CARD_NAME = "model.json"
#: Normalisation methods; "speaker" needs a prior, "none" means the pipeline scales itself.
NORMALISATIONS = tuple(card_schema()["$defs"]["normalisation"]["properties"]["method"]["enum"])
#: What the ONNX model reads (card key `input.kind`; absent means "features"): one
#: functional vector per utterance, or a (1, T, dim) sequence of `features.frames`.
INPUT_KINDS = tuple(card_schema()["properties"]["input"]["properties"]["kind"]["enum"])
REQUIRED_KEYS = tuple(card_schema()["required"])


def default_model_dir() -> Path:
    """The shipped default model: in the source tree, else where `pip install .` put it
    (data files under `<prefix>/share/ccser/exported_models/default`)."""
    in_tree = Path(__file__).resolve().parents[1] / "exported_models" / "default"
    if in_tree.is_dir():
        return in_tree
    return Path(sys.prefix) / "share" / "ccser" / "exported_models" / "default"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_card(card: dict, where: Path) -> None:
    """The card schema (ccser_core/card.py), then what needs this installation's code."""
    validate_card(card, where)
    block = card.get("input", {"kind": "features"})
    if block["kind"] == "frames" and block.get("frame_code") != FRAME_CODE_VERSION:
        raise ModelError(f"{where}: input.frame_code {block.get('frame_code')} is not this "
                         f"installation's frame code {FRAME_CODE_VERSION}; the frames would "
                         "differ from training")
    if block["kind"] == "frames" and block.get("dim") != card["n_features"]:
        raise ModelError(f"{where}: input.dim {block.get('dim')} but n_features "
                         f"{card['n_features']} (a frames model's n_features is its frame width)")


def write_model_folder(folder: Path, onnx_bytes: bytes, card: dict[str, Any],
                       files: Mapping[str, bytes] | None = None) -> None:
    """Write a complete model folder, then put it in place with one rename.

    The new folder (model.onnx, model.json and `files`, e.g. a confusion-matrix
    PNG) is finished beside the old one first, and an existing model folder is
    replaced whole, so a model never sits next to another run's files. The swap
    and its clean-up hold off SIGINT/SIGTERM: an interrupted or failed run leaves
    the previous folder or the new one, and no temporary folders. The ONNX bytes
    are tagged with the digest of the card's prediction fields and their sha256 is
    put into the card, so the two cannot disagree.
    """
    folder = Path(folder)
    files = dict(files or {})
    bad = [n for n in files if n in (ONNX_NAME, CARD_NAME) or Path(n).name != n or n[:1] in ".~"]
    if bad:
        raise ValueError(f"model folder files must be plain names other than {ONNX_NAME} and "
                         f"{CARD_NAME}: {', '.join(map(repr, bad))}")
    onnx_bytes = tag_onnx(onnx_bytes, card)
    card = {**card, "onnx_sha256": hashlib.sha256(onnx_bytes).hexdigest()}
    _check_card(card, folder / CARD_NAME)
    if folder.exists() and not (folder.is_dir() and _is_model_folder(folder)):
        raise ModelError(f"{folder}: exists and is not a model folder (no {CARD_NAME} or "
                         f"{ONNX_NAME}); not replacing it, choose another folder")
    folder.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(folder)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.new-", dir=folder.parent))
    os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700; a model folder is for everyone to read
    try:
        (tmp / ONNX_NAME).write_bytes(onnx_bytes)
        (tmp / CARD_NAME).write_text(json.dumps(card, indent=1) + "\n")
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        with signals_deferred():
            _swap(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already after a successful swap


def _is_model_folder(folder: Path) -> bool:
    names = {p.name for p in folder.iterdir()}
    return not names or bool(names & {ONNX_NAME, CARD_NAME})


def _swap(new: Path, folder: Path) -> None:
    """Rename `new` to `folder`, replacing it whole; if that fails, the old one is put back."""
    if not folder.exists():
        os.replace(new, folder)
        return
    old = folder.with_name(f".{folder.name}.old-{os.getpid()}-{secrets.token_hex(4)}")
    os.replace(folder, old)
    try:
        os.replace(new, folder)
    except BaseException:
        os.replace(old, folder)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _remove_leftovers(folder: Path) -> None:
    """Temporary folders of a writer that was killed (SIGKILL, power loss): new ones
    are dropped; an old one is the previous model and comes back if the folder is gone."""
    found = [p for p in folder.parent.iterdir() if p.is_dir() and not p.is_symlink()
             and p.name.startswith((f".{folder.name}.new-", f".{folder.name}.old-"))]
    olds = sorted((p for p in found if ".old-" in p.name[len(folder.name) + 1:]),
                  key=lambda p: p.stat().st_mtime)
    if olds and not folder.exists():
        os.replace(olds.pop(), folder)
    for p in found:
        if p.exists():
            shutil.rmtree(p, ignore_errors=True)


@dataclass
class LoadedModel:
    """A validated model folder: its card and its experts (`ccser_core.experts`)."""

    folder: Path
    card: dict[str, Any]
    feature_config: FeatureConfig
    experts: list[Expert]
    trust_rule: TrustRule | None = None  # the card's evidence rule (fusion.trust)

    @property
    def emotions(self) -> list[str]:
        return list(self.card["emotions"])

    @property
    def model_id(self) -> str:
        return str(self.card["model_id"])

    def features(self, y: np.ndarray, pitch: Pitch | None = None) -> list[np.ndarray]:
        """Every expert's raw input from mono samples at the model's sample rate;
        `pitch`: the samples' `pitch_of`, when the no-speech gate already tracked it."""
        return [e.input(y, self.feature_config, pitch) for e in self.experts]

    def gate(self) -> GateConfig:
        """The no-speech gate's thresholds: the card's `speech_gate`, else the defaults."""
        return GateConfig.from_dict(self.card.get("speech_gate", {}))

    def live_session(self) -> LiveSession:
        """Running statistics of one new session, seeded by each expert's prior."""
        return LiveSession(self.experts, self.trust_rule, len(self.emotions))

    def predict(self, inputs: list[list[np.ndarray]], trust: float | np.ndarray | None = None
                ) -> np.ndarray:
        """Fused class probabilities (N, len(emotions)) of *normalised* inputs: for each
        expert, its N inputs; `trust`: the session group's weight (evidence rule)."""
        return fuse(self.experts, inputs, trust)

    def predict_one(self, inputs: list[np.ndarray], trust: float | None = None) -> np.ndarray:
        """(len(emotions),) probabilities of one recording's inputs (one per expert)."""
        return self.predict([[x] for x in inputs], trust)[0]

    def absolute(self, inputs: list[list[np.ndarray]]) -> np.ndarray | None:
        """(N, K) probabilities of the absolute experts (the session evidence), or None."""
        return absolute_proba(self.experts, inputs)


def load_model(folder: str | Path) -> LoadedModel:
    """Load and validate a model folder; ModelError names the file and the problem."""
    folder = Path(folder)
    onnx_path, card_path = folder / ONNX_NAME, folder / CARD_NAME
    if not folder.is_dir():
        raise ModelError(f"{folder}: model folder does not exist")
    for p in (onnx_path, card_path):
        if not p.is_file():
            raise ModelError(f"{p}: missing (a model folder holds {ONNX_NAME} and {CARD_NAME})")
    card = read_card(card_path)
    _check_card(card, card_path)
    digest = sha256_file(onnx_path)
    if digest != card["onnx_sha256"]:
        raise ModelError(f"{onnx_path}: sha256 {digest[:12]}… does not match the card's "
                         f"{str(card['onnx_sha256'])[:12]}… (file changed or corrupt)")
    try:
        config = FeatureConfig.from_dict(card["feature_config"])
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{card_path}: bad feature_config ({exc})") from exc
    if fingerprint(config) != card["feature_fingerprint"]:
        raise ModelError(
            f"{card_path}: feature fingerprint {card['feature_fingerprint']} is not reproduced "
            f"by this installation ({fingerprint(config)}); the features would differ from "
            "training (different ccser feature code or librosa version)")
    if card["sample_rate"] != config.sample_rate:
        raise ModelError(f"{card_path}: sample_rate {card['sample_rate']} but its feature_config "
                         f"works at {config.sample_rate} Hz")
    kind = card.get("input", {}).get("kind", "features")
    n_features = int(card.get("input", {}).get("dim", 0)) if kind == "embedding" else \
        len(frame_names(config) if kind == "frames" else feature_names(config))
    if card["n_features"] != n_features:
        raise ModelError(f"{card_path}: n_features {card['n_features']} but its feature_config "
                         f"gives {n_features}{' frame columns' if kind == 'frames' else ''}")
    session = onnx_session(onnx_path)
    n_inputs = n_features + len(card["normalisation"].get("prior", {}).get("anchored", []))
    _check_session(session, n_inputs, len(card["emotions"]), onnx_path, kind)
    check_tie(card, session.get_modelmeta().custom_metadata_map, card_path, onnx_path)
    norm = card["normalisation"]
    prior = Prior.from_dict(norm["prior"]) if norm["method"] == "speaker" else None
    block = card.get("input", {"kind": "features"})
    expert = Expert(str(card.get("classifier", {}).get("name", "model")), block,
                    INPUTS[block["kind"]], prior, 1.0, session)
    if "experts" not in card:
        return LoadedModel(folder, card, config, [expert])
    entries = card["experts"]
    first = entries[0]
    if first["onnx"] != ONNX_NAME:
        raise ModelError(f"{card_path}: the first expert must be {ONNX_NAME}, "
                         f"the card names {first['onnx']!r}")
    experts = [replace(expert, weight=float(first.get("weight", 1.0)),
                       group=str(first.get("group", "")))]
    experts += [_extra_expert(folder, e, config, len(card["emotions"])) for e in entries[1:]]
    fusion = card.get("fusion", {})
    rule = TrustRule.from_dict(fusion["trust"]) if fusion.get("rule") == "evidence" else None
    groups = {e.group for e in experts}
    if rule is not None and groups != {"session", "absolute"}:
        raise ModelError(f"{card_path}: an evidence fusion needs session and absolute experts, "
                         f"the card's experts are in groups {sorted(groups)}")
    return LoadedModel(folder, card, config, experts, rule)


def onnx_session(onnx_path: Path | bytes) -> Any:
    """An onnxruntime session as ccser runs every graph: one thread, no spinning, and
    only errors logged (no graph-optimiser chatter in users' terminals)."""
    import onnxruntime as ort

    try:
        opts = ort.SessionOptions()
        # Models are tiny: one thread without spinning keeps an idle daemon idle.
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3  # errors only: no graph-optimiser chatter in users' logs
        source = onnx_path if isinstance(onnx_path, bytes) else str(onnx_path)
        return ort.InferenceSession(source, sess_options=opts,
                                    providers=["CPUExecutionProvider"])
    except Exception as exc:
        where = "ONNX bytes" if isinstance(onnx_path, bytes) else onnx_path
        raise ModelError(f"{where}: not a loadable ONNX model ({exc})") from exc


def _extra_expert(folder: Path, entry: dict, config: FeatureConfig, n_classes: int) -> Expert:
    """An expert of a multi-expert card beyond the first: its own ONNX file in the folder,
    checked by its sha256 in the card."""
    name = str(entry["onnx"])
    path = folder / name
    if Path(name).name != name or name.startswith(".") or not path.is_file():
        raise ModelError(f"{folder / CARD_NAME}: expert {entry.get('name')!r} names ONNX file "
                         f"{name!r}, which is not a file of the model folder")
    digest = sha256_file(path)
    if digest != entry.get("onnx_sha256"):
        raise ModelError(f"{path}: sha256 {digest[:12]}… does not match the card's "
                         f"{str(entry['onnx_sha256'])[:12]}… (file changed or corrupt)")
    block = entry["input"]
    if block["kind"] not in INPUTS:
        raise ModelError(f"{folder / CARD_NAME}: expert {entry.get('name')!r} reads input kind "
                         f"{block['kind']!r}, which this installation cannot compute")
    norm = entry["normalisation"]
    prior = Prior.from_dict(norm["prior"]) if norm["method"] == "speaker" else None
    session = onnx_session(path)
    n_inputs = prior.n_inputs if prior is not None else int(block["dim"])
    _check_session(session, n_inputs, n_classes, path, block["kind"])
    return Expert(str(entry["name"]), block, INPUTS[block["kind"]], prior,
                  float(entry.get("weight", 1.0)), session, str(entry.get("group", "")))


def _check_session(session: Any, n_features: int, n_classes: int, where: Path,
                   kind: str = "features") -> None:
    inputs, outputs = session.get_inputs(), session.get_outputs()
    dim = inputs[0].shape[-1] if inputs and inputs[0].shape else None
    if len(inputs) != 1 or (isinstance(dim, int) and dim != n_features):
        raise ModelError(f"{where}: ONNX input expects {dim} features, the card says {n_features}")
    rank = len(inputs[0].shape or ())
    if rank != (3 if kind == "frames" else 2):
        raise ModelError(f"{where}: ONNX input has rank {rank}, but the card's input kind "
                         f"{kind!r} needs {3 if kind == 'frames' else 2}")
    if len(outputs) < 2:
        raise ModelError(f"{where}: ONNX model has no probability output")
    shape = (1, 7, n_features) if kind == "frames" else (1, n_features)
    probe = session.run(None, {inputs[0].name: np.zeros(shape, dtype=np.float32)})
    width = np.asarray(probe[1]).shape[-1]
    if width != n_classes:
        raise ModelError(f"{where}: ONNX gives {width} class probabilities, the card lists "
                         f"{n_classes} emotions")
