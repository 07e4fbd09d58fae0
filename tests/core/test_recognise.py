"""recognise_session: the no-speech gate, session normalisation and per-recording results."""

import numpy as np
import pytest

from ccser_core.features import FeatureConfig, extract
from ccser_core.model import default_model_dir, load_model
from ccser_core.normalisation import SpeakerNormaliser, StreamingNormaliser
from ccser_core.recognise import MIN_SPEECH_S, recognise_session, speech_gate, voiced_segments

SR = 16000


@pytest.fixture(scope="module")
def model():
    return load_model(default_model_dir())


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
