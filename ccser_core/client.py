"""Subscribe to a ccserd publisher and yield parsed, schema-validated events.

Whatever arrives is untrusted: a message that is not one event (wrong number
of frames, not JSON, nested too deeply, NaN or Infinity, not matching the
schema) raises EventError, and the next message can still be read. A frame
over `max_message_bytes` (MAX_EVENT_BYTES) is never delivered: ZeroMQ ends
the connection (ZMQ_MAXMSGSIZE) and, as after any protocol error, does not
connect to that peer again.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Iterator
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from ccser_core.curve import CurveKeyError, load_key_pair, load_public_key
from ccser_core.events import Event, from_dict

DEFAULT_ADDRESS = "tcp://127.0.0.1:5556"
#: Largest message frame read by default, bytes. Most events are under 4 KB, but
#: --emit-features with a frames model (the RNN) sends ~110 KB per second of
#: utterance: 64 MB at the longest max_utterance (600 s).
MAX_EVENT_BYTES = 128 * 1024 * 1024


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


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def load_json(payload: bytes) -> Any:
    """Strict JSON from an untrusted payload (no NaN/Infinity); ValueError for anything
    unreadable, including nesting deeper than Python's recursion allows."""
    try:
        return json.loads(payload, parse_constant=_no_constant)
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc


def parse(topic: bytes, payload: bytes) -> Event:
    """Validate one [topic, json] message against the schema and build its event."""
    try:
        data = load_json(payload)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise EventError(f"topic {topic[:40]!r}: not JSON ({str(exc)[:200]})") from exc
    try:
        errors = sorted(_validator().iter_errors(data), key=lambda e: list(e.path))
    except RecursionError as exc:
        raise EventError(f"topic {topic[:40]!r}: nested too deeply") from exc
    if errors:
        raise EventError(f"topic {topic[:40]!r}: {errors[0].message[:200]}")
    if data["type"].encode() != topic:
        raise EventError(f"topic {topic[:40]!r} carries an event of type {data['type']!r}")
    if "probabilities" in data and not math.isclose(sum(data["probabilities"].values()), 1.0,
                                                    abs_tol=1e-3):
        raise EventError(f"topic {topic[:40]!r}: probabilities do not sum to 1")
    return from_dict(data)


class Subscriber:
    """A SUB socket on `address` (optionally CURVE) that also watches its connection,
    so a client can say whether anything is there. Use as a context manager."""

    def __init__(self, address: str = DEFAULT_ADDRESS, topics: Iterable[str] = (),
                 curve_server_key: str | Path | None = None,
                 curve_secret_key: str | Path | None = None,
                 max_message_bytes: int = MAX_EVENT_BYTES) -> None:
        import zmq

        if (curve_server_key is None) != (curve_secret_key is None):
            raise CurveKeyError("CURVE needs both the server's public key file "
                                "(--curve-server-key) and this client's .key_secret file "
                                "(--curve-secret-key)")
        self.address = address
        self.state = "connecting"  # then "connected", "refused (...)" or "retrying"
        self._sock = zmq.Context.instance().socket(zmq.SUB)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.setsockopt(zmq.MAXMSGSIZE, max_message_bytes)
        if curve_server_key is not None and curve_secret_key is not None:
            pair = load_key_pair(curve_secret_key)
            self._sock.curve_serverkey = load_public_key(curve_server_key)
            self._sock.curve_publickey = pair.public
            self._sock.curve_secretkey = pair.secret
        for topic in list(topics) or [""]:
            self._sock.setsockopt(zmq.SUBSCRIBE, topic.encode())
        self._monitor = self._sock.get_monitor_socket()
        self._sock.connect(address)
        self._poller = zmq.Poller()
        self._poller.register(self._sock, zmq.POLLIN)
        self._poller.register(self._monitor, zmq.POLLIN)

    def receive(self, timeout_s: float | None) -> tuple[bytes, bytes] | None:
        """Next [topic, payload], or None when nothing arrived within `timeout_s`;
        EventError for a message of other than two frames (it is consumed)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = dict(self._poller.poll(None if left is None else int(left * 1000)))
            if self._monitor in ready:
                self._watch(self._monitor.recv_multipart())
            if self._sock in ready:
                frames = self._sock.recv_multipart()
                if len(frames) != 2:
                    raise EventError(f"a message of {len(frames)} frame(s); an event has "
                                     "2 (topic, JSON)")
                return frames[0], frames[1]
            if deadline is not None and time.monotonic() >= deadline:
                return None

    def _watch(self, message: list[bytes]) -> None:
        import zmq
        from zmq.utils.monitor import parse_monitor_message

        event = parse_monitor_message(message)["event"]
        if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            self.state = "connected"
        elif event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            self.state = "refused (the daemon does not accept this CURVE key)"
        elif event in (zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
                       zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL):
            self.state = "refused (handshake failed: CURVE keys missing or wrong?)"
        elif event in (zmq.EVENT_CONNECT_RETRIED, zmq.EVENT_DISCONNECTED) and \
                not self.state.startswith("refused"):
            self.state = "retrying (nothing accepts connections there yet)"

    def close(self) -> None:
        self._sock.disable_monitor()
        self._monitor.close(linger=0)
        self._sock.close()

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def subscribe(address: str = DEFAULT_ADDRESS, topics: Iterable[str] = (),
              timeout_s: float | None = None, validate: bool = True,
              curve_server_key: str | Path | None = None,
              curve_secret_key: str | Path | None = None) -> Iterator[Event]:
    """Connect a SUB socket to `address` and yield events forever.

    `topics` filters (empty: all). With `timeout_s`, stops when no message
    arrives for that long. Invalid messages raise EventError unless
    `validate` is False, in which case they are parsed without the schema
    (a message of other than two frames still raises EventError).
    For a CURVE daemon give the daemon's public key file and this client's
    `.key_secret` file (see `ccserd --generate-keys`); without the right keys
    nothing arrives.
    """
    with Subscriber(address, topics, curve_server_key, curve_secret_key) as sub:
        while (message := sub.receive(timeout_s)) is not None:
            topic, payload = message
            yield parse(topic, payload) if validate else from_dict(load_json(payload))
