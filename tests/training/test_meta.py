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


def test_a_relabelled_row_of_a_label_table_rebuilds_the_listing(tmp_path, emotional_speech,
                                                                 write_audio):
    """nEMO's labels live in data.tsv: editing a row, with no audio touched, is a change."""
    root = tmp_path / "nemo"
    for name in ("EB0_anger_1", "EB0_sadness_2"):
        write_audio(root / "samples" / f"{name}.wav", emotional_speech("angry", 16000, 0.5, 1),
                    16000)
    header = "file_id\temotion\traw_text\tnormalized_text\tspeaker_id\tgender\tage\n"
    table = root / "data.tsv"
    table.write_text(header + "EB0_anger_1.wav\tanger\ta\ta\tEB0\tfemale\t27\n"
                     "EB0_sadness_2.wav\tsadness\tb\tb\tEB0\tfemale\t27\n")
    cache = tmp_path / "cache"
    listing, _ = load_metadata("nemo", root, cache)
    assert sorted(u.emotion for u in listing.utterances) == ["angry", "sad"]
    table.write_text(table.read_text().replace("\tsadness\t", "\tneutral\t"))
    relabelled, rebuilt = load_metadata("nemo", root, cache)
    assert rebuilt and sorted(u.emotion for u in relabelled.utterances) == ["angry", "neutral"]
