"""RAVDESS file names MM-VV-EE-II-SS-RR-AA: emotion from EE, speaker from the actor AA."""

from ccser_core.corpora import list_corpus
from ccser_core.corpora.ravdess import EMOTIONS


def test_every_emotion_code_of_speech_and_song_is_read(tmp_path, corpus_tree):
    names = [f"Actor_07/03-{vv}-{ee}-01-01-01-07.wav" for vv in ("01", "02") for ee in EMOTIONS]
    listing = list_corpus("ravdess", corpus_tree(tmp_path / "ravdess", names))
    assert listing.problems == ()
    assert len(listing.utterances) == 16
    by_name = {u.path.rsplit("/", 1)[1]: u.emotion for u in listing.utterances}
    assert by_name["03-01-01-01-01-01-07.wav"] == "neutral"
    assert by_name["03-02-02-01-01-01-07.wav"] == "calm"
    assert by_name["03-01-06-01-01-01-07.wav"] == "fear"
    assert by_name["03-02-08-01-01-01-07.wav"] == "surprise"
    assert set(by_name.values()) == set(EMOTIONS.values())


def test_speaker_is_the_actor_not_the_folder(tmp_path, corpus_tree):
    names = ["a/03-01-05-01-02-01-12.wav", "a/03-01-05-02-02-01-13.flac",
             "b/03-02-04-01-01-02-12.wav"]
    listing = list_corpus("ravdess", corpus_tree(tmp_path / "ravdess", names))
    speakers = {u.path.rsplit("/", 1)[1]: u.speaker for u in listing.utterances}
    assert speakers == {
        "03-01-05-01-02-01-12.wav": "ravdess:12",
        "03-01-05-02-02-01-13.flac": "ravdess:13",
        "03-02-04-01-01-02-12.wav": "ravdess:12",
    }
    assert all(u.corpus == "ravdess" for u in listing.utterances)


def test_bad_names_are_reported_as_problems_naming_the_file(tmp_path, corpus_tree):
    bad = ["03-01-05-01-02-01.wav", "03-01-09-01-01-01-01.wav", "03-03-05-01-01-01-01.wav",
           "notes.wav", "03-01-5-01-01-01-01.wav"]
    root = corpus_tree(tmp_path / "ravdess", ["03-01-05-01-01-01-01.wav", *bad])
    listing = list_corpus("ravdess", root)
    assert len(listing.utterances) == 1
    assert len(listing.problems) == len(bad)
    for name in bad:
        assert sum(p.startswith(f"{root / name}:") for p in listing.problems) == 1, name


def test_non_audio_files_are_ignored(tmp_path, corpus_tree):
    root = corpus_tree(tmp_path / "ravdess", ["03-01-05-01-01-01-01.wav"])
    (root / "README.txt").write_text("hello")
    (root / "03-01-05-01-01-01-02.mp4").write_bytes(b"\0")
    listing = list_corpus("ravdess", root)
    assert len(listing.utterances) == 1 and listing.problems == ()
