"""load_audio: any WAV/FLAC, any rate, mono or stereo -> mono float32 at 16 kHz."""

import numpy as np
import pytest
import soundfile as sf

from ccser_core.audio import (
    WORKING_RATE,
    float_to_pcm16,
    load_audio,
    pcm16_to_float,
    resample,
    to_mono,
)
from ccser_core.errors import AudioError

RATES = (8000, 16000, 44100, 48000)


def peak_hz(y, sr):
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return np.fft.rfftfreq(len(y), 1 / sr)[np.argmax(spectrum)]


def rms(y):
    return float(np.sqrt(np.mean(np.square(y, dtype=np.float64))))


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("sr", RATES)
def test_any_file_loads_as_mono_float32_at_16k_keeping_duration_and_pitch(
        tmp_path, tone, write_audio, sr, channels, suffix):
    path = write_audio(tmp_path / f"tone{suffix}", tone(440, sr, 0.5, amp=0.5), sr, channels)
    y = load_audio(path)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - WORKING_RATE // 2) <= 2  # 0.5 s
    assert abs(peak_hz(y, WORKING_RATE) - 440) <= 2
    gain = 1.0 if channels == 1 else 0.9  # channels at gains 1 and 0.8 average to 0.9
    assert rms(y[200:-200]) == pytest.approx(gain * 0.5 / np.sqrt(2), rel=0.02)


def test_48k_stereo_tone_keeps_its_frequency(tmp_path, tone, write_audio):
    path = write_audio(tmp_path / "a.wav", tone(440, 48000, 1.0), 48000, channels=2)
    assert abs(peak_hz(load_audio(path), WORKING_RATE) - 440) <= 1


def test_resampling_is_band_limited_not_aliased(tmp_path, tone, write_audio):
    # 10 kHz is above the 8 kHz Nyquist of 16 kHz: it must vanish, not fold to 6 kHz.
    path = write_audio(tmp_path / "hi.wav", tone(10000, 48000, 0.5, amp=0.5), 48000)
    assert rms(load_audio(path)) < 0.01
    kept = write_audio(tmp_path / "six.wav", tone(6000, 48000, 0.5, amp=0.5), 48000)
    y = load_audio(kept)
    assert abs(peak_hz(y, WORKING_RATE) - 6000) <= 2 and rms(y) > 0.3


def test_stereo_is_the_average_of_its_channels(tmp_path, tone):
    left, right = tone(300, 16000, 0.25), tone(1000, 16000, 0.25, amp=0.2)
    path = tmp_path / "lr.flac"
    sf.write(str(path), np.stack([left, right], 1), 16000, subtype="PCM_24")
    np.testing.assert_allclose(load_audio(path), (left + right) / 2, atol=1e-5)


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_wav_sample_formats_give_the_same_waveform(tmp_path, speech, write_audio, subtype):
    y = speech(16000, 0.3)
    got = load_audio(write_audio(tmp_path / "s.wav", y, 16000, subtype=subtype))
    np.testing.assert_allclose(got, y, atol=1.0 / 32768 + 1e-6)


def test_a_16k_mono_file_is_returned_sample_for_sample(tmp_path, speech, write_audio):
    y = speech(16000, 0.4)
    path = write_audio(tmp_path / "s.wav", y, 16000, subtype="FLOAT")
    np.testing.assert_array_equal(load_audio(path), y)


def test_other_target_rates(tmp_path, tone, write_audio):
    path = write_audio(tmp_path / "t.wav", tone(440, 44100, 0.5), 44100)
    y = load_audio(path, sr=8000)
    assert abs(len(y) - 4000) <= 2
    assert abs(peak_hz(y, 8000) - 440) <= 2


def test_loading_a_file_equals_resampling_its_samples(tmp_path, speech, write_audio):
    y = speech(48000, 0.5)
    path = write_audio(tmp_path / "s.wav", y, 48000, channels=2, subtype="FLOAT")
    np.testing.assert_array_equal(load_audio(path), resample(to_mono(sf.read(path)[0]), 48000))


def test_missing_file_is_an_audio_error_naming_it(tmp_path):
    with pytest.raises(AudioError, match="nothing.wav"):
        load_audio(tmp_path / "nothing.wav")


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_empty_file_is_an_audio_error_naming_it(tmp_path, suffix):
    path = tmp_path / f"empty{suffix}"
    sf.write(str(path), np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match=f"empty{suffix}"):
        load_audio(path)


@pytest.mark.parametrize("content", [b"", b"not audio at all" * 100,
                                     b"RIFF\x10\x00\x00\x00WAVEfmt garbage"])
@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_garbage_bytes_are_an_audio_error_naming_the_file(tmp_path, content, suffix):
    path = tmp_path / f"garbage{suffix}"
    path.write_bytes(content)
    with pytest.raises(AudioError, match=f"garbage{suffix}"):
        load_audio(path)


def test_nan_samples_are_an_audio_error_naming_the_file(tmp_path, tone, write_audio):
    y = tone(440, 16000, 0.1)
    y[10] = np.nan
    path = write_audio(tmp_path / "nan.wav", y, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="nan.wav"):
        load_audio(path)


def test_a_folder_is_an_audio_error_naming_it(tmp_path):
    (tmp_path / "dir.wav").mkdir()
    with pytest.raises(AudioError, match="dir.wav"):
        load_audio(tmp_path / "dir.wav")


def test_pcm16_round_trip_and_clipping():
    y = np.array([0.0, 0.5, -0.5, -1.0, 0.999, 2.0, -3.0], dtype=np.float32)
    raw = float_to_pcm16(y)
    assert len(raw) == 2 * len(y)
    back = pcm16_to_float(raw)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back[:5], y[:5], atol=1 / 32768)
    assert back[5] == pytest.approx(1 - 1 / 32768) and back[6] == -1.0
