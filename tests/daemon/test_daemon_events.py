"""Events: JSON round trip, schema validation and the client's checks."""

import json

import pytest

from ccser_core.client import EventError, parse
from ccser_core.events import (
    EmotionEvent,
    StatusEvent,
    UtteranceEvent,
    VadEvent,
    from_dict,
    from_json,
)

PROBS = {"angry": 0.1, "happy": 0.6, "sad": 0.3}


def examples():
    return [
        EmotionEvent(seq=0, time=1.5, t_start=0.9, t_end=2.9, utterance_id=0, emotion="happy",
                     confidence=0.6, probabilities=PROBS, model_id="m"),
        UtteranceEvent(seq=1, time=1.6, t_start=0.9, t_end=3.7, utterance_id=0,
                       emotion="happy", confidence=0.6, probabilities=PROBS, model_id="m",
                       n_windows=2),
        VadEvent(seq=2, time=1.7, state="start", t=0.9, utterance_id=0),
        StatusEvent(seq=3, time=1.8, state="running", uptime_s=1.0, audio_s=2.0, overflows=0,
                    dropped_windows=0, dropped_messages=0, queue_depth=0, windows=1,
                    utterances=0, model_id="m", source="mic"),
    ]


@pytest.mark.parametrize("event", examples(), ids=lambda e: e.type)
def test_round_trip_and_schema(event):
    text = event.to_json()
    assert from_json(text) == event
    assert parse(event.topic, text.encode()) == event
    assert json.loads(text)["type"] == event.type


def test_nan_is_refused():
    bad = EmotionEvent(seq=0, time=1.0, t_start=0, t_end=1, utterance_id=0, emotion="a",
                       confidence=float("nan"), probabilities=PROBS, model_id="m")
    with pytest.raises(ValueError, match="NaN"):
        bad.to_json()


def test_client_rejects_wrong_topic_and_bad_probabilities():
    event = examples()[0]
    with pytest.raises(EventError, match="type 'emotion'"):
        parse(b"status", event.to_json().encode())
    d = event.to_dict() | {"probabilities": {"a": 0.2, "b": 0.2}}
    with pytest.raises(EventError, match="sum to 1"):
        parse(b"emotion", json.dumps(d).encode())
    d = event.to_dict()
    del d["emotion"]
    with pytest.raises(EventError, match="emotion"):
        parse(b"emotion", json.dumps(d).encode())
    with pytest.raises(EventError, match="not JSON"):
        parse(b"emotion", b"{oops")


def test_version_1_events_still_read_and_newer_ones_say_why_not():
    old = {"schema_version": 1, "type": "status", "seq": 0, "time": 1.0, "state": "running",
           "uptime_s": 1.0, "audio_s": 1.0, "overflows": 0, "dropped_windows": 0,
           "dropped_messages": 0, "queue_depth": 0, "windows": 0, "utterances": 0,
           "model_id": "m", "source": "mic"}
    event = parse(b"status", json.dumps(old).encode())
    assert (event.source, event.input) == ("", "mic")
    new = {**old, "schema_version": 2, "source": "desk-1", "input": "mic"}
    assert parse(b"status", json.dumps(new).encode()).source == "desk-1"
    del new["source"]
    with pytest.raises(ValueError, match="source"):
        parse(b"status", json.dumps(new).encode())
    with pytest.raises(ValueError, match="reads versions 1, 2"):
        from_dict({**old, "schema_version": 3})
