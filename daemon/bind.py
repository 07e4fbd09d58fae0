"""Sockets that face peers: CURVE for remote clients, safe ipc:// sockets, and
limits on what a subscriber may send.

* CURVE (`serve_curve`): the daemon's key pair encrypts the stream; a ZAP
  handler (`zmq.auth.thread`) admits only clients whose public key is in the
  authorized folder. Anyone else completes no handshake and receives nothing.
* ipc:// (`bind`): a socket path held by a live publisher is refused
  (ZeroMQ would silently unlink it and take its new subscribers); a stale file
  left by a crash is replaced. After binding, the socket file gets `ipc_mode`
  (a client needs write permission on it to connect).
* Subscribers (`ConnectionWatch`, `MAX_SUBSCRIBER_MESSAGE`): a subscriber only
  ever sends a handshake and a few topic names. libzmq keeps every distinct
  topic a peer subscribes to (about one trie node per byte) until that peer
  goes, hands each subscription to the application, and has no per-peer limit
  nor a way to drop one peer: 800k unique subscriptions took ccserd from 105 MB
  to 2.5 GB (issue 16). So a larger frame than MAX_SUBSCRIBER_MESSAGE ends the
  connection (ZMQ_MAXMSGSIZE), and a connection whose peer has sent more than
  MAX_SUBSCRIBER_BYTES in all is shut down under libzmq, which then frees its
  subscriptions. The peer may reconnect; it is cut off again.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import socket
import stat
import struct
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import zmq

from ccser_core.curve import authorized_keys, load_key_pair
from ccser_core.errors import CcserError
from daemon.address import parse_endpoint

log = logging.getLogger(__name__)

#: Largest frame read from a subscriber, bytes (ZMQ_MAXMSGSIZE on XPUB sockets):
#: room for a CURVE handshake with metadata; a topic name is a few bytes.
MAX_SUBSCRIBER_MESSAGE = 4096
#: Most a subscriber may send over one connection, bytes: handshake, subscriptions
#: and any ZeroMQ heartbeats (a ccser client sends under 1 KiB in all).
MAX_SUBSCRIBER_BYTES = 64 * 1024
#: Seconds between two checks of what each subscriber has sent.
CHECK_EVERY_S = 0.02
#: Seconds between two warnings about disconnected subscribers (the rest are counted).
WARN_EVERY_S = 60.0

class PublishError(CcserError):
    """The publish address cannot be bound (names the address)."""


def serve_curve(ctx: zmq.Context, sock: zmq.Socket, secret_key_file: Path,
                authorized_dir: Path) -> Any:
    """Make `sock` a CURVE server that admits only the keys in `authorized_dir`;
    returns the running authenticator (stop it before terminating `ctx`)."""
    from zmq.auth.thread import ThreadAuthenticator

    pair = load_key_pair(secret_key_file)
    authorized_keys(authorized_dir)  # refuses a missing or empty folder up front
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve(domain="*", location=str(authorized_dir))
    sock.curve_secretkey = pair.secret
    sock.curve_publickey = pair.public
    sock.curve_server = True
    return auth


def bind(sock: zmq.Socket, address: str, ipc_mode: int) -> str:
    """Bind `sock` to `address`; returns the bound endpoint. PublishError if the address
    is in use (including an ipc path a running publisher holds) or cannot be bound."""
    endpoint = parse_endpoint(address)
    ipc_file = endpoint.path if endpoint.transport == "ipc" and \
        not endpoint.path.startswith("@") else None
    if ipc_file is not None:
        _refuse_live_ipc(address, ipc_file)
    try:
        sock.bind(address)
    except zmq.ZMQError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PublishError(f"{address}: address already in use "
                               "(another ccserd running? choose --publish)") from exc
        raise PublishError(f"{address}: cannot bind ({exc})") from exc
    if ipc_file is not None:
        try:
            os.chmod(ipc_file, ipc_mode)
        except OSError as exc:
            raise PublishError(f"{address}: cannot set ipc_mode {ipc_mode:o} "
                               f"({exc.strerror})") from exc
    return sock.getsockopt_string(zmq.LAST_ENDPOINT)


def _refuse_live_ipc(address: str, path: str) -> None:
    """A socket file someone still accepts connections on is in use; a file that
    refuses connections is a crashed daemon's leftover; anything else is not ours."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise PublishError(f"{address}: cannot inspect {path} ({exc.strerror})") from exc
    if not stat.S_ISSOCK(mode):
        raise PublishError(f"{address}: {path} exists and is not a socket; "
                           "refusing to replace it")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            return
        except OSError as exc:
            raise PublishError(f"{address}: cannot tell whether {path} is in use "
                               f"({exc.strerror or exc}); remove it or choose --publish") from exc
    raise PublishError(f"{address}: {Path(path)} is held by a running process (another "
                       "ccserd?); stop it or choose another --publish path")


def inbound_bytes(sock: socket.socket) -> int:
    """Bytes the peer of a connected socket has sent: all of them over TCP (Linux's
    tcp_info `bytes_received`), what waits unread otherwise (ipc://, or an old kernel)."""
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
        if len(info) >= 136:
            return struct.unpack_from("=Q", info, 128)[0]
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0" * 4))[0]


@contextlib.contextmanager
def _borrowed(fd: int) -> Iterator[socket.socket | None]:
    """A duplicate of libzmq's connection `fd` (closing it leaves libzmq's open);
    None once `fd` is no longer a socket."""
    try:
        dup = os.dup(fd)
    except OSError:
        yield None
        return
    try:
        sock = socket.socket(fileno=dup)
    except OSError:
        os.close(dup)
        yield None
        return
    with sock:
        yield sock


class ConnectionWatch:
    """A thread reading one socket's monitor: which connections are up, and cuts off
    subscribers that send more than `limit` bytes.

    Runs beside the socket's owner because libzmq takes in a peer's pending
    subscriptions inside whatever call the owner makes next (even a poll): a
    flood must be cut off whether or not the owner is busy. Every `every_s` it
    reads what each accepted peer has sent and shuts a connection over the limit
    down under libzmq, which then closes it and frees its subscriptions.
    Connections the socket made itself (`connect`, e.g. to a proxy) are counted
    but never cut off.
    """

    def __init__(self, monitor: zmq.Socket, where: str, limit: int = MAX_SUBSCRIBER_BYTES,
                 every_s: float = CHECK_EVERY_S) -> None:
        self.where, self.limit, self.every_s = where, limit, every_s
        self.refused = 0  # connections cut off so far
        self._monitor = monitor
        self._connected: set[int] = set()  # connection fds, from the monitor
        self._accepted: set[int] = set()  # those a bound socket accepted: guarded
        self._warned_at = -WARN_EVERY_S
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="zmq-peers", daemon=True)
        self._thread.start()

    @property
    def clients(self) -> int:
        """Connections up now (however many topics each subscribed)."""
        return len(self._connected)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        if self.refused:
            log.warning("%s: %d subscriber connection(s) cut off in all for sending too much",
                        self.where, self.refused)

    def _run(self) -> None:
        from zmq.utils.monitor import parse_monitor_message

        while not self._stop.is_set():
            if self._monitor.poll(round(self.every_s * 1000)):
                with contextlib.suppress(zmq.Again):
                    while True:
                        self._event(parse_monitor_message(self._monitor.recv_multipart(
                            zmq.NOBLOCK)))
            self.check()

    def _event(self, message: dict) -> None:
        event, fd = message["event"], int(message["value"])
        if event in (zmq.EVENT_ACCEPTED, zmq.EVENT_CONNECTED):
            self._connected.add(fd)
            if event == zmq.EVENT_ACCEPTED:
                self._accepted.add(fd)
        elif event == zmq.EVENT_DISCONNECTED:
            self._connected.discard(fd)
            self._accepted.discard(fd)
        elif event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            log.warning("refused a subscriber on %s: its CURVE key is not authorized",
                        self.where)

    def check(self) -> int:
        """Shut down every accepted connection over the limit; returns how many."""
        cut = 0
        for fd in sorted(self._accepted):
            with _borrowed(fd) as sock:
                if sock is None:
                    self._accepted.discard(fd)
                    continue
                try:
                    sent = inbound_bytes(sock)
                    if sent <= self.limit:
                        continue
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:  # closed meanwhile: the monitor reports it
                    continue
            self._accepted.discard(fd)
            self.refused += 1
            cut += 1
            self._warn(sent)
        return cut

    def _warn(self, sent: int) -> None:
        now = time.monotonic()
        if now - self._warned_at < WARN_EVERY_S:
            return
        self._warned_at = now
        log.warning("%s: disconnected a subscriber that sent %d bytes (a subscriber needs "
                    "under %d: a subscription flood?); %d cut off so far, next warning in "
                    "%.0f s at the earliest", self.where, sent, self.limit, self.refused,
                    WARN_EVERY_S)

#: Connection events a ConnectionWatch needs (get_monitor_socket's `events`).
WATCHED = (zmq.EVENT_ACCEPTED | zmq.EVENT_CONNECTED | zmq.EVENT_DISCONNECTED
           | zmq.EVENT_HANDSHAKE_FAILED_AUTH)
