"""The card (model.json) is integrity-checked: a JSON Schema for every field that
changes a prediction, lengths tied to n_features, a size cap, and a digest in
model.onnx that refuses a card edited after export (e.g. emotions reordered).
Every refusal is one ModelError line naming the file and the field."""

import dataclasses
import hashlib
import json

import numpy as np
import pytest
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ccser_core.card import DIGEST_KEY, MAX_CARD_BYTES, card_schema
from ccser_core.errors import ModelError
from ccser_core.features import FeatureConfig, feature_names, fingerprint
from ccser_core.model import CARD_NAME, NORMALISATIONS, ONNX_NAME, load_model, write_model_folder
from ccser_core.normalisation import Prior
from ccser_core.vad import VadConfig

CONFIG = FeatureConfig(groups=("spectral",), stats=("mean", "std"))
N = len(feature_names(CONFIG))
EMOTIONS = ["neutral", "sad", "angry"]


@pytest.fixture(scope="module")
def onnx_bytes():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(len(EMOTIONS)), 30)
    X = (rng.standard_normal((len(y), N)) + y[:, None] * 1.5).astype(np.float32)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=500))])
    pipe.fit(X, y)
    onx = convert_sklearn(pipe, initial_types=[("features", FloatTensorType([None, N]))],
                          options={id(pipe.named_steps["clf"]): {"zipmap": False}})
    return onx.SerializeToString()


def make_card(**changes):
    rng = np.random.default_rng(1)
    card = {
        "schema_version": 1, "model_id": "card-test", "emotions": EMOTIONS,
        "feature_config": CONFIG.to_dict(), "feature_fingerprint": fingerprint(CONFIG),
        "n_features": N, "sample_rate": 16000,
        "normalisation": {"method": "speaker",
                          "prior": Prior(rng.normal(size=N), rng.uniform(0.5, 2, N), 2.0).to_dict()},
        "ccser_version": "0.1.0", "metrics": {"cv_uar": 0.7}, "training": {"corpora": []},
    }
    card.update(changes)
    return card


@pytest.fixture
def folder(tmp_path, onnx_bytes):
    path = tmp_path / "m"
    write_model_folder(path, onnx_bytes, make_card())
    return path


def edit(folder, change):
    card = json.loads((folder / CARD_NAME).read_text())
    change(card)
    (folder / CARD_NAME).write_text(json.dumps(card))


def refusal(folder) -> str:
    with pytest.raises(ModelError) as err:
        load_model(folder)
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(folder / CARD_NAME)), message
    return message


def test_reversed_emotions_are_refused_naming_both_orders(folder):
    edit(folder, lambda c: c["emotions"].reverse())
    message = refusal(folder)
    assert "emotions" in message
    assert "neutral, sad, angry" in message and "angry, sad, neutral" in message


@pytest.mark.parametrize(("change", "field"), [
    (lambda c: c["normalisation"]["prior"]["var"].pop(),
     f"n_features {N} but normalisation.prior.var has {N - 1} values"),
    (lambda c: c["normalisation"]["prior"]["mean"].append(0.0), f"normalisation.prior.mean has {N + 1}"),
    (lambda c: c["emotions"].__setitem__(1, 7), "emotions[1]: must be a string"),
    (lambda c: c.update(emotions=["sad", "sad", "angry"]), "emotions: lists an item more"),
    (lambda c: c.update(feature_config=[]), "feature_config: must be an object"),
    (lambda c: c["feature_config"].pop("n_fft"), "feature_config: missing key(s) n_fft"),
    (lambda c: c["feature_config"]["vad"].update(frame_ms=25), "feature_config.vad.frame_ms"),
    (lambda c: c["normalisation"].update(prior="x"), "normalisation.prior: must be an object"),
    (lambda c: c["normalisation"]["prior"].pop("var"), "normalisation.prior: missing key(s) var"),
    (lambda c: c["normalisation"]["prior"].update(weight="2"), "normalisation.prior.weight"),
    (lambda c: c["normalisation"]["prior"]["var"].__setitem__(3, -1.0),
     "normalisation.prior.var[3]"),
    (lambda c: c.update(n_features="many"), "n_features: must be an integer"),
    (lambda c: c.update(sample_rate=True), "sample_rate: must be an integer"),
    (lambda c: c.update(emotion_order=[2, 1, 0]), "unknown key(s) emotion_order"),
    (lambda c: c.update(speech_gate={"min_voiced_s": "0.3"}), "speech_gate.min_voiced_s"),
    (lambda c: c.update(schema_version=2), "schema_version: must be 1"),
])
def test_bad_prediction_fields_are_refused_naming_the_field(folder, change, field):
    edit(folder, change)
    assert field in refusal(folder)


def test_non_finite_prior_values_are_named(folder):
    text = (folder / CARD_NAME).read_text()
    card = json.loads(text)
    card["normalisation"]["prior"]["mean"][5] = float("nan")  # json.dumps writes NaN
    (folder / CARD_NAME).write_text(json.dumps(card))
    assert "normalisation.prior.mean[5]" in refusal(folder)


def test_a_deeply_nested_card_is_one_line(folder):
    card = (folder / CARD_NAME).read_text()
    deep = "[" * 200_000 + "]" * 200_000
    (folder / CARD_NAME).write_text(card.replace('"metrics": {', f'"deep": {deep}, "metrics": {{'))
    assert "nested too deeply" in refusal(folder)


def test_a_huge_card_is_refused_without_reading_it_whole(folder):
    with (folder / CARD_NAME).open("r+b") as fh:
        fh.truncate(250 * 1024 * 1024)  # sparse: costs no disk
    assert f"larger than {MAX_CARD_BYTES >> 20} MiB" in refusal(folder)


def test_any_edit_of_a_prediction_field_breaks_the_tie_to_the_onnx(folder):
    edit(folder, lambda c: c["normalisation"]["prior"]["mean"].__setitem__(0, 123.0))
    assert "normalisation differs from the one model.onnx was exported with" in refusal(folder)


def test_a_speech_gate_added_after_export_is_refused(folder):
    edit(folder, lambda c: c.update(speech_gate={"min_voiced_s": 0.3}))
    assert "speech_gate differs" in refusal(folder)


def test_descriptive_blocks_stay_open(tmp_path, onnx_bytes):
    card = make_card(speech_gate={"min_voiced_s": 0.25, "min_rms_db": -50.0})
    card["normalisation"]["rule"] = {"name": "speaker_z", "context": "session"}
    write_model_folder(tmp_path / "m", onnx_bytes, card)
    edit(tmp_path / "m", lambda c: (c.update(model_id="renamed", build_command="x"),
                                    c["metrics"].update(loco={"uar": 0.5}, sessions=[1, 2]),
                                    c["training"].update(note="free text")))
    model = load_model(tmp_path / "m")
    assert model.model_id == "renamed" and model.card["speech_gate"]["min_voiced_s"] == 0.25


def test_an_onnx_file_without_the_digest_is_refused(tmp_path, onnx_bytes):
    folder = tmp_path / "m"
    write_model_folder(folder, onnx_bytes, make_card())
    (folder / ONNX_NAME).write_bytes(onnx_bytes)  # the untagged export, as a hand-made folder
    edit(folder, lambda c: c.update(onnx_sha256=hashlib.sha256(onnx_bytes).hexdigest()))
    with pytest.raises(ModelError, match=f"{ONNX_NAME}: carries no digest of its card"):
        load_model(folder)


def test_the_digest_lives_in_the_onnx_metadata(folder):
    meta = load_model(folder).experts[0].session.get_modelmeta().custom_metadata_map
    assert set(json.loads(meta[DIGEST_KEY])) == {
        "emotions", "feature_config", "feature_fingerprint", "n_features", "sample_rate",
        "normalisation"}


def test_an_invalid_card_is_not_written(tmp_path, onnx_bytes):
    with pytest.raises(ModelError, match=r"emotions\[0\]"):
        write_model_folder(tmp_path / "m", onnx_bytes, make_card(emotions=[None, "sad", "angry"]))
    assert list(tmp_path.iterdir()) == []


def test_the_schema_follows_the_config_dataclasses():
    defs = card_schema()["$defs"]
    fc = defs["feature_config"]
    assert set(fc["properties"]) == set(fc["required"]) == {f.name for f in
                                                          dataclasses.fields(FeatureConfig)}
    vad = fc["properties"]["vad"]
    assert set(vad["properties"]) == {f.name for f in dataclasses.fields(VadConfig)}
    assert NORMALISATIONS == ("speaker", "none")
