"""ccser-train end to end on fake corpora: the report, the model folder and its card,
the feature cache on a second run, within-corpus CV, generic CSV corpora, and
ccser-predict on the exported model."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import training.data
from ccser_core.corpora import licence
from ccser_core.features import FeatureConfig, feature_names, fingerprint
from ccser_core.model import load_model
from training import cli, predict_cli

EMOTIONS = ["sad", "angry"]  # the canonical order of --emotions AS
BIN = Path(sys.executable).parent


def run_args(corpus_dir: Path, cache: Path, out: Path, *extra: str) -> list[str]:
    return ["--corpus-dir", str(corpus_dir), "--jobs", "1", "--quiet", "--cache-dir", str(cache),
            "--output", str(out / "model"), "--report", str(out / "r.json"), *extra]


@pytest.fixture
def exported(_session_store, fake_corpora, shared_cache) -> dict:
    """One real `ccser-train` subprocess run (ravdess -> emodb, AS, logreg + svc), shared
    by the tests that read its report and model folder."""
    if "exported" not in _session_store:
        out = _session_store["root"] / "run"
        proc = subprocess.run(
            [str(BIN / "ccser-train"), "--train", "ravdess", "--test", "emodb", "--emotions", "AS",
             "--models", "logreg,svc", "--folds", "2",
             *run_args(fake_corpora, shared_cache, out)],
            capture_output=True, text=True, timeout=300)
        _session_store["exported"] = {
            "proc": proc, "out": out, "model": out / "model",
            "report": json.loads((out / "r.json").read_text()) if proc.returncode == 0 else None}
    run = _session_store["exported"]
    assert run["proc"].returncode == 0, run["proc"].stderr
    return run


def test_subprocess_run_prints_the_table_and_writes_report_and_model(exported):
    proc = exported["proc"]
    assert "Traceback" not in proc.stderr
    assert "* best by speaker-grouped CV UAR" in proc.stdout
    assert f"model: {exported['model']}" in proc.stdout
    assert sorted(p.name for p in exported["model"].iterdir()) == [
        "confusion.png", "model.json", "model.onnx"]


def test_report_has_the_promised_fields(exported):
    r = exported["report"]
    assert r["train"] == ["ravdess"] and r["test"] == ["emodb"] and r["emotions"] == EMOTIONS
    assert r["features"]["n_features"] == len(feature_names(FeatureConfig()))
    block = r["results"]["emodb"]
    assert block["n_test"] == 24 and block["chance_uar"] == 0.5
    cm = np.array(block["confusion_matrix"])
    assert cm.shape == (2, 2) and cm.sum(axis=1).tolist() == [12, 12]  # rows = true, 12 each
    recall = block["per_class_recall"]
    assert list(recall) == EMOTIONS
    assert recall["sad"] == pytest.approx(cm[0, 0] / 12)
    assert block["uar"] == pytest.approx(np.mean(list(recall.values())))
    assert block["accuracy"] == pytest.approx(np.trace(cm) / 24)
    assert 0 <= block["macro_f1"] <= 1
    lo, hi = block["uar_ci95"]
    assert lo <= block["uar"] <= hi
    assert 0 <= block["uar_streaming"] <= 1
    assert block["uar"] > 0.9  # the fake emotions are easy to tell apart
    assert set(r["models"]) == {"logreg", "svc"}
    for row in r["models"].values():
        assert set(row["best_params"]) and 0 <= row["cv_uar"] <= 1
        assert set(row["test_uar"]) == {"emodb"}
    best_cv = max(row["cv_uar"] for row in r["models"].values())
    assert r["models"][r["best_model"]]["cv_uar"] == best_cv  # chosen by CV, not by test
    assert r["best_cv_uar"] == best_cv
    assert r["search"]["cv_scheme"] == "speaker-grouped"
    assert {"features_s", "search_s", "export_s", "total_s"} <= set(r["timings"])


def test_model_folder_loads_and_its_card_describes_the_run(exported):
    model = load_model(exported["model"])
    card, r = model.card, exported["report"]
    assert model.emotions == EMOTIONS
    config = FeatureConfig.from_dict(card["feature_config"])
    assert model.feature_config == config == FeatureConfig()
    assert card["feature_fingerprint"] == fingerprint(config)
    assert card["n_features"] == r["features"]["n_features"]
    norm = card["normalisation"]
    assert norm["method"] == "speaker"
    assert len(norm["prior"]["mean"]) == len(norm["prior"]["var"]) == card["n_features"]
    assert norm["prior"]["weight"] == r["normalisation"]["prior_weight"]
    assert card["training"]["corpora"] == [
        {"name": "ravdess", "licence": licence("ravdess"), "n_files": 24}]
    assert "CC BY-NC-SA" in card["training"]["corpora"][0]["licence"]
    assert card["metrics"]["test"]["emodb"]["uar"] == r["results"]["emodb"]["uar"]
    assert card["metrics"]["cv_uar"] == r["best_cv_uar"]
    assert card["classifier"]["name"] == r["best_model"]
    onnx = (exported["model"] / "model.onnx").read_bytes()
    assert card["onnx_sha256"] == hashlib.sha256(onnx).hexdigest()
    check = card["onnx_check"]
    assert check["n_rows"] == 24 and check["label_agreement"] >= 0.995
    assert check["max_proba_diff"] <= 1e-4
    # The model input: session-normalised features, then the prior-anchored prosody features.
    assert model.experts[0].prior.n_inputs == card["n_features"] + len(norm["prior"]["anchored"])
    assert norm["prior"]["anchored"] and r["normalisation"]["anchored_groups"] == ["prosody"]
    assert model.experts[0].predict_proba(np.zeros((3, model.experts[0].prior.n_inputs))).shape == (3, 2)


def test_predict_prints_an_emotion_per_file_and_skips_unreadable_ones(exported, fake_corpora,
                                                                      tmp_path, capsys):
    speaker = sorted((fake_corpora / "emodb" / "wav").glob("03*"))
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"\x00\x01" * 300)
    files = [str(p) for p in speaker]
    rc = predict_cli.main([*files[:3], str(garbage), *files[3:], "--model", str(exported["model"])])
    out, err = capsys.readouterr()
    assert rc == 0
    lines = out.splitlines()
    assert [line.split("\t")[0] for line in lines] == files
    predicted = [line.split("\t")[1] for line in lines]
    truth = ["angry" if "W" in Path(f).stem else "sad" for f in files]
    assert np.mean(np.array(predicted) == np.array(truth)) >= 5 / 6
    assert err.strip().splitlines() == [err.strip()]  # one line for the one bad file
    assert "skipped" in err and "garbage.wav" in err


def test_predict_json_and_stream_modes(exported, fake_corpora, capsys):
    files = [str(p) for p in sorted((fake_corpora / "emodb" / "wav").glob("08*"))]
    assert predict_cli.main([*files, "--model", str(exported["model"]), "--json", "--stream"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["path"] for row in rows] == files
    for row in rows:
        assert row["emotion"] in EMOTIONS
        assert sum(row["probabilities"].values()) == pytest.approx(1.0)


def test_predict_fails_clearly_when_nothing_is_usable(exported, tmp_path, capsys):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    assert predict_cli.main([str(empty), "--model", str(exported["model"])]) == 1
    assert "no readable audio file" in capsys.readouterr().err
    assert predict_cli.main([str(empty), "--model", str(tmp_path / "nomodel")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nomodel" in err


def test_second_run_with_same_settings_extracts_nothing(fake_corpora, tmp_path, monkeypatch,
                                                        capsys):
    extracted: list[int] = []
    real = training.data.extract_files

    def counting(*args, **kwargs):
        ex = real(*args, **kwargs)
        extracted.append(ex.n_extracted)
        return ex

    monkeypatch.setattr(training.data, "extract_files", counting)
    cache = tmp_path / "cache"
    args = ["--train", "ravdess", "--test", "emodb", "--emotions", "AS", "--models", "logreg",
            "--folds", "2", *run_args(fake_corpora, cache, tmp_path)]
    assert cli.main(args) == 0
    assert extracted == [24, 24]
    files = {p: p.stat().st_mtime_ns for p in (cache / "features").rglob("*")}
    assert cli.main(args) == 0
    assert extracted[2:] == [0, 0]
    assert {p: p.stat().st_mtime_ns for p in (cache / "features").rglob("*")} == files


@pytest.mark.parametrize("cv", ["speaker", "stratified", "kfold", "shuffle"])
def test_without_test_corpora_only_within_corpus_cv_is_reported(fake_corpora, shared_cache,
                                                                tmp_path, cv):
    assert cli.main(["--train", "ravdess", "--emotions", "angry,sad", "--models", "logreg",
                     "--cv", cv, "--folds", "2",
                     *run_args(fake_corpora, shared_cache, tmp_path)]) == 0
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["test"] == [] and r["results"] == {}
    w = r["within_corpus"]
    assert w["cv"] == cv and w["folds"] == 2 and w["n_test"] == 24 and w["uar"] > 0.8
    assert load_model(tmp_path / "model").card["metrics"]["test"] == {}
    assert (tmp_path / "model" / "confusion.png").is_file()


def test_balancing_selection_pca_augmentation_and_train_normalisation(fake_corpora, shared_cache,
                                                                       tmp_path):
    assert cli.main(["--train", "ravdess,emodb", "--emotions", "AS", "--models", "knn,logreg",
                     "--balance", "oversample", "--select-k", "30", "--pca", "4",
                     "--augment", "noise", "--norm", "train", "--folds", "2",
                     *run_args(fake_corpora, shared_cache, tmp_path)]) == 0
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["n_train"] == 96  # 48 files + one noisy copy each
    assert r["augment"] == ["noise"]
    model = load_model(tmp_path / "model")
    assert model.card["normalisation"]["method"] == "none" and model.experts[0].prior is None
    assert [c["name"] for c in model.card["training"]["corpora"]] == ["ravdess", "emodb"]


def write_csv(path: Path, rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n")
    return path


def test_generic_csv_corpus_trains_and_is_named_in_the_card(fake_corpora, shared_cache,
                                                            tmp_path):
    alias = {"05": "Anger", "04": "sadness"}
    rows = ["path,emotion,speaker"]
    for p in sorted((fake_corpora / "ravdess").rglob("*-*")):
        rows.append(f"{p.relative_to(fake_corpora.parent)},{alias[p.stem.split('-')[2]]},"
                    f"{p.parent.name}")
    labels = write_csv(fake_corpora.parent / "mine.csv", rows)
    assert cli.main(["--train", "mine", "--test", "emodb", "--emotions", "AS",
                     "--corpus", f"mine={labels}", "--models", "logreg", "--folds", "2",
                     *run_args(fake_corpora, shared_cache, tmp_path)]) == 0
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["train"] == ["mine"] and r["n_train"] == 24
    assert r["results"]["emodb"]["uar"] > 0.9
    corpora = load_model(tmp_path / "model").card["training"]["corpora"]
    assert corpora == [{"name": "mine", "licence": licence("mine"), "n_files": 24}]


@pytest.mark.parametrize("augment", [(), ("--augment", "noise")])
def test_corpus_normalisation_still_validates_on_held_out_speakers(fake_corpora, shared_cache,
                                                                   tmp_path, monkeypatch, augment):
    import training.experts.functional

    seen = []
    real = training.experts.functional.grid_search

    def spy(name, X, y, groups, settings):
        seen.append(groups)
        return real(name, X, y, groups, settings)

    monkeypatch.setattr(training.experts.functional, "grid_search", spy)
    assert cli.main(["--train", "ravdess", "--test", "emodb", "--emotions", "AS", "--norm", "corpus",
                     "--models", "logreg", "--folds", "2", *augment,
                     *run_args(fake_corpora, shared_cache, tmp_path)]) == 0
    assert len(seen) == 2  # the session expert, then the anchored expert
    for groups in seen:
        assert sorted(set(groups)) == [f"ravdess:{a:02d}" for a in range(1, 5)]
    assert json.loads((tmp_path / "r.json").read_text())["results"]["emodb"]["uar"] > 0.9
