"""Utterance-level prosody and voice-quality descriptors (eGeMAPS-like).

Pitch is in semitones and loudness in dB relative to the utterance, so both
are independent of the speaker's register and of the recording gain; per-speaker
normalisation removes what remains of the speaker.
"""

from __future__ import annotations

import numpy as np

from ccser_core.dsp import mfcc
from ccser_core.pitch import runs
from ccser_core.spectral import _EPS, SPECTRAL_LLDS, level_db

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
#: Tilt of the long-term average spectrum of voiced frames (dB/kHz, dB): energy-weighted,
#: so it reflects the loud, stressed syllables that carry vocal effort.
LTAS_NAMES = ("ltas_slope_0_1k", "ltas_slope_1_4k", "ltas_slope_0_5k", "ltas_alpha_ratio",
              "ltas_hammarberg", "ltas_band_1000_4000", "ltas_band_4000_8000")
VOICE_NAMES = ("hnr_mean", "hnr_std", "jitter", "shimmer_db", "h1_h2", "h1_a3") + tuple(
    f"{n}_{s}" for s in ("v_mean", "v_std", "uv_mean") for n in VOICED_LLDS) + LTAS_NAMES


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
                      mfcc(logmel, 5)[1:]])
    k = len(VOICED_LLDS)
    out[6:6 + k] = llds[:, voiced].mean(axis=1)
    out[6 + k:6 + 2 * k] = llds[:, voiced].std(axis=1)
    out[6 + 2 * k:6 + 3 * k] = llds[:, ~voiced].mean(axis=1) if (~voiced).any() else 0.0
    out[6 + 3 * k:] = ltas(power[:, voiced].mean(axis=1), freqs)
    return out


def ltas(spectrum: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """LTAS_NAMES of a long-term average power spectrum (spectral tilt and balance)."""
    db = 10 * np.log10(spectrum + _EPS)

    def slope(lo: float, hi: float) -> float:
        band = (freqs >= lo) & (freqs <= hi)
        return np.polyfit(freqs[band] / 1000, db[band], 1)[0]

    def energy(lo: float, hi: float) -> float:
        return spectrum[(freqs >= lo) & (freqs < hi)].sum()

    total = spectrum.sum() + _EPS
    return np.array([
        slope(50, 1000), slope(1000, 4000), slope(50, 5000),
        10 * np.log10((energy(50, 1000) + _EPS) / (energy(1000, 5000) + _EPS)),
        10 * np.log10((spectrum[freqs < 2000].max() + _EPS)
                      / (spectrum[(freqs >= 2000) & (freqs < 5000)].max() + _EPS)),
        10 * np.log10(energy(1000, 4000) / total + _EPS),
        10 * np.log10(energy(4000, 8000) / total + _EPS)])
