"""Audio I/O at the edge: any supported audio file -> mono float32 at the working rate."""

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


#: What every ccser reader (training, ccser-predict, ccserd --source) decodes.
SUPPORTED_FORMATS = "WAV, FLAC, OGG (Vorbis/Opus), MP3, AIFF"

#: File signatures of those formats, to say "not audio" rather than libsndfile's guess.
_SIGNATURES = ((b"RIFF", "WAV"), (b"RF64", "WAV"), (b"fLaC", "FLAC"), (b"OggS", "OGG"),
               (b"ID3", "MP3"), (b"\xff\xfb", "MP3"), (b"\xff\xf3", "MP3"),
               (b"\xff\xf2", "MP3"), (b"FORM", "AIFF"))
#: WAV data sizes this large are "length unknown" placeholders of streaming writers.
_UNKNOWN_LENGTH = 0x7FFF0000


def open_audio(path: str | Path) -> sf.SoundFile:
    """Open an audio file after the checks every ccser reader applies: a regular
    file, a format libsndfile decodes, some samples, and (WAV) as much audio as its
    header announces. Raises AudioError naming the file and what is wrong."""
    path = Path(path)
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    if not path.exists():
        raise AudioError(f"{path}: file does not exist")
    if not path.is_file():
        raise AudioError(f"{path}: not a regular file")
    try:
        fh = sf.SoundFile(str(path))
    except Exception as exc:  # soundfile raises several types; all mean "unreadable"
        raise AudioError(f"{path}: unreadable or unsupported audio ({_why_unreadable(path, exc)})"
                         ) from exc
    short = _wav_shortfall(path)
    if fh.frames == 0 or short is not None:
        fh.close()
        if short is not None:
            raise AudioError(f"{path}: truncated: the WAV header announces {short[0]} bytes of "
                             f"audio, the file holds {short[1]}")
        raise AudioError(f"{path}: file contains no audio samples")
    return fh


def decode(fh: sf.SoundFile, path: str | Path, keep: bool = True) -> np.ndarray | None:
    """Read `fh` to the end as float32 (frames, channels); AudioError if a sample is NaN
    or infinite or the file ends before its announced length. keep=False only checks
    (and rewinds), for a file that is then streamed."""
    parts, n = [], 0
    try:
        for block in fh.blocks(blocksize=1 << 16, dtype="float32", always_2d=True):
            bad = ~np.isfinite(block)
            if bad.any():
                at = (n + int(np.argmax(bad.any(axis=1)))) / fh.samplerate
                raise AudioError(f"{path}: audio contains NaN or infinite samples "
                                 f"(first at {at:.2f} s)")
            n += len(block)
            if keep:
                parts.append(block)
    except RuntimeError as exc:  # libsndfile decoding errors
        raise AudioError(f"{path}: cannot decode past {n / fh.samplerate:.2f} s (truncated or "
                         f"damaged: {exc})") from exc
    if n < fh.frames:
        raise AudioError(f"{path}: truncated: {n / fh.samplerate:.2f} s of the announced "
                         f"{fh.frames / fh.samplerate:.2f} s")
    if not keep:
        fh.seek(0)
        return None
    return np.concatenate(parts) if parts else np.zeros((0, fh.channels), np.float32)


def load_audio(path: str | Path, sr: int = WORKING_RATE) -> np.ndarray:
    """Read an audio file (any rate, any channel count) as mono float32 at `sr` Hz.

    Raises AudioError naming the file for missing, empty, truncated, unreadable or
    non-finite input (`open_audio`, `decode`).
    """
    with open_audio(path) as fh:
        data = decode(fh, path)
        file_sr = fh.samplerate
    assert data is not None
    return resample(to_mono(data), int(file_sr), sr)


def _why_unreadable(path: Path, exc: Exception) -> str:
    """libsndfile's complaint, or plainly "not audio" when no supported format matches
    (libsndfile then often blames a pipe)."""
    with path.open("rb") as fh:
        head = fh.read(12)
    kind = next((name for magic, name in _SIGNATURES if head.startswith(magic)), None)
    if kind is None:
        return f"its content is none of {SUPPORTED_FORMATS}"
    detail = str(exc).split(": ", 1)[-1] if str(exc).startswith("Error opening") else str(exc)
    return f"looks like {kind} but cannot be decoded: {detail}"


def _wav_shortfall(path: Path) -> tuple[int, int] | None:
    """(announced, present) bytes of a WAV's data chunk when the file is cut short."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            chunk = fh.read(8)
            length = int.from_bytes(chunk[4:], "little")
            if chunk[:4] == b"data":
                present = size - pos - 8
                return (length, present) if present < length < _UNKNOWN_LENGTH else None
            pos += 8 + length + (length & 1)
    return None


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
