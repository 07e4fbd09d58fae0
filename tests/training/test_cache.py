"""The feature cache: hits cost nothing, corrupt or half-written entries are never read,
and bad audio is skipped with a message naming the file."""

import json

import numpy as np
import pytest

from ccser_core.audio import load_audio
from ccser_core.features import FeatureConfig, extract
from training.cache import FeatureCache, extract_files

CONFIG = FeatureConfig()


@pytest.fixture
def files(tmp_path, emotional_speech, write_audio):
    return [str(write_audio(tmp_path / "audio" / f"{i}.wav",
                            emotional_speech(("angry", "sad")[i % 2], 16000, 1.0, i), 16000))
            for i in range(3)]


@pytest.fixture
def cache(tmp_path):
    return FeatureCache(tmp_path / "cache", CONFIG)


def entries(cache: FeatureCache) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in cache.root.rglob("*") if p.is_file()}


def test_second_extraction_is_served_from_the_cache(files, cache):
    first = extract_files(files, cache, quiet=True)
    assert first.n_extracted == 3 and first.ok.all() and first.errors == ()
    assert first.X.shape == (3, cache.dim) and first.X.dtype == np.float32
    before = entries(cache)
    assert len(before) == 6  # one .npy + one sidecar per file, no temp files left
    second = extract_files(files, cache, quiet=True)
    assert second.n_extracted == 0
    assert np.array_equal(first.X, second.X)
    assert entries(cache) == before


def test_cached_vector_equals_direct_extraction(files, cache):
    ex = extract_files(files[:1], cache, quiet=True)
    direct = extract(load_audio(files[0], CONFIG.sample_rate), CONFIG.sample_rate, CONFIG)
    assert np.allclose(ex.X[0], direct)


def test_changed_file_is_extracted_again(files, cache, emotional_speech, write_audio):
    extract_files(files, cache, quiet=True)
    write_audio(files[1], emotional_speech("angry", 16000, 1.3, 99), 16000)
    again = extract_files(files, cache, quiet=True)
    assert again.n_extracted == 1


def truncate_npy(npy, side):
    npy.write_bytes(npy.read_bytes()[:100])


def empty_npy(npy, side):
    npy.write_bytes(b"")


def drop_npy(npy, side):
    npy.unlink()


def drop_sidecar(npy, side):
    side.unlink()


def garbage_sidecar(npy, side):
    side.write_text("{half")


def list_sidecar(npy, side):
    side.write_text("[]")


def other_key_sidecar(npy, side):
    side.write_text(json.dumps({"key": "0" * 64}))


def wrong_shape(npy, side):
    np.save(npy, np.zeros(5, dtype=np.float32))


@pytest.mark.parametrize("damage", [truncate_npy, empty_npy, drop_npy, drop_sidecar,
                                    garbage_sidecar, list_sidecar, other_key_sidecar,
                                    wrong_shape])
def test_damaged_entry_is_ignored_and_recomputed(files, cache, damage):
    good = extract_files(files, cache, quiet=True)
    key = cache.key(files[0])
    npy, side = cache._paths(key)
    damage(npy, side)
    assert cache.get(key) is None
    again = extract_files(files, cache, quiet=True)
    assert again.n_extracted == 1
    assert np.array_equal(again.X, good.X)
    assert cache.get(key) is not None  # rewritten whole


def test_bad_audio_is_skipped_with_a_message_naming_the_file(files, cache, tmp_path):
    empty = tmp_path / "audio" / "empty.wav"
    empty.write_bytes(b"")
    garbage = tmp_path / "audio" / "garbage.flac"
    garbage.write_bytes(b"RIFF not really audio" * 20)
    missing = str(tmp_path / "audio" / "gone.wav")
    paths = [files[0], str(empty), files[1], str(garbage), missing, files[2]]
    ex = extract_files(paths, cache, quiet=True)
    assert ex.ok.tolist() == [True, False, True, False, False, True]
    assert ex.X.shape == (3, cache.dim)
    assert len(ex.errors) == 3
    for name in ("empty.wav", "garbage.flac", "gone.wav"):
        assert len([msg for msg in ex.errors if name in msg]) == 1
    assert all("\n" not in msg for msg in ex.errors)
    # failures are not cached: the next run tries them again and still reports them
    assert len(extract_files(paths, cache, quiet=True).errors) == 3
