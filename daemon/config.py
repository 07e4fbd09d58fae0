"""Daemon settings: one frozen dataclass, filled from defaults < TOML file < CLI flags."""

from __future__ import annotations

import argparse
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from ccser_core.errors import CcserError
from ccser_core.model import default_model_dir

#: The shipped model (source checkout, or the data files of `pip install .`).
DEFAULT_MODEL = default_model_dir()
DEFAULT_CONFIG = Path("/etc/ccser/ccserd.toml")
DEFAULT_PUBLISH = "tcp://127.0.0.1:5556"


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
        checks = [
            (self.vad_aggressiveness in (0, 1, 2, 3), "vad_aggressiveness must be 0..3"),
            (self.vad_frame_ms in (10, 20, 30), "vad_frame_ms must be 10, 20 or 30"),
            (self.window > 0 and self.hop > 0, "window and hop must be > 0"),
            (0 <= self.smoothing < 1, "smoothing must be in [0, 1)"),
            (self.max_pending >= 1 and self.capture_queue >= 1, "queue sizes must be >= 1"),
            (self.block_ms > 0 and self.hwm > 0, "block_ms and hwm must be > 0"),
            (self.max_utterance > self.min_utterance, "max_utterance must exceed min_utterance"),
            (self.status_interval > 0, "status_interval must be > 0"),
            (self.publish.startswith(("tcp://", "ipc://", "inproc://")),
             "publish must be a tcp://, ipc:// or inproc:// address"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)


_HELP = {
    "model": "model folder (model.onnx + model.json)",
    "source": "audio file to replay, or '-' for raw 16-bit mono PCM on stdin (default: mic)",
    "device": "input device index or name (see --list-devices)",
    "device_rate": "capture sample rate in Hz (default: the device's)",
    "stdin_rate": "sample rate of PCM on stdin, Hz",
    "realtime": "pace file sources in real time (--no-realtime: as fast as possible, "
                "nothing dropped, exit at end)",
    "block_ms": "capture block length, ms",
    "publish": "ZeroMQ PUB address to bind (tcp://host:port or ipc://path)",
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
    special = {"model": Path, "source": str, "device": str, "device_rate": int}
    return {f.name: special.get(f.name, type(f.default)) for f in fields(DaemonConfig)}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ccserd",
        description="Live speech emotion recognition: audio -> VAD -> windows -> ONNX -> "
                    "ZeroMQ events (topics emotion, utterance, vad, status).",
        epilog=f"Every option can also be set in a TOML file (key = option name with "
               f"underscores, e.g. hop = 0.5). Default file: {DEFAULT_CONFIG} if present. "
               "Flags override the file.")
    p.add_argument("--config", type=Path, help=f"TOML config file (default {DEFAULT_CONFIG})")
    p.add_argument("--list-devices", action="store_true", help="list input devices and exit")
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
    if "model" in out and not out["model"].is_absolute():
        out["model"] = (path.parent / out["model"]).resolve()
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
