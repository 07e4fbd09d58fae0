"""Export a fitted pipeline to ONNX, prove it agrees with scikit-learn, and
write the model folder (model.onnx + model.json) with a confusion-matrix PNG."""

from __future__ import annotations

import hashlib
import io
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline

from ccser_core import __version__
from ccser_core.corpora import licence
from ccser_core.emotions import initials
from ccser_core.errors import CcserError
from ccser_core.features import feature_spec, fingerprint
from ccser_core.gate import GateConfig
from ccser_core.model import CARD_SCHEMA_VERSION, ONNX_NAME, onnx_session, write_model_folder
from ccser_core.normalisation import Prior
from training.config import TrainConfig
from training.data import CorpusData
from training.experts.base import Graph

#: Agreement the exported model must reach on the check features.
MIN_LABEL_AGREEMENT = 0.995
MAX_PROBA_DIFF = 1e-4


class ExportError(CcserError):
    """The ONNX model does not reproduce scikit-learn's outputs."""


def to_onnx_bytes(pipe: Pipeline, n_features: int) -> bytes:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    with warnings.catch_warnings():  # the SVC converter reads attributes sklearn deprecates
        warnings.simplefilter("ignore", FutureWarning)
        onx = convert_sklearn(
            pipe, initial_types=[("features", FloatTensorType([None, n_features]))],
            options={id(pipe.steps[-1][1]): {"zipmap": False}},
            target_opset={"": 17, "ai.onnx.ml": 3},
        )
    return onx.SerializeToString()


def check_agreement(pipe: Pipeline, onnx_bytes: bytes, X: np.ndarray) -> dict:
    """Run both on `X`; raise ExportError unless labels and probabilities agree."""
    sess = onnx_session(onnx_bytes)
    X32 = np.asarray(X, dtype=np.float32)
    labels, proba = sess.run(None, {sess.get_inputs()[0].name: X32})[:2]
    ref_labels = pipe.predict(X32.astype(np.float64))
    ref_proba = pipe.predict_proba(X32.astype(np.float64))
    agreement = float(np.mean(np.asarray(labels).ravel() == ref_labels))
    max_diff = float(np.max(np.abs(np.asarray(proba) - ref_proba))) if len(X32) else 0.0
    result = {"n_rows": int(len(X32)), "label_agreement": agreement, "max_proba_diff": max_diff}
    if agreement < MIN_LABEL_AGREEMENT or max_diff > MAX_PROBA_DIFF:
        raise ExportError(
            f"ONNX export disagrees with scikit-learn on {len(X32)} rows: labels agree on "
            f"{agreement:.2%} (need {MIN_LABEL_AGREEMENT:.1%}), max probability difference "
            f"{max_diff:.2e} (need <= {MAX_PROBA_DIFF:.0e}); model not written")
    return result


def confusion_png(cm: np.ndarray, emotions: list[str], title: str) -> bytes:
    """The confusion matrix (rows = true) as PNG bytes, counts and row percentages."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm, dtype=float)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.2 * len(emotions) + 2, 1.1 * len(emotions) + 1.5))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(emotions)):
        for j in range(len(emotions)):
            ax.text(j, i, f"{int(cm[i, j])}\n{norm[i, j]:.0%}", ha="center", va="center",
                    color="white" if norm[i, j] > 0.6 else "black", fontsize=8)
    ax.set_xticks(range(len(emotions)), emotions, rotation=45, ha="right")
    ax.set_yticks(range(len(emotions)), emotions)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def default_output(cfg: TrainConfig) -> Path:
    """exported_models/<train>_<emotion initials, in the order --emotions listed them>."""
    listed = cfg.emotion_order or cfg.emotions
    return Path("exported_models") / f"{'+'.join(cfg.train)}_{initials(listed)}"


def model_folder_id(cfg: TrainConfig) -> tuple[int, int] | None:
    """Identity of the run's model folder now (None if absent): the writer swaps in a
    new folder, so a changed identity means this run's model replaced it."""
    try:
        st = (cfg.output or default_output(cfg)).stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def interrupted(cfg: TrainConfig, before: tuple[int, int] | None) -> str:
    """What an interrupted run left behind, for ccser-train's one line."""
    after = model_folder_id(cfg) if cfg.export else before
    if after is not None and after != before:
        return (f"the feature cache is intact and {cfg.output or default_output(cfg)} holds this "
                "run's complete new model (the report was not written)")
    return "the feature cache and existing models are intact"


def expert_block(cfg: TrainConfig, name: str, input_block: dict, prior: Prior | None,
                 params: dict, cv_uar: float) -> dict:
    """One expert's card block: what it reads, how that is normalised, what it is."""
    return {
        "name": name,
        "input": input_block,
        "normalisation": {
            "method": "none" if prior is None else "speaker",
            "groups": cfg.norm, "scope": cfg.norm_scope,
            **({"prior": prior.to_dict()} if prior is not None else {}),
        },
        "classifier": {"name": name, "params": jsonable(params), "cv_uar": cv_uar},
    }


def export_model(cfg: TrainConfig, graphs: list[Graph], fusion: dict, cv_uar: float,
                 report: dict, train_parts: list[CorpusData]) -> dict:
    """Write the model folder of a run's model atomically: the first expert's graph is
    model.onnx (the card's top-level input, normalisation and classifier); a model of
    several experts lists them all in `experts`, each further one in its own ONNX file
    with its sha256, and `fusion` says how their probabilities combine."""
    graph = graphs[0]
    block = graph.block
    card = {**build_card(cfg, cv_uar, report, train_parts),
            "n_features": block["input"]["dim"], "normalisation": block["normalisation"],
            "classifier": {**block["classifier"], "cv_uar": cv_uar}, "onnx_check": graph.check}
    if block["input"]["kind"] != "features":
        card["input"] = block["input"]
    files = {}
    if len(graphs) > 1:
        entries = []
        for i, g in enumerate(graphs):
            entry = {"name": g.name, "onnx": ONNX_NAME, "input": g.block["input"],
                     "normalisation": g.block["normalisation"],
                     "classifier": g.block["classifier"], "onnx_check": g.check,
                     "group": g.block.get("group", ""), "weight": g.block.get("weight", 1.0)}
            if i:
                entry["onnx"] = f"expert-{i}.onnx"
                entry["onnx_sha256"] = hashlib.sha256(g.onnx).hexdigest()
                files[entry["onnx"]] = g.onnx
            entries.append(entry)
        card["experts"], card["fusion"] = entries, fusion
    return write_with_confusion(cfg, graph.onnx, card, report, "+".join(g.name for g in graphs),
                                files)


def build_card(cfg: TrainConfig, cv_uar: float, report: dict,
               train_parts: list[CorpusData]) -> dict:
    """The model-level fields of a run's card (see README, "The model folder")."""
    out = cfg.output or default_output(cfg)
    return {
        "schema_version": CARD_SCHEMA_VERSION,
        "model_id": f"{out.name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "ccser_version": __version__,
        "emotions": list(cfg.emotions),
        "sample_rate": cfg.features.sample_rate,
        "feature_config": cfg.features.to_dict(),
        "feature_fingerprint": fingerprint(cfg.features),
        "feature_spec": feature_spec(cfg.features),
        "speech_gate": GateConfig().to_dict(),
        "training": {
            "corpora": [{"name": p.name, "licence": licence(p.name), "n_files": int(len(p.y))}
                        for p in train_parts],
            "n_train_per_emotion": report["n_train_per_emotion"],
            "augment": list(cfg.augment),
        },
        "metrics": {
            "cv_uar": cv_uar,
            "test": {corpus: _card_metrics(block) for corpus, block in report["results"].items()},
            "loco": {corpus: {"train": block["train"], **_card_metrics(block)}
                     for corpus, block in report.get("loco", {}).items()},
        },
    }


def jsonable(value: object) -> object:
    """`value` with numpy scalars and other objects made JSON-serialisable."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _card_metrics(block: dict) -> dict:
    """A test block's figures for the card: UARs, and UAR per session kind."""
    out = {k: block[k] for k in ("uar", "uar_streaming", "accuracy", "macro_f1", "uar_ci95",
                                 "n_test", "chance_uar")}
    if "sessions" in block:
        out["sessions"] = {k: v["uar"] for k, v in block["sessions"].items() if k != "worst"}
        out["sessions"]["worst"] = block["sessions"]["worst"]
    return out


def write_with_confusion(cfg: TrainConfig, onnx_bytes: bytes, card: dict, report: dict,
                         name: str, files: dict[str, bytes] | None = None) -> dict:
    """Write the model folder with its confusion-matrix PNG (first test corpus, else CV).
    The PNG is rendered first: the folder is swapped in whole, never half old, half new."""
    out = cfg.output or default_output(cfg)
    first = next(iter(report["results"].items()), None)
    cm = first[1]["confusion_matrix"] if first else (report["within_corpus"] or {}).get(
        "confusion_matrix")
    files = dict(files or {})
    if cm is not None:
        where = f"test {first[0]}" if first else "within-corpus CV"
        files["confusion.png"] = confusion_png(np.array(cm), list(cfg.emotions),
                                               f"{'+'.join(cfg.train)} -> {where} ({name})")
    write_model_folder(out, onnx_bytes, card, files)
    return {"output": str(out), **card["onnx_check"]}
