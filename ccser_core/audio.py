"""Audio I/O at the edge: any WAV/FLAC file -> mono float32 at the working rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from ccser_core.errors import AudioError

#: The one working rate of ccser (Hz): WebRTC VAD and the features run at it.
WORKING_RATE = 16000


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average channels: (n,) or (n, channels) -> (n,) float32."""
    x = np.asarray(samples, dtype=np.float32)
    return x if x.ndim == 1 else x.mean(axis=1, dtype=np.float32)


def resample(y: np.ndarray, orig_sr: int, target_sr: int = WORKING_RATE) -> np.ndarray:
    """Band-limited resampling (soxr, high quality); a no-op at the same rate."""
    if orig_sr == target_sr:
        return np.asarray(y, dtype=np.float32)
    import soxr

    return soxr.resample(np.asarray(y, dtype=np.float32), orig_sr, target_sr,
                         quality="HQ").astype(np.float32)


def load_audio(path: str | Path, sr: int = WORKING_RATE) -> np.ndarray:
    """Read a WAV/FLAC (any rate, any channel count) as mono float32 at `sr` Hz.

    Raises AudioError naming the file for missing, empty or unreadable input.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: file does not exist")
    try:
        data, file_sr = sf.read(str(path), dtype="float32", always_2d=False)
    except Exception as exc:  # soundfile raises several types; all mean "unreadable"
        raise AudioError(f"{path}: unreadable or unsupported audio ({exc})") from exc
    if data.size == 0:
        raise AudioError(f"{path}: file contains no audio samples")
    y = resample(to_mono(data), int(file_sr), sr)
    if not np.all(np.isfinite(y)):
        raise AudioError(f"{path}: audio contains NaN or infinite samples")
    return y


#: Suffixes of the audio files looked for in a folder (ccser-predict DIR). A file
#: named explicitly is tried whatever its suffix.
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff")


def audio_files(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """The files to process: files as given, each folder replaced by the audio files
    under it (by suffix, recursively, sorted). Folders holding none come back as messages."""
    files: list[Path] = []
    problems: list[str] = []
    for path in map(Path, paths):
        if not path.is_dir():
            files.append(path)
            continue
        found = sorted(p for p in path.rglob("*")
                       if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
        if not found:
            problems.append(f"{path}: folder holds no audio files "
                            f"({', '.join('*' + s for s in AUDIO_SUFFIXES)})")
        files.extend(found)
    return files, problems


def pcm16_to_float(raw: bytes) -> np.ndarray:
    """Little-endian signed 16-bit PCM bytes -> float32 in [-1, 1)."""
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0


def float_to_pcm16(y: np.ndarray) -> bytes:
    """float32 in [-1, 1] -> little-endian 16-bit PCM (clipped), as WebRTC VAD wants."""
    return (np.clip(y, -1.0, 1.0 - 1.0 / 32768) * 32768.0).astype("<i2").tobytes()
