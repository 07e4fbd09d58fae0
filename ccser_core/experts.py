"""What a model folder runs: a list of experts and a fusion rule (STYLE.md §9).

Each expert reads one kind of input computed from a recording's samples (`INPUTS`,
chosen by the card's input block), normalised by its own prior and session
statistics, through its own ONNX graph; the model averages the experts'
probabilities with their weights. `ccser-predict`, the dashboard and `ccserd` go
through this list only, so a new input (e.g. a pretrained encoder's pooled
embedding) is one entry in `INPUTS`, and a new model family needs nothing here.

Session statistics count one unit per recording (or utterance): the input vector
itself, or for a sequence input its mean frame (`frame_norm.summary`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from ccser_core.features import FeatureConfig, Pitch, extract, frames
from ccser_core.frame_norm import summary
from ccser_core.normalisation import Prior, StreamingNormaliser, pooled_stats
from ccser_core.trust import SessionEvidence, TrustRule, mix

Stats = tuple[np.ndarray, np.ndarray] | None


@dataclass(frozen=True)
class InputKind:
    """How to compute one kind of expert input from mono samples at the model's rate:
    `compute(y, feature_config, input_block, pitch)` (`pitch`: the samples' `pitch_of`
    when the no-speech gate already tracked it, else None); `sequence`: a (T, D) array per
    recording (ONNX input (1, T, D)), else a (D,) vector (ONNX input (N, D))."""

    compute: Callable[[np.ndarray, FeatureConfig, dict, Pitch | None], np.ndarray]
    sequence: bool


def _features(y: np.ndarray, config: FeatureConfig, block: dict, pitch: Pitch | None
              ) -> np.ndarray:
    return extract(y, config.sample_rate, config, pitch)


def _frames(y: np.ndarray, config: FeatureConfig, block: dict, pitch: Pitch | None
            ) -> np.ndarray:
    return frames(y, config.sample_rate, config, pitch)


def _embedding(y: np.ndarray, config: FeatureConfig, block: dict, pitch: Pitch | None
               ) -> np.ndarray:
    spec = block["encoder"]
    from ccser_core.encoders.whisper import shared_encoder  # ctranslate2 only when used

    return shared_encoder(spec["name"], int(spec["layer"]), spec["sha256"]).embed(
        y, config.sample_rate)


#: The card's `input.kind` -> how the daemon and ccser-predict compute that input.
INPUTS: Mapping[str, InputKind] = MappingProxyType({
    "features": InputKind(_features, sequence=False),
    "frames": InputKind(_frames, sequence=True),
    "embedding": InputKind(_embedding, sequence=False),
})


@dataclass(frozen=True)
class Expert:
    """One loaded expert: its input, its normalisation prior (None: absolute), its
    weight in the fusion and its onnxruntime session."""

    name: str
    block: dict  # the card's input block
    kind: InputKind
    prior: Prior | None
    weight: float
    session: Any
    group: str = ""  # "session" or "absolute" under an evidence rule, else ""

    def input(self, y: np.ndarray, config: FeatureConfig, pitch: Pitch | None = None
              ) -> np.ndarray:
        """The raw (un-normalised) input of mono samples at `config.sample_rate`."""
        return self.kind.compute(y, config, self.block, pitch)

    def unit(self, raw: np.ndarray) -> np.ndarray:
        """What the session statistics learn from one recording's raw input."""
        return summary(raw) if self.kind.sequence else np.asarray(raw, dtype=np.float64)

    def model_input(self, raw: np.ndarray, stats: Stats) -> np.ndarray:
        """`raw` normalised with session statistics `stats` (None: used as it is)."""
        if self.prior is None or stats is None:
            return raw
        return self.prior.model_input(np.asarray(raw, dtype=np.float64), *stats)

    def adaptive(self, raws: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Model inputs of one session's recordings, all normalised together with the
        prior (the speaker-adaptive mode)."""
        if self.prior is None:
            return list(raws)
        stats = pooled_stats(np.vstack([self.unit(r) for r in raws]), self.prior)
        return [self.model_input(r, stats) for r in raws]

    def predict_proba(self, inputs: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """Class probabilities (N, K) of N normalised inputs (vectors may come as one
        (N, D) array); rows summing to 1."""
        name = self.session.get_inputs()[0].name
        if self.kind.sequence:
            seqs = [inputs] if isinstance(inputs, np.ndarray) else list(inputs)
            proba = np.vstack([
                self.session.run(None, {name: np.asarray(s, dtype=np.float32)[None]})[1]
                for s in seqs]).astype(np.float64)
        else:
            X = np.atleast_2d(np.asarray(inputs, dtype=np.float32))
            proba = np.asarray(self.session.run(None, {name: X})[1], dtype=np.float64)
        return _rows_sum_to_one(proba)


def _rows_sum_to_one(proba: np.ndarray) -> np.ndarray:
    proba = np.clip(np.nan_to_num(proba), 0.0, None)
    sums = proba.sum(axis=1, keepdims=True)
    uniform = np.full_like(proba, 1.0 / proba.shape[1])
    return np.where(sums > 0, proba / np.where(sums > 0, sums, 1.0), uniform)


def _average(experts: Sequence[Expert], probas: Sequence[np.ndarray]) -> np.ndarray:
    if len(probas) == 1:
        return probas[0]
    return np.average(np.stack(probas), axis=0, weights=[e.weight for e in experts])


def fuse(experts: Sequence[Expert], inputs: Sequence[Sequence[np.ndarray]],
         trust: float | np.ndarray | None = None) -> np.ndarray:
    """(N, K): the experts' probabilities of their inputs (one list of N per expert),
    averaged with the experts' weights; under an evidence rule (experts in groups),
    each group averaged and the session group weighted `trust` (`ccser_core.trust`)."""
    probas = [e.predict_proba(x) for e, x in zip(experts, inputs, strict=True)]
    if not any(e.group for e in experts):
        return _average(experts, probas)
    groups = {g: ([e for e in experts if e.group == g],
                  [p for e, p in zip(experts, probas, strict=True) if e.group == g])
              for g in ("absolute", "session")}
    p_abs, p_sess = (_average(*groups[g]) for g in ("absolute", "session"))
    return mix(p_abs, p_sess, 0.0 if trust is None else trust)


def absolute_proba(experts: Sequence[Expert], inputs: Sequence[Sequence[np.ndarray]]
                   ) -> np.ndarray | None:
    """(N, K) probabilities of the absolute group (the session evidence), or None."""
    chosen = [(e, x) for e, x in zip(experts, inputs, strict=True) if e.group == "absolute"]
    if not chosen:
        return None
    return _average([e for e, _ in chosen], [e.predict_proba(x) for e, x in chosen])


@dataclass(frozen=True)
class Snapshot:
    """A live session's state before an utterance: each expert's statistics and the
    session group's weight under the model's evidence rule (None: no rule)."""

    stats: list[Stats]
    trust: float | None


class LiveSession:
    """The live rule for every expert of a model: each input normalised with the
    statistics of what came before it, then learnt (`StreamingNormaliser`)."""

    def __init__(self, experts: Sequence[Expert], rule: TrustRule | None = None,
                 n_classes: int = 0) -> None:
        self.experts = list(experts)
        self.normalisers = [StreamingNormaliser(e.prior) if e.prior is not None else None
                            for e in self.experts]
        self.rule = rule
        self.evidence = SessionEvidence(n_classes)

    def stats(self) -> list[Stats]:
        return [n.stats() if n is not None else None for n in self.normalisers]

    def trust(self) -> float | None:
        """The session group's weight now (None without an evidence rule)."""
        return self.evidence.weight(self.rule) if self.rule is not None else None

    def snapshot(self) -> Snapshot:
        return Snapshot(self.stats(), self.trust())

    def learn_evidence(self, absolute: np.ndarray | None) -> None:
        """One utterance as the absolute experts heard it (its mean probabilities)."""
        if self.rule is not None and absolute is not None:
            self.evidence.update(absolute)

    def inputs(self, raws: Sequence[np.ndarray], stats: list[Stats] | None = None
               ) -> list[np.ndarray]:
        """Model inputs of one recording's raw inputs (one per expert), with `stats`
        (a snapshot from `stats()`) or the current statistics."""
        stats = self.stats() if stats is None else stats
        return [e.model_input(r, s) for e, r, s in zip(self.experts, raws, stats, strict=True)]

    def update(self, units: Sequence[np.ndarray]) -> None:
        for n, u in zip(self.normalisers, units, strict=True):
            if n is not None:
                n.update(u)

    def step(self, raws: Sequence[np.ndarray]) -> tuple[list[np.ndarray], float | None]:
        """Normalise one recording by what came before and the trust before it, then
        learn it (statistics, and the evidence its absolute experts give)."""
        out, trust = self.inputs(raws), self.trust()
        self.update([e.unit(r) for e, r in zip(self.experts, raws, strict=True)])
        p_abs = absolute_proba(self.experts, [[x] for x in out])
        self.learn_evidence(None if p_abs is None else p_abs[0])
        return out, trust
