"""The real corpora (skipped without $CCSER_CORPORA): official file and emotion counts."""

from collections import Counter

import pytest

from ccser_core.corpora import list_corpus

pytestmark = pytest.mark.corpora


def test_ravdess_speech_part(corpora_dir):
    listing = list_corpus("ravdess", corpora_dir / "ravdess")
    assert listing.problems == ()
    assert len(listing.utterances) == 1440
    assert len({u.speaker for u in listing.utterances}) == 24
    counts = Counter(u.emotion for u in listing.utterances)
    assert counts.pop("neutral") == 96
    assert set(counts.values()) == {192} and len(counts) == 7


def test_emodb(corpora_dir):
    listing = list_corpus("emodb", corpora_dir / "emodb")
    assert listing.problems == ()
    assert len(listing.utterances) == 535
    assert {u.speaker.split(":")[1] for u in listing.utterances} == {
        "03", "08", "09", "10", "11", "12", "13", "14", "15", "16"}
    assert Counter(u.emotion for u in listing.utterances) == {
        "angry": 127, "boredom": 81, "disgust": 46, "fear": 69, "happy": 71, "sad": 62,
        "neutral": 79}


def test_savee_flat_flac_files(corpora_dir):
    listing = list_corpus("savee", corpora_dir / "savee")
    assert listing.problems == ()
    assert len(listing.utterances) == 480
    assert {u.speaker for u in listing.utterances} == {f"savee:{s}" for s in ("DC", "JE", "JK", "KL")}
    counts = Counter(u.emotion for u in listing.utterances)
    assert counts.pop("neutral") == 120
    assert set(counts.values()) == {60} and len(counts) == 6


def test_casia_folder_layout(corpora_dir):
    listing = list_corpus("casia", corpora_dir / "casia")
    assert listing.problems == ()
    assert len(listing.utterances) == 1200
    assert len({u.speaker for u in listing.utterances}) == 4
    counts = Counter(u.emotion for u in listing.utterances)
    assert counts == {e: 200 for e in ("angry", "fear", "happy", "neutral", "sad", "surprise")}


def test_nemo_subset_with_its_data_tsv(corpora_dir):
    listing = list_corpus("nemo", corpora_dir / "nemo")
    assert listing.problems == ()
    assert len(listing.utterances) == 1514
    assert {u.speaker for u in listing.utterances} == {
        f"nemo:{s}" for s in ("EB0", "IC0", "KD0", "MK0", "KS0", "MP0", "SM0", "TP0", "WR0")}
    assert Counter(u.emotion for u in listing.utterances) == {
        "angry": 252, "fear": 251, "happy": 261, "neutral": 269, "sad": 257, "surprise": 224}
