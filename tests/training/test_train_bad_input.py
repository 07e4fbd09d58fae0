"""ccser-train on bad input: one clear line naming the file or value, no traceback;
unusable files are skipped with a count, and the exit is non-zero only when
nothing usable is left. A failed run never touches an existing model folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import training.export
from ccser_core.model import load_model
from training import cli

BASE = ["--emotions", "AS", "--models", "logreg", "--folds", "2", "--jobs", "1", "--quiet"]


def train(capsys, tmp_path: Path, *args: str, cache: Path | None = None) -> tuple[int, str, str]:
    rc = cli.main([*BASE, "--cache-dir", str(cache or tmp_path / "cache"),
                   "--output", str(tmp_path / "model"), "--report", str(tmp_path / "r.json"),
                   *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("ccser-train: error: ")
    return lines[0]


def test_missing_corpus_folder_is_named(capsys, tmp_path):
    rc, _, err = train(capsys, tmp_path, "--train", "ravdess", "--corpus-dir",
                       str(tmp_path / "nowhere"))
    assert rc == 1
    assert str(tmp_path / "nowhere" / "ravdess") in one_error_line(err)


def test_no_corpus_dir_at_all_says_how_to_give_one(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("CCSER_CORPORA", raising=False)
    rc, _, err = train(capsys, tmp_path, "--train", "ravdess")
    assert rc == 1 and "--corpus-dir" in one_error_line(err)


def test_unknown_corpus_name_suggests_a_csv(capsys, tmp_path):
    rc, _, err = train(capsys, tmp_path, "--train", "iemocap", "--corpus-dir", str(tmp_path))
    assert rc == 1 and "iemocap" in one_error_line(err) and ".csv" in err


def test_empty_and_garbage_audio_are_skipped_with_a_count(capsys, tmp_path, copy_corpus,
                                                          fake_corpora, shared_cache):
    root = copy_corpus("ravdess")
    (root / "Actor_01" / "03-01-05-01-02-02-01.wav").write_bytes(b"")
    (root / "Actor_02" / "03-01-04-01-02-02-02.flac").write_bytes(os.urandom(2000))
    rc, out, err = train(capsys, tmp_path, "--train", "ravdess", "--test", "emodb",
                         "--corpus", f"ravdess={root}", "--corpus-dir", str(fake_corpora),
                         cache=shared_cache)
    assert rc == 0, err
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["n_unreadable"] == {"ravdess": 2, "emodb": 0}
    assert report["n_train"] == 24
    assert "unreadable files skipped: ravdess 2" in out
    assert load_model(tmp_path / "model").emotions == ["sad", "angry"]


def test_unreadable_files_are_named_when_not_quiet(capsys, caplog, tmp_path, copy_corpus):
    root = copy_corpus("ravdess")
    (root / "Actor_03" / "03-01-05-01-02-02-03.wav").write_bytes(b"")
    rc = cli.main(["--train", "ravdess", "--corpus", f"ravdess={root}", "--emotions", "AS",
                   "--models", "logreg", "--folds", "2", "--jobs", "1", "--no-export",
                   "--cache-dir", str(tmp_path / "cache")])
    assert rc == 0 and "Traceback" not in capsys.readouterr().err
    assert "03-01-05-01-02-02-03.wav" in caplog.text  # the CLI's log goes to stderr


def test_files_breaking_the_naming_rules_are_reported_and_skipped(capsys, caplog, tmp_path,
                                                                  copy_corpus, fake_corpora,
                                                                  shared_cache):
    root = copy_corpus("emodb")
    good = next((root / "wav").glob("03a01W*"))
    (root / "wav" / "03a01Wa-copy.wav").write_bytes(good.read_bytes())
    (root / "wav" / "03a01Xa.wav").write_bytes(good.read_bytes())  # X is no EmoDB emotion
    rc, out, _ = train(capsys, tmp_path, "--train", "ravdess", "--test", "emodb",
                       "--corpus", f"emodb={root}", "--corpus-dir", str(fake_corpora),
                       cache=shared_cache)
    assert rc == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["n_skipped_names"] == {"ravdess": 0, "emodb": 2}
    assert report["results"]["emodb"]["n_test"] == 24
    assert "files not matching naming rules skipped: emodb 2" in out
    rc = cli.main(["--train", "emodb", "--corpus", f"emodb={root}", "--emotions", "AS",
                   "--models", "logreg", "--folds", "2", "--jobs", "1", "--no-export",
                   "--cache-dir", str(shared_cache)])
    assert rc == 0
    assert "03a01Wa-copy.wav" in caplog.text and "03a01Xa.wav" in caplog.text


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_csv_with_unknown_emotion_names_file_line_and_value(capsys, tmp_path, fake_corpora):
    wav = next((fake_corpora / "emodb" / "wav").glob("*"))
    labels = write_csv(tmp_path / "mine.csv",
                       f"path,emotion,speaker\n{wav},angry,a\n{wav},grumpy,b\n")
    rc, _, err = train(capsys, tmp_path, "--train", "mine", "--corpus", f"mine={labels}")
    line = one_error_line(err)
    assert rc == 1 and str(labels) in line and "'grumpy'" in line and "line 3" in line


def test_csv_with_missing_column_names_it(capsys, tmp_path, fake_corpora):
    labels = write_csv(tmp_path / "mine.csv", "file,label\nx.wav,angry\n")
    rc, _, err = train(capsys, tmp_path, "--train", "mine", "--corpus", f"mine={labels}")
    line = one_error_line(err)
    assert rc == 1 and str(labels) in line and "path, emotion" in line


def test_emotion_the_corpus_lacks_names_corpus_and_what_it_has(capsys, tmp_path, fake_corpora):
    rc, _, err = train(capsys, tmp_path, "--train", "ravdess", "--test", "emodb",
                       "--corpus-dir", str(fake_corpora), "--emotions", "angry,boredom")
    line = one_error_line(err)
    assert rc == 1
    assert "ravdess" in line and "boredom" in line and "it has: angry, sad" in line


def test_emotion_set_leaving_a_class_empty_names_it(capsys, tmp_path, copy_corpus, fake_corpora):
    root = copy_corpus("emodb")
    for sad in (root / "wav").glob("*T*"):
        sad.write_bytes(b"not audio")
    rc, _, err = train(capsys, tmp_path, "--train", "ravdess", "--test", "emodb",
                       "--corpus", f"emodb={root}", "--corpus-dir", str(fake_corpora))
    line = one_error_line(err)
    assert rc == 1 and "emodb" in line and "no usable files left for sad" in line
    assert "12 unreadable" in line


@pytest.mark.parametrize(("args", "needle"), [
    (["--emotions", "angry,grumpy"], "grumpy"),
    (["--emotions", "angry"], "two distinct emotions"),
    (["--models", "svm"], "svm"),
    (["--folds", "1"], "--folds"),
    (["--features", "mfcc,timbre"], "timbre"),
    (["--augment", "reverb"], "reverb"),
])
def test_bad_flag_values_are_usage_errors(capsys, tmp_path, args, needle):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--train", "ravdess", "--corpus-dir", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and needle in err.splitlines()[-1]
    assert "Traceback" not in err


def test_report_path_that_is_a_folder_is_refused_before_the_run(capsys, tmp_path):
    (tmp_path / "reports").mkdir()
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--train", "ravdess", "--corpus-dir", str(tmp_path),
                  "--report", str(tmp_path / "reports")])
    assert exit_.value.code == 2 and "is a folder" in capsys.readouterr().err


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_failed_runs_leave_an_exported_model_intact(capsys, tmp_path, fake_corpora, shared_cache,
                                                    monkeypatch):
    good = ["--train", "ravdess", "--test", "emodb", "--corpus-dir", str(fake_corpora)]
    rc, _, _ = train(capsys, tmp_path, *good, cache=shared_cache)
    assert rc == 0
    before = snapshot(tmp_path / "model")
    assert set(before) == {"model.onnx", "model.json", "confusion.png"}

    # fails while loading data
    rc, _, err = train(capsys, tmp_path, *good, "--emotions", "angry,boredom", cache=shared_cache)
    assert rc == 1 and snapshot(tmp_path / "model") == before

    # fails at the very end: the ONNX check refuses the new model
    def refuse(*args, **kwargs):
        raise training.export.ExportError("ONNX export disagrees with scikit-learn (test)")

    monkeypatch.setattr(training.experts.functional, "check_agreement", refuse)
    rc, _, err = train(capsys, tmp_path, *good, "--models", "svc", cache=shared_cache)
    assert rc == 1 and "disagrees" in one_error_line(err)
    assert snapshot(tmp_path / "model") == before
    assert load_model(tmp_path / "model").card["classifier"]["name"] == "logreg"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
