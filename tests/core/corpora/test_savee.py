"""SAVEE: speaker from the AudioData/<SPK>/ folder or the <SPK>_ name prefix."""

from ccser_core.corpora import list_corpus

CODES = {"a": "angry", "d": "disgust", "f": "fear", "h": "happy", "n": "neutral",
         "sa": "sad", "su": "surprise"}


def _by_file(listing):
    return {u.path.split("savee/", 1)[1]: (u.emotion, u.speaker) for u in listing.utterances}


def test_original_nested_layout(tmp_path, corpus_tree):
    names = [f"AudioData/{spk}/{code}01.wav" for spk in ("DC", "KL") for code in CODES]
    listing = list_corpus("savee", corpus_tree(tmp_path / "savee", names))
    assert listing.problems == ()
    got = _by_file(listing)
    assert len(got) == 14
    assert got["AudioData/DC/sa01.wav"] == ("sad", "savee:DC")
    assert got["AudioData/KL/su01.wav"] == ("surprise", "savee:KL")
    assert got["AudioData/KL/a01.wav"] == ("angry", "savee:KL")
    assert {e for e, _ in got.values()} == set(CODES.values())


def test_flat_layout(tmp_path, corpus_tree):
    names = [f"ALL/{spk}_{code}{n:02d}.wav" for spk in ("JE", "JK") for code in CODES
             for n in (1, 15)]
    listing = list_corpus("savee", corpus_tree(tmp_path / "savee", names))
    assert listing.problems == ()
    got = _by_file(listing)
    assert len(got) == 28
    assert got["ALL/JE_su15.wav"] == ("surprise", "savee:JE")
    assert got["ALL/JK_sa01.wav"] == ("sad", "savee:JK")
    assert got["ALL/JK_h15.wav"] == ("happy", "savee:JK")


def test_bad_names_are_reported_as_problems_naming_the_file(tmp_path, corpus_tree):
    bad = ["AudioData/XY/a01.wav", "AudioData/DC/x01.wav", "AudioData/DC/a.wav",
           "ALL/ZZ_a01.wav", "ALL/DC-a01.wav", "a01.wav"]
    root = corpus_tree(tmp_path / "savee", ["AudioData/DC/n01.wav", *bad])
    listing = list_corpus("savee", root)
    assert [u.emotion for u in listing.utterances] == ["neutral"]
    assert len(listing.problems) == len(bad)
    for name in bad:
        assert sum(p.startswith(f"{root / name}:") for p in listing.problems) == 1, name
