"""Waveform -> one feature vector: the ONE feature path of training and daemon.

Each family is a small pure function of frame-level arrays; `extract` composes
them under a frozen `FeatureConfig`, which the model card stores so the daemon
rebuilds exactly the same extractor. Frame-level descriptors are summarised by
functionals (mean, std, percentiles, delta statistics), because frame means
alone do not transfer across corpora.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from ccser_core import dsp
from ccser_core.pitch import clean_contour, pitch_track
from ccser_core.prosody import PROSODY_NAMES, VOICE_NAMES, prosody, voice_quality
from ccser_core.spectral import SPECTRAL_LLDS, level_db, spectral_llds
from ccser_core.vad import VadConfig, trim_silence

__all__ = ["FRAME_CODE_VERSION", "FRAME_GROUPS", "STATS", "UTTERANCE_GROUPS", "FEATURE_CODE_VERSION",
           "FeatureConfig", "Pitch", "extract", "feature_names", "feature_spec", "fingerprint", "frame_names",
           "frames", "functionals", "pitch_of", "prepare"]

#: Bump when a change to this module, spectral.py, prosody.py or pitch.py changes any
#: number it produces.
FEATURE_CODE_VERSION = 5

FRAME_GROUPS = ("mfcc", "mel", "chroma", "contrast", "tonnetz", "spectral")
UTTERANCE_GROUPS = ("prosody", "voice")
STATS = ("mean", "std", "p10", "p50", "p90", "dstd", "dabs")


@dataclass(frozen=True)
class FeatureConfig:
    """Every parameter that changes a number. Sizes in samples at `sample_rate` Hz."""

    sample_rate: int = 16000
    n_fft: int = 512
    win_length: int = 400  # 25 ms
    hop_length: int = 160  # 10 ms
    n_mels: int = 40
    n_mfcc: int = 20
    fmin: float = 60.0  # F0 search range, Hz
    fmax: float = 500.0
    voicing_threshold: float = 0.5  # periodicity above which a frame counts as voiced
    groups: tuple[str, ...] = ("spectral", "prosody", "voice")  # MFCCs hurt E->R transfer
    stats: tuple[str, ...] = STATS
    vad_trim: bool = True
    vad: VadConfig = field(default_factory=VadConfig)

    def __post_init__(self) -> None:
        unknown = [g for g in self.groups if g not in FRAME_GROUPS + UTTERANCE_GROUPS]
        if unknown or not self.groups:
            raise ValueError(
                f"unknown feature group(s) {unknown}; choose from "
                f"{', '.join(FRAME_GROUPS + UTTERANCE_GROUPS)}"
            )
        bad = [s for s in self.stats if s not in STATS]
        if bad or not self.stats:
            raise ValueError(f"unknown statistic(s) {bad}; choose from {', '.join(STATS)}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["groups"], d["stats"] = list(self.groups), list(self.stats)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> FeatureConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown feature config key(s): {', '.join(sorted(unknown))}")
        kw = dict(d)
        kw["groups"] = tuple(kw.get("groups", cls.groups))
        kw["stats"] = tuple(kw.get("stats", STATS))
        if "vad" in kw:
            kw["vad"] = VadConfig(**kw["vad"])
        return cls(**kw)


#: Groups computed with librosa (the seed system's features); the others use ccser_core.dsp.
LIBROSA_GROUPS = ("chroma", "contrast", "tonnetz")


def fingerprint(config: FeatureConfig) -> str:
    """Hash of everything that decides the numbers: config, this code, library versions.

    A model is refused where this does not reproduce, since its features
    would silently differ from the ones it was trained on.
    """
    return hashlib.sha256(json.dumps(feature_spec(config), sort_keys=True).encode()).hexdigest()[:16]


def feature_spec(config: FeatureConfig) -> dict:
    """What the fingerprint covers, readable: the model card stores it too."""
    import scipy

    spec = {
        "config": config.to_dict(),
        "code": FEATURE_CODE_VERSION,
        "numpy": ".".join(np.__version__.split(".")[:1]),
        "scipy": ".".join(scipy.__version__.split(".")[:1]),
        "sample_rate": config.sample_rate, "n_fft": config.n_fft,
        "frame_length": config.win_length, "hop_length": config.hop_length,
        "groups": list(config.groups),
    }
    if any(g in LIBROSA_GROUPS for g in config.groups):
        import librosa

        spec["librosa"] = ".".join(librosa.__version__.split(".")[:2])
    return spec


def feature_names(config: FeatureConfig) -> list[str]:
    """Names of the vector's dimensions, in order (also gives its length)."""
    names: list[str] = []
    for group in config.groups:
        if group == "prosody":
            names += [f"prosody.{n}" for n in PROSODY_NAMES]
        elif group == "voice":
            names += [f"voice.{n}" for n in VOICE_NAMES]
        else:
            rows = _group_rows(group, config)
            names += [f"{group}.{r}.{s}" for s in config.stats for r in rows]
    return names


def _group_rows(group: str, config: FeatureConfig) -> list[str]:
    sizes = {"mfcc": config.n_mfcc, "mel": config.n_mels, "chroma": 12, "contrast": 7,
             "tonnetz": 6}
    if group == "spectral":
        return list(SPECTRAL_LLDS)
    return [str(i) for i in range(sizes[group])]


def functionals(frames: np.ndarray, stats: tuple[str, ...]) -> np.ndarray:
    """Summarise (rows, T) frame values into len(stats) * rows numbers, stat-major."""
    if frames.shape[1] == 0:
        return np.zeros(len(stats) * frames.shape[0])
    pct = np.percentile(frames, [10, 50, 90], axis=1)
    diff = np.diff(frames, axis=1) if frames.shape[1] > 1 else np.zeros((frames.shape[0], 1))
    table = {
        "mean": lambda: frames.mean(axis=1), "std": lambda: frames.std(axis=1),
        "p10": lambda: pct[0], "p50": lambda: pct[1], "p90": lambda: pct[2],
        "dstd": lambda: diff.std(axis=1), "dabs": lambda: np.abs(diff).mean(axis=1),
    }
    return np.concatenate([table[s]() for s in stats])


def librosa_group(group: str, power: np.ndarray, sr: int) -> np.ndarray:
    """The seed system's chroma / spectral contrast / tonnetz frames (librosa, lazily
    imported: only models that ask for these groups pay for numba)."""
    import librosa

    if group == "contrast":
        return librosa.feature.spectral_contrast(S=np.sqrt(power), sr=sr, fmin=100.0)
    chroma = librosa.feature.chroma_stft(S=power, sr=sr, tuning=0.0)
    return chroma if group == "chroma" else librosa.feature.tonnetz(chroma=chroma, sr=sr)


#: (F0 in Hz, periodicity 0..1) per hop of `prepare(y)`: see `pitch_of`.
Pitch = tuple[np.ndarray, np.ndarray]


def prepare(y: np.ndarray, sr: int, config: FeatureConfig) -> np.ndarray:
    """The samples every frame-wise analysis reads (features, frames, the no-speech gate):
    VAD-trimmed when `config.vad_trim`, padded to one FFT frame, DC removed (a DC offset
    would bias loudness and pitch)."""
    if sr != config.sample_rate:
        raise ValueError(f"samples at {sr} Hz, feature config expects {config.sample_rate} Hz")
    y = np.nan_to_num(np.asarray(y, dtype=np.float32))
    if config.vad_trim:
        y = trim_silence(y, sr, config.vad)
    if len(y) < config.n_fft:
        y = np.pad(y, (0, config.n_fft - len(y)))
    return y - y.mean()


def pitch_of(y: np.ndarray, sr: int, config: FeatureConfig) -> Pitch:
    """Pitch track of `prepare(y)`, the costliest frame analysis: computed once per clip
    or daemon window and handed to both the no-speech gate and `extract` / `frames`."""
    return pitch_track(prepare(y, sr, config), sr, config.hop_length, config.fmin, config.fmax)


def _spectra(y: np.ndarray, sr: int, config: FeatureConfig,
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The front end `extract` and `frames` share: (prepared samples, power spectrogram,
    its frequencies, dB mel spectrogram re the utterance's loud frames)."""
    y = prepare(y, sr, config)
    power = dsp.power_spectrogram(y, config.n_fft, config.hop_length, config.win_length)
    freqs = dsp.fft_frequencies(sr, config.n_fft)
    mel = dsp.mel_filterbank(sr, config.n_fft, config.n_mels) @ power
    # dB re the utterance's loud frames: gain-free MFCC c0 / mel levels (see spectral_llds).
    logmel = dsp.power_to_db(mel) - np.percentile(level_db(power), 95)
    return y, power, freqs, logmel


def extract(y: np.ndarray, sr: int, config: FeatureConfig, pitch: Pitch | None = None
            ) -> np.ndarray:
    """Feature vector (float32, len(feature_names(config))) of mono samples at `sr` Hz.

    `sr` must equal `config.sample_rate`; resampling is the caller's job
    (`ccser_core.audio`), so a live window and a file go through the same path.
    `pitch`: `pitch_of(y, sr, config)` when the caller already has it (the gate's).
    """
    y, power, freqs, logmel = _spectra(y, sr, config)
    hop_s = config.hop_length / sr
    st = periodicity = voiced = spectral = None
    parts: list[np.ndarray] = []

    def spectral_frames() -> np.ndarray:
        nonlocal spectral
        if spectral is None:
            zcr = dsp.zero_crossing_rate(y, config.win_length, config.hop_length)
            spectral = spectral_llds(power, freqs, logmel, zcr[: power.shape[1]])
        return spectral

    for group in config.groups:
        if group in ("prosody", "voice"):
            loud = spectral_frames()[0]
            if st is None:
                f0, periodicity = pitch if pitch is not None else \
                    pitch_track(y, sr, config.hop_length, config.fmin, config.fmax)
                f0, periodicity = f0[: power.shape[1]], periodicity[: power.shape[1]]
                st, voiced = clean_contour(f0, periodicity, loud, config.voicing_threshold)
            parts.append(prosody(st, voiced, loud, hop_s) if group == "prosody" else
                         voice_quality(periodicity, st, voiced, power, freqs, spectral, logmel))
            continue
        if group == "mfcc":
            frames = dsp.mfcc(logmel, config.n_mfcc)
        elif group == "mel":
            frames = logmel
        elif group == "spectral":
            frames = spectral_frames()
        else:
            frames = librosa_group(group, power, sr)
        parts.append(functionals(frames, config.stats))
    return np.nan_to_num(np.concatenate(parts)).astype(np.float32)


#: Bump when a change to `frames` (or the code it calls) changes any number it produces;
#: sequence-model cards store it, and loaders refuse a card whose frames would differ.
FRAME_CODE_VERSION = 1
PITCH_FRAMES = ("f0_st", "periodicity", "voiced")


def frame_names(config: FeatureConfig) -> list[str]:
    """Names of the columns of `frames(y, sr, config)`, in order (also gives D)."""
    return ([f"spectral.{n}" for n in SPECTRAL_LLDS] + [f"mel.{i}" for i in range(config.n_mels)]
            + [f"pitch.{n}" for n in PITCH_FRAMES])


def frames(y: np.ndarray, sr: int, config: FeatureConfig, pitch: Pitch | None = None
           ) -> np.ndarray:
    """Frame-level descriptors (T, D) float32, one row per `hop_length` samples: the
    spectral-shape, dB mel and pitch frames that `extract` summarises, for sequence models.

    Same front end as `extract` (VAD trim, DC removal, levels re the utterance's loud
    frames). F0 is in semitones re 55 Hz, carried across unvoiced frames by linear
    interpolation (0 where nothing is voiced); `voiced` is the cleaned voicing mask.
    """
    y, power, freqs, logmel = _spectra(y, sr, config)
    n = power.shape[1]
    zcr = dsp.zero_crossing_rate(y, config.win_length, config.hop_length)[:n]
    spectral = spectral_llds(power, freqs, logmel, zcr)
    f0, periodicity = pitch if pitch is not None else \
        pitch_track(y, sr, config.hop_length, config.fmin, config.fmax)
    st, voiced = clean_contour(f0[:n], periodicity[:n], spectral[0], config.voicing_threshold)
    idx = np.nonzero(voiced)[0]
    st = np.interp(np.arange(n), idx, st[idx]) if idx.size else np.zeros(n)
    pitch = np.vstack([st, periodicity[:n], voiced.astype(np.float64)])
    return np.nan_to_num(np.vstack([spectral, logmel, pitch]).T).astype(np.float32)
