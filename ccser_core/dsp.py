"""Short-time spectra for the default feature path, in numpy + scipy.fft only.

librosa offers all of these, but importing its spectral code pulls in numba
and llvmlite (~110 MB resident, seconds of start-up), which the daemon
cannot afford within its memory budget. These follow librosa's definitions
(centred frames, periodic Hann window zero-padded to n_fft, Slaney mel scale
and area normalisation, orthonormal DCT-II), so numbers agree with librosa
to float precision; tests check that.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.fft import dct

_EPS = 1e-10


def frames(y: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """Centred (zero-padded) frames, shape (frame_length, T) with T = 1 + len(y) // hop."""
    pad = frame_length // 2
    padded = np.pad(y, (pad, pad))
    count = 1 + (len(padded) - frame_length) // hop_length
    idx = np.arange(frame_length)[:, None] + hop_length * np.arange(count)[None, :]
    return padded[idx]


@lru_cache(maxsize=8)
def _window(n_fft: int, win_length: int) -> np.ndarray:
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win_length) / win_length)  # periodic Hann
    left = (n_fft - win_length) // 2
    return np.pad(w, (left, n_fft - win_length - left))[:, None]


def power_spectrogram(y: np.ndarray, n_fft: int, hop_length: int, win_length: int) -> np.ndarray:
    """|STFT|^2, shape (1 + n_fft // 2, T)."""
    spec = np.fft.rfft(frames(y, n_fft, hop_length) * _window(n_fft, win_length), axis=0)
    return spec.real**2 + spec.imag**2


def fft_frequencies(sr: int, n_fft: int) -> np.ndarray:
    return np.fft.rfftfreq(n_fft, 1.0 / sr)


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    log_part = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log_part, f / (200.0 / 3))


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)),
                    m * (200.0 / 3))


@lru_cache(maxsize=8)
def mel_filterbank(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """(n_mels, 1 + n_fft // 2) triangular filters, 0 Hz to Nyquist, area-normalised."""
    fft_f = fft_frequencies(sr, n_fft)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2.0), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_f[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    return weights * (2.0 / (mel_f[2:] - mel_f[:-2]))[:, None]


def power_to_db(power: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(power, _EPS))


def mfcc(logmel: np.ndarray, n_mfcc: int) -> np.ndarray:
    """Cepstral coefficients (n_mfcc, T) of a dB mel spectrogram."""
    return dct(logmel, type=2, axis=0, norm="ortho")[:n_mfcc]


def zero_crossing_rate(y: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """Fraction of sign changes per centred frame (zero counts as positive)."""
    signs = np.signbit(frames(y, frame_length, hop_length))
    return np.mean(signs[1:] != signs[:-1], axis=0)
