"""ccser_core.dsp follows librosa's definitions, so features keep their meaning
without importing librosa's numba-compiled code in the daemon."""

import subprocess
import sys

import librosa
import numpy as np
import pytest

from ccser_core import dsp


@pytest.fixture
def signal():
    rng = np.random.default_rng(3)
    t = np.arange(16000) / 16000
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.normal(size=t.size)).astype(np.float32)


def test_power_spectrogram_matches_librosa(signal):
    ours = dsp.power_spectrogram(signal, 512, 160, 400)
    ref = np.abs(librosa.stft(signal, n_fft=512, hop_length=160, win_length=400)) ** 2
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-6 * ref.max())


@pytest.mark.parametrize("sr,n_fft,n_mels", [(16000, 512, 40), (16000, 512, 128), (8000, 256, 20)])
def test_mel_filterbank_matches_librosa(sr, n_fft, n_mels):
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)
    np.testing.assert_allclose(dsp.mel_filterbank(sr, n_fft, n_mels), ref, atol=1e-8)


def test_mfcc_matches_librosa(signal):
    logmel = dsp.power_to_db(dsp.mel_filterbank(16000, 512, 40)
                             @ dsp.power_spectrogram(signal, 512, 160, 400))
    np.testing.assert_allclose(dsp.mfcc(logmel, 13), librosa.feature.mfcc(S=logmel, n_mfcc=13),
                               atol=1e-6)


def test_zero_crossing_rate_of_a_tone():
    t = np.arange(16000) / 16000
    zcr = dsp.zero_crossing_rate(np.sin(2 * np.pi * 1000 * t + 0.1), 400, 160)
    assert np.median(zcr) == pytest.approx(2000 / 16000, rel=0.02)


def test_default_feature_path_does_not_import_numba():
    code = ("import sys, numpy as np; from ccser_core.features import extract, FeatureConfig, "
            "fingerprint; c = FeatureConfig(); extract(np.zeros(16000, np.float32) + 0.01, 16000, c);"
            " fingerprint(c); print('numba' in sys.modules, 'librosa' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
