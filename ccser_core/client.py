"""Subscribe to a ccserd publisher and yield parsed, schema-validated events."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from functools import lru_cache
from importlib import resources
from typing import Any

from ccser_core.events import Event, from_dict

DEFAULT_ADDRESS = "tcp://127.0.0.1:5556"


class EventError(ValueError):
    """A received message is not a valid ccserd event (names topic and problem)."""


@lru_cache(maxsize=1)
def _validator() -> Any:
    import jsonschema

    text = resources.files("ccser_core").joinpath("schema/events.schema.json").read_text()
    schema = json.loads(text)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def parse(topic: bytes, payload: bytes) -> Event:
    """Validate one [topic, json] message against the schema and build its event."""
    try:
        data = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EventError(f"topic {topic!r}: not JSON ({exc})") from exc
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.path))
    if errors:
        raise EventError(f"topic {topic!r}: {errors[0].message}")
    if data["type"].encode() != topic:
        raise EventError(f"topic {topic!r} carries an event of type {data['type']!r}")
    if "probabilities" in data and not math.isclose(sum(data["probabilities"].values()), 1.0,
                                                    abs_tol=1e-3):
        raise EventError(f"topic {topic!r}: probabilities do not sum to 1")
    return from_dict(data)


def subscribe(address: str = DEFAULT_ADDRESS, topics: Iterable[str] = (),
              timeout_s: float | None = None, validate: bool = True) -> Iterator[Event]:
    """Connect a SUB socket to `address` and yield events forever.

    `topics` filters (empty: all). With `timeout_s`, stops when no message
    arrives for that long. Invalid messages raise EventError unless
    `validate` is False, in which case they are parsed without the schema.
    """
    import zmq

    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    for topic in list(topics) or [""]:
        sock.setsockopt(zmq.SUBSCRIBE, topic.encode())
    sock.connect(address)
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    timeout_ms = None if timeout_s is None else int(timeout_s * 1000)
    try:
        while True:
            if not poller.poll(timeout_ms):
                return
            topic, payload = sock.recv_multipart()[:2]
            yield parse(topic, payload) if validate else from_dict(json.loads(payload))
    finally:
        sock.close()
