"""ccser-train on the real corpora (skipped without $CCSER_CORPORA): trained on RAVDESS,
angry vs sad transfers to German EmoDB well above chance, in block and streaming mode.
One cold run (~30 s): it extracts into a fresh cache, as CI would."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ccser_core.model import load_model

pytestmark = [pytest.mark.corpora, pytest.mark.slow]


def test_ravdess_to_emodb_angry_sad(corpora_dir, tmp_path):
    report_path, model = tmp_path / "as.json", tmp_path / "model"
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ccser-train"), "--train", "ravdess", "--test", "emodb",
         "--emotions", "AS", "--corpus-dir", str(corpora_dir), "--cache-dir", str(tmp_path / "c"),
         "--output", str(model), "--report", str(report_path), "--jobs", "2", "--quiet"],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(report_path.read_text())
    emodb = report["results"]["emodb"]
    assert report["n_train"] == 384  # 192 angry + 192 sad RAVDESS files
    assert emodb["n_test"] == 127 + 62
    assert emodb["uar"] > 0.75 and emodb["uar_ci95"][0] > emodb["chance_uar"]
    assert emodb["uar_streaming"] > 0.7
    assert report["n_unreadable"] == {"ravdess": 0, "emodb": 0}
    card = load_model(model).card
    assert card["metrics"]["test"]["emodb"]["uar"] == emodb["uar"]
    assert card["training"]["corpora"][0]["n_files"] == 384


def test_emodb_to_ravdess_four_emotions_default_configuration(corpora_dir, tmp_path):
    """The hard direction (10 German speakers -> 24 English actors), default flags:
    a regression in features or normalisation shows up here first."""
    report_path = tmp_path / "ahns.json"
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ccser-train"), "--train", "emodb", "--test", "ravdess",
         "--corpus-dir", str(corpora_dir), "--cache-dir", str(tmp_path / "c"), "--no-export",
         "--report", str(report_path), "--jobs", "2", "--quiet"],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(report_path.read_text())
    ravdess = report["results"]["ravdess"]
    assert report["emotions"] == ["neutral", "happy", "sad", "angry"]
    assert ravdess["chance_uar"] == 0.25
    assert ravdess["uar"] > 0.5 and ravdess["uar_streaming"] > 0.45


def test_leave_one_corpus_out_over_four_corpora_reports_every_session_kind(corpora_dir, tmp_path):
    """LOCO over RAVDESS, EmoDB, SAVEE and CASIA (three languages), angry vs sad: every
    held-out corpus well above chance in every kind of session, single-emotion included."""
    report_path = tmp_path / "loco.json"
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ccser-train"), "--train",
         "ravdess,emodb,savee,casia", "--loco", "--emotions", "AS", "--corpus-dir",
         str(corpora_dir), "--cache-dir", str(tmp_path / "c"), "--no-export",
         "--report", str(report_path), "--jobs", "2", "--quiet"],
        capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert "leave-one-corpus-out" in proc.stdout
    loco = json.loads(report_path.read_text())["loco"]
    assert set(loco) == {"ravdess", "emodb", "savee", "casia"}
    for corpus, block in loco.items():
        sessions = block["sessions"]
        assert block["train"] == [c for c in ("ravdess", "emodb", "savee", "casia") if c != corpus]
        assert sessions["balanced"]["uar"] > 0.7, (corpus, sessions)
        assert sessions["worst"]["uar"] > 0.5, (corpus, sessions)
