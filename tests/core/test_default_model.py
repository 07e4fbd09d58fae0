"""The shipped default model loads with this code (a feature change without a
rebuild would break its fingerprint) and carries the figures that justify it."""

from ccser_core.model import default_model_dir, load_model


def test_default_model_loads_and_matches_the_feature_code():
    model = load_model(default_model_dir())
    assert model.emotions == ["neutral", "happy", "sad", "angry"]
    assert model.experts[0].prior is not None


def test_default_model_card_records_cross_corpus_figures_and_licences():
    card = load_model(default_model_dir()).card
    figures = card["metrics"]["cross_corpus"]
    assert set(figures) == {"ravdess->emodb", "emodb->ravdess"}
    for block in figures.values():
        assert block["uar"] > block["chance_uar"] and "uar_streaming" in block
    assert {c["name"] for c in card["training"]["corpora"]} == {"ravdess", "emodb", "savee",
                                                                "casia", "nemo"}
    assert all(c["licence"] for c in card["training"]["corpora"])


def test_default_model_card_records_leave_one_corpus_out_per_session_kind():
    card = load_model(default_model_dir()).card
    loco = card["metrics"]["loco"]
    assert set(loco) == {"ravdess", "emodb", "savee", "casia", "nemo"}
    for corpus, block in loco.items():
        assert corpus not in block["train"] and len(block["train"]) == 4
        kinds = block["sessions"]
        assert {"balanced", "single", "cold", "worst"} <= set(kinds)
        assert kinds["worst"]["uar"] == min(v for k, v in kinds.items() if k != "worst")


def test_default_model_reads_prosody_anchored_to_its_prior_and_gates_non_speech():
    model = load_model(default_model_dir())
    prior = model.experts[0].prior
    assert prior.anchored and prior.n_inputs == model.card["n_features"] + len(prior.anchored)
    assert model.card["speech_gate"] == model.gate().to_dict()


def test_default_model_mixes_session_and_encoder_experts_by_evidence():
    """The default reads the hand-crafted features (session-normalised) and the packaged
    Whisper base encoder (absolute), whose provenance and licence the card names."""
    model = load_model(default_model_dir())
    assert [e.group for e in model.experts] == ["session", "absolute"]
    encoder = model.experts[1].block["encoder"]
    assert encoder["name"] == "whisper-base" and encoder["layer"] == 3
    assert len(encoder["sha256"]) == 64 and "MIT" in encoder["licence"]
    rule = model.trust_rule
    assert rule is not None and rule.weight(0, 1.0) == 0.0  # a cold start is absolute alone
