"""Corpus folders that cannot be used fail with one clear error naming the folder."""

import pytest

from ccser_core.corpora import PARSERS, list_corpus
from ccser_core.errors import CorpusError


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_missing_folder_is_an_error_naming_it(tmp_path, name):
    with pytest.raises(CorpusError, match=str(tmp_path / "absent")):
        list_corpus(name, tmp_path / "absent")


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_a_file_instead_of_a_folder_is_an_error(tmp_path, name):
    path = tmp_path / "ravdess.zip"
    path.write_bytes(b"PK")
    with pytest.raises(CorpusError, match="ravdess.zip"):
        list_corpus(name, path)


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_folder_without_audio_is_an_error(tmp_path, name):
    root = tmp_path / name
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "03-01-05-01-01-01-01.mp3").write_bytes(b"\0")
    (root / "readme.txt").write_text("no audio here")
    with pytest.raises(CorpusError, match="no .wav or .flac"):
        list_corpus(name, root)


def test_upper_case_suffixes_count_as_audio(tmp_path, corpus_tree):
    root = corpus_tree(tmp_path / "emodb", ["03a01Wa.WAV", "03a01Ta.FLAC"])
    listing = list_corpus("emodb", root)
    assert sorted(u.emotion for u in listing.utterances) == ["angry", "sad"]


def test_listing_reports_its_emotions(tmp_path, corpus_tree):
    root = corpus_tree(tmp_path / "emodb", ["03a01Wa.wav", "03a02Wa.wav", "08a01Ta.wav"])
    assert list_corpus("emodb", root).emotions() == ("angry", "sad")
