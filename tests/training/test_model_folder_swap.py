"""The exported model folder: named in the user's emotion order, written whole (PNG
included) and swapped in with one rename, and honest about what an interrupt left."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

import ccser_core.model
import training.export
from ccser_core.model import load_model
from training import cli, predict_cli
from training.export import default_output

BASE = ["--models", "logreg", "--folds", "2", "--jobs", "1", "--quiet"]


def config(*args: str):
    return cli.config_from_args(cli.build_parser().parse_args(["--train", "ravdess", *args]))


@pytest.mark.parametrize(("emotions", "name"), [
    ("angry,sad", "ravdess_AS"), ("sad,angry", "ravdess_SA"), ("AHNS", "ravdess_AHNS"),
    ("AS", "ravdess_AS"), ("neutral,ps,fearful", "ravdess_NPF"),
])
def test_default_folder_keeps_the_emotion_order_the_user_gave(emotions, name):
    cfg = config("--emotions", emotions)
    assert default_output(cfg) == Path("exported_models") / name


def test_the_readme_commands_train_then_predict(fake_corpora, shared_cache, tmp_path, monkeypatch,
                                                capsys):
    """README: `ccser-train ... --emotions angry,sad` then
    `ccser-predict --model exported_models/ravdess_AS some.wav`."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--train", "ravdess", "--test", "emodb", "--emotions", "angry,sad",
                     "--corpus-dir", str(fake_corpora), "--cache-dir", str(shared_cache),
                     *BASE]) == 0
    assert "model: exported_models/ravdess_AS" in capsys.readouterr().out
    wav = sorted((fake_corpora / "emodb" / "wav").iterdir())[0]
    assert predict_cli.main(["--model", "exported_models/ravdess_AS", str(wav)]) == 0
    assert capsys.readouterr().out.startswith(str(wav))


def train(capsys, tmp_path: Path, fake_corpora: Path, cache: Path, *extra: str) -> tuple[int, str]:
    rc = cli.main(["--train", "ravdess", "--test", "emodb", "--emotions", "AS",
                   "--corpus-dir", str(fake_corpora), "--cache-dir", str(cache),
                   "--output", str(tmp_path / "model"), *BASE, *extra])
    return rc, capsys.readouterr().err


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_interrupt_before_the_swap_leaves_the_old_folder_whole(capsys, tmp_path, fake_corpora,
                                                               shared_cache, monkeypatch):
    """Ctrl-C while the PNG is drawn: the old model.json and old confusion.png, together."""
    assert train(capsys, tmp_path, fake_corpora, shared_cache)[0] == 0
    before = snapshot(tmp_path / "model")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training.export, "confusion_png", interrupted)
    rc, err = train(capsys, tmp_path, fake_corpora, shared_cache, "--models", "svc")
    assert rc == 130 and "existing models are intact" in err
    assert snapshot(tmp_path / "model") == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.fixture
def interactive_sigint():
    """SIGINT raises KeyboardInterrupt, as in a terminal; earlier tests in the same process
    (browser drivers, Dask clusters) may have left it ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_sigint_during_the_swap_finishes_it_cleans_up_and_says_so(capsys, tmp_path, fake_corpora,
                                                                  shared_cache, monkeypatch,
                                                                  interactive_sigint):
    """SIGINT right after the new folder is renamed into place: the swap and the removal
    of the old folder complete, the folder is wholly the new model, and the message
    does not claim the old one is intact."""
    assert train(capsys, tmp_path, fake_corpora, shared_cache)[0] == 0
    old = snapshot(tmp_path / "model")
    folder = tmp_path / "model"
    real = os.replace

    def replace(src, dst):
        real(src, dst)
        if Path(dst) == folder:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(ccser_core.model.os, "replace", replace)
    rc, err = train(capsys, tmp_path, fake_corpora, shared_cache, "--models", "svc")
    monkeypatch.undo()
    assert rc == 130
    assert "holds this run's complete new model" in err and "existing models are intact" not in err
    new = snapshot(folder)
    assert set(new) == {"model.json", "model.onnx", "confusion.png"}
    assert new["confusion.png"] != old["confusion.png"]  # the new run's PNG (title names svc)
    assert load_model(folder).card["classifier"]["name"] == "svc"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_folder_that_is_not_a_model_is_never_replaced(capsys, tmp_path, fake_corpora,
                                                        shared_cache):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "notes.txt").write_text("mine")
    rc, err = train(capsys, tmp_path, fake_corpora, shared_cache)
    assert rc == 1 and "is not a model folder" in err
    assert snapshot(tmp_path / "model") == {"notes.txt": b"mine"}


def test_leftovers_of_a_killed_writer_are_cleaned_up(capsys, tmp_path, fake_corpora,
                                                     shared_cache):
    (tmp_path / ".model.new-abc123").mkdir()
    (tmp_path / ".model.new-abc123" / "model.json").write_text("{}")
    assert train(capsys, tmp_path, fake_corpora, shared_cache)[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
