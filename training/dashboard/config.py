"""The dashboard's settings, in one frozen dataclass built by the CLI, and the address
rules: loopback by default; anything else only with --allow-remote and a token."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from ccser_core.client import DEFAULT_ADDRESS

DEFAULT_HTTP = "127.0.0.1:8765"


@dataclass(frozen=True)
class DashboardConfig:
    connect: str = DEFAULT_ADDRESS  # ZeroMQ publisher to subscribe to
    host: str = "127.0.0.1"
    port: int = 8765
    models_dirs: tuple[Path, ...] = (Path("exported_models"),)  # the first receives new models
    default_model: Path | None = None
    corpus_dir: Path | None = None
    token: str = ""  # required on every request when set
    token_from: str = ""  # where the user finds it ("the file F", "$CCSER_DASHBOARD_TOKEN")
    max_upload_mb: float = 50.0  # all files of one recognition request together
    max_files: int = 50
    history_s: float = 300.0  # live timeline kept for browsers that (re)connect
    heartbeat_s: float = 5.0  # assumed daemon status interval until measured
    train_jobs: int = 1
    max_connections: int = 100  # open HTTP connections (live tabs included); 503 beyond
    header_timeout_s: float = 10.0  # a request's headers must be in by then
    body_idle_s: float = 30.0  # longest pause within a request body

    def __post_init__(self) -> None:
        if not self.models_dirs:
            raise ValueError("models_dirs: give at least one folder (new models go to the first)")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def output_dir(self) -> Path:
        return self.models_dirs[0]


def parse_http(text: str) -> tuple[str, int]:
    """"HOST:PORT", "[::1]:PORT" or ":PORT" (loopback) -> (host, port); ValueError if not."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--http {text!r}: expected HOST:PORT, e.g. {DEFAULT_HTTP}")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def check_connect(address: str) -> str:
    """A ZeroMQ address the SUB socket can connect to; ValueError names the flag."""
    if not address.startswith(("tcp://", "ipc://")) or len(address) <= len("tcp://"):
        raise ValueError(f"--connect {address!r}: expected tcp://HOST:PORT or ipc://PATH")
    return address
