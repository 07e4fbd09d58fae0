"""The metadata CSV cache: reused while the corpus folder is unchanged, rebuilt when
a file is added or changed, and rebuilt rather than read when it is damaged."""

from training.meta import load_metadata


def test_metadata_is_cached_and_rebuilt_when_a_file_is_added(copy_corpus, tmp_path,
                                                              emotional_speech, write_audio):
    root = copy_corpus("ravdess")
    cache = tmp_path / "cache"
    listing, rebuilt = load_metadata("ravdess", root, cache)
    assert rebuilt and len(listing.utterances) == 24
    again, rebuilt = load_metadata("ravdess", root, cache)
    assert not rebuilt and again == listing
    new = write_audio(root / "Actor_05" / "03-01-05-01-01-01-05.wav",
                      emotional_speech("angry", 16000, 1.0, 7), 16000)
    grown, rebuilt = load_metadata("ravdess", root, cache)
    assert rebuilt and len(grown.utterances) == 25
    assert {u.speaker for u in grown.utterances if u.path == str(new)} == {"ravdess:05"}


def test_problems_survive_the_cache(copy_corpus, tmp_path):
    root = copy_corpus("ravdess")
    (root / "Actor_01" / "notes.wav").write_bytes(b"")
    first, _ = load_metadata("ravdess", root, tmp_path / "cache")
    cached, rebuilt = load_metadata("ravdess", root, tmp_path / "cache")
    assert not rebuilt
    assert cached.problems == first.problems and "notes.wav" in cached.problems[0]


def test_damaged_metadata_cache_is_rebuilt(copy_corpus, tmp_path):
    root = copy_corpus("emodb")
    cache = tmp_path / "cache"
    listing, _ = load_metadata("emodb", root, cache)
    (side,) = (cache / "meta").glob("emodb-*.json")
    side.write_text("{not json")
    again, rebuilt = load_metadata("emodb", root, cache)
    assert rebuilt and again == listing
