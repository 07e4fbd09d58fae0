"""Is there speech at all? The check WebRTC VAD lacks.

WebRTC VAD accepts stationary noise, tones and hum as speech (it tracks energy
and a coarse spectral shape), and a classifier then gives them an emotion with
high confidence. Speech has what those lack: periodic (voiced) stretches whose
pitch moves. So a recording or window passes only with enough VAD speech, enough
voiced frames inside it (the same pitch tracker and contour cleaning as the
prosody features), and a pitch that is not flat, with its voiced frames not
pinned to the tracker's search limits (low-pass noise "periodicity" lands there).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from ccser_core import dsp
from ccser_core.features import FeatureConfig, Pitch, prepare
from ccser_core.pitch import clean_contour, pitch_track
from ccser_core.spectral import level_db
from ccser_core.vad import frame_length, speech_flags


@dataclass(frozen=True)
class GateConfig:
    """Thresholds, chosen on generated noise and corpus speech (benchmarks/gate.py)."""

    min_vad_s: float = 0.25  # VAD speech, seconds (the daemon's --min-utterance)
    min_voiced_s: float = 0.15  # voiced frames inside it, seconds
    min_f0_spread_st: float = 0.3  # 10th-90th percentile pitch spread, semitones (tones: ~0)
    max_edge_fraction: float = 0.5  # share of voiced frames at the pitch search limits

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> GateConfig:
        """From a card's `speech_gate`; keys it does not name keep their defaults."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: float(v) for k, v in d.items() if k in known})


@dataclass(frozen=True)
class Evidence:
    vad_s: float
    voiced_s: float
    f0_spread_st: float
    edge_fraction: float

    def passes(self, gate: GateConfig) -> bool:
        return (self.vad_s >= gate.min_vad_s and self.voiced_s >= gate.min_voiced_s
                and self.f0_spread_st >= gate.min_f0_spread_st
                and self.edge_fraction <= gate.max_edge_fraction)


def evidence(y: np.ndarray, sr: int, config: FeatureConfig, flags: np.ndarray | None = None,
             pitch: Pitch | None = None) -> Evidence:
    """Speech evidence of mono samples at `config.sample_rate` (seconds, semitones);
    `flags`: the VAD decisions of `y`, and `pitch`: `pitch_of(y, sr, config)`, when the
    caller already has them (a daemon window hands its pitch on to `extract`)."""
    y = np.nan_to_num(np.asarray(y, dtype=np.float32))
    flags = speech_flags(y, sr, config.vad) if flags is None else flags
    vad_s = float(flags.sum() * frame_length(sr, config.vad.frame_ms) / sr)
    if vad_s == 0.0:
        return Evidence(vad_s, 0.0, 0.0, 1.0)
    speech = prepare(y, sr, config)  # the samples `extract` reads: one pitch track serves both
    if len(speech) <= config.n_fft:  # at most one FFT frame of speech after trimming
        return Evidence(vad_s, 0.0, 0.0, 1.0)
    power = dsp.power_spectrogram(speech, config.n_fft, config.hop_length, config.win_length)
    f0, periodicity = pitch if pitch is not None else \
        pitch_track(speech, sr, config.hop_length, config.fmin, config.fmax)
    n = min(len(f0), power.shape[1])
    st, voiced = clean_contour(f0[:n], periodicity[:n], level_db(power)[:n],
                               config.voicing_threshold)
    voiced_s = float(voiced.sum() * config.hop_length / sr)
    if voiced.sum() < 3:
        return Evidence(vad_s, voiced_s, 0.0, 1.0)
    lo, hi = np.percentile(st[voiced], [10, 90])
    hz = f0[:n][voiced]
    edge = float(np.mean((hz <= config.fmin * 1.03) | (hz >= config.fmax * 0.97)))
    return Evidence(vad_s, voiced_s, float(hi - lo), edge)


def is_speech(y: np.ndarray, sr: int, config: FeatureConfig, gate: GateConfig | None = None
              ) -> bool:
    return evidence(y, sr, config).passes(gate or GateConfig())
