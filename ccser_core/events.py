"""Daemon events: small frozen dataclasses, one JSON object per ZeroMQ message.

Every event carries `schema_version`, `type` (equal to its ZeroMQ topic), a
per-publisher `seq` that increases by one per message (so a client can see
gaps) and `time` (wall clock, Unix seconds). Stream times `t_start` / `t_end`
are seconds of audio since the daemon's stream began. The JSON Schema in
`ccser_core/schema/events.schema.json` is the contract for other languages.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

SCHEMA_VERSION = 1
TOPICS = ("emotion", "utterance", "vad", "status")


def _clean(value: Any) -> Any:
    """Refuse NaN/inf, which JSON cannot carry (floats stay exact: features are compared)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("event contains a NaN or infinite number")
        return value
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


@dataclass(frozen=True)
class Event:
    """Fields shared by all events; subclasses set `type`."""

    type: ClassVar[str] = ""
    seq: int
    time: float

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "type": self.type, **_clean(asdict(self))}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False, separators=(",", ":"))

    @property
    def topic(self) -> bytes:
        return self.type.encode()


@dataclass(frozen=True)
class Prediction(Event):
    """Class probabilities for a span of audio (`probabilities` sum to 1)."""

    t_start: float
    t_end: float
    utterance_id: int
    emotion: str
    confidence: float
    probabilities: dict[str, float]
    model_id: str
    features: list[float] | None = None  # raw feature vector, only with --emit-features


@dataclass(frozen=True)
class EmotionEvent(Prediction):
    """One sliding window inside an utterance."""

    type: ClassVar[str] = "emotion"


@dataclass(frozen=True)
class UtteranceEvent(Prediction):
    """One finished utterance, classified as a whole (as training sees a file)."""

    type: ClassVar[str] = "utterance"
    n_windows: int = 0


@dataclass(frozen=True)
class VadEvent(Event):
    """Speech started (`t` = utterance start) or ended (`t` = utterance end)."""

    type: ClassVar[str] = "vad"
    state: str  # "start" | "end"
    t: float
    utterance_id: int


@dataclass(frozen=True)
class StatusEvent(Event):
    """Heartbeat and lifecycle ("starting", "running", "device_lost", "stopping")."""

    type: ClassVar[str] = "status"
    state: str
    uptime_s: float
    audio_s: float
    overflows: int
    dropped_windows: int
    dropped_messages: int
    queue_depth: int
    windows: int
    utterances: int
    model_id: str
    source: str
    stream_start_time: float | None = None  # wall clock of stream sample 0, if known
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls for cls in (EmotionEvent, UtteranceEvent, VadEvent, StatusEvent)
}


def from_dict(d: dict[str, Any]) -> Event:
    """Build the event class named by d["type"]; ValueError for unknown types/versions."""
    kind = d.get("type")
    if kind not in EVENT_TYPES:
        raise ValueError(f"unknown event type {kind!r}")
    if d.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"event schema_version {d.get('schema_version')!r} is not "
                         f"{SCHEMA_VERSION}")
    cls = EVENT_TYPES[kind]
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})


def from_json(text: str | bytes) -> Event:
    return from_dict(json.loads(text))
