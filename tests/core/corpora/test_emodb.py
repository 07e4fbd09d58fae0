"""EmoDB file names SSTTTEV: speaker SS, emotion letter E (German initials)."""

import pytest

from ccser_core.corpora import list_corpus
from ccser_core.errors import CorpusError

LETTERS = {"W": "angry", "L": "boredom", "E": "disgust", "A": "fear", "F": "happy",
           "T": "sad", "N": "neutral"}


def test_every_emotion_letter_is_read(tmp_path, corpus_tree):
    names = [f"wav/03a01{letter}a.wav" for letter in LETTERS]
    listing = list_corpus("emodb", corpus_tree(tmp_path / "emodb", names))
    assert listing.problems == ()
    got = {u.path.rsplit("/", 1)[1][5]: u.emotion for u in listing.utterances}
    assert got == LETTERS


def test_speaker_is_the_first_two_digits(tmp_path, corpus_tree):
    names = ["wav/03a01Wa.wav", "wav/16b10Lb.flac", "wav/03b02Nc.wav"]
    listing = list_corpus("emodb", corpus_tree(tmp_path / "emodb", names))
    assert sorted(u.speaker for u in listing.utterances) == ["emodb:03", "emodb:03", "emodb:16"]
    assert {u.corpus for u in listing.utterances} == {"emodb"}


def test_bad_names_are_reported_as_problems_naming_the_file(tmp_path, corpus_tree):
    bad = ["03a01Xa.wav", "3a01Wa.wav", "03a01wa.wav", "03a01Wa2.wav", "silence.wav"]
    root = corpus_tree(tmp_path / "emodb", ["03a01Wa.wav", *bad])
    listing = list_corpus("emodb", root)
    assert [u.emotion for u in listing.utterances] == ["angry"]
    assert len(listing.problems) == len(bad)
    for name in bad:
        assert sum(p.startswith(f"{root / name}:") for p in listing.problems) == 1, name
    assert any("'X'" in p for p in listing.problems)


def test_a_folder_of_only_bad_names_is_an_error_showing_the_first_problem(tmp_path,
                                                                           corpus_tree):
    root = corpus_tree(tmp_path / "emodb", ["recording.wav"])
    with pytest.raises(CorpusError, match="recording.wav"):
        list_corpus("emodb", root)
