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

from ccser_core.pitch import clean_contour, pitch_track, runs
from ccser_core.vad import VadConfig, trim_silence

#: Bump when a change to this module changes any number it produces.
FEATURE_CODE_VERSION = 3

FRAME_GROUPS = ("mfcc", "mel", "chroma", "contrast", "tonnetz", "spectral")
UTTERANCE_GROUPS = ("prosody", "voice")
STATS = ("mean", "std", "p10", "p50", "p90", "dstd", "dabs")
SPECTRAL_LLDS = (
    "loudness_rel", "centroid", "bandwidth", "rolloff", "flatness", "flux", "zcr",
    "alpha_ratio", "hammarberg",
)
PROSODY_NAMES = (
    "f0_mean", "f0_std", "f0_p20", "f0_p50", "f0_p80", "f0_range", "f0_rise", "f0_fall",
    "f0_slope", "loud_mean", "loud_std", "loud_p20", "loud_p50", "loud_p80", "loud_range",
    "loud_voiced", "loud_unvoiced", "loud_rise", "loud_fall", "voiced_ratio", "voiced_rate",
    "voiced_len_mean", "voiced_len_std", "unvoiced_len_mean", "unvoiced_len_std",
)
#: Frame descriptors summarised over voiced (mean, std) and unvoiced (mean) frames.
VOICED_LLDS = (
    "slope_0_500", "slope_500_1500", "band_50_1000", "band_1000_2500", "band_2500_4000",
    "band_4000_8000", "alpha_ratio", "hammarberg", "flux", "centroid",
    "mfcc1", "mfcc2", "mfcc3", "mfcc4",
)
VOICE_NAMES = ("hnr_mean", "hnr_std", "jitter", "shimmer_db", "h1_h2", "h1_a3") + tuple(
    f"{n}_{s}" for s in ("v_mean", "v_std", "uv_mean") for n in VOICED_LLDS)
_EPS = 1e-10


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


def fingerprint(config: FeatureConfig) -> str:
    """Hash of everything that decides the numbers: config, this code, librosa version.

    A model is refused where this does not reproduce, since its features
    would silently differ from the ones it was trained on.
    """
    import librosa

    spec = {
        "config": config.to_dict(),
        "code": FEATURE_CODE_VERSION,
        "librosa": ".".join(librosa.__version__.split(".")[:2]),
        "numpy": np.__version__.split(".")[0],
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


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


def _pct(v: np.ndarray) -> list[float]:
    """mean, std, p20, p50, p80, p80 - p20 (zeros if fewer than two values)."""
    if v.size < 2:
        return [0.0] * 6
    p20, p50, p80 = np.percentile(v, [20, 50, 80])
    return [v.mean(), v.std(), p20, p50, p80, p80 - p20]


def _mean(v: np.ndarray) -> float:
    return float(v.mean()) if v.size else 0.0


def prosody(st: np.ndarray, voiced: np.ndarray, loud: np.ndarray, hop_s: float) -> np.ndarray:
    """eGeMAPS-style pitch (semitones), loudness (dB re utterance) and rhythm statistics."""
    out = _pct(st[voiced])
    rises, falls = [], []
    for s, e in runs(voiced):
        d = np.diff(st[s:e]) / hop_s
        rises.append(d[d > 0])
        falls.append(d[d < 0])
    out += [_mean(np.concatenate(rises or [np.zeros(0)])),
            _mean(np.concatenate(falls or [np.zeros(0)]))]
    t = np.nonzero(voiced)[0] * hop_s
    out.append(np.polyfit(t, st[voiced], 1)[0] if t.size >= 2 and np.ptp(t) > 0 else 0.0)
    out += _pct(loud) + [_mean(loud[voiced]), _mean(loud[~voiced])]
    dl = np.diff(np.convolve(loud, np.ones(3) / 3, mode="same")) / hop_s
    out += [_mean(dl[dl > 0]), _mean(dl[dl < 0])]
    v_len, u_len = (np.diff(runs(m), axis=1).ravel() * hop_s for m in (voiced, ~voiced))
    out += [_mean(voiced), v_len.size / max(voiced.size * hop_s, hop_s),
            _mean(v_len), v_len.std() if v_len.size else 0.0,
            _mean(u_len), u_len.std() if u_len.size else 0.0]
    return np.asarray(out, dtype=np.float64)


def voice_quality(periodicity: np.ndarray, st: np.ndarray, voiced: np.ndarray,
                  power: np.ndarray, freqs: np.ndarray, spectral: np.ndarray,
                  logmel: np.ndarray) -> np.ndarray:
    """HNR, jitter, shimmer, harmonic differences, and spectral balance of voiced
    vs unvoiced frames (phonation and effort cues, largely gain- and text-independent)."""
    import librosa

    out = np.zeros(len(VOICE_NAMES))
    if voiced.sum() < 2:
        return out
    r = np.clip(periodicity[voiced], 1e-4, 1 - 1e-4)
    hnr = 10 * np.log10(r / (1 - r))
    f0 = 55.0 * 2 ** (st / 12)
    amp_db = level_db(power)
    jit, shim = [], []
    for s, e in runs(voiced):  # consecutive voiced frames only, never across a pause
        period = 1 / f0[s:e]
        jit.append(np.abs(np.diff(period)) / period[:-1])
        shim.append(np.abs(np.diff(amp_db[s:e])))
    lp = 10 * np.log10(power + _EPS)
    idx = np.nonzero(voiced)[0]

    def harmonic(k: int) -> np.ndarray:
        b = np.clip(np.round(k * f0[idx] / freqs[1]).astype(int), 1, len(freqs) - 2)
        return np.max(np.stack([lp[b - 1, idx], lp[b, idx], lp[b + 1, idx]]), axis=0)

    h1 = harmonic(1)
    a3 = lp[(freqs >= 2000) & (freqs < 3500)][:, idx].max(axis=0)
    out[:6] = [hnr.mean(), hnr.std(), _mean(np.concatenate(jit)), _mean(np.concatenate(shim)),
               np.mean(h1 - harmonic(2)), np.mean(h1 - a3)]

    def slope(lo: float, hi: float) -> np.ndarray:
        band = (freqs >= lo) & (freqs <= hi)
        f = freqs[band] / 1000 - (freqs[band] / 1000).mean()
        return (f[:, None] * (lp[band] - lp[band].mean(axis=0))).sum(axis=0) / (f**2).sum()

    total = power.sum(axis=0) + _EPS
    bands = [10 * np.log10(power[(freqs >= lo) & (freqs < hi)].sum(axis=0) / total + _EPS)
             for lo, hi in ((50, 1000), (1000, 2500), (2500, 4000), (4000, 8000))]
    rows = {name: i for i, name in enumerate(SPECTRAL_LLDS)}
    llds = np.vstack([slope(0, 500), slope(500, 1500), *bands,
                      spectral[[rows["alpha_ratio"], rows["hammarberg"], rows["flux"],
                                rows["centroid"]]],
                      librosa.feature.mfcc(S=logmel, n_mfcc=5)[1:]])
    k = len(VOICED_LLDS)
    out[6:6 + k] = llds[:, voiced].mean(axis=1)
    out[6 + k:6 + 2 * k] = llds[:, voiced].std(axis=1)
    out[6 + 2 * k:] = llds[:, ~voiced].mean(axis=1) if (~voiced).any() else 0.0
    return out


def extract(y: np.ndarray, sr: int, config: FeatureConfig) -> np.ndarray:
    """Feature vector (float32, len(feature_names(config))) of mono samples at `sr` Hz.

    `sr` must equal `config.sample_rate`; resampling is the caller's job
    (`ccser_core.audio`), so a live window and a file go through the same path.
    """
    import librosa

    if sr != config.sample_rate:
        raise ValueError(f"samples at {sr} Hz, feature config expects {config.sample_rate} Hz")
    y = np.nan_to_num(np.asarray(y, dtype=np.float32))
    if config.vad_trim:
        y = trim_silence(y, sr, config.vad)
    if len(y) < config.n_fft:
        y = np.pad(y, (0, config.n_fft - len(y)))
    y = y - y.mean()  # DC offset would bias loudness and pitch
    stft = librosa.stft(y, n_fft=config.n_fft, hop_length=config.hop_length,
                        win_length=config.win_length)
    power = np.abs(stft) ** 2
    freqs = librosa.fft_frequencies(sr=sr, n_fft=config.n_fft)
    mel = librosa.feature.melspectrogram(S=power, sr=sr, n_mels=config.n_mels)
    # dB re the utterance's loud frames: gain-free MFCC c0 / mel levels (see spectral_llds).
    logmel = librosa.power_to_db(mel, ref=1.0, amin=_EPS, top_db=None)
    logmel -= np.percentile(level_db(power), 95)
    hop_s = config.hop_length / sr
    st = periodicity = voiced = spectral = None
    parts: list[np.ndarray] = []

    def spectral_frames() -> np.ndarray:
        nonlocal spectral
        if spectral is None:
            zcr = librosa.feature.zero_crossing_rate(
                y, frame_length=config.win_length, hop_length=config.hop_length)[0]
            spectral = spectral_llds(power, freqs, logmel, zcr[: power.shape[1]])
        return spectral

    for group in config.groups:
        if group in ("prosody", "voice"):
            loud = spectral_frames()[0]
            if st is None:
                f0, periodicity = pitch_track(y, sr, config.hop_length, config.fmin, config.fmax)
                f0, periodicity = f0[: power.shape[1]], periodicity[: power.shape[1]]
                st, voiced = clean_contour(f0, periodicity, loud, config.voicing_threshold)
            parts.append(prosody(st, voiced, loud, hop_s) if group == "prosody" else
                         voice_quality(periodicity, st, voiced, power, freqs, spectral, logmel))
            continue
        if group == "mfcc":
            frames = librosa.feature.mfcc(S=logmel, n_mfcc=config.n_mfcc)
        elif group == "mel":
            frames = logmel
        elif group == "spectral":
            frames = spectral_frames()
        elif group == "contrast":
            frames = librosa.feature.spectral_contrast(S=np.abs(stft), sr=sr, fmin=100.0)
        else:
            chroma = librosa.feature.chroma_stft(S=power, sr=sr)
            frames = chroma if group == "chroma" else librosa.feature.tonnetz(chroma=chroma, sr=sr)
        parts.append(functionals(frames, config.stats))
    return np.nan_to_num(np.concatenate(parts)).astype(np.float32)
