"""Session-normalised and absolute experts, mixed per utterance by session evidence.

`--fuse` over experts of both kinds (e.g. `--models logreg,whisper-base,whisper-tiny.en`)
builds this model: each group averages its members, and the session group's weight
in a session follows `ccser_core.trust.TrustRule` (how many utterances the session
statistics hold, and how varied they sound to the absolute experts). The rule is
learned on the training corpora only: each training corpus in turn is held out,
the experts are refitted on the others, and its files are played in every session
kind (training/sessions.py); the rule with the best mean-plus-worst UAR over kinds
wins. With a single training corpus there is nothing to hold out: the rule is the
cautious default (`TrustRule()`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ccser_core.trust import TrustRule, adaptive_weights, fit_rule, mix, session_weights
from training.data import CorpusData, speakers
from training.evaluate import uar
from training.experts.base import Expert, Graph, RunData, Within, fit_members
from training.sessions import KINDS, kind_sessions

Candidates = Callable[[], list[Expert]]


def _mean(probas: list[np.ndarray]) -> np.ndarray:
    return np.mean(np.stack(probas), axis=0)


def _sessions(part: CorpusData, emotions: list[str], seed: int) -> dict[str, list[np.ndarray]]:
    neutral = emotions.index("neutral") if "neutral" in emotions else None
    who = speakers([part])
    out = {}
    for kind in KINDS:
        s = kind_sessions(kind, part.y, who, neutral, np.random.default_rng(seed))
        if s:
            out[kind] = s
    return out


def _corpus_memos(run: RunData) -> dict:
    """What a sub-run may reuse: per-corpus inputs (embeddings) and loaded encoder specs,
    never anything fitted on the run's training set."""
    return {k: v for k, v in run.shared.items() if k.startswith(("encoder:", "embeddings:"))}


class EvidenceFused(Expert):
    input_kind = "mixed"
    normalisation = "evidence"

    def __init__(self, session: list[Expert], absolute: list[Expert],
                 candidates: Candidates) -> None:
        self.session, self.absolute, self.candidates = session, absolute, candidates
        self.name = "+".join(e.name for e in session + absolute)

    def fit(self, run: RunData) -> EvidenceFused:
        fit_members(self.session + self.absolute, run)
        members = self.session + self.absolute
        self.params_ = {e.name: e.params_ for e in members}
        self.cv_uar_ = float(np.mean([e.cv_uar_ for e in members]))
        self.seconds_ = sum(e.seconds_ for e in members)
        self.y_train_ = self.session[0].y_train_
        self.seed_ = run.cfg.seed
        self.rule_ = self._learn_rule(run)
        return self

    def _learn_rule(self, run: RunData) -> TrustRule:
        """Inner leave-one-training-corpus-out: probabilities of each held-out training
        corpus in every session kind, then the rule that mixes them best."""
        if len(run.train) < 2:
            return TrustRule()
        emotions, seed = list(run.cfg.emotions), run.cfg.seed
        played: list[tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray], str]] = []
        for held in run.train:
            others = [p for p in run.train if p is not held]
            # Three search folds: the rule needs honest probabilities, not the best grid point.
            search = replace(run.cfg.search, folds=min(run.cfg.search.folds, 3))
            sub = RunData(replace(run.cfg, train=tuple(p.name for p in others),
                                  test=(held.name,), export=False, search=search),
                          others, [held], run.cache, shared=_corpus_memos(run))
            fresh = self.candidates()
            fit_members(fresh, sub)
            session = [e for e in fresh if e.live]
            absolute = [e for e in fresh if not e.live]
            p_abs = _mean([e.predict_proba(held, "adaptive") for e in absolute])
            for kind, sessions in _sessions(held, emotions, seed).items():
                p_sess = _mean([e.predict_sessions(held, sessions) for e in session])
                played.append((p_abs, p_sess, held.y, sessions, kind))

        def score(rule: TrustRule) -> float:
            by_kind: dict[str, list[float]] = {}
            for p_abs, p_sess, y, sessions, kind in played:
                rows = np.concatenate(sessions)
                w = session_weights(rule, p_abs, sessions)
                pred = mix(p_abs[rows], p_sess, w).argmax(axis=1)
                by_kind.setdefault(kind, []).append(uar(y[rows], pred))
            kinds = [float(np.mean(v)) for v in by_kind.values()]
            return float(np.mean(kinds) + min(kinds))

        return fit_rule(score)

    def predict_proba(self, part: CorpusData, mode: str) -> np.ndarray:
        p_abs = _mean([e.predict_proba(part, mode) for e in self.absolute])
        if mode == "adaptive":
            p_sess = _mean([e.predict_proba(part, mode) for e in self.session])
            return mix(p_abs, p_sess, adaptive_weights(self.rule_, p_abs, speakers([part])))
        # Streaming: each speaker one session, in a seeded order, as the live rule plays it.
        sessions = kind_sessions("balanced", part.y, speakers([part]), None,
                                 np.random.default_rng(self.seed_))
        rows = np.concatenate(sessions)
        out = np.empty_like(p_abs)
        out[rows] = self.predict_sessions(part, sessions)
        return out

    def predict_sessions(self, part: CorpusData, sessions: list[np.ndarray]) -> np.ndarray:
        p_abs = _mean([e.predict_proba(part, "adaptive") for e in self.absolute])
        p_sess = _mean([e.predict_sessions(part, sessions) for e in self.session])
        rows = np.concatenate(sessions)
        return mix(p_abs[rows], p_sess, session_weights(self.rule_, p_abs, sessions))

    @property
    def live(self) -> bool:
        return True

    def within_corpus(self, run: RunData) -> Within:
        best = max(self.session + self.absolute, key=lambda e: e.cv_uar_)
        w = best.within_corpus(run)
        return Within(w.y, w.pred, {**w.describe, "member": best.name})

    def graphs(self, run: RunData) -> list[Graph]:
        """Every member's graph, tagged with its group and its weight within the group;
        the card's `fusion` block carries the rule."""
        out = []
        for group, members in (("session", self.session), ("absolute", self.absolute)):
            for e in members:
                out += [Graph(g.name, g.onnx, {**g.block, "group": group,
                                               "weight": 1.0 / len(members)}, g.check)
                        for g in e.graphs(run)]
        return out

    def fusion_block(self) -> dict:
        return {"rule": "evidence", "trust": self.rule_.to_dict()}

    def members(self) -> list[Expert]:
        return [m for e in self.session + self.absolute for m in e.members()]
