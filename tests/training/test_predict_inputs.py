"""ccser-predict: folders stand for the audio files inside (sorted), every format the
loader reads is accepted and --help names them, and an edited card is refused in one
line before any file is read."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ccser_core.model import CARD_NAME
from training import cli, predict_cli


@pytest.fixture
def model(_session_store, fake_corpora, shared_cache) -> Path:
    """An AS model trained on the fake RAVDESS (built once per session)."""
    folder = _session_store["root"] / "predict_model"
    if not folder.is_dir():
        assert cli.main(["--train", "ravdess", "--emotions", "AS", "--models", "logreg",
                         "--folds", "2", "--jobs", "1", "--quiet", "--corpus-dir",
                         str(fake_corpora), "--cache-dir", str(shared_cache),
                         "--output", str(folder)]) == 0
    return folder


@pytest.fixture
def recordings(fake_corpora, tmp_path) -> Path:
    """A folder of EmoDB speaker 03's files as WAV, OGG and MP3, one level nested, with a
    text file that is not audio."""
    root = tmp_path / "recordings"
    (root / "more").mkdir(parents=True)
    sources = sorted((fake_corpora / "emodb" / "wav").glob("03*"))
    for src, dest in zip(sources, ["a.wav", "b.ogg", "more/c.mp3", "more/d.flac"], strict=False):
        y, sr = sf.read(str(src), dtype="float32")
        sf.write(str(root / dest), y, sr)
    (root / "notes.txt").write_text("not audio")
    return root


def test_a_folder_means_its_audio_files_in_sorted_order(model, recordings, capsys):
    assert predict_cli.main([str(recordings), "--model", str(model), "--json"]) == 0
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert [Path(r["path"]).relative_to(recordings).as_posix() for r in rows] == [
        "a.wav", "b.ogg", "more/c.mp3", "more/d.flac"]
    assert all(r["emotion"] in ("sad", "angry") for r in rows) and err == ""


def test_an_empty_folder_is_reported_and_other_inputs_still_run(model, recordings, tmp_path,
                                                                capsys):
    (tmp_path / "empty").mkdir()
    wav = recordings / "a.wav"
    assert predict_cli.main([str(tmp_path / "empty"), str(wav), "--model", str(model)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{wav}\t")
    assert err.strip() == f"ccser-predict: skipped: {tmp_path / 'empty'}: folder holds no " \
                          "audio files (*.wav, *.flac, *.ogg, *.oga, *.opus, *.mp3, *.aif, *.aiff)"


def test_help_names_the_formats_that_work(capsys):
    with pytest.raises(SystemExit):
        predict_cli.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for fmt in ("WAV", "FLAC", "OGG", "MP3", "AIFF"):
        assert fmt in text
    assert "WAV or FLAC files" not in text and "folder" in text


def test_an_edited_card_is_refused_in_one_line(model, recordings, tmp_path, capsys):
    folder = tmp_path / "edited"
    shutil.copytree(model, folder)
    card = json.loads((folder / CARD_NAME).read_text())
    card["emotions"].reverse()
    (folder / CARD_NAME).write_text(json.dumps(card))
    assert predict_cli.main([str(recordings), "--model", str(folder)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith(f"ccser-predict: error: {folder / CARD_NAME}: "
                                                   "emotions differs")


def silent_flac(path: Path, seconds: float, sr: int = 16000, channels: int = 1) -> Path:
    """Digital silence as FLAC: a few KB however long."""
    with sf.SoundFile(str(path), "w", sr, channels, subtype="PCM_16", format="FLAC") as fh:
        for _ in range(int(seconds // 10)):
            fh.write(np.zeros((sr * 10, channels), np.int16))
    return path


def test_a_file_past_max_duration_is_skipped_naming_its_length_the_limit_and_the_flag(
        model, recordings, tmp_path, capsys):
    long = silent_flac(tmp_path / "long.flac", 180)
    wav = recordings / "a.wav"
    assert predict_cli.main([str(long), str(wav), "--model", str(model)]) == 0
    out, err = capsys.readouterr()
    assert err == f"ccser-predict: skipped: {long}: 180.0 s long; the limit is 120 s " \
                  "(--max-duration raises it)\n"
    assert out.startswith(f"{wav}\t") and out.count("\n") == 1
    assert predict_cli.main([str(long), "--model", str(model), "--max-duration", "200"]) == 0
    assert capsys.readouterr().out == f"{long}\tno speech\n"


@pytest.mark.parametrize("value", ["0", "-5", "inf", "nan", "ten"])
def test_max_duration_must_be_a_positive_number_of_seconds(value, capsys):
    with pytest.raises(SystemExit) as exit_:
        predict_cli.main(["x.wav", "--max-duration", value])
    assert exit_.value.code == 2
    assert f"argument --max-duration: {value!r} is not a positive number of seconds" in \
        capsys.readouterr().err


def test_a_wav_whose_name_is_not_utf8_is_recognised_and_printed(model, recordings, tmp_path):
    folder = tmp_path / "latin1"
    folder.mkdir()
    named = folder / os.fsdecode(b"d\xe9j\xe0-vu.wav")  # Latin-1 bytes: not valid UTF-8
    shutil.copyfile(recordings / "a.wav", named)
    env = {**os.environ, "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": ""}
    run = subprocess.run([sys.executable, "-m", "training.predict_cli", str(folder),
                          "--model", str(model)], capture_output=True, env=env, check=False)
    assert run.returncode == 0 and b"skipped" not in run.stderr  # (onnxruntime may warn)
    path, emotion = run.stdout.decode("utf-8").split("\t")[:2]
    assert path == f"{folder}/d\\xe9j\\xe0-vu.wav" and emotion in ("sad", "angry")
