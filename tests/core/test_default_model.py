"""The shipped default model loads with this code (a feature change without a
rebuild would break its fingerprint) and carries the figures that justify it."""

from ccser_core.model import default_model_dir, load_model


def test_default_model_loads_and_matches_the_feature_code():
    model = load_model(default_model_dir())
    assert model.emotions == ["neutral", "happy", "sad", "angry"]
    assert model.streaming_normaliser() is not None


def test_default_model_card_records_cross_corpus_figures_and_licences():
    card = load_model(default_model_dir()).card
    figures = card["metrics"]["cross_corpus"]
    assert set(figures) == {"ravdess->emodb", "emodb->ravdess"}
    for block in figures.values():
        assert block["uar"] > block["chance_uar"] and "uar_streaming" in block
    assert {c["name"] for c in card["training"]["corpora"]} == {"ravdess", "emodb"}
    assert all(c["licence"] for c in card["training"]["corpora"])
