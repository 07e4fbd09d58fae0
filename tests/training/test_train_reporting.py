"""What ccser-train reports is what it did: the folds actually used, a CV that is not
speaker-independent said so, a test corpus that is also trained on refused, unreadable
files named even with --quiet, and no progress bars in logs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from training import cli

BIN = Path(sys.executable).parent
BASE = ["--emotions", "AS", "--models", "logreg", "--jobs", "1", "--quiet"]


def train(capsys, tmp_path: Path, cache: Path, *args: str) -> tuple[int, str, str, dict | None]:
    rc = cli.main([*BASE, "--cache-dir", str(cache), "--output", str(tmp_path / "model"),
                   "--report", str(tmp_path / "r.json"), *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    report = json.loads((tmp_path / "r.json").read_text()) if rc == 0 else None
    return rc, out, err, report


def test_report_gives_the_folds_actually_used(capsys, tmp_path, fake_corpora, shared_cache):
    """4 actors allow 4 speaker folds, whatever --folds asks for."""
    rc, out, _, r = train(capsys, tmp_path, shared_cache, "--train", "ravdess", "--folds", "5",
                          "--corpus-dir", str(fake_corpora))
    assert rc == 0
    assert r["search"]["folds"] == 4 and r["search"]["folds_requested"] == 5
    assert r["search"]["cv_scheme"] == "speaker-grouped" and r["search"]["speaker_independent"]
    assert r["within_corpus"]["folds"] == 4
    assert "(4 folds)" in out


@pytest.fixture
def speakerless_csv(fake_corpora, tmp_path) -> Path:
    rows = [f"{p},{'angry' if 'W' in p.stem else 'sad'}"
            for p in sorted((fake_corpora / "emodb" / "wav").glob("*"))]
    path = tmp_path / "mine.csv"
    path.write_text("path,emotion\n" + "\n".join(rows) + "\n")
    return path


def test_csv_without_speakers_trains_on_stratified_folds_with_a_warning(
        capsys, caplog, tmp_path, fake_corpora, shared_cache, speakerless_csv):
    rc, out, _, r = train(capsys, tmp_path, shared_cache, "--train", "mine", "--test", "ravdess",
                          "--corpus", f"mine={speakerless_csv}", "--corpus-dir", str(fake_corpora),
                          "--folds", "5")
    assert rc == 0
    assert "NOT speaker-independent" in caplog.text
    assert r["search"]["cv_scheme"] == "stratified" and r["search"]["speaker_independent"] is False
    assert r["search"]["folds"] == 5
    assert "best by stratified CV UAR" in out and "not speaker-independent" in out
    assert r["results"]["ravdess"]["uar"] > 0.8


def test_csv_without_speakers_within_corpus_cv_is_marked(capsys, caplog, tmp_path, shared_cache,
                                                         speakerless_csv):
    rc, out, _, r = train(capsys, tmp_path, shared_cache, "--train", "mine",
                          "--corpus", f"mine={speakerless_csv}", "--folds", "3")
    assert rc == 0
    w = r["within_corpus"]
    assert w["cv"] == "speaker" and w["cv_scheme"] == "stratified"
    assert w["speaker_independent"] is False and w["folds"] == 3
    assert "within-corpus stratified CV (3 folds)" in out


def test_testing_on_a_training_corpus_is_refused(capsys, tmp_path, fake_corpora):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--train", "emodb", "--test", "emodb", "--corpus-dir", str(fake_corpora)])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "--test emodb is also a training corpus" in err
    assert "Traceback" not in err


def test_testing_on_the_training_files_under_another_name_is_refused(capsys, tmp_path,
                                                                     fake_corpora, shared_cache):
    """The same EmoDB files listed again in a CSV corpus are still the training files."""
    rows = [f"{p},{'angry' if 'W' in p.stem else 'sad'},{p.stem[:2]}"
            for p in sorted((fake_corpora / "emodb" / "wav").glob("*"))]
    again = tmp_path / "again.csv"
    again.write_text("path,emotion,speaker\n" + "\n".join(rows) + "\n")
    rc, _, err, _ = train(capsys, tmp_path, shared_cache, "--train", "emodb", "--test", "again",
                          "--corpus", f"again={again}", "--corpus-dir", str(fake_corpora),
                          "--folds", "2")
    assert rc == 1
    assert "test corpus again shares 24 of its 24 files with training corpus emodb" in err
    assert not (tmp_path / "model").exists()


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "ccser-train"), *args], capture_output=True, text=True,
                          timeout=300)


def test_quiet_still_names_unreadable_files(tmp_path, copy_corpus, shared_cache):
    root = copy_corpus("ravdess")
    bad = root / "Actor_03" / "03-01-05-01-02-02-03.flac"
    bad.write_bytes(b"")
    proc = run_cli("--train", "ravdess", "--corpus", f"ravdess={root}", *BASE, "--folds", "2",
                   "--no-export", "--cache-dir", str(shared_cache))
    assert proc.returncode == 0, proc.stderr
    assert str(bad) in proc.stderr  # which file, not only a count in the table
    assert "unreadable files skipped: ravdess 1" in proc.stdout


def test_no_progress_bars_in_logs_that_are_not_terminals(tmp_path, fake_corpora):
    """Without --quiet, stderr to a file (journald, CI logs) gets messages, no bars."""
    proc = run_cli("--train", "ravdess", "--corpus-dir", str(fake_corpora), "--emotions", "AS",
                   "--models", "logreg", "--folds", "2", "--jobs", "1", "--no-export",
                   "--cache-dir", str(tmp_path / "cold"))  # cold: the extraction bar would run
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr and "it/s" not in proc.stderr and "file/s" not in proc.stderr
    assert "grid search" not in proc.stderr
