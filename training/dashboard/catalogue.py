"""The Models panel's data: model folders found on disk, their cards made readable.

A model folder is `model.onnx` + `model.json` (see `ccser_core.model`); a
`report.json` beside them (what the dashboard's Train panel asks ccser-train
to write) adds the confusion matrices, and `confusion.png` is served as is.
Reading a card here never loads the ONNX model: listing stays cheap.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccser_core.model import CARD_NAME, ONNX_NAME

REPORT_NAME = "report.json"
#: Figures shown for each evaluation block, in this order, when present.
FIGURES = ("uar", "uar_streaming", "accuracy", "macro_f1", "uar_ci95", "n_test", "chance_uar")


@dataclass(frozen=True)
class ModelEntry:
    key: str  # stable id of the folder for URLs
    folder: Path
    card: dict[str, Any]
    report: dict[str, Any] | None
    is_default: bool


def folder_key(folder: Path) -> str:
    return hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:12]


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def model_folders(dirs: Iterable[Path]) -> list[Path]:
    """Each dir that is a model folder, and the model folders directly inside each dir."""
    found: list[Path] = []
    for d in dirs:
        candidates = [d] + (sorted(p for p in d.iterdir() if p.is_dir()) if d.is_dir() else [])
        found += [p for p in candidates if (p / CARD_NAME).is_file() and (p / ONNX_NAME).is_file()]
    return found


def find_models(dirs: Iterable[Path], default: Path | None) -> list[ModelEntry]:
    """The default model first, then the others; unreadable cards are left out."""
    folders = ([default] if default is not None else []) + model_folders(dirs)
    entries, seen = [], set()
    for folder in folders:
        key = folder_key(folder)
        card = _read_json(folder / CARD_NAME)
        if key in seen or card is None or not (folder / ONNX_NAME).is_file():
            continue
        seen.add(key)
        entries.append(ModelEntry(key, folder, card, _read_json(folder / REPORT_NAME),
                                  is_default=default is not None and folder == default))
    return entries


def metric_rows(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Every evaluation block in a card's metrics as one row: the kind of evaluation
    (test, cross_corpus, within_corpus, or any other, e.g. LOCO or sessions), what it
    evaluated, and the figures it has."""
    rows: list[dict[str, Any]] = []

    def row(kind: str, name: str, block: dict[str, Any]) -> None:
        rows.append({"kind": kind, "name": name,
                     **{k: block[k] for k in FIGURES if k in block},
                     **({"command": block["command"]} if "command" in block else {})})

    for kind, value in metrics.items():
        if kind == "cv_uar" and isinstance(value, int | float):
            rows.append({"kind": "cv", "name": "training corpora, by speaker",
                         "uar": value})
        elif isinstance(value, dict) and "uar" in value:
            row(kind, value.get("cv", ""), value)
        elif isinstance(value, dict):
            for name, block in value.items():
                if isinstance(block, dict) and "uar" in block:
                    row(kind, name, block)
    return rows


def confusion_matrices(entry: ModelEntry) -> list[dict[str, Any]]:
    """Confusion matrices (rows = true, columns = predicted, in the card's emotion order)
    from the card's metrics or the report beside it."""
    out = []
    blocks: list[tuple[str, Any]] = []
    for kind, value in entry.card.get("metrics", {}).items():
        if isinstance(value, dict):
            blocks += [(f"{kind} {name}", b) for name, b in value.items() if isinstance(b, dict)]
    if entry.report:
        blocks += [(f"test {name}", b) for name, b in entry.report.get("results", {}).items()]
        if isinstance(entry.report.get("within_corpus"), dict):
            blocks.append(("within-corpus CV", entry.report["within_corpus"]))
    for title, block in blocks:
        cm = block.get("confusion_matrix") if isinstance(block, dict) else None
        if isinstance(cm, list) and cm:
            out.append({"title": title, "matrix": cm})
    return out


def summary(entry: ModelEntry) -> dict[str, Any]:
    """A card in the words a person looks for; everything else stays in the raw card."""
    card = entry.card
    cfg = card.get("feature_config", {})
    training = card.get("training", {})
    return {
        "key": entry.key, "name": entry.folder.name, "folder": str(entry.folder),
        "is_default": entry.is_default, "model_id": card.get("model_id", ""),
        "created": card.get("created", ""), "emotions": card.get("emotions", []),
        "classifier": card.get("classifier", {}),
        "corpora": training.get("corpora", []),
        "n_train_per_emotion": training.get("n_train_per_emotion", {}),
        "augment": training.get("augment", []),
        "features": {"groups": cfg.get("groups", []), "stats": cfg.get("stats", []),
                     "n_features": card.get("n_features")},
        "normalisation": {k: v for k, v in card.get("normalisation", {}).items() if k != "prior"},
        "metrics": metric_rows(card.get("metrics", {})),
        "confusion": confusion_matrices(entry),
        "confusion_png": (entry.folder / "confusion.png").is_file(),
        "has_report": entry.report is not None,
    }
