"""ccserd opens no utterance and publishes no emotion for silence, tones, hum or
stationary and clipped noise (the no-speech gate), and still labels speech among them."""

from __future__ import annotations

import numpy as np
import pytest
from daemon_helpers import SR, run_file, silence, speech_like, write_wav

from ccser_core.events import EmotionEvent, StatusEvent, UtteranceEvent, VadEvent

RNG = np.random.default_rng(5)
T = np.arange(5 * SR) / SR


def _brown(n: int) -> np.ndarray:
    x = np.cumsum(RNG.standard_normal(n))
    x -= np.linspace(x[0], x[-1], n)
    return 0.5 * x / np.abs(x).max()


NON_SPEECH = [
    silence(2.0),
    0.3 * np.sin(2 * np.pi * 200 * T[:SR]),  # 1 s tone
    silence(1.0),
    0.2 * sum(np.sin(2 * np.pi * 50 * k * T) / k for k in range(1, 8)),  # hum
    0.3 * RNG.standard_normal(5 * SR),  # white noise
    _brown(5 * SR),
    np.clip(2 * RNG.standard_normal(3 * SR), -1, 1),  # clipped noise
    silence(1.0),
]


@pytest.fixture(scope="module")
def noise_only(tmp_path_factory):
    wav = write_wav(tmp_path_factory.mktemp("gate") / "noise.wav",
                    *[np.asarray(p, dtype=np.float32) for p in NON_SPEECH])
    return wav


def test_no_speech_gives_no_vad_emotion_or_utterance_event(model_dir, noise_only):
    events, proc = run_file(model_dir, noise_only)
    assert proc.returncode == 0, proc.stderr
    assert not [e for e in events if isinstance(e, (VadEvent, EmotionEvent, UtteranceEvent))]
    final = [e for e in events if isinstance(e, StatusEvent)][-1]
    assert final.state == "stopping" and final.audio_s > 20
    assert final.extra["rejected_segments"] >= 1  # WebRTC VAD did take some of it for speech


def test_speech_among_noise_is_still_labelled(model_dir, tmp_path):
    wav = write_wav(tmp_path / "mixed.wav", silence(1.0), speech_like(2.5, seed=2), silence(1.5),
                    np.asarray(NON_SPEECH[1], dtype=np.float32),
                    np.asarray(0.3 * RNG.standard_normal(3 * SR), dtype=np.float32),
                    silence(1.0), speech_like(2.0, seed=7), silence(1.0))
    events, proc = run_file(model_dir, wav)
    assert proc.returncode == 0, proc.stderr
    utterances = [e for e in events if isinstance(e, UtteranceEvent)]
    assert len(utterances) == 2, proc.stderr
    # Speech at 1.0-3.5 s and 10.0-12.0 s; the tone and noise between them open nothing.
    assert 0.7 <= utterances[0].t_start <= 1.2 and 9.6 <= utterances[1].t_start <= 10.2
    vad = [e for e in events if isinstance(e, VadEvent)]
    assert [e.state for e in vad] == ["start", "end", "start", "end"]
    assert {e.utterance_id for e in events if isinstance(e, EmotionEvent)} == {0, 1}
