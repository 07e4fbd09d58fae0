"""Training-only data augmentation: time stretch, pitch shift, additive noise.

Each augmentation is a named, seeded, pure transform of a waveform, so its
features can be cached like those of a file.
"""

from __future__ import annotations

import numpy as np

AUGMENTATIONS = ("stretch", "pitch", "noise")


def augment(y: np.ndarray, sr: int, name: str, seed: int) -> np.ndarray:
    """Apply one augmentation with a seeded random strength."""
    import librosa

    rng = np.random.default_rng(seed)
    if name == "stretch":
        return librosa.effects.time_stretch(y, rate=float(rng.uniform(0.85, 1.15)))
    if name == "pitch":
        return librosa.effects.pitch_shift(y, sr=sr, n_steps=float(rng.uniform(-2, 2)))
    if name == "noise":
        rms = float(np.sqrt(np.mean(y**2)) + 1e-9)
        snr_db = rng.uniform(15, 30)
        noise = rng.standard_normal(len(y)).astype(np.float32)
        return (y + noise * rms / 10 ** (snr_db / 20)).astype(np.float32)
    raise ValueError(f"unknown augmentation {name!r}; choose from {', '.join(AUGMENTATIONS)}")
