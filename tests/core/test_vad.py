"""WebRTC VAD: which frames are speech, and silence removal before feature extraction."""

import numpy as np
import pytest

from ccser_core.vad import VadConfig, speech_flags, trim_silence

VAD_RATES = (8000, 16000, 32000, 48000)


@pytest.fixture
def padded_speech(speech):
    """0.5 s silence, 1 s speech-like voice, 0.5 s silence."""

    def make(sr, f0=150.0, floor=0.0):
        y = np.concatenate([np.zeros(sr // 2), speech(sr, 1.0, f0=f0), np.zeros(sr // 2)])
        if floor:
            y = y + floor * np.random.default_rng(1).standard_normal(len(y))
        return y.astype(np.float32)

    return make


@pytest.mark.parametrize("frame_ms", [10, 20, 30])
@pytest.mark.parametrize("sr", VAD_RATES)
def test_speech_flags_find_the_voiced_part(padded_speech, sr, frame_ms):
    config = VadConfig(frame_ms=frame_ms)
    flags = speech_flags(padded_speech(sr), sr, config)
    assert len(flags) == 2000 // frame_ms
    t = np.arange(len(flags)) * frame_ms / 1000  # frame start, s
    inside = (t >= 0.6) & (t < 1.4)
    assert flags[inside].mean() > 0.9
    assert not flags[t < 0.45].any()
    assert not flags[t > 1.8].any()


def test_speech_flags_work_with_a_noise_floor(padded_speech):
    flags = speech_flags(padded_speech(16000, floor=0.001), 16000)
    t = np.arange(len(flags)) * 0.03
    assert flags[(t >= 0.6) & (t < 1.4)].mean() > 0.9
    # (WebRTC's first ~100 ms adapt to the noise and may be flagged.)
    assert not flags[(t >= 0.15) & (t < 0.45)].any()
    assert not flags[t > 1.8].any()


def test_speech_flags_drop_the_trailing_partial_frame():
    assert len(speech_flags(np.zeros(16000 * 30 // 1000 * 5 + 100, np.float32), 16000)) == 5
    assert len(speech_flags(np.zeros(100, np.float32), 16000)) == 0


def test_silence_has_no_speech_frames():
    assert not speech_flags(np.zeros(16000, np.float32), 16000).any()


@pytest.mark.parametrize("sr", VAD_RATES)
def test_trim_silence_removes_the_padding_but_keeps_the_speech(padded_speech, sr):
    y = padded_speech(sr)
    trimmed = trim_silence(y, sr)
    assert 1.0 * sr <= len(trimmed) < 1.5 * sr
    energy = float(np.sum(y.astype(np.float64) ** 2))
    assert float(np.sum(trimmed.astype(np.float64) ** 2)) > 0.99 * energy


def test_trim_silence_keeps_pad_frames_around_the_speech(padded_speech):
    y = padded_speech(16000)
    short = trim_silence(y, 16000, VadConfig(pad_frames=0))
    long = trim_silence(y, 16000, VadConfig(pad_frames=5))
    assert len(long) - len(short) == 2 * 5 * 480


def test_trim_silence_returns_pure_silence_unchanged():
    y = np.zeros(16000, np.float32)
    out = trim_silence(y, 16000)
    np.testing.assert_array_equal(out, y)
    assert len(out) == len(y)


@pytest.mark.parametrize("seconds", [0.005, 0.05, 0.1, 0.2])
def test_trim_silence_handles_clips_shorter_than_the_padding(speech, seconds):
    # Fewer frames than 2 * pad_frames + 1: the result must still be a slice of the clip.
    y = speech(16000, seconds, am=0.0)
    out = trim_silence(y, 16000)
    assert 0 < len(out) <= len(y)


@pytest.mark.parametrize(
    "kwargs", [{"aggressiveness": -1}, {"aggressiveness": 4}, {"frame_ms": 25},
               {"frame_ms": 0}, {"pad_frames": -1}])
def test_vad_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        VadConfig(**kwargs)


def test_vad_config_defaults_are_valid():
    config = VadConfig()
    assert (config.aggressiveness, config.frame_ms, config.pad_frames) == (2, 30, 3)
