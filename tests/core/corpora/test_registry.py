"""ccser_core.corpora: where a corpus lives and which parser reads it."""

from pathlib import Path

import pytest

from ccser_core.corpora import licence, list_corpus, resolve_path
from ccser_core.errors import CorpusError


def test_built_in_corpora_live_under_the_corpus_dir(tmp_path):
    assert resolve_path("emodb", tmp_path, {}) == tmp_path / "emodb"


def test_overrides_win_for_built_in_and_other_corpora(tmp_path):
    overrides = {"emodb": tmp_path / "x", "mine": tmp_path / "mine.csv"}
    assert resolve_path("emodb", tmp_path / "dir", overrides) == tmp_path / "x"
    assert resolve_path("mine", None, overrides) == tmp_path / "mine.csv"


def test_unknown_corpus_names_are_an_error_naming_them_and_the_way_out(tmp_path):
    with pytest.raises(CorpusError) as err:
        resolve_path("crema", tmp_path, {})
    assert "'crema'" in str(err.value)
    assert "--corpus crema=" in str(err.value)


def test_built_in_corpus_without_a_folder_says_how_to_give_one():
    with pytest.raises(CorpusError, match="CCSER_CORPORA"):
        resolve_path("ravdess", None, {})


def test_unknown_corpus_that_is_not_a_csv_is_an_error(tmp_path):
    (tmp_path / "crema").mkdir()
    with pytest.raises(CorpusError, match="'crema'"):
        list_corpus("crema", tmp_path / "crema")


def test_licences_are_known_for_every_corpus():
    assert "CC BY-NC-SA" in licence("ravdess")
    assert "CC BY-NC-SA" in licence("nemo")
    assert licence("emodb") and licence("savee")
    assert "CSV" in licence("anything-else")


def test_csv_suffix_is_case_insensitive(tmp_path):
    csv = tmp_path / "LABELS.CSV"
    csv.write_text("path,emotion\na.wav,sad\nb.wav,angry\n")
    assert len(list_corpus("mine", Path(csv)).utterances) == 2
