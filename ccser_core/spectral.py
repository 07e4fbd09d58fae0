"""Frame-level spectral-shape descriptors shared by the spectral and voice groups.

Levels are relative to the utterance (never absolute), because recordings
arrive with unknown gain.
"""

from __future__ import annotations

import numpy as np

SPECTRAL_LLDS = (
    "loudness_rel", "centroid", "bandwidth", "rolloff", "flatness", "flux", "zcr",
    "alpha_ratio", "hammarberg",
)
_EPS = 1e-10


def spectral_llds(power: np.ndarray, freqs: np.ndarray, logmel: np.ndarray,
                  y_frames_zcr: np.ndarray) -> np.ndarray:
    """(len(SPECTRAL_LLDS), T) spectral-shape descriptors from a power spectrogram.

    Loudness is in dB relative to the utterance's 95th percentile: recordings
    arrive with unknown gain (AGC, per-file peak normalisation as in EmoDB), so
    absolute level is not a property of the speaker's emotion.
    """
    total = power.sum(axis=0) + _EPS
    loud = level_db(power)
    centroid = (freqs[:, None] * power).sum(axis=0) / total
    bandwidth = np.sqrt(((freqs[:, None] - centroid) ** 2 * power).sum(axis=0) / total)
    cumulative = np.cumsum(power, axis=0)
    rolloff = freqs[np.argmax(cumulative >= 0.85 * cumulative[-1], axis=0)]
    flatness = np.exp(np.log(power + _EPS).mean(axis=0)) / (power.mean(axis=0) + _EPS)
    flux = np.concatenate([[0.0], np.maximum(np.diff(logmel, axis=1), 0).mean(axis=0)])
    low, mid = (freqs >= 50) & (freqs < 1000), (freqs >= 1000) & (freqs < 5000)
    alpha = 10 * np.log10((power[low].sum(axis=0) + _EPS) / (power[mid].sum(axis=0) + _EPS))
    hamm = 10 * np.log10((power[freqs < 2000].max(axis=0) + _EPS)
                         / (power[(freqs >= 2000) & (freqs < 5000)].max(axis=0) + _EPS))
    return np.vstack([loud - np.percentile(loud, 95), centroid / 1000, bandwidth / 1000,
                      rolloff / 1000, np.log10(flatness + _EPS), flux, y_frames_zcr, alpha, hamm])


def level_db(power: np.ndarray) -> np.ndarray:
    return 10 * np.log10(power.mean(axis=0) + _EPS)
