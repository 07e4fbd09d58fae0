"""The model folder (model.onnx + model.json): written atomically, validated on load,
and every failure names the file at fault."""

import hashlib
import json
import os

import numpy as np
import pytest
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ccser_core.errors import ModelError
from ccser_core.features import FeatureConfig, feature_names, fingerprint
from ccser_core.model import CARD_NAME, ONNX_NAME, REQUIRED_KEYS, load_model, write_model_folder
from ccser_core.normalisation import Prior

CONFIG = FeatureConfig(groups=("mfcc", "spectral"), stats=("mean", "std"), n_mfcc=13)
N = len(feature_names(CONFIG))
EMOTIONS = ["neutral", "happy", "sad"]


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(len(EMOTIONS)), 30)
    X = (rng.standard_normal((len(y), N)) + y[:, None] * 0.8).astype(np.float32)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=500))])
    pipe.fit(X, y)
    onnx = convert_sklearn(pipe, initial_types=[("features", FloatTensorType([None, N]))],
                           options={id(pipe.named_steps["clf"]): {"zipmap": False}})
    return pipe, X, onnx.SerializeToString()


def make_card(**changes):
    prior = Prior(np.zeros(N), np.ones(N), 5.0)
    card = {
        "schema_version": 1, "model_id": "test-model", "emotions": EMOTIONS,
        "feature_config": CONFIG.to_dict(), "feature_fingerprint": fingerprint(CONFIG),
        "n_features": N, "sample_rate": 16000,
        "normalisation": {"method": "speaker", "prior": prior.to_dict()},
        "ccser_version": "0.1.0",
    }
    card.update(changes)
    return card


@pytest.fixture
def folder(tmp_path, trained):
    path = tmp_path / "models" / "m1"
    write_model_folder(path, trained[2], make_card())
    return path


def edit_card(folder, edit):
    card = json.loads((folder / CARD_NAME).read_text())
    edit(card)
    (folder / CARD_NAME).write_text(json.dumps(card))


def test_written_model_loads_and_predicts_like_sklearn(folder, trained):
    pipe, X, _ = trained
    model = load_model(folder)
    assert model.emotions == EMOTIONS and model.model_id == "test-model"
    assert model.feature_config == CONFIG
    proba = model.experts[0].predict_proba(X[:10])
    assert proba.shape == (10, 3)
    np.testing.assert_allclose(proba, pipe.predict_proba(X[:10]), atol=1e-4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert model.experts[0].predict_proba(X[0]).shape == (1, 3)


def test_the_prior_travels_with_the_model(folder):
    model = load_model(folder)
    prior = model.experts[0].prior
    assert prior.weight == 5.0 and prior.mean.shape == (N,)


def test_a_model_without_speaker_normalisation_has_no_prior(tmp_path, trained):
    write_model_folder(tmp_path / "m", trained[2], make_card(normalisation={"method": "none"}))
    model = load_model(tmp_path / "m")
    assert model.experts[0].prior is None


def test_the_card_gets_the_onnx_sha256(tmp_path, trained):
    write_model_folder(tmp_path / "m", trained[2], make_card(onnx_sha256="wrong"))
    card = json.loads((tmp_path / "m" / CARD_NAME).read_text())
    assert card["onnx_sha256"] == hashlib.sha256((tmp_path / "m" / ONNX_NAME).read_bytes()).hexdigest()


def test_rewriting_replaces_the_whole_folder_and_leaves_no_temp_folders(folder, trained):
    """A new model never sits next to the previous run's files (e.g. its confusion PNG)."""
    (folder / "confusion.png").write_bytes(b"old png")
    write_model_folder(folder, trained[2], make_card(model_id="second"),
                       files={"confusion.png": b"new png"})
    assert load_model(folder).model_id == "second"
    assert (folder / "confusion.png").read_bytes() == b"new png"
    write_model_folder(folder, trained[2], make_card(model_id="third"))
    assert sorted(p.name for p in folder.iterdir()) == [CARD_NAME, ONNX_NAME]
    assert [p.name for p in folder.parent.iterdir()] == ["m1"]


def test_missing_folder(tmp_path):
    with pytest.raises(ModelError, match="nowhere"):
        load_model(tmp_path / "nowhere")


@pytest.mark.parametrize("name", [CARD_NAME, ONNX_NAME])
def test_missing_file(folder, name):
    (folder / name).unlink()
    with pytest.raises(ModelError, match=name):
        load_model(folder)


@pytest.mark.parametrize("text", ["{not json", "", "\xff\xfe", "[1, 2]"])
def test_card_that_is_not_a_json_object(folder, text):
    (folder / CARD_NAME).write_bytes(text.encode("latin-1"))
    with pytest.raises(ModelError, match=CARD_NAME):
        load_model(folder)


@pytest.mark.parametrize("key", REQUIRED_KEYS)
def test_missing_key_is_named(folder, key):
    edit_card(folder, lambda card: card.pop(key))
    with pytest.raises(ModelError, match=CARD_NAME) as err:
        load_model(folder)
    assert key in str(err.value)


def test_changed_onnx_bytes_fail_the_sha256_check(folder):
    data = bytearray((folder / ONNX_NAME).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / ONNX_NAME).write_bytes(bytes(data))
    with pytest.raises(ModelError, match=f"{ONNX_NAME}.*sha256"):
        load_model(folder)


def test_corrupt_onnx_with_a_matching_sha256(folder):
    junk = b"this is not an onnx model" * 10
    (folder / ONNX_NAME).write_bytes(junk)
    edit_card(folder, lambda card: card.update(onnx_sha256=hashlib.sha256(junk).hexdigest()))
    with pytest.raises(ModelError, match=ONNX_NAME):
        load_model(folder)


def test_card_emotions_must_match_the_onnx_output_width(tmp_path, trained):
    write_model_folder(tmp_path / "m", trained[2], make_card(emotions=EMOTIONS + ["angry"]))
    with pytest.raises(ModelError, match=ONNX_NAME) as err:
        load_model(tmp_path / "m")
    assert "3" in str(err.value) and "4" in str(err.value)


def test_fingerprint_mismatch(tmp_path, trained):
    write_model_folder(tmp_path / "m", trained[2], make_card(feature_fingerprint="0123abcd"))
    with pytest.raises(ModelError, match=f"{CARD_NAME}.*fingerprint"):
        load_model(tmp_path / "m")


@pytest.mark.parametrize(("changes", "words"), [
    ({"n_features": N + 1}, "n_features"),
    ({"schema_version": 99}, "schema_version"),
    ({"emotions": ["neutral"]}, "emotions"),
    ({"normalisation": {"method": "global"}}, "normalisation"),
    ({"normalisation": {"method": "speaker"}}, "prior"),
    ({"normalisation": {"method": "speaker",
                        "prior": Prior(np.zeros(3), np.ones(3), 1.0).to_dict()}}, "prior"),
    ({"feature_config": {"groups": ["wavelets"]}}, "feature_config"),
])
def test_inconsistent_cards_are_refused_naming_the_card(folder, changes, words):
    edit_card(folder, lambda card: card.update(changes))
    with pytest.raises(ModelError, match=CARD_NAME) as err:
        load_model(folder)
    assert words in str(err.value)


def test_an_invalid_card_is_not_written(tmp_path, trained):
    with pytest.raises(ModelError, match="model_id"):
        write_model_folder(tmp_path / "m", trained[2],
                           {k: v for k, v in make_card().items() if k != "model_id"})
    assert not (tmp_path / "m").exists()
    assert list(tmp_path.iterdir()) == []


def _failing_replace(monkeypatch, fail_on_call):
    real, calls = os.replace, []

    def replace(src, dst):
        calls.append((src, dst))
        if len(calls) == fail_on_call:
            raise OSError("disk full")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize("fail_on_call", [1, 2], ids=["moving-old-aside", "moving-new-in"])
def test_a_failed_write_keeps_the_old_model_and_leaves_no_temp_folders(
        folder, trained, monkeypatch, fail_on_call):
    """Failing on the second os.replace (new folder into place) must move the old
    model back from .m1.old, not leave nothing at m1."""
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    _failing_replace(monkeypatch, fail_on_call)
    with pytest.raises(OSError, match="disk full"):
        write_model_folder(folder, trained[2], make_card(model_id="new"))
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert load_model(folder).model_id == "test-model"
    assert [p.name for p in folder.parent.iterdir()] == ["m1"]


def test_a_failed_first_write_leaves_nothing(tmp_path, trained, monkeypatch):
    _failing_replace(monkeypatch, 1)
    with pytest.raises(OSError):
        write_model_folder(tmp_path / "m", trained[2], make_card())
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []
