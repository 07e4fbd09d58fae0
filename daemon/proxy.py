"""Many ccserd behind one address: ZeroMQ's own forwarder (`zmq.proxy`) over XSUB/XPUB.

Daemons connect their publisher to the frontend (XSUB) instead of binding;
subscribers connect to the backend (XPUB) as they would to one daemon. The
forwarding is libzmq's proxy loop; this module only sets the sockets up, reads
the capture socket for metrics and stops the loop cleanly.

* Never blocks on a subscriber: the backend is a plain XPUB with a send
  high-water mark, so a full subscriber misses messages (it sees a `seq` gap
  for that source) while the others get them.
* Daemons and subscribers come and go: connections are ZeroMQ's, and XSUB
  replays the current subscriptions to a daemon that (re)connects.
  `XPUB_VERBOSE` passes every subscribe upstream, so each daemon answers a new
  subscriber with a status event at once.
* CURVE per side: the proxy's key pair encrypts both sides; the frontend admits
  only the daemon keys in one folder, the backend only the subscriber keys in
  another (the same `.key` / `.key_secret` files as `ccserd --generate-keys`).
* Metrics: the capture socket (PUB, so it can never stall the loop either)
  feeds `ProxyStats`, logged every `stats_interval` seconds.
* Untrusted input: anything a peer sends is forwarded unchanged (subscribers
  validate events themselves); a message the metrics cannot read (not a JSON
  object with a string `source` and a whole `seq` >= 0, nested too deeply, ...)
  is only counted as unreadable, never fatal. Frames over `max_message`
  (frontend) or MAX_SUBSCRIBER_MESSAGE (backend) end that peer's connection,
  a subscriber that sends more than MAX_SUBSCRIBER_BYTES is cut off
  (`daemon.bind.ConnectionWatch`), and at most MAX_SOURCES daemon names are
  kept for the metrics.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq

from ccser_core.client import MAX_EVENT_BYTES, load_json
from ccser_core.curve import authorized_keys, load_key_pair
from ccser_core.errors import CcserError
from daemon.address import AddressError, private_endpoint
from daemon.bind import MAX_SUBSCRIBER_MESSAGE, WATCHED, ConnectionWatch, bind

log = logging.getLogger("daemon.proxy")

DEFAULT_FRONTEND = "tcp://127.0.0.1:5555"
DEFAULT_BACKEND = "tcp://127.0.0.1:5556"
#: Daemons the metrics keep apart; events of further names count as `untracked`.
MAX_SOURCES = 1000
#: Longest daemon name the metrics accept (ccserd's --name allows 100 characters).
MAX_SOURCE_CHARS = 100
#: Sources named in one metrics line (the most recently heard).
SUMMARY_SOURCES = 20
#: Most captured messages read before the loop looks at the clock again.
READ_BATCH = 1000


class ProxyError(CcserError):
    """A proxy setting or socket problem (names the option or address)."""


@dataclass(frozen=True)
class ProxyConfig:
    """Everything ccser-proxy can be told. Times in seconds."""

    frontend: str = DEFAULT_FRONTEND  # daemons connect here (--connect-proxy)
    backend: str = DEFAULT_BACKEND  # subscribers connect here
    hwm: int = 1000  # messages queued per subscriber (and per daemon) before dropping
    stats_interval: float = 10.0
    ipc_mode: int = 0o600  # permissions of ipc:// socket files
    curve_secret_key: Path | None = None  # the proxy's key pair (both sides)
    curve_daemon_keys: Path | None = None  # frontend: accepted daemons' public keys
    curve_client_keys: Path | None = None  # backend: accepted subscribers' public keys
    max_message: int = MAX_EVENT_BYTES  # largest frame a daemon may send, bytes

    def __post_init__(self) -> None:
        if not 1 <= self.hwm <= 100_000:
            raise ProxyError(f"hwm must be in 1..100000, got {self.hwm}")
        if not 1024 <= self.max_message <= 2**31:
            raise ProxyError(f"max_message must be in 1024..{2**31} bytes, got {self.max_message}")
        if not 0.1 <= self.stats_interval <= 86400:
            raise ProxyError(f"stats_interval must be in 0.1..86400 s, got {self.stats_interval}")
        sides = (("frontend", self.frontend, self.curve_daemon_keys, "--curve-daemon-keys"),
                 ("backend", self.backend, self.curve_client_keys, "--curve-client-keys"))
        if self.curve_secret_key is None and (self.curve_daemon_keys or self.curve_client_keys):
            raise ProxyError("CURVE needs --curve-secret-key (the proxy's .key_secret file)")
        if self.curve_secret_key is not None and not (self.curve_daemon_keys or
                                                      self.curve_client_keys):
            raise ProxyError("--curve-secret-key needs --curve-daemon-keys and/or "
                             "--curve-client-keys (folders of accepted public keys)")
        for side, address, keys, flag in sides:
            try:
                private_endpoint(f"--{side}", address, keys is not None,
                                 f"Give {flag} DIR and --curve-secret-key FILE, or bind "
                                 "tcp://127.0.0.1:PORT")
            except AddressError as exc:
                raise ProxyError(str(exc)) from exc
        if self.frontend == self.backend:
            raise ProxyError(f"--frontend and --backend are both {self.frontend}")


@dataclass
class SourceStats:
    """What the proxy saw of one daemon (counts since the proxy started)."""

    messages: int = 0
    lost: int = 0  # seq gaps: messages the daemon sent that never reached the proxy
    restarts: int = 0  # seq going back: the daemon started again
    last_seq: int | None = None
    last_seen: float = 0.0


def event_header(payload: bytes) -> tuple[str, int] | None:
    """(source, seq) of an event payload; None for anything else, however malformed."""
    try:
        event = load_json(payload)
    except ValueError:
        return None
    if not isinstance(event, dict):
        return None
    source, seq = event.get("source", ""), event.get("seq")
    if not isinstance(source, str) or len(source) > MAX_SOURCE_CHARS or \
            type(seq) is not int or seq < 0:
        return None
    return source, seq


@dataclass
class ProxyStats:
    """Counts from the capture stream: events per source, subscribe messages."""

    sources: dict[str, SourceStats] = field(default_factory=dict)
    messages: int = 0
    subscribes: int = 0
    unsubscribes: int = 0
    unreadable: int = 0  # forwarded all the same; see event_header
    untracked: int = 0  # readable, from daemons beyond MAX_SOURCES

    def observe(self, frames: list[bytes], now: float) -> None:
        """One captured message: [topic, json] from a daemon, or a (un)subscribe."""
        if len(frames) == 1 and frames[0][:1] in (b"\x00", b"\x01"):
            if frames[0][:1] == b"\x01":
                self.subscribes += 1
            else:
                self.unsubscribes += 1
            return
        self.messages += 1
        header = event_header(frames[1]) if len(frames) == 2 else None
        if header is None:
            self.unreadable += 1
            return
        source, seq = header
        stats = self.sources.get(source)
        if stats is None:
            if len(self.sources) >= MAX_SOURCES:
                self.untracked += 1
                return
            stats = self.sources[source] = SourceStats()
        stats.messages += 1
        stats.last_seen = now
        if stats.last_seq is not None:
            if seq <= stats.last_seq:
                stats.restarts += 1
            else:
                stats.lost += seq - stats.last_seq - 1
        stats.last_seq = seq

    def summary(self, now: float) -> str:
        """One log line: totals, then per source (the SUMMARY_SOURCES heard last)
        messages/lost/restarts/seconds since seen."""
        recent = sorted(self.sources.items(), key=lambda kv: -kv[1].last_seen)[:SUMMARY_SOURCES]
        parts = [f"{name or '?'}: {s.messages} msgs, {s.lost} lost, {s.restarts} restarts, "
                 f"seen {now - s.last_seen:.0f} s ago" for name, s in sorted(recent)]
        if len(self.sources) > len(recent):
            parts.append(f"{len(self.sources) - len(recent)} more")
        odd = [f"{n} {what}" for n, what in ((self.unreadable, "unreadable (forwarded)"),
                                             (self.untracked, "from untracked sources")) if n]
        return (f"{self.messages} messages from {len(self.sources)} source(s), "
                f"{self.subscribes} subscribe(s), {self.unsubscribes} unsubscribe(s)"
                + ("".join(f", {o}" for o in odd))
                + ("; " + "; ".join(parts) if parts else ""))


class Proxy:
    """The bound sockets and the forwarding thread; `run(stop)` until `stop` is set."""

    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        self.stats = ProxyStats()
        self._ctx = zmq.Context()
        self._auth: Any = None
        self._sockets: list[zmq.Socket] = []
        self._peers: zmq.Socket | None = None
        self.watch: ConnectionWatch | None = None
        try:
            self.frontend = self._socket(zmq.XSUB)
            self.backend = self._socket(zmq.XPUB)
            self.backend.setsockopt(zmq.SNDHWM, config.hwm)
            self.backend.setsockopt(zmq.XPUB_VERBOSE, 1)  # every subscribe reaches the daemons
            self.backend.setsockopt(zmq.MAXMSGSIZE, MAX_SUBSCRIBER_MESSAGE)
            self.frontend.setsockopt(zmq.RCVHWM, config.hwm)
            self.frontend.setsockopt(zmq.MAXMSGSIZE, config.max_message)
            self._peers = self.backend.get_monitor_socket(WATCHED)
            self._curve()
            self.frontend_endpoint = bind(self.frontend, config.frontend, config.ipc_mode)
            self.backend_endpoint = bind(self.backend, config.backend, config.ipc_mode)
            name = f"inproc://ccser-proxy-{uuid.uuid4().hex}"
            self._capture = self._socket(zmq.PUB)
            self._capture.setsockopt(zmq.SNDHWM, 10_000)
            self._capture.bind(name + "-capture")
            self._watch = self._socket(zmq.SUB)
            self._watch.setsockopt(zmq.SUBSCRIBE, b"")
            self._watch.setsockopt(zmq.RCVHWM, 10_000)
            self._watch.connect(name + "-capture")
            self._control = self._socket(zmq.PAIR)
            self._control.bind(name + "-control")
            self._steer = self._socket(zmq.PAIR)
            self._steer.connect(name + "-control")
        except BaseException:
            self.close()
            raise
        self._thread = threading.Thread(target=self._forward, name="zmq-proxy", daemon=True)

    def _socket(self, kind: int) -> zmq.Socket:
        sock = self._ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        self._sockets.append(sock)
        return sock

    def _curve(self) -> None:
        c = self.config
        if c.curve_secret_key is None:
            return
        from zmq.auth.thread import ThreadAuthenticator

        pair = load_key_pair(c.curve_secret_key)
        self._auth = ThreadAuthenticator(self._ctx)
        self._auth.start()
        for sock, folder, domain in ((self.frontend, c.curve_daemon_keys, "daemons"),
                                     (self.backend, c.curve_client_keys, "subscribers")):
            if folder is None:
                continue
            authorized_keys(folder)  # refuses a missing or empty folder, naming it
            self._auth.configure_curve(domain=domain, location=str(folder))
            sock.zap_domain = domain.encode()
            sock.curve_secretkey, sock.curve_publickey = pair.secret, pair.public
            sock.curve_server = True

    def _forward(self) -> None:
        with contextlib.suppress(zmq.ContextTerminated):
            zmq.proxy_steerable(self.frontend, self.backend, self._capture, self._control)

    def run(self, stop: threading.Event) -> None:
        """Forward until `stop` is set, reading the capture stream for the stats."""
        assert self._peers is not None
        self.watch = ConnectionWatch(self._peers, f"backend {self.backend_endpoint}")
        self._thread.start()
        log.info("forwarding daemons on %s to subscribers on %s", self.frontend_endpoint,
                 self.backend_endpoint)
        next_log = time.monotonic() + self.config.stats_interval
        while not stop.is_set():
            if self._watch.poll(100, zmq.POLLIN):
                self._read_capture()
            if time.monotonic() >= next_log:
                log.info("%s", self.stats.summary(time.time()))
                next_log = time.monotonic() + self.config.stats_interval
        self._steer.send(b"TERMINATE")
        self._thread.join(timeout=5)
        log.info("stopped: %s", self.stats.summary(time.time()))

    def _read_capture(self) -> None:
        """Up to READ_BATCH captured messages into the stats. Whatever a message holds,
        it is counted, never fatal: forwarding goes on without the metrics thread."""
        for _ in range(READ_BATCH):
            try:
                frames = self._watch.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                self.stats.observe(frames, time.time())
            except Exception:  # noqa: BLE001 - a reader bug must not end the proxy
                self.stats.unreadable += 1
                log.exception("could not read a captured message (counted as unreadable)")

    def close(self) -> None:
        if self.watch is not None:
            self.watch.close()
        if self._peers is not None:
            self.backend.disable_monitor()
            self._peers.close(linger=0)
        for sock in self._sockets:
            sock.close(linger=0)
        if self._auth is not None:
            self._auth.stop()
        self._ctx.term()


def connect_to_proxy(sock: zmq.Socket, address: str, secret_key: Path | None,
                     proxy_key: Path | None) -> str:
    """Daemon side: connect a publisher socket to a proxy's frontend, as a CURVE client
    (its own key pair, the proxy's public key) when `proxy_key` is given."""
    from ccser_core.curve import load_public_key

    if proxy_key is not None:
        if secret_key is None:
            raise ProxyError("--curve-proxy-key needs --curve-secret-key (this daemon's "
                             ".key_secret, whose .key is in the proxy's --curve-daemon-keys)")
        pair = load_key_pair(secret_key)
        sock.curve_serverkey = load_public_key(proxy_key)
        sock.curve_publickey, sock.curve_secretkey = pair.public, pair.secret
    sock.connect(address)
    return address
