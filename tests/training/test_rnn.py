"""`--models rnn` end to end on fake corpora: training, the ONNX export and its check,
the card, CV choosing between it and a scikit-learn model, determinism, and
ccser-predict running the exported model without PyTorch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

import training.rnn.run  # noqa: E402
from ccser_core.features import FRAME_CODE_VERSION, FeatureConfig, frame_names  # noqa: E402
from ccser_core.model import load_model  # noqa: E402
from training import cli  # noqa: E402
from training.export import ExportError  # noqa: E402
from training.models import RnnGrid  # noqa: E402

#: One small grid point, enough to separate the fake corpora's angry and sad.
TINY = RnnGrid(hidden=(16,), layers=(1,), dropout=(0.1,), lr=(5e-3,), max_epochs=15, patience=15,
               batch_size=8, conv_channels=16)


def run_args(corpus_dir: Path, cache: Path, out: Path, *extra: str) -> list[str]:
    return ["--corpus-dir", str(corpus_dir), "--jobs", "1", "--quiet", "--cache-dir", str(cache),
            "--output", str(out / "model"), "--report", str(out / "r.json"), *extra]


@pytest.fixture
def rnn_run(_session_store, fake_corpora, shared_cache, monkeypatch) -> dict:
    """`ccser-train --train ravdess --test emodb --emotions AS --models rnn` (tiny grid)."""
    monkeypatch.setattr(training.rnn.run, "RNN_GRID", TINY)
    if "rnn" not in _session_store:
        out = _session_store["root"] / "rnn"
        code = cli.main(["--train", "ravdess", "--test", "emodb", "--emotions", "AS",
                         "--models", "rnn", *run_args(fake_corpora, shared_cache, out)])
        assert code == 0
        _session_store["rnn"] = {"out": out, "model": out / "model",
                                 "report": json.loads((out / "r.json").read_text())}
    return _session_store["rnn"]


def test_rnn_is_trained_evaluated_and_exported(rnn_run):
    r = rnn_run["report"]
    assert r["best_model"] == "rnn"
    assert set(r["best_params"]) >= {"hidden", "layers", "dropout", "lr", "epochs"}
    emodb = r["results"]["emodb"]
    assert emodb["n_test"] == 24 and "uar_streaming" in emodb
    assert emodb["uar"] >= 0.75, "angry and sad are far apart in the fake corpora"
    # Session kinds under the live rule for frames, as for any model.
    sessions = emodb["sessions"]
    assert set(sessions) == {"balanced", "single", "cold", "worst"}
    assert sessions == r["models"]["rnn"]["sessions"]["emodb"]
    assert sessions["worst"]["uar"] == min(v["uar"] for k, v in sessions.items() if k != "worst")
    assert sessions["single"]["n_sessions"] == 8  # 4 speakers x 2 emotions
    check = r["export"]
    assert check["n_rows"] == 24 and check["label_agreement"] >= 0.995
    assert check["max_proba_diff"] <= 1e-4


def test_card_says_the_model_reads_frames(rnn_run):
    model = load_model(rnn_run["model"])
    card = model.card
    dim = len(frame_names(FeatureConfig()))
    assert card["input"] == {"kind": "frames", "dim": dim, "frame_code": FRAME_CODE_VERSION,
                             "names": frame_names(FeatureConfig())}
    assert model.experts[0].kind.sequence and card["n_features"] == dim
    assert card["classifier"]["name"] == "rnn"
    assert len(card["normalisation"]["prior"]["mean"]) == dim
    # Loudness and F0 also enter z-scored by the prior alone (session context), as the
    # prosody group does for the functional models.
    names = frame_names(FeatureConfig())
    anchored = card["normalisation"]["prior"]["anchored"]
    assert [names[i] for i in anchored] == ["spectral.loudness_rel", "pitch.f0_st"]
    # The ONNX model takes any number of frames of the model input's width.
    for t in (1, 13, 400):
        p = model.experts[0].predict_proba(np.zeros((t, dim + len(anchored)), dtype=np.float32))
        assert p.shape == (1, 2) and abs(p.sum() - 1) < 1e-6


def test_a_card_with_other_frame_code_is_refused(rnn_run, tmp_path):
    import shutil

    from ccser_core.errors import ModelError

    folder = tmp_path / "m"
    shutil.copytree(rnn_run["model"], folder)
    card = json.loads((folder / "model.json").read_text())
    card["input"]["frame_code"] = FRAME_CODE_VERSION + 1
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="frame_code"):
        load_model(folder)
    del card["input"]["dim"]  # the schema: a frames model says how wide a frame is
    (folder / "model.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="dim"):
        load_model(folder)


def test_predict_runs_the_rnn_without_torch(rnn_run, fake_corpora, tmp_path):
    """ccser-predict in a fresh interpreter where importing torch fails."""
    blocker = tmp_path / "block" / "torch"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('ccser-predict must not import torch')\n")
    files = sorted((fake_corpora / "emodb" / "wav").iterdir())[:4]
    for extra in ([], ["--stream"]):
        proc = subprocess.run(
            [sys.executable, "-c", "import sys; from training.predict_cli import main; "
             "sys.exit(main())", "--model", str(rnn_run["model"]), "--json", *extra,
             *map(str, files)],
            capture_output=True, text=True, timeout=120,
            env={"PYTHONPATH": str(blocker.parent), "PATH": "/usr/bin:/bin"})
        assert proc.returncode == 0, proc.stderr
        lines = [json.loads(line) for line in proc.stdout.splitlines()]
        assert len(lines) == 4
        for line in lines:
            assert line["emotion"] in ("angry", "sad")
            assert abs(sum(line["probabilities"].values()) - 1) < 1e-6


def test_cv_chooses_between_rnn_and_logreg(fake_corpora, shared_cache, tmp_path, monkeypatch):
    monkeypatch.setattr(training.rnn.run, "RNN_GRID", TINY)
    code = cli.main(["--train", "ravdess", "--test", "emodb", "--emotions", "AS", "--no-export",
                     "--models", "logreg,rnn", *run_args(fake_corpora, shared_cache, tmp_path)])
    assert code == 0
    r = json.loads((tmp_path / "r.json").read_text())
    assert set(r["models"]) == {"logreg", "rnn"}
    assert r["best_cv_uar"] == max(m["cv_uar"] for m in r["models"].values())
    for row in r["models"].values():  # every expert is scored in every session kind
        assert set(row["sessions"]["emodb"]) == {"balanced", "single", "cold", "worst"}


def test_late_fusion_is_a_model_of_two_experts(fake_corpora, shared_cache, tmp_path,
                                               monkeypatch):
    monkeypatch.setattr(training.rnn.run, "RNN_GRID", TINY)
    code = cli.main(["--train", "ravdess", "--test", "emodb", "--emotions", "AS", "--no-export",
                     "--models", "logreg,rnn", "--fuse",
                     *run_args(fake_corpora, shared_cache, tmp_path)])
    assert code == 0
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["best_model"] == "logreg+rnn"
    assert set(r["models"]) == {"logreg", "rnn", "logreg+rnn"}
    assert r["best_cv_uar"] == (r["models"]["logreg"]["cv_uar"] + r["models"]["rnn"]["cv_uar"]) / 2
    assert r["normalisation"]["experts"] == {"logreg": "anchored", "rnn": "anchored"}
    emodb = r["results"]["emodb"]
    assert 0 <= emodb["uar"] <= 1 and "uar_streaming" in emodb
    assert emodb["sessions"] == r["models"]["logreg+rnn"]["sessions"]["emodb"]


def test_training_is_deterministic_for_a_seed():
    from training.rnn.train import TrainSet, fit_rnn

    rng = np.random.default_rng(0)
    y = np.arange(40) % 2
    seqs = [rng.standard_normal((int(rng.integers(5, 60)), 7)) + c for c in y]
    speakers = np.array([f"c:{i % 5}" for i in range(40)])
    grid = RnnGrid(hidden=(8,), layers=(1,), max_epochs=3, patience=3, batch_size=8,
                   conv_channels=8)
    a, b = (fit_rnn(TrainSet(seqs, y, speakers), 2, grid, "weights", seed=3, jobs=1, quiet=True)
            for _ in range(2))
    np.testing.assert_array_equal(a.predict_proba(seqs), b.predict_proba(seqs))
    c = fit_rnn(TrainSet(seqs, y, speakers), 2, grid, "weights", seed=4, jobs=1, quiet=True)
    assert not np.array_equal(a.predict_proba(seqs), c.predict_proba(seqs))


def test_validation_speakers_come_from_every_corpus_and_never_train():
    from training.rnn.train import validation_speakers

    speakers = np.array([f"a:{i}" for i in range(10)] + [f"b:{i}" for i in range(4)] + ["c:0"])
    val = validation_speakers(speakers, 0.2, seed=0)
    assert sum(s.startswith("a:") for s in val) == 2
    assert sum(s.startswith("b:") for s in val) == 1
    assert not any(s.startswith("c:") for s in val)  # a one-speaker corpus stays in training
    assert val == validation_speakers(speakers, 0.2, seed=0)


def test_export_check_refuses_a_model_that_disagrees():
    import torch

    from training.rnn.export import check_agreement, to_onnx_bytes
    from training.rnn.net import EmotionRnn, NetConfig

    torch.manual_seed(0)
    net = EmotionRnn(NetConfig(6, 3, hidden=8, conv_channels=8)).eval()
    onnx_bytes = to_onnx_bytes(net)
    seqs = [np.random.default_rng(i).standard_normal((20 + i, 6)) for i in range(5)]
    assert check_agreement(net, onnx_bytes, seqs)["max_proba_diff"] < 1e-5
    with torch.no_grad():
        net.out.bias += torch.tensor([5.0, 0.0, -5.0])  # PyTorch now differs from the file
    with pytest.raises(ExportError, match="disagrees with PyTorch"):
        check_agreement(net, onnx_bytes, seqs)


def test_padded_batches_equal_single_sequences():
    import torch

    from training.rnn.net import EmotionRnn, NetConfig
    from training.rnn.train import predict_proba

    torch.manual_seed(1)
    net = EmotionRnn(NetConfig(5, 3, hidden=8, layers=2, conv_channels=8)).eval()
    rng = np.random.default_rng(2)
    seqs = [rng.standard_normal((t, 5)).astype(np.float32) for t in (1, 2, 4, 9, 33, 120)]
    single = np.vstack([torch.softmax(net(torch.from_numpy(s)[None]), -1).detach().numpy()
                        for s in seqs])
    np.testing.assert_allclose(predict_proba(net, seqs), single, atol=1e-6)


@pytest.mark.corpora
@pytest.mark.slow
def test_real_corpora_ravdess_to_emodb_angry_sad(corpora_dir, tmp_path, monkeypatch):
    """The RNN on real speech: trained on RAVDESS, tested on EmoDB, well above chance
    (0.70 with the default grid, 0.86 with --robust-weight 0; fewer epochs here)."""
    monkeypatch.setattr(training.rnn.run, "RNN_GRID", RnnGrid(layers=(1,), max_epochs=12,
                                                              patience=4))
    code = cli.main(["--train", "ravdess", "--test", "emodb", "--emotions", "AS", "--models",
                     "rnn", "--corpus-dir", str(corpora_dir), "--cache-dir", str(tmp_path / "c"),
                     "--jobs", "2", "--quiet", "--no-export", "--report", str(tmp_path / "r.json")])
    assert code == 0
    r = json.loads((tmp_path / "r.json").read_text())
    emodb = r["results"]["emodb"]
    assert emodb["chance_uar"] == 0.5
    assert emodb["uar"] >= 0.65 and emodb["sessions"]["worst"]["uar"] >= 0.65


def test_without_pytorch_rnn_is_a_usage_error(monkeypatch, capsys):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(SystemExit) as exc:
        cli.main(["--train", "ravdess", "--models", "logreg,rnn"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "download.pytorch.org/whl/cpu" in err and len(err.strip().splitlines()) == 1
