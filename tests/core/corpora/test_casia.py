"""CASIA: speaker and emotion from `<speaker>/<emotion>/` folders, also one level deeper."""

from ccser_core.corpora import list_corpus

EMOTIONS = ("angry", "fear", "happy", "neutral", "sad", "surprise")


def test_folder_layout_gives_speaker_and_emotion(tmp_path, corpus_tree):
    names = [f"{spk}/{emo}/{n}.wav" for spk in ("liuchanhg", "wangzhe") for emo in EMOTIONS
             for n in (201, 202)]
    listing = list_corpus("casia", corpus_tree(tmp_path / "casia", names))
    assert listing.problems == ()
    assert len(listing.utterances) == 24
    got = {u.path.split("casia/", 1)[1]: (u.emotion, u.speaker) for u in listing.utterances}
    assert got["wangzhe/surprise/202.wav"] == ("surprise", "casia:wangzhe")
    assert got["liuchanhg/sad/201.wav"] == ("sad", "casia:liuchanhg")


def test_nested_one_level_deeper_and_flac(tmp_path, corpus_tree):
    names = [f"CASIA/{spk}/{emo}/201.flac" for spk in ("ZhaoZuoxiang", "zhaoquanyin")
             for emo in EMOTIONS]
    listing = list_corpus("casia", corpus_tree(tmp_path / "casia", names))
    assert listing.problems == ()
    assert {u.speaker for u in listing.utterances} == {"casia:ZhaoZuoxiang", "casia:zhaoquanyin"}
    assert {u.emotion for u in listing.utterances} == set(EMOTIONS)


def test_files_outside_the_layout_are_problems_naming_the_file(tmp_path, corpus_tree):
    bad = ["stray.wav", "wangzhe/bored/201.wav", "a/b/c/angry/201.wav"]
    root = corpus_tree(tmp_path / "casia", ["wangzhe/angry/201.wav", *bad])
    listing = list_corpus("casia", root)
    assert [u.emotion for u in listing.utterances] == ["angry"]
    assert len(listing.problems) == 3
    for name in bad:
        assert sum(p.startswith(f"{root / name}:") for p in listing.problems) == 1, name
