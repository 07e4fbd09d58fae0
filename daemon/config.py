"""Daemon settings: one frozen dataclass, filled from defaults < TOML file < CLI flags."""

from __future__ import annotations

import argparse
import math
import socket
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from ccser_core.errors import CcserError
from ccser_core.model import default_model_dir
from ccser_core.usage import Parser
from daemon.address import AddressError, private_endpoint
from daemon.bind import MAX_SUBSCRIBER_BYTES

#: The shipped model (source checkout, or the data files of `pip install .`).
DEFAULT_MODEL = default_model_dir()
DEFAULT_CONFIG = Path("/etc/ccser/ccserd.toml")
DEFAULT_PUBLISH = "tcp://127.0.0.1:5556"
#: Longest accepted duration setting, s (larger values overflow timers and sleeps).
MAX_SECONDS = 86400.0
#: Largest send queue per subscriber: with --emit-features ~3 KB a message, ~300 MB.
MAX_HWM = 100_000


class ConfigError(CcserError):
    """A config file or flag value is invalid (names the file/key)."""


@dataclass(frozen=True)
class DaemonConfig:
    """Everything ccserd can be told. Times in seconds unless the name says ms."""

    model: Path = DEFAULT_MODEL
    source: str | None = None  # None: microphone; "-": raw PCM on stdin; else a file
    device: str | None = None  # sounddevice index or name substring; None: default input
    device_rate: int | None = None  # capture rate, Hz; None: the device's default
    stdin_rate: int = 16000  # rate of raw s16le PCM on stdin, Hz
    realtime: bool = True  # pace files in real time; False: as fast as possible, lossless
    block_ms: int = 10  # capture block length
    publish: str = DEFAULT_PUBLISH
    ipc_mode: str = "0600"  # permissions of an ipc:// socket file (octal); 0660: group may connect
    curve_secret_key: Path | None = None  # server's .key_secret: CURVE encryption + client auth
    curve_authorized_keys: Path | None = None  # folder of accepted clients' .key files
    name: str = ""  # every event's `source`; "": this machine's host name
    connect_proxy: str | None = None  # a ccser-proxy frontend to connect to instead of binding
    curve_proxy_key: Path | None = None  # the proxy's public key: be its CURVE client
    hwm: int = 1000  # ZeroMQ send high-water mark, messages per subscriber
    wait_subscribers: int = 0  # wait for this many subscribers before starting audio
    wait_timeout: float = 30.0
    start_delay: float = 0.0  # sleep after binding, before audio (slow-joiner guard)
    vad_aggressiveness: int = 2
    vad_frame_ms: int = 30
    speech_start_ms: int = 90  # voiced run needed to open an utterance
    hangover_ms: int = 300  # unvoiced run needed to close it
    preroll_ms: int = 90  # audio kept before the opening run
    min_utterance: float = 0.25  # shorter utterances are ignored
    max_utterance: float = 20.0  # longer ones are split
    window: float = 2.0
    hop: float = 0.5
    smoothing: float = 0.0  # 0: off; else EMA weight of the previous window's probabilities
    max_pending: int = 4  # windows waiting for inference before the oldest is dropped
    capture_queue: int = 200  # blocks buffered between capture and the loop
    status_interval: float = 5.0
    retry_max: float = 10.0  # longest back-off between device reopen attempts
    emit_features: bool = False  # include raw feature vectors in prediction events
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        """Refuse every value that would fail later (overflow, empty windows, a port
        ZeroMQ would silently replace), naming the key and the accepted range."""
        for name, low, high in _RANGES:
            value = getattr(self, name)
            if value is None:
                continue
            if not (math.isfinite(value) and low <= value <= high):
                raise ConfigError(f"{name} must be in {low:g}..{high:g}, got {value!r}")
        checks = [
            (self.vad_aggressiveness in (0, 1, 2, 3), "vad_aggressiveness must be 0..3"),
            (self.vad_frame_ms in (10, 20, 30), "vad_frame_ms must be 10, 20 or 30"),
            (self.smoothing < 1, "smoothing must be in [0, 1)"),
            (self.max_utterance > self.min_utterance, "max_utterance must exceed min_utterance"),
            (self.log_level.upper() in ("DEBUG", "INFO", "WARNING", "ERROR"),
             f"log_level must be DEBUG, INFO, WARNING or ERROR, got {self.log_level!r}"),
            (_octal_mode(self.ipc_mode) is not None,
             f"ipc_mode must be an octal file mode like \"0660\", got {self.ipc_mode!r}"),
            ((self.curve_secret_key is None) == (self.curve_authorized_keys is None)
             or self.connect_proxy is not None,
             "CURVE needs both curve_secret_key (the server's .key_secret file) and "
             "curve_authorized_keys (folder of client .key files)"),
            (self.curve_proxy_key is None or (self.connect_proxy is not None
                                              and self.curve_secret_key is not None),
             "curve_proxy_key needs connect_proxy and curve_secret_key (this daemon's "
             ".key_secret, its .key in the proxy's --curve-daemon-keys)"),
            (len(self.name) <= 100 and self.name == self.name.strip(),
             f"name must be at most 100 characters, no surrounding spaces, got {self.name!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        exposed = [("publish", self.publish, self.curve_secret_key is not None,
                    "Configure CURVE (--curve-secret-key FILE --curve-authorized-keys DIR, "
                    "see README 'Remote subscribers') or bind tcp://127.0.0.1:PORT")]
        if self.connect_proxy is not None:
            exposed.append(("connect_proxy", self.connect_proxy, self.curve_proxy_key is not None,
                            "Give --curve-proxy-key FILE and --curve-secret-key FILE, or run "
                            "the proxy here"))
        for option, address, authenticated, remedy in exposed:
            try:
                private_endpoint(option, address, authenticated, remedy)
            except AddressError as exc:
                raise ConfigError(str(exc)) from exc

    @property
    def source_name(self) -> str:
        """The `source` of every event: `name`, else this machine's host name."""
        return self.name or socket.gethostname()

    @property
    def ipc_permissions(self) -> int:
        """`ipc_mode` as a number (validated in __post_init__)."""
        mode = _octal_mode(self.ipc_mode)
        assert mode is not None
        return mode


#: (field, lowest, highest) for numeric settings; ranges chosen so that every
#: accepted value works (durations fit timers, windows hold samples).
_RANGES: tuple[tuple[str, float, float], ...] = (
    ("device_rate", 1000, 384000), ("stdin_rate", 1000, 384000), ("block_ms", 1, 1000),
    ("hwm", 1, MAX_HWM), ("wait_subscribers", 0, 10_000), ("wait_timeout", 0, MAX_SECONDS),
    ("start_delay", 0, MAX_SECONDS), ("speech_start_ms", 0, 10_000),
    ("hangover_ms", 0, 60_000), ("preroll_ms", 0, 10_000), ("min_utterance", 0, 600),
    ("max_utterance", 0.1, 600), ("window", 0.1, 60), ("hop", 0.01, 60),
    ("smoothing", 0, 1), ("max_pending", 1, 100_000), ("capture_queue", 1, 100_000),
    ("status_interval", 0.05, MAX_SECONDS), ("retry_max", 0.1, MAX_SECONDS),
)


def _octal_mode(text: str) -> int | None:
    """"0660", "660" or "0o660" -> 0o660; None unless it is a file mode 0..0o777."""
    digits = text.lower().removeprefix("0o")
    if not digits or any(c not in "01234567" for c in digits):
        return None
    mode = int(digits, 8)
    return mode if mode <= 0o777 else None


_HELP = {
    "model": "model folder (model.onnx + model.json)",
    "source": "audio file to replay, or '-' for raw 16-bit mono PCM on stdin (default: mic)",
    "device": "input device index or name (see --list-devices)",
    "device_rate": "capture sample rate in Hz (default: the device's)",
    "stdin_rate": "sample rate of PCM on stdin, Hz",
    "realtime": "pace file sources in real time (--no-realtime: as fast as possible, "
                "nothing dropped, exit at end)",
    "block_ms": "capture block length, ms",
    "publish": "ZeroMQ address to bind: tcp://HOST:PORT or ipc://PATH; a host other than "
               "127.0.0.1/::1/localhost needs CURVE (--curve-secret-key, "
               "--curve-authorized-keys). A subscriber that sends more than "
               f"{MAX_SUBSCRIBER_BYTES // 1024} KiB (subscriptions are a few bytes each: a "
               "flood) is disconnected",
    "ipc_mode": "file mode of an ipc:// socket (octal; a client needs write permission: "
                "0660 lets the daemon's group connect, 0666 every local user)",
    "curve_secret_key": "server key pair (NAME.key_secret from --generate-keys): encrypt "
                        "events and accept only the clients in --curve-authorized-keys",
    "curve_authorized_keys": "folder of the accepted clients' public keys (*.key files)",
    "name": "this daemon's name, sent as every event's `source` (default: the host name)",
    "connect_proxy": "connect to a ccser-proxy frontend (tcp://HOST:PORT) instead of binding "
                     "--publish; with it --wait-subscribers waits for one subscription",
    "curve_proxy_key": "the proxy's public key (NAME.key): connect as its CURVE client with "
                       "--curve-secret-key",
    "hwm": "send high-water mark per subscriber; beyond it messages are dropped",
    "wait_subscribers": "wait for N subscribers before processing audio",
    "wait_timeout": "give up waiting for subscribers after this many seconds",
    "start_delay": "seconds to sleep after binding, before processing audio",
    "vad_aggressiveness": "WebRTC VAD aggressiveness 0..3",
    "vad_frame_ms": "VAD frame length: 10, 20 or 30 ms",
    "speech_start_ms": "voiced run that opens an utterance, ms",
    "hangover_ms": "unvoiced run that closes an utterance, ms",
    "preroll_ms": "audio kept before speech onset, ms",
    "min_utterance": "ignore utterances shorter than this, s",
    "max_utterance": "split utterances longer than this, s",
    "window": "sliding window length, s",
    "hop": "sliding window hop, s",
    "smoothing": "EMA weight of previous probabilities within an utterance (0 = off)",
    "max_pending": "windows queued for inference before the oldest is dropped",
    "capture_queue": "capture blocks buffered before new ones count as overflows",
    "status_interval": "seconds between status heartbeats",
    "retry_max": "longest back-off between attempts to reopen a lost device, s",
    "emit_features": "add the raw feature vector to emotion/utterance events",
    "log_level": "DEBUG, INFO, WARNING or ERROR",
}


def _field_types() -> dict[str, type]:
    """Field name -> the type a flag or TOML value must have, in declaration order."""
    special = {"model": Path, "source": str, "device": str, "device_rate": int,
               "curve_secret_key": Path, "curve_authorized_keys": Path,
               "connect_proxy": str, "curve_proxy_key": Path}
    return {f.name: special.get(f.name, type(f.default)) for f in fields(DaemonConfig)}


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="ccserd",
        description="Live speech emotion recognition: audio -> VAD -> windows -> ONNX -> "
                    "ZeroMQ events (topics emotion, utterance, vad, status).",
        epilog=f"Every option can also be set in a TOML file (key = option name with "
               f"underscores, e.g. hop = 0.5). Default file: {DEFAULT_CONFIG} if present. "
               "Flags override the file. SIGTERM, SIGINT and SIGHUP all stop ccserd cleanly "
               "(the open utterance closed, a `stopping` status sent, exit 0); there is no "
               "reload: restart it to load a new model.")
    p.add_argument("--config", type=Path, help=f"TOML config file (default {DEFAULT_CONFIG})")
    p.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    p.add_argument("--generate-keys", type=Path, metavar="DIR",
                   help="write a CURVE key pair NAME.key / NAME.key_secret into DIR and exit "
                        "(for the daemon or a client; see --key-name)")
    p.add_argument("--key-name", default="ccserd",
                   help="file name of the pair --generate-keys writes (default: ccserd)")
    defaults = DaemonConfig()
    for name, kind in _field_types().items():
        flag = "--" + name.replace("_", "-")
        default = getattr(defaults, name)
        text = _HELP[name] + ("" if default is None else f" (default: {default})")
        if kind is bool:
            p.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction,
                           default=None, help=text)
        else:
            p.add_argument(flag, dest=name, type=kind, default=None, help=text)
    return p


def _coerce(key: str, value: Any, where: str) -> Any:
    kind = _field_types()[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is str and key == "device" and isinstance(value, int):
        return str(value)
    if kind is Path and isinstance(value, str):
        return Path(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: {key} must be {kind.__name__}, got {value!r}")
    return value


def read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    known = _field_types()
    out = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in known:
            raise ConfigError(f"{path}: unknown key {key!r}")
        out[name] = _coerce(name, value, str(path))
    for key in ("model", "curve_secret_key", "curve_authorized_keys", "curve_proxy_key"):
        if key in out and not out[key].is_absolute():
            out[key] = (path.parent / out[key]).resolve()
    return out


def load_config(args: argparse.Namespace) -> DaemonConfig:
    """Defaults, then the TOML file (explicit --config must exist), then given flags."""
    values: dict[str, Any] = {}
    path = args.config or (DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None)
    if path is not None:
        values.update(read_toml(path))
    for name in _field_types():
        flag = getattr(args, name, None)
        if flag is not None:
            values[name] = flag
    try:
        return replace(DaemonConfig(), **values)
    except TypeError as exc:
        raise ConfigError(str(exc)) from exc
