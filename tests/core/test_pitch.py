"""pitch_track: F0 and periodicity per frame, used for prosody and voice quality."""

import librosa
import numpy as np
import pytest

from ccser_core.pitch import pitch_track


@pytest.mark.parametrize("f0", [100.0, 200.0, 300.0])
@pytest.mark.parametrize("sr", [8000, 16000, 44100])
def test_f0_of_harmonic_signals_within_2_percent(speech, sr, f0):
    y = speech(sr, 0.6, f0=f0, glide=0.0, am=0.3)
    hop = sr // 100
    track, periodicity = pitch_track(y, sr, hop)
    middle = slice(5, -5)  # frames away from the zero-padded edges
    assert np.all(np.abs(track[middle] / f0 - 1) < 0.02)
    assert np.median(periodicity[middle]) > 0.9


@pytest.mark.parametrize("f0", [100.0, 200.0, 300.0])
def test_pure_tones_are_tracked_too(tone, f0):
    track, periodicity = pitch_track(tone(f0, 16000, 0.5), 16000, 160)
    assert np.all(np.abs(track[5:-5] / f0 - 1) < 0.02)
    assert periodicity[5:-5].min() > 0.9


def test_a_rising_voice_gives_a_rising_track(speech):
    y = speech(16000, 1.0, f0=150.0, glide=0.5, am=0.3)  # about 112 -> 187 Hz
    track, _ = pitch_track(y, 16000, 160)
    first, last = np.median(track[5:20]), np.median(track[-20:-5])
    assert 110 < first < 135 and 165 < last < 190


def test_white_noise_has_low_periodicity(noise):
    _, periodicity = pitch_track(noise(16000, 1.0, amp=0.3), 16000, 160)
    assert np.median(periodicity) < 0.3
    assert np.mean(periodicity > 0.5) < 0.05


def test_silence_gives_zero_periodicity_and_finite_f0():
    f0, periodicity = pitch_track(np.zeros(8000, np.float32), 16000, 160)
    assert np.all(periodicity == 0) and np.all(np.isfinite(f0))


def test_one_value_per_centred_stft_frame_in_range(speech):
    y = speech(16000, 0.73, f0=180.0)
    f0, periodicity = pitch_track(y, 16000, 160, fmin=60.0, fmax=500.0)
    frames = librosa.stft(y, n_fft=512, hop_length=160).shape[1]
    assert f0.shape == periodicity.shape == (frames,)
    assert f0.dtype == periodicity.dtype == np.float32
    assert f0.min() >= 60.0 * 0.98 and f0.max() <= 500.0 * 1.02
    assert periodicity.min() >= 0 and periodicity.max() <= 1
