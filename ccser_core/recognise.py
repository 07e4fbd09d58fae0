"""Recognise a session of recordings: waveforms in, one result per recording out.

The one path from audio to emotions for anything that labels recordings
(`ccser-predict`, the dashboard): a no-speech gate, then each of the model's
experts (its input, its session normalisation, its ONNX graph), fused.
Recordings given together are one session of one speaker: normalised with the pooled statistics of all the
recordings that contain speech plus the model's prior (speaker-adaptive), or,
with `stream=True`, one after another as the daemon does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ccser_core.features import FeatureConfig, Pitch, pitch_of
from ccser_core.gate import GateConfig, evidence
from ccser_core.model import LoadedModel
from ccser_core.trust import whole_session_weight
from ccser_core.vad import dilate, frame_length, speech_flags

#: Less VAD speech than this (seconds) is "no speech": the daemon's default
#: --min-utterance, below which it does not classify an utterance either.
MIN_SPEECH_S = GateConfig().min_vad_s


@dataclass(frozen=True)
class Recognition:
    """One recording's result. Without speech, `emotion` and `confidence` are None and
    `probabilities` is empty. `segments` are the voiced spans in seconds (VAD, padded)."""

    speech: bool
    duration_s: float
    voiced_s: float
    segments: tuple[tuple[float, float], ...] = ()
    emotion: str | None = None
    confidence: float | None = None
    probabilities: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"speech": self.speech, "emotion": self.emotion, "confidence": self.confidence,
                "probabilities": dict(self.probabilities), "duration_s": self.duration_s,
                "voiced_s": self.voiced_s, "segments": [list(s) for s in self.segments]}


def voiced_segments(flags: np.ndarray, frame_s: float) -> tuple[tuple[float, float], ...]:
    """Runs of True frames as (start, end) seconds."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    return tuple((round(float(s * frame_s), 3), round(float(e * frame_s), 3))
                 for s, e in zip(starts, ends, strict=True))


def speech_gate(y: np.ndarray, sr: int, config: FeatureConfig,
                gate: GateConfig | None = None, pitch: Pitch | None = None) -> Recognition:
    """VAD a recording and check it holds speech (`ccser_core.gate`): duration, VAD
    speech seconds, voiced spans, and whether it has speech. `pitch`: `pitch_of(y)`
    when the caller has it (it is then shared with the features)."""
    vad = config.vad
    flags = speech_flags(y, sr, vad)
    frame_s = frame_length(sr, vad.frame_ms) / sr
    found = evidence(y, sr, config, flags, pitch)
    return Recognition(speech=found.passes(gate or GateConfig()), duration_s=len(y) / sr,
                       voiced_s=round(found.vad_s, 3),
                       segments=voiced_segments(dilate(flags, vad.pad_frames), frame_s))


def recognise_session(model: LoadedModel, waveforms: Sequence[np.ndarray],
                      stream: bool = False) -> list[Recognition]:
    """Results for mono float32 waveforms at the model's sample rate, in input order.

    Recordings without speech get no emotion and do not enter the session's
    normalisation statistics (silence would pull them away from speech).
    """
    cfg = model.feature_config
    pitches = [pitch_of(y, cfg.sample_rate, cfg) for y in waveforms]  # gate and features
    gated = [speech_gate(y, cfg.sample_rate, cfg, model.gate(), p)
             for y, p in zip(waveforms, pitches, strict=True)]
    spoken = [i for i, g in enumerate(gated) if g.speech]
    if not spoken:
        return gated
    raws = [model.features(waveforms[i], pitches[i]) for i in spoken]  # one per expert
    if stream:
        session = model.live_session()
        steps = [session.step(r) for r in raws]  # (inputs, trust before the recording)
        inputs = [list(x) for x in zip(*[x for x, _ in steps], strict=True)]
        trusts = [t for _, t in steps]
        proba = model.predict(inputs, None if trusts[0] is None else np.asarray(trusts))
    else:
        inputs = [e.adaptive([r[k] for r in raws]) for k, e in enumerate(model.experts)]
        proba = model.predict(inputs, _session_trust(model, inputs))
    emotions = model.emotions
    out = list(gated)
    for i, p in zip(spoken, proba, strict=True):
        best = int(np.argmax(p))
        out[i] = replace(gated[i], emotion=emotions[best], confidence=float(p[best]),
                         probabilities=dict(zip(emotions, map(float, p), strict=True)))
    return out


def _session_trust(model: LoadedModel, inputs: list[list[np.ndarray]]) -> float | None:
    """Speaker-adaptive mode: the whole session is the evidence (all its recordings)."""
    rule, p_abs = model.trust_rule, model.absolute(inputs)
    if rule is None or p_abs is None:
        return None
    return whole_session_weight(rule, p_abs)
