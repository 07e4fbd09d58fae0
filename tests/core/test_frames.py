"""Frame-level descriptors for sequence models: shape, names, pitch columns, and one path
for a file and for the same samples arriving as a live window."""

from __future__ import annotations

import numpy as np
import pytest

from ccser_core.audio import load_audio
from ccser_core.features import FeatureConfig, frame_names, frames

SR = 16000


def test_shape_and_names(speech):
    config = FeatureConfig()
    F = frames(speech(SR, 2.0), SR, config)
    assert F.dtype == np.float32 and F.ndim == 2
    assert F.shape[1] == len(frame_names(config)) == 9 + config.n_mels + 3
    assert 150 <= F.shape[0] <= 1 + 2 * SR // config.hop_length
    assert np.isfinite(F).all()


def test_pitch_columns_follow_the_voice(speech):
    config = FeatureConfig(vad_trim=False)
    names = frame_names(config)
    st, voiced = names.index("pitch.f0_st"), names.index("pitch.voiced")
    low = frames(speech(SR, 1.5, f0=120.0), SR, config)
    high = frames(speech(SR, 1.5, f0=240.0), SR, config)
    assert low[:, voiced].mean() > 0.8
    # An octave up is 12 semitones up.
    assert np.median(high[:, st]) - np.median(low[:, st]) == pytest.approx(12, abs=0.7)


def test_no_voice_gives_zero_pitch(noise):
    config = FeatureConfig(vad_trim=False)
    F = frames(noise(SR, 1.0, amp=0.05), SR, config)
    names = frame_names(config)
    assert F[:, names.index("pitch.voiced")].sum() == 0
    assert np.all(F[:, names.index("pitch.f0_st")] == 0)


def test_tiny_input_still_gives_a_frame():
    F = frames(np.zeros(100, dtype=np.float32), SR, FeatureConfig())
    assert F.shape[0] >= 1 and np.isfinite(F).all()


def test_file_and_window_agree(tmp_path, speech, write_audio):
    """A file read from disk and the same samples handed over as a window give equal frames."""
    y = speech(SR, 1.2)
    path = write_audio(tmp_path / "a.wav", y, SR, subtype="FLOAT")
    config = FeatureConfig()
    np.testing.assert_array_equal(frames(load_audio(path, SR), SR, config),
                                  frames(y.copy(), SR, config))


def test_rate_must_match():
    with pytest.raises(ValueError, match="44100 Hz"):
        frames(np.zeros(1000, dtype=np.float32), 44100, FeatureConfig())
