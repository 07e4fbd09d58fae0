"""Whisper's log-mel front end in numpy (no torch): what the encoder was trained on.

Same numbers as `whisper.audio.log_mel_spectrogram` (OpenAI): 25 ms Hann
window (400 samples), 10 ms hop (160), centred STFT with reflect padding and
the last frame dropped, Slaney mel filters (librosa's), log10 clamped to 8
decades below the clip's maximum, then scaled as (x + 4) / 4.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SAMPLE_RATE = 16000  # Hz, Whisper's only rate
N_FFT, HOP = 400, 160  # samples: 25 ms window, 10 ms hop (100 frames per second)


@lru_cache(maxsize=4)
def mel_filters(n_mels: int = 80) -> np.ndarray:
    """(n_mels, N_FFT // 2 + 1) Slaney-normalised mel filterbank, as Whisper ships it."""
    import librosa

    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=n_mels).astype(np.float32)


def log_mel(y: np.ndarray, n_mels: int = 80) -> np.ndarray:
    """(n_mels, len(y) // HOP) float32 log-mel of mono samples at 16 kHz."""
    y = np.asarray(y, dtype=np.float32)
    if len(y) < N_FFT:
        y = np.pad(y, (0, N_FFT - len(y)))
    padded = np.pad(y, N_FFT // 2, mode="reflect")
    n_frames = 1 + (len(padded) - N_FFT) // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)  # periodic, as torch.hann_window
    power = np.abs(np.fft.rfft(padded[idx] * window, axis=1)) ** 2
    mel = mel_filters(n_mels) @ power[:-1].T.astype(np.float32)
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)
