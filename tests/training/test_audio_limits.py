"""Decoded audio stays bounded wherever ccser reads files: ccser-predict and the
dashboard's recognition hold a 0.1 MB FLAC of 8 channels at 192 kHz without
holding its decoded samples, the dashboard shares one duration budget across the
files of a request, and ccser-train skips an over-long corpus file by name and
reads a corpus whose file names are not UTF-8."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from generated_audio import silent_flac

from ccser_core.audio import MAX_DURATION_S
from ccser_core.model import default_model_dir, load_model
from training import cli
from training.dashboard import routes

#: The working-rate mono waveform of a minute is 3.8 MB and its analysis ~230 MB;
#: decoding the bomb whole (8 x 192 kHz float32) held 740 MB more than that.
GROWTH_LIMIT_MB = 450


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    path = silent_flac(tmp_path_factory.mktemp("bomb") / "bomb.flac", 60, 192000, 8)
    assert path.stat().st_size < 200_000
    return path


def peak_growth_mb(setup: str, run: str) -> tuple[float, str]:
    """Peak RSS growth (MB) of a fresh interpreter while `run` executes after `setup`,
    and what `run` printed last."""
    probe = "\n".join(["import resource", setup,
                       "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss", run,
                       "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)"
                       " / 1024)"])
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    return float(out[-1]), "\n".join(out[:-1])


def test_the_dashboard_recognises_an_8_channel_192k_bomb_in_bounded_memory(bomb):
    growth, shown = peak_growth_mb(
        "from pathlib import Path\n"
        "from ccser_core.model import default_model_dir, load_model\n"
        "from training.dashboard.routes import recognise_files\n"
        "model = load_model(default_model_dir())",
        f"print(recognise_files(model, [Path({str(bomb)!r})], ['bomb.flac'], False)[0]"
        "['speech'])")
    assert shown == "False"  # silence: decoded, analysed, no speech
    assert growth < GROWTH_LIMIT_MB


def test_ccser_predict_reads_an_8_channel_192k_bomb_in_bounded_memory(bomb):
    growth, shown = peak_growth_mb(
        "from training import predict_cli",
        f"predict_cli.main([{str(bomb)!r}])")
    assert shown == f"{bomb}\tno speech"
    assert growth < GROWTH_LIMIT_MB


def test_the_files_of_one_dashboard_request_share_one_duration_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(routes, "MAX_DURATION_S", 4.0)  # per file
    monkeypatch.setattr(routes, "REQUEST_AUDIO_S", 10.0)  # per request
    seconds = [5, 4, 4, 2, 1]
    paths = [silent_flac(tmp_path / f"{i:03d}.flac", s) for i, s in enumerate(seconds)]
    names = [f"take {i}.flac" for i in range(len(paths))]
    out = routes.recognise_files(load_model(default_model_dir()), paths, names, False)
    assert out[0]["error"] == "take 0.flac: 5.0 s long; the limit is 4 s"
    assert [r.get("speech") for r in out[1:4]] == [False, False, False]  # 10 s: all read
    assert out[4]["error"] == "take 4.flac: 1.0 s long; the limit is 0 s " \
                              "(all files of one request share 10 s)"


BASE = ["--emotions", "AS", "--models", "logreg", "--folds", "2", "--jobs", "1", "--quiet"]


def test_ccser_train_skips_an_over_long_corpus_file_by_name(capsys, caplog, tmp_path,
                                                            copy_corpus):
    root = copy_corpus("ravdess")
    victim = next((root / "Actor_03").glob("03-01-05-*"))
    victim.unlink()
    long = silent_flac(victim.with_suffix(".flac"), MAX_DURATION_S + 30)
    rc = cli.main([*BASE, "--train", "ravdess", "--corpus", f"ravdess={root}", "--no-export",
                   "--cache-dir", str(tmp_path / "cache"), "--report", str(tmp_path / "r.json")])
    assert rc == 0 and "Traceback" not in capsys.readouterr().err
    assert json.loads((tmp_path / "r.json").read_text())["n_unreadable"] == {"ravdess": 1}
    assert f"{long}: {MAX_DURATION_S + 30:.1f} s long; the limit is {MAX_DURATION_S:g} s" \
        in caplog.text


def test_ccser_train_reads_a_corpus_whose_file_names_are_not_utf8(capsys, tmp_path,
                                                                  copy_corpus):
    root = copy_corpus("ravdess")
    n_files = len(list(root.rglob("03-*")))
    (root / "Actor_01").rename(root / os.fsdecode(b"Actor_01-caf\xe9"))  # Latin-1 bytes
    for _ in range(2):  # building the metadata cache, then reading it back
        rc = cli.main([*BASE, "--train", "ravdess", "--corpus", f"ravdess={root}",
                       "--no-export", "--cache-dir", str(tmp_path / "cache"),
                       "--report", str(tmp_path / "r.json")])
        assert rc == 0 and "Traceback" not in capsys.readouterr().err
        report = json.loads((tmp_path / "r.json").read_text())
        assert report["n_unreadable"] == {"ravdess": 0} and report["n_train"] == n_files
