"""Daemon events: small frozen dataclasses, one JSON object per ZeroMQ message.

Every event carries `schema_version`, `type` (equal to its ZeroMQ topic),
`source` (the publishing daemon's `--name`), a per-source `seq` that increases
by one per message (so a client can see gaps, per daemon when many share one
proxy) and `time` (wall clock, Unix seconds). Stream times `t_start` / `t_end`
are seconds of audio since the daemon's stream began. The JSON Schema in
`ccser_core/schema/events.schema.json` is the contract for other languages.

Version 2 added `source` and renamed the status event's input name from
`source` to `input`; version 1 events still read (`from_dict` upgrades them,
with `source` "").
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

SCHEMA_VERSION = 2
#: Versions this code reads; 1 lacks `source` (upgraded by `from_dict`).
READABLE_VERSIONS = (1, 2)
TOPICS = ("emotion", "utterance", "vad", "status")
#: Longest `source` (a daemon's --name) in version 2; the schema's maxLength, so a
#: client never has to keep an unbounded name per daemon.
MAX_SOURCE_CHARS = 100


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
    source: str = field(default="", kw_only=True)  # the daemon's --name; "" before v2

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
    input: str = ""  # microphone, file or stdin the daemon listens to (v1: `source`)
    stream_start_time: float | None = None  # wall clock of stream sample 0, if known
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls for cls in (EmotionEvent, UtteranceEvent, VadEvent, StatusEvent)
}


def from_dict(d: dict[str, Any]) -> Event:
    """Build the event class named by d["type"] (version 1 events upgraded);
    ValueError for unknown types and versions this code cannot read."""
    kind = d.get("type")
    if kind not in EVENT_TYPES:
        raise ValueError(f"unknown event type {kind!r}")
    version = d.get("schema_version")
    if version not in READABLE_VERSIONS:
        raise ValueError(f"event schema_version {version!r}: this ccser reads versions "
                         f"{', '.join(map(str, READABLE_VERSIONS))} (a newer daemon? upgrade ccser)")
    if version == 1:  # status `source` was the input; events had no daemon name
        d = {**d, "source": "", **({"input": d.get("source", "")} if kind == "status" else {})}
    cls = EVENT_TYPES[kind]
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})


def from_json(text: str | bytes) -> Event:
    return from_dict(json.loads(text))
