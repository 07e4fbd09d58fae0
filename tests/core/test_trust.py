"""Adaptation weighted by evidence: no trust without earlier utterances or when they
all sound like one emotion, growing trust with a varied session."""

import numpy as np

from ccser_core.trust import (
    SessionEvidence,
    TrustRule,
    adaptive_weights,
    diversity,
    fit_rule,
    mix,
    session_weights,
)

ONE = np.array([0.9, 0.05, 0.03, 0.02])


def test_diversity_is_zero_for_one_emotion_and_one_for_a_uniform_mix():
    assert diversity(np.array([1.0, 0, 0, 0])) < 1e-6
    assert abs(diversity(np.full(4, 0.25)) - 1.0) < 1e-9


def test_weight_needs_evidence_and_variety():
    rule = TrustRule(w_max=0.8, n0=2.0, d0=0.5)
    assert rule.weight(0, 1.0) == 0.0  # cold start: absolute experts alone
    assert rule.weight(10, 0.4) == 0.0  # one emotion throughout: statistics not trusted
    assert 0 < rule.weight(1, 1.0) < rule.weight(10, 1.0) < 0.8


def test_a_sustained_session_never_gains_trust_a_varied_one_does():
    rule = TrustRule(w_max=1.0, n0=1.0, d0=0.5)
    sustained = SessionEvidence(4)
    varied = SessionEvidence(4)
    for i in range(12):
        sustained.update(ONE)
        varied.update(np.roll(ONE, i))
    assert sustained.weight(rule) == 0.0 and varied.weight(rule) > 0.8


def test_session_weights_use_only_earlier_utterances():
    p = np.array([np.roll(ONE, i % 4) for i in range(8)])
    w = session_weights(TrustRule(1.0, 0.0, 0.0), p, [np.arange(8)])
    assert w[0] == 0.0 and np.all(w[1:] > 0)
    whole = adaptive_weights(TrustRule(1.0, 0.0, 0.0), p, np.zeros(8))
    assert np.allclose(whole, whole[0]) and whole[0] > 0.9


def test_mix_and_fit_rule():
    pa, ps = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])
    np.testing.assert_allclose(mix(pa, ps, np.array([0.25])), [[0.75, 0.25]])
    best = fit_rule(lambda r: -abs(r.w_max - 0.55) - abs(r.d0 - 0.3))
    assert best.w_max == 0.55 and best.d0 == 0.3
    assert fit_rule(lambda r: 0.0).w_max == 0.0  # no gain: no adaptation
