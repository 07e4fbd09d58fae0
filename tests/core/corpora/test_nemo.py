"""nEMO: labels from data.tsv (padded speaker ids, CRLF), audio matched by name whatever
its extension; missing files, bad rows and unlisted files are problems naming the line."""

import pytest

from ccser_core.corpora import list_corpus
from ccser_core.corpora.nemo import EMOTIONS
from ccser_core.errors import CorpusError

HEADER = "file_id\temotion\traw_text\tnormalized_text\tspeaker_id\tgender\tage"


def _row(file_id, emotion, speaker="        EB0", text="Zażółć gęślą jaźń."):
    return f"{file_id}\t{emotion}\t{text}\t{text.lower()}\t{speaker}\tfemale\t27"


def _tsv(path, rows, header=HEADER):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode("utf-8"))
    return path


def _by_file(listing):
    return {u.path.rsplit("/", 1)[1]: (u.emotion, u.speaker) for u in listing.utterances}


def test_every_emotion_with_padded_speaker_ids_and_either_extension(tmp_path, corpus_tree):
    names = [f"samples/KS0_{emo}_{n}.{ext}" for emo in EMOTIONS for n, ext in ((1, "wav"), (2, "flac"))]
    root = corpus_tree(tmp_path / "nemo", names)
    # The original lists .wav files; here half of the audio is .flac.
    _tsv(root / "data.tsv", [_row(f"KS0_{emo}_{n}.wav", emo, "        KS0")
                             for emo in EMOTIONS for n in (1, 2)])
    listing = list_corpus("nemo", root)
    assert listing.problems == ()
    got = _by_file(listing)
    assert len(got) == 12
    assert got["KS0_anger_2.flac"] == ("angry", "nemo:KS0")
    assert got["KS0_happiness_1.wav"] == ("happy", "nemo:KS0")
    assert got["KS0_surprised_2.flac"] == ("surprise", "nemo:KS0")
    assert {e for e, _ in got.values()} == {"angry", "fear", "happy", "neutral", "sad", "surprise"}
    assert {u.corpus for u in listing.utterances} == {"nemo"}


def test_empty_speaker_id_falls_back_to_the_file_name_prefix(tmp_path, corpus_tree):
    root = corpus_tree(tmp_path / "nemo", ["samples/MK0_fear_3.wav", "samples/WR0_fear_3.wav"])
    _tsv(root / "data.tsv", [_row("MK0_fear_3.wav", "fear", "   "),
                             _row("WR0_fear_3.wav", "fear", "WR0")])
    assert {u.speaker for u in list_corpus("nemo", root).utterances} == {"nemo:MK0", "nemo:WR0"}


def test_bad_rows_and_unlisted_files_are_problems_naming_them(tmp_path, corpus_tree):
    root = corpus_tree(tmp_path / "nemo", ["samples/EB0_anger_1.wav", "samples/EB0_fear_1.wav",
                                           "samples/EB0_anger_9.wav", "samples/stray.wav"])
    tsv = _tsv(root / "data.tsv", [
        _row("EB0_anger_1.wav", "anger"),          # line 2: fine
        _row("EB0_sadness_7.wav", "sadness"),      # line 3: file missing
        _row("EB0_fear_1.wav", "boredom"),         # line 4: not a nEMO emotion
        "EB0_anger_9.wav\tanger",                  # line 5: truncated row
        _row("EB0_anger_1.wav", "anger"),          # line 6: listed again
    ])
    listing = list_corpus("nemo", root)
    assert _by_file(listing) == {"EB0_anger_1.wav": ("angry", "nemo:EB0")}
    assert len(listing.problems) == 6
    for line, word in ((3, "not found"), (4, "'boredom'"), (5, "malformed"), (6, "again")):
        hits = [p for p in listing.problems if p.startswith(f"{tsv}:{line}:")]
        assert len(hits) == 1 and word in hits[0], (line, listing.problems)
    for name in ("EB0_anger_9.wav", "stray.wav"):
        assert f"{root / 'samples' / name}: not listed in {tsv}" in listing.problems


def test_text_that_is_not_utf8_does_not_lose_the_row(tmp_path, corpus_tree):
    root = corpus_tree(tmp_path / "nemo", ["samples/TP0_neutral_5.flac"])
    tsv = root / "data.tsv"
    tsv.write_bytes(HEADER.encode() + b"\nTP0_neutral_5.wav\tneutral\tZa\xbf\xf3\xb3\xe6\t-\tTP0\tmale\t30\n")
    listing = list_corpus("nemo", root)
    assert listing.problems == ()
    assert _by_file(listing) == {"TP0_neutral_5.flac": ("neutral", "nemo:TP0")}


def test_a_copy_nested_one_folder_deeper_is_found(tmp_path, corpus_tree):
    root = corpus_tree(tmp_path / "nemo", ["nEMO/samples/SM0_sadness_4.wav"])
    _tsv(root / "nEMO/data.tsv", [_row("SM0_sadness_4.wav", "sadness", " SM0")])
    assert _by_file(list_corpus("nemo", root)) == {"SM0_sadness_4.wav": ("sad", "nemo:SM0")}


def test_audio_without_data_tsv_is_an_error_naming_the_folder(tmp_path, corpus_tree):
    root = corpus_tree(tmp_path / "nemo", ["samples/EB0_anger_1.wav"])
    with pytest.raises(CorpusError, match=f"data.tsv under {root}"):
        list_corpus("nemo", root)


def test_a_tsv_without_the_label_columns_is_an_error_naming_it(tmp_path, corpus_tree):
    root = corpus_tree(tmp_path / "nemo", ["samples/EB0_anger_1.wav"])
    tsv = _tsv(root / "data.tsv", ["EB0_anger_1.wav\tanger"], header="file\tlabel")
    with pytest.raises(CorpusError) as err:
        list_corpus("nemo", root)
    assert str(tsv) in str(err.value) and "speaker_id" in str(err.value)


def test_rows_that_all_miss_their_files_are_an_error_showing_the_first(tmp_path, corpus_tree):
    root = corpus_tree(tmp_path / "nemo", ["samples/other.wav"])
    _tsv(root / "data.tsv", [_row("EB0_anger_1.wav", "anger")])
    with pytest.raises(CorpusError, match="no usable files.*EB0_anger_1"):
        list_corpus("nemo", root)
