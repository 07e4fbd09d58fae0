"""Session kinds in the report and table, --loco, and --robust-weight, end to end on
the fake corpora."""

from __future__ import annotations

import json

import pytest
from test_train_cli import run_args  # tests/training is on sys.path (rootdir conftest)

from ccser_core.model import load_model
from training import cli


def test_report_and_table_give_uar_per_session_kind(fake_corpora, shared_cache, tmp_path, capsys):
    assert cli.main(["--train", "ravdess", "--test", "emodb", "--emotions", "AS", "--folds", "2",
                     *run_args(fake_corpora, shared_cache, tmp_path)]) == 0
    r = json.loads((tmp_path / "r.json").read_text())
    sessions = r["results"]["emodb"]["sessions"]
    # No neutral among the emotions: no neutral-dominant sessions.
    assert set(sessions) == {"balanced", "single", "cold", "worst"}
    for kind in ("balanced", "single", "cold"):
        assert 0.0 <= sessions[kind]["uar"] <= 1.0
        assert set(sessions[kind]["per_class_recall"]) == {"angry", "sad"}
    assert sessions["worst"]["uar"] == min(sessions[k]["uar"] for k in sessions if k != "worst")
    out = capsys.readouterr().out
    assert "UAR per session kind" in out and "single" in out
    card = load_model(tmp_path / "model").card
    assert card["metrics"]["test"]["emodb"]["sessions"]["worst"] == sessions["worst"]


def test_loco_trains_on_the_others_and_tests_on_each(fake_corpora, shared_cache, tmp_path, capsys):
    assert cli.main(["--train", "ravdess,emodb", "--loco", "--emotions", "AS", "--folds", "2",
                     *run_args(fake_corpora, shared_cache, tmp_path)]) == 0
    r = json.loads((tmp_path / "r.json").read_text())
    assert set(r["loco"]) == {"ravdess", "emodb"}
    assert r["loco"]["ravdess"]["train"] == ["emodb"] and r["loco"]["emodb"]["train"] == ["ravdess"]
    for block in r["loco"].values():
        assert {"uar", "sessions", "per_class_recall", "confusion_matrix"} <= set(block)
        assert block["sessions"]["worst"]["kind"] in block["sessions"]
    # The exported model is trained on both and carries the LOCO figures in its card.
    card = load_model(tmp_path / "model").card
    assert [c["name"] for c in card["training"]["corpora"]] == ["ravdess", "emodb"]
    assert card["metrics"]["loco"]["emodb"]["uar"] == r["loco"]["emodb"]["uar"]
    assert "leave-one-corpus-out" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--train", "ravdess", "--loco"], "--loco needs at least two"),
    (["--train", "ravdess", "--robust-weight", "1.5"], "--robust-weight must be between 0 and 1"),
])
def test_bad_loco_and_robust_weight_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_robust_weight_zero_gives_the_session_normalised_model_alone(fake_corpora, shared_cache,
                                                                      tmp_path):
    assert cli.main(["--train", "ravdess", "--test", "emodb", "--emotions", "AS", "--folds", "2",
                     "--robust-weight", "0", *run_args(fake_corpora, shared_cache, tmp_path)]) == 0
    model = load_model(tmp_path / "model")
    prior = model.experts[0].prior
    assert prior.anchored == () and prior.n_inputs == model.card["n_features"]
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["normalisation"]["anchored_groups"] == []
