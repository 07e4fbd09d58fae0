"""ZeroMQ publisher: bounded, never blocking, numbering every event it is given.

One XPUB socket. Sending never waits: a subscriber whose queue (`hwm`
messages) is full misses the message, the others get it. Connected clients
are counted from the socket monitor, subscriptions from XPUB's subscribe
messages; binding refuses what would expose or hijack the stream, and a
subscriber that sends more than a subscriber needs is cut off (see
`daemon.bind`). `poll` reads at most POLL_BUDGET_S of pending messages per
call, so a flood of subscriptions never holds up the audio loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import zmq

from ccser_core.events import Event
from daemon.bind import MAX_SUBSCRIBER_MESSAGE, WATCHED, ConnectionWatch, PublishError, bind, serve_curve

__all__ = ["PublishError", "Publisher"]

#: Longest `poll` keeps reading once something is ready, s (the daemon's loop calls
#: it every 50 ms between audio blocks of 10 ms).
POLL_BUDGET_S = 0.005


class Publisher:
    """XPUB socket (PUB semantics plus subscription visibility) with a send HWM.

    Drops are per subscriber, as plain PUB does, but counted: the socket runs
    with XPUB_NODROP, so a send that would overflow some subscriber's queue
    fails; the message is then sent again without NODROP, which delivers it to
    every subscriber with room and skips only the full ones. `dropped` counts
    messages at least one subscriber missed. `seq` advances for every event,
    so clients see their own gaps. Memory stays bounded by `hwm` per client.
    """

    def __init__(self, address: str, hwm: int, ipc_mode: int = 0o600,
                 curve_secret_key: Path | None = None,
                 curve_authorized_keys: Path | None = None, *, name: str = "",
                 proxy: bool = False, curve_proxy_key: Path | None = None) -> None:
        self.address = address
        self.name = name  # every event's `source`
        self.proxy = proxy  # connected to a ccser-proxy frontend instead of bound
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.XPUB)
        self._sock.setsockopt(zmq.SNDHWM, hwm)
        self._sock.setsockopt(zmq.XPUB_VERBOSE, 1)
        self._sock.setsockopt(zmq.XPUB_NODROP, 1)
        self._sock.setsockopt(zmq.LINGER, 500)
        self._sock.setsockopt(zmq.MAXMSGSIZE, MAX_SUBSCRIBER_MESSAGE)
        self._monitor = self._sock.get_monitor_socket(WATCHED)
        self._auth = None
        self._watch: ConnectionWatch | None = None
        try:
            if proxy:
                from daemon.proxy import connect_to_proxy

                self.endpoint = connect_to_proxy(self._sock, address, curve_secret_key,
                                                 curve_proxy_key)
            elif curve_secret_key is not None and curve_authorized_keys is not None:
                self._auth = serve_curve(self._ctx, self._sock, curve_secret_key,
                                         curve_authorized_keys)
            if not proxy:
                self.endpoint = bind(self._sock, address, ipc_mode)
        except BaseException:
            self.close(linger_ms=0)
            raise
        self._watch = ConnectionWatch(self._monitor, address)  # owns the monitor from here
        self._lock = threading.Lock()
        self.seq = 0
        self.dropped = 0
        self.subscriptions = 0  # subscribe messages received (a client may send several)

    @property
    def clients(self) -> int:
        """Connected subscribers (connections, however many topics each subscribed)."""
        return self._watch.clients if self._watch is not None else 0

    @property
    def refused(self) -> int:
        """Subscribers cut off for sending more than a subscriber needs (`daemon.bind`)."""
        return self._watch.refused if self._watch is not None else 0

    def publish(self, make: Callable[[int, float], Event]) -> Event:
        """Build the event with the next seq and the current time, send without blocking."""
        with self._lock:
            event = replace(make(self.seq, time.time()), source=self.name)
            self.seq += 1
            frames = [event.topic, event.to_json().encode()]
            try:
                self._sock.send_multipart(frames, flags=zmq.NOBLOCK)
            except zmq.Again:  # some subscriber's queue is full: skip it, count it
                self.dropped += 1
                self._sock.setsockopt(zmq.XPUB_NODROP, 0)
                try:
                    self._sock.send_multipart(frames, flags=zmq.NOBLOCK)
                finally:
                    self._sock.setsockopt(zmq.XPUB_NODROP, 1)
            return event

    def poll(self, timeout_ms: int = 0, budget_s: float = POLL_BUDGET_S) -> int:
        """Read pending subscribe messages, waiting up to `timeout_ms` for the first and
        reading for at most `budget_s` after it (the rest waits for the next call);
        returns how many new subscriptions arrived."""
        new = 0
        with self._lock:
            deadline = None
            while self._sock.poll(timeout_ms, zmq.POLLIN):
                if deadline is None:
                    timeout_ms, deadline = 0, time.monotonic() + budget_s
                if self._sock.recv()[:1] == b"\x01":
                    self.subscriptions += 1
                    new += 1
                if time.monotonic() >= deadline:
                    break
        return new

    def wait_for_subscribers(self, count: int, timeout_s: float,
                             stop: threading.Event | None = None) -> bool:
        """Block until `count` clients are connected and have subscribed (avoids
        ZeroMQ's slow-joiner loss); False on timeout or `stop`."""
        deadline = time.monotonic() + timeout_s
        if self.proxy:  # one connection; the proxy's XSUB passes on subscriptions, not peers
            count = min(count, 1)
        while True:
            self.poll(100)
            if self.clients >= count and self.subscriptions >= count:
                return True
            if time.monotonic() > deadline or (stop is not None and stop.is_set()):
                return False

    def close(self, linger_ms: int = 500) -> None:
        if self._watch is not None:
            self._watch.close()
        self._sock.disable_monitor()
        self._monitor.close(linger=0)
        self._sock.close(linger=linger_ms)
        if self._auth is not None:
            self._auth.stop()
        self._ctx.term()
