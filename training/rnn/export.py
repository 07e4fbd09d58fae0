"""Export the RNN to ONNX (dynamic time axis) and prove it agrees with PyTorch on the
check sequences; its card block says the expert reads a frame sequence."""

from __future__ import annotations

import io
import warnings

import numpy as np
import torch

from ccser_core.features import FRAME_CODE_VERSION, frame_names
from ccser_core.model import onnx_session
from ccser_core.normalisation import Prior
from training.config import TrainConfig
from training.experts.base import Graph
from training.export import MAX_PROBA_DIFF, MIN_LABEL_AGREEMENT, ExportError, expert_block
from training.models import RNN
from training.rnn.net import EmotionRnn, Exported
from training.rnn.train import FittedRnn, predict_proba

INPUT_NAME = "frames"


def to_onnx_bytes(net: EmotionRnn) -> bytes:
    """One sequence (1, T, D) in, (label, probabilities) out; T is dynamic."""
    net.eval()
    example = torch.zeros(1, 20, net.cfg.n_inputs)
    buf = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript exporter announces its deprecation
        warnings.simplefilter("ignore")
        torch.onnx.export(Exported(net), (example,), buf, input_names=[INPUT_NAME],
                          output_names=["label", "probabilities"],
                          dynamic_axes={INPUT_NAME: {1: "time"}}, opset_version=17,
                          dynamo=False)
    return buf.getvalue()


def check_agreement(net: EmotionRnn, onnx_bytes: bytes, seqs: list[np.ndarray]) -> dict:
    """Run both on every sequence; raise ExportError unless labels and probabilities agree."""
    sess = onnx_session(onnx_bytes)
    ref = predict_proba(net, seqs)
    proba = np.vstack([sess.run(None, {INPUT_NAME: np.asarray(s, np.float32)[None]})[1]
                       for s in seqs]) if seqs else np.zeros((0, ref.shape[1]))
    agreement = float(np.mean(proba.argmax(axis=1) == ref.argmax(axis=1))) if seqs else 1.0
    max_diff = float(np.max(np.abs(proba - ref))) if seqs else 0.0
    result = {"n_rows": len(seqs), "label_agreement": agreement, "max_proba_diff": max_diff}
    if agreement < MIN_LABEL_AGREEMENT or max_diff > MAX_PROBA_DIFF:
        raise ExportError(
            f"ONNX export disagrees with PyTorch on {len(seqs)} sequences: labels agree on "
            f"{agreement:.2%} (need {MIN_LABEL_AGREEMENT:.1%}), max probability difference "
            f"{max_diff:.2e} (need <= {MAX_PROBA_DIFF:.0e}); model not written")
    return result


def graph(cfg: TrainConfig, fitted: FittedRnn, prior: Prior | None,
          check_seqs: list[np.ndarray]) -> Graph:
    """Convert, verify against PyTorch on `check_seqs`; the card block says the expert
    reads a frame sequence."""
    onnx_bytes = to_onnx_bytes(fitted.net)
    agreement = check_agreement(fitted.net, onnx_bytes, check_seqs)
    names = frame_names(cfg.features)
    block = expert_block(cfg, RNN, {"kind": "frames", "dim": len(names),
                                    "frame_code": FRAME_CODE_VERSION, "names": names},
                         prior, fitted.params, fitted.val_uar)
    return Graph(RNN, onnx_bytes, block, agreement)
