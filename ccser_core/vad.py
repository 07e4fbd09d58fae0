"""WebRTC VAD: per-frame speech decisions and silence removal.

Training trims silence with exactly these functions, and the daemon uses the
same frame classifier for its utterance segmentation, so both see the same
"voiced" audio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import webrtcvad

from ccser_core.audio import float_to_pcm16


@dataclass(frozen=True)
class VadConfig:
    """aggressiveness 0 (least) .. 3 (most aggressive); frame_ms one of 10, 20, 30;
    pad_frames: frames kept on each side of voiced frames, so onsets survive."""

    aggressiveness: int = 2
    frame_ms: int = 30
    pad_frames: int = 3

    def __post_init__(self) -> None:
        if self.aggressiveness not in (0, 1, 2, 3):
            raise ValueError(f"VAD aggressiveness must be 0..3, got {self.aggressiveness}")
        if self.frame_ms not in (10, 20, 30):
            raise ValueError(f"VAD frame_ms must be 10, 20 or 30, got {self.frame_ms}")
        if self.pad_frames < 0:
            raise ValueError(f"VAD pad_frames must be 0 or more, got {self.pad_frames}")


def frame_length(sr: int, frame_ms: int) -> int:
    return sr * frame_ms // 1000


def speech_flags(y: np.ndarray, sr: int, config: VadConfig = VadConfig()) -> np.ndarray:
    """One bool per whole frame of `config.frame_ms`: is it speech? (trailing part dropped)."""
    n = frame_length(sr, config.frame_ms)
    count = len(y) // n
    if count == 0:
        return np.zeros(0, dtype=bool)
    vad = webrtcvad.Vad(config.aggressiveness)
    pcm = float_to_pcm16(y[: count * n])
    step = 2 * n
    return np.fromiter(
        (vad.is_speech(pcm[i * step : (i + 1) * step], sr) for i in range(count)),
        dtype=bool, count=count,
    )


def dilate(flags: np.ndarray, pad: int) -> np.ndarray:
    """Extend each True run by `pad` frames on both sides."""
    if pad <= 0 or not flags.any():
        return flags
    # Cumulative sums, not np.convolve(mode="same"): that returns max(len(flags),
    # len(kernel)) values, so inputs shorter than 2 * pad + 1 frames grew.
    csum = np.concatenate([[0], np.cumsum(flags.astype(int))])
    idx = np.arange(len(flags))
    lo = np.maximum(idx - pad, 0)
    hi = np.minimum(idx + pad + 1, len(flags))
    return csum[hi] - csum[lo] > 0


def trim_silence(y: np.ndarray, sr: int, config: VadConfig = VadConfig()) -> np.ndarray:
    """Keep only voiced frames (padded); returns `y` unchanged if nothing is voiced,
    so very short or quiet inputs still give a feature vector."""
    flags = dilate(speech_flags(y, sr, config), config.pad_frames)
    if not flags.any():
        return y
    n = frame_length(sr, config.frame_ms)
    mask = np.repeat(flags, n)
    mask = np.concatenate([mask, np.zeros(len(y) - len(mask), dtype=bool)])
    return y[mask]
