"""Audio I/O at the edge: any supported audio file -> mono float32 at the working rate."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from ccser_core.errors import AudioError

#: The one working rate of ccser (Hz): WebRTC VAD and the features run at it.
WORKING_RATE = 16000
#: Longest recording (seconds) `load_audio` decodes by default. A recording is decoded
#: and analysed whole (one label per file), and the analysis (its pitch track above
#: all) takes about 4 MB per second of audio: 2 minutes stay well under 1 GB. Longer
#: files are refused before decoding (`ccser-predict --max-duration` raises the limit);
#: `ccserd --source` streams a recording of any length in flat memory.
MAX_DURATION_S = 120.0
#: Most samples per second of audio (channels x rate) a file may ask to be decoded:
#: 16 channels at 192 kHz. Bounds the decoding work of a short, highly compressed file.
MAX_SAMPLES_PER_S = 16 * 192000
#: Samples (all channels) decoded per block: 1 MB of float32, whatever the channel count.
BLOCK_SAMPLES = 1 << 18


class TooLongError(AudioError):
    """A recording longer than the caller's limit; `duration_s` and `limit_s` in seconds
    (`duration_s` is a lower bound when the header under-announced the length)."""

    def __init__(self, path: str | Path, duration_s: float, limit_s: float, more: bool = False):
        self.duration_s, self.limit_s = duration_s, limit_s
        super().__init__(f"{display_path(path)}: {'more than ' if more else ''}{duration_s:.1f} s "
                         f"long; the limit is {round(limit_s, 1):g} s")


def display_path(path: str | Path) -> str:
    """The path as text that always prints: bytes that are not UTF-8 (a file named in
    another encoding) shown as \\xNN escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


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
#: libsndfile's frame count for a file whose header leaves the length open (SF_COUNT_MAX).
_UNKNOWN_FRAMES = 1 << 62


def open_audio(path: str | Path) -> sf.SoundFile:
    """Open an audio file after the checks every ccser reader applies: a regular
    file, a format libsndfile decodes, some samples, and (WAV) as much audio as its
    header announces. Raises AudioError naming the file and what is wrong."""
    path = Path(path)
    name = display_path(path)
    if path.is_dir():
        raise AudioError(f"{name}: is a directory, not an audio file")
    if not path.exists():
        raise AudioError(f"{name}: file does not exist")
    if not path.is_file():
        raise AudioError(f"{name}: not a regular file")
    try:
        fh = sf.SoundFile(os.fsencode(path))  # bytes: any file name, UTF-8 or not
    except Exception as exc:  # soundfile raises several types; all mean "unreadable"
        raise AudioError(f"{name}: unreadable or unsupported audio ({_why_unreadable(path, exc)})"
                         ) from exc
    short = _wav_shortfall(path)
    if fh.frames == 0 or short is not None:
        fh.close()
        if short is not None:
            raise AudioError(f"{name}: truncated: the WAV header announces {short[0]} bytes of "
                             f"audio, the file holds {short[1]}")
        raise AudioError(f"{name}: file contains no audio samples")
    return fh


def check_size(fh: sf.SoundFile, path: str | Path,
               max_duration_s: float = MAX_DURATION_S) -> None:
    """Refuse, from the header alone, a file longer than `max_duration_s` (TooLongError)
    or with more than MAX_SAMPLES_PER_S channels x rate (AudioError)."""
    if fh.channels * fh.samplerate > MAX_SAMPLES_PER_S:
        raise AudioError(f"{display_path(path)}: {fh.channels} channels at {fh.samplerate} Hz "
                         f"is more than ccser decodes ({MAX_SAMPLES_PER_S} samples per second "
                         "of audio, e.g. 16 channels at 192 kHz)")
    if fh.frames >= _UNKNOWN_FRAMES:
        raise AudioError(f"{display_path(path)}: the header does not give the length of the "
                         "audio (written as a stream?); re-encode it with its length")
    if fh.frames / fh.samplerate > max_duration_s:
        raise TooLongError(path, fh.frames / fh.samplerate, max_duration_s)


def blocks(fh: sf.SoundFile, path: str | Path, max_frames: int | None = None,
           ) -> Iterator[np.ndarray]:
    """Read `fh` to the end as float32 (frames, channels) blocks of about BLOCK_SAMPLES
    samples. AudioError if a sample is NaN or infinite or the file ends before its
    announced length; TooLongError once more than `max_frames` frames were read (a
    header that under-announces the length cannot make memory grow)."""
    n, name = 0, display_path(path)
    size = max(1024, BLOCK_SAMPLES // fh.channels)
    try:
        for block in fh.blocks(blocksize=size, dtype="float32", always_2d=True):
            bad = ~np.isfinite(block)
            if bad.any():
                at = (n + int(np.argmax(bad.any(axis=1)))) / fh.samplerate
                raise AudioError(f"{name}: audio contains NaN or infinite samples "
                                 f"(first at {at:.2f} s)")
            n += len(block)
            if max_frames is not None and n > max_frames:
                raise TooLongError(path, n / fh.samplerate, max_frames / fh.samplerate, more=True)
            yield block
    except RuntimeError as exc:  # libsndfile decoding errors
        raise AudioError(f"{name}: cannot decode past {n / fh.samplerate:.2f} s (truncated or "
                         f"damaged: {exc})") from exc
    if n < fh.frames:
        raise AudioError(f"{name}: truncated: {n / fh.samplerate:.2f} s of the announced "
                         f"{fh.frames / fh.samplerate:.2f} s")


def decode(fh: sf.SoundFile, path: str | Path, keep: bool = True) -> np.ndarray | None:
    """Read `fh` to the end as float32 (frames, channels), with the checks of `blocks`.
    keep=False only checks (and rewinds), for a file that is then streamed."""
    parts = [block for block in blocks(fh, path) if keep]
    if not keep:
        fh.seek(0)
        return None
    return np.concatenate(parts) if parts else np.zeros((0, fh.channels), np.float32)


def load_audio(path: str | Path, sr: int = WORKING_RATE,
               max_duration_s: float = MAX_DURATION_S) -> np.ndarray:
    """Read an audio file (any rate, any channel count) as mono float32 at `sr` Hz.

    Decodes block by block, down-mixing and resampling as it goes, so memory holds
    the result (4 bytes x `sr` per second) and one block, never the file's own
    channels and rate. Raises AudioError naming the file for missing, empty,
    truncated, unreadable or non-finite input (`open_audio`, `blocks`), and
    TooLongError, before decoding, past `max_duration_s` seconds (`check_size`).
    """
    with open_audio(path) as fh:
        check_size(fh, path, max_duration_s)
        import soxr

        stream = None if fh.samplerate == sr else soxr.ResampleStream(
            fh.samplerate, sr, 1, dtype="float32", quality="HQ")
        parts = []
        for block in blocks(fh, path, int(max_duration_s * fh.samplerate)):
            mono = to_mono(block)
            parts.append(mono if stream is None else stream.resample_chunk(mono))
        if stream is not None:
            parts.append(stream.resample_chunk(np.zeros(0, np.float32), last=True))
    return np.concatenate(parts).astype(np.float32, copy=False)


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
            problems.append(f"{display_path(path)}: folder holds no audio files "
                            f"({', '.join('*' + s for s in AUDIO_SUFFIXES)})")
        files.extend(found)
    return files, problems


def pcm16_to_float(raw: bytes) -> np.ndarray:
    """Little-endian signed 16-bit PCM bytes -> float32 in [-1, 1)."""
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0


def float_to_pcm16(y: np.ndarray) -> bytes:
    """float32 in [-1, 1] -> little-endian 16-bit PCM (clipped), as WebRTC VAD wants."""
    return (np.clip(y, -1.0, 1.0 - 1.0 / 32768) * 32768.0).astype("<i2").tobytes()
