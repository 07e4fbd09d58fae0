"""ZeroMQ publisher: bounded, never blocking, numbering every event it is given."""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable

import zmq

from ccser_core.errors import CcserError
from ccser_core.events import Event


class PublishError(CcserError):
    """The publish address cannot be bound (names the address)."""


class Publisher:
    """XPUB socket (PUB semantics, plus subscription visibility) with a send HWM.

    A subscriber that is slow or gone fills its HWM; further sends to it fail
    immediately (XPUB_NODROP + NOBLOCK) and are counted in `dropped`. `seq`
    advances for dropped events too, so clients see the gap.
    """

    def __init__(self, address: str, hwm: int) -> None:
        self.address = address
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.XPUB)
        self._sock.setsockopt(zmq.SNDHWM, hwm)
        self._sock.setsockopt(zmq.XPUB_VERBOSE, 1)
        self._sock.setsockopt(zmq.XPUB_NODROP, 1)
        self._sock.setsockopt(zmq.LINGER, 500)
        try:
            self._sock.bind(address)
        except zmq.ZMQError as exc:
            self.close(linger_ms=0)
            if exc.errno == errno.EADDRINUSE:
                raise PublishError(f"{address}: address already in use "
                                   "(another ccserd running? choose --publish)") from exc
            raise PublishError(f"{address}: cannot bind ({exc})") from exc
        self._lock = threading.Lock()
        self.seq = 0
        self.dropped = 0
        self.subscribers = 0

    def publish(self, make: Callable[[int, float], Event]) -> Event:
        """Build the event with the next seq and the current time, send without blocking."""
        with self._lock:
            event = make(self.seq, time.time())
            self.seq += 1
            try:
                self._sock.send_multipart([event.topic, event.to_json().encode()],
                                          flags=zmq.NOBLOCK)
            except zmq.Again:
                self.dropped += 1
            return event

    def poll_subscriptions(self, timeout_ms: int = 0) -> int:
        """Read pending (un)subscribe messages; returns the current subscription count."""
        with self._lock:
            while self._sock.poll(timeout_ms, zmq.POLLIN):
                msg = self._sock.recv()
                if msg[:1] == b"\x01":
                    self.subscribers += 1
                elif msg[:1] == b"\x00":
                    self.subscribers = max(0, self.subscribers - 1)
                timeout_ms = 0
        return self.subscribers

    def wait_for_subscribers(self, count: int, timeout_s: float,
                             stop: threading.Event | None = None) -> bool:
        """Block until `count` subscriptions arrived (avoids ZeroMQ's slow-joiner loss)."""
        deadline = time.monotonic() + timeout_s
        while self.poll_subscriptions(100) < count:
            if time.monotonic() > deadline or (stop is not None and stop.is_set()):
                return False
        return True

    def close(self, linger_ms: int = 500) -> None:
        self._sock.close(linger=linger_ms)
        self._ctx.term()
