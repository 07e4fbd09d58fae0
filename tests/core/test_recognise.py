"""recognise_session: the no-speech gate, session normalisation and per-recording results."""

from dataclasses import replace

import numpy as np
import pytest

from ccser_core.features import FeatureConfig, extract
from ccser_core.model import default_model_dir, load_model
from ccser_core.normalisation import SpeakerNormaliser, StreamingNormaliser
from ccser_core.recognise import MIN_SPEECH_S, recognise_session, speech_gate, voiced_segments
from ccser_core.trust import diversity, mix

SR = 16000


@pytest.fixture(scope="module")
def default():
    return load_model(default_model_dir())


@pytest.fixture(scope="module")
def model(default):
    """The default's session-normalised expert alone (its normalisation is tested here)."""
    return replace(default, experts=[replace(default.experts[0], group="")], trust_rule=None)


def test_voiced_segments_are_runs_in_seconds():
    flags = np.array([0, 1, 1, 0, 0, 1, 0, 1, 1, 1], dtype=bool)
    assert voiced_segments(flags, 0.03) == ((0.03, 0.09), (0.15, 0.18), (0.21, 0.3))
    assert voiced_segments(np.zeros(4, dtype=bool), 0.03) == ()


def test_gate_finds_speech_and_its_position(speech, noise):
    y = np.concatenate([noise(SR, 1.0, amp=1e-4), speech(SR, 1.5), noise(SR, 1.0, amp=1e-4)])
    gate = speech_gate(y, SR, FeatureConfig())
    assert gate.speech and gate.duration_s == pytest.approx(3.5)
    assert 1.2 <= gate.voiced_s <= 1.7  # WebRTC VAD keeps a short hangover
    start, end = gate.segments[0][0], gate.segments[-1][1]
    assert 0.8 <= start <= 1.1 and 2.4 <= end <= 2.7
    assert not speech_gate(noise(SR, 2.0, amp=1e-4), SR, FeatureConfig()).speech
    short = np.concatenate([noise(SR, 1.0, amp=1e-4), speech(SR, MIN_SPEECH_S / 2)])
    assert not speech_gate(short, SR, FeatureConfig()).speech


def test_session_results_skip_silence_and_normalise_the_speech_together(model, speech, noise):
    voices = [speech(SR, 1.6, f0=f0, amp=a) for f0, a in ((120, 0.1), (220, 0.6), (160, 0.3))]
    quiet = noise(SR, 1.5, amp=1e-4)
    results = recognise_session(model, [voices[0], quiet, voices[1], voices[2]])
    assert [r.speech for r in results] == [True, False, True, True]
    assert results[1].emotion is None and results[1].probabilities == {}
    cfg = model.feature_config
    X = np.vstack([extract(v, SR, cfg) for v in voices])  # the silence must not count
    expert = model.experts[0]
    expected = expert.predict_proba(SpeakerNormaliser(expert.prior).transform(X, np.zeros(3)))
    for r, p in zip([results[0], results[2], results[3]], expected, strict=True):
        assert list(r.probabilities) == model.emotions
        assert list(r.probabilities.values()) == pytest.approx(list(p))
        assert r.emotion == model.emotions[int(np.argmax(p))] and r.confidence == pytest.approx(p.max())


def test_stream_mode_normalises_each_recording_by_those_before_it(model, speech):
    voices = [speech(SR, 1.6, f0=f0) for f0 in (110, 200)]
    results = recognise_session(model, voices, stream=True)
    X = np.vstack([extract(v, SR, model.feature_config) for v in voices])
    stream = StreamingNormaliser(model.experts[0].prior)
    expected = model.experts[0].predict_proba(np.vstack([stream.step(x) for x in X]))
    got = np.array([list(r.probabilities.values()) for r in results])
    np.testing.assert_allclose(got, expected, atol=1e-9)
    assert recognise_session(model, []) == []


def test_the_fused_default_mixes_its_groups_by_the_sessions_evidence(default, speech):
    """Adaptive mode: the whole session is the evidence; each group averaged, then mixed."""
    voices = [speech(SR, 1.6, f0=f0) for f0 in (110, 150, 200, 260)]
    got = np.array([list(r.probabilities.values())
                    for r in recognise_session(default, voices)])
    raws = [default.features(v) for v in voices]
    inputs = [e.adaptive([r[k] for r in raws]) for k, e in enumerate(default.experts)]
    p_sess = default.experts[0].predict_proba(inputs[0])
    p_abs = np.mean([e.predict_proba(x) for e, x in zip(default.experts[1:], inputs[1:],
                                                         strict=True)], axis=0)
    assert w_between(default, p_abs, len(voices))
    w = default.trust_rule.weight(len(voices), diversity(p_abs.mean(axis=0)))
    np.testing.assert_allclose(got, mix(p_abs, p_sess, w), atol=1e-9)
    # One recording: no earlier evidence in stream mode, so the absolute group alone.
    alone = recognise_session(default, voices[:1], stream=True)[0]
    np.testing.assert_allclose(list(alone.probabilities.values()), p_abs_of(default, voices[0]),
                               atol=1e-9)


def w_between(model, p_abs, n):
    w = model.trust_rule.weight(n, diversity(p_abs.mean(axis=0)))
    return 0.0 <= w <= model.trust_rule.w_max


def p_abs_of(model, y):
    raws = model.features(y)
    return np.mean([e.predict_proba(e.model_input(r, None))[0]
                    for e, r in zip(model.experts, raws, strict=True) if e.group == "absolute"],
                   axis=0)
