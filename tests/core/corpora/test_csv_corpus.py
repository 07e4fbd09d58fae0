"""Generic corpora described by a CSV path,emotion[,speaker]: how users add any corpus."""

import pytest

from ccser_core.corpora import list_corpus
from ccser_core.errors import CorpusError


def _csv(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_relative_paths_resolve_against_the_csv_folder(tmp_path, monkeypatch, corpus_tree):
    root = corpus_tree(tmp_path / "mine", ["audio/one.wav", "audio/two.flac"])
    csv = _csv(root / "labels.csv", "path,emotion,speaker\naudio/one.wav,angry,s1\n"
                                    "audio/two.flac,sad,s2\n")
    monkeypatch.chdir(tmp_path)  # not the CSV's folder
    listing = list_corpus("mine", csv)
    assert [u.path for u in listing.utterances] == [str(root / "audio/one.wav"),
                                                    str(root / "audio/two.flac")]
    assert [u.emotion for u in listing.utterances] == ["angry", "sad"]
    assert all(u.corpus == "mine" for u in listing.utterances)


def test_absolute_paths_are_kept(tmp_path, corpus_tree):
    root = corpus_tree(tmp_path / "elsewhere", ["x.wav"])
    csv = _csv(tmp_path / "c/labels.csv", f"path,emotion\n{root / 'x.wav'},happy\n"
                                          f"{root / 'x.wav'},sad\n")
    listing = list_corpus("c", csv)
    assert {u.path for u in listing.utterances} == {str(root / "x.wav")}


def test_aliases_header_case_spaces_and_bom_are_accepted(tmp_path):
    csv = tmp_path / "labels.csv"
    csv.write_text("\ufeff Path , EMOTION ,Speaker\n"
                   "a.wav,Anger,1\nb.wav,fearful,1\nc.wav, pleasant surprise ,2\n"
                   "d.wav,happiness,2\ne.wav,sadness,2\nf.wav,anxiety,2\ng.wav,ps,2\n",
                   encoding="utf-8")
    listing = list_corpus("c", csv)
    assert [u.emotion for u in listing.utterances] == [
        "angry", "fear", "surprise", "happy", "sad", "fear", "surprise"]


def test_speakers_are_kept_apart_per_corpus(tmp_path):
    a = _csv(tmp_path / "a/l.csv", "path,emotion,speaker\nx.wav,sad,1\ny.wav,angry,2\n")
    b = _csv(tmp_path / "b/l.csv", "path,emotion,speaker\nx.wav,sad,1\n")
    speakers_a = {u.speaker for u in list_corpus("a", a).utterances}
    speakers_b = {u.speaker for u in list_corpus("b", b).utterances}
    assert len(speakers_a) == 2
    assert not speakers_a & speakers_b


def test_no_speaker_column_puts_the_whole_corpus_in_one_group(tmp_path):
    csv = _csv(tmp_path / "l.csv", "path,emotion\na.wav,sad\nb.wav,angry\nc.wav,neutral\n")
    listing = list_corpus("c", csv)
    assert len(listing.utterances) == 3
    assert len({u.speaker for u in listing.utterances}) == 1


@pytest.mark.parametrize(("header", "missing"), [("file,emotion", "path"),
                                                 ("path,label,speaker", "emotion"),
                                                 ("", "path")])
def test_missing_columns_name_the_csv_and_the_column(tmp_path, header, missing):
    csv = _csv(tmp_path / "labels.csv", f"{header}\n" + ("a.wav,sad\n" if header else ""))
    with pytest.raises(CorpusError) as err:
        list_corpus("c", csv)
    assert str(csv) in str(err.value)
    assert missing in str(err.value)


def test_unknown_emotions_name_the_csv_line_and_value(tmp_path):
    csv = _csv(tmp_path / "labels.csv",
               "path,emotion\na.wav,sad\nb.wav,angry\nc.wav,grumpy\nd.wav,sad\n")
    with pytest.raises(CorpusError) as err:
        list_corpus("c", csv)
    message = str(err.value)
    assert str(csv) in message
    assert "line 4" in message
    assert "grumpy" in message


def test_rows_without_a_path_are_problems_naming_the_line(tmp_path):
    csv = _csv(tmp_path / "labels.csv", "path,emotion\na.wav,sad\n,angry\nb.wav,angry\n")
    listing = list_corpus("c", csv)
    assert len(listing.utterances) == 2
    assert listing.problems == (f"{csv}:3: empty path",)


def test_missing_csv_is_an_error_naming_it(tmp_path):
    csv = tmp_path / "nope.csv"
    with pytest.raises(CorpusError, match="nope.csv"):
        list_corpus("c", csv)


def test_csv_with_only_a_header_is_an_error(tmp_path):
    csv = _csv(tmp_path / "labels.csv", "path,emotion\n")
    with pytest.raises(CorpusError, match="no usable files"):
        list_corpus("c", csv)
