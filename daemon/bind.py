"""Binding the publish socket: CURVE for remote clients, safe ipc:// sockets.

* CURVE (`serve_curve`): the daemon's key pair encrypts the stream; a ZAP
  handler (`zmq.auth.thread`) admits only clients whose public key is in the
  authorized folder. Anyone else completes no handshake and receives nothing.
* ipc:// (`bind`): a socket path held by a live publisher is refused
  (ZeroMQ would silently unlink it and take its new subscribers); a stale file
  left by a crash is replaced. After binding, the socket file gets `ipc_mode`
  (a client needs write permission on it to connect).
"""

from __future__ import annotations

import errno
import os
import socket
import stat
from pathlib import Path
from typing import Any

import zmq

from ccser_core.curve import authorized_keys, load_key_pair
from ccser_core.errors import CcserError
from daemon.address import parse_endpoint


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
