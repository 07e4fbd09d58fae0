"""Publish addresses: what ZeroMQ would accept, narrowed to what a client can reach.

Pure parsing, so `DaemonConfig` can refuse a bad address before anything is
bound: a port out of range or a wildcard port (ZeroMQ would pick a random
one), `inproc://` (unreachable from another process), an ipc path longer
than a Unix socket allows. `Endpoint.loopback` says whether the address is
reachable only from this machine (so events may go out unauthenticated);
`private_endpoint` is the one rule every daemon and proxy address goes through.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

#: sun_path is 108 bytes including the terminating NUL.
IPC_PATH_MAX = 107

_TCP = re.compile(r"^tcp://(\[[^\]]*\]|[^:\[\]/]*):([^:/]*)$")


class AddressError(ValueError):
    """The address cannot serve ccserd's clients (message names it and says why)."""


@dataclass(frozen=True)
class Endpoint:
    """A parsed `tcp://host:port` or `ipc://path`."""

    transport: str  # "tcp" or "ipc"
    host: str = ""  # tcp: as written, without IPv6 brackets
    port: int = 0  # tcp
    path: str = ""  # ipc: file path, or "@name" for Linux's abstract namespace

    @property
    def loopback(self) -> bool:
        """Reachable only from this machine: a loopback IP/localhost, or an ipc file
        (guarded by file permissions; the abstract namespace has none)."""
        if self.transport == "ipc":
            return not self.path.startswith("@")
        if self.host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:  # "*", an interface name or a host name
            return False


def parse_endpoint(address: str) -> Endpoint:
    """`tcp://HOST:PORT` (PORT 1..65535) or `ipc://PATH`; AddressError otherwise."""
    if address.startswith("ipc://"):
        path = address[len("ipc://"):]
        if not path or path == "*":
            raise AddressError(f"{address}: give the socket's path, e.g. ipc:///run/ccser/events.sock")
        if len(path.encode()) > IPC_PATH_MAX:
            raise AddressError(f"{address}: ipc path is {len(path.encode())} bytes; Unix sockets "
                               f"allow {IPC_PATH_MAX}")
        return Endpoint("ipc", path=path)
    if address.startswith("inproc://"):
        raise AddressError(f"{address}: inproc:// is unreachable from other processes; "
                           "use tcp://127.0.0.1:PORT or ipc://PATH")
    match = _TCP.match(address)
    if not address.startswith("tcp://"):
        raise AddressError(f"{address}: publish must be a tcp://HOST:PORT or ipc://PATH address")
    if match is None or not match.group(1) or match.group(1) == "[]":
        raise AddressError(f"{address}: expected tcp://HOST:PORT, e.g. tcp://127.0.0.1:5556")
    host, port = match.group(1).strip("[]"), match.group(2)
    if port in ("*", "0", ""):
        raise AddressError(f"{address}: give a fixed port (ZeroMQ would pick a random one "
                           "that clients cannot know)")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise AddressError(f"{address}: port {port} is not in 1..65535")
    return Endpoint("tcp", host=host, port=int(port))


def private_endpoint(option: str, address: str, authenticated: bool, remedy: str) -> Endpoint:
    """`address` parsed, unless it is unusable, or reachable from other machines while
    `authenticated` (CURVE) is off: AddressError led by `option`, ending in `remedy`."""
    try:
        endpoint = parse_endpoint(address)
    except AddressError as exc:
        raise AddressError(f"{option} {exc}") from exc
    if not endpoint.loopback and not authenticated:
        raise AddressError(f"{option} {address}: reachable from other machines; refusing to "
                           f"carry unauthenticated events there. {remedy}")
    return endpoint
