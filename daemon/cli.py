"""`ccserd`: command line entry point; turns user mistakes into one line and exit 2.

SIGTERM, SIGINT and SIGHUP all stop the daemon cleanly (close the open
utterance, publish a `stopping` status, exit 0); there is no reload. The
handlers are in place only while `main` runs.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ccser_core.errors import CcserError
from daemon.config import DaemonConfig, build_parser, load_config

log = logging.getLogger("daemon.cli")

#: Signals that stop ccserd cleanly (SIGHUP too: a closed terminal, or `systemctl kill
#: -s HUP`, gets a `stopping` status instead of an abrupt exit 129).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set `stop` on any of STOP_SIGNALS while inside; the previous handlers after."""
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():  # None: installed outside Python
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)


def make_source(config: DaemonConfig) -> Any:
    """The configured source; AudioError/DeviceError for unusable input."""
    from daemon.capture import FileSource, MicSource, StdinSource

    if config.source == "-":
        return StdinSource(config.stdin_rate, config.block_ms, config.realtime)
    if config.source:
        return FileSource(Path(config.source), config.block_ms, config.realtime)
    return MicSource(config.device, config.device_rate, config.block_ms)


def run(config: DaemonConfig, stop: threading.Event) -> int:
    """Load, bind, optionally wait for subscribers, and run one session."""
    from ccser_core.model import load_model
    from daemon.publisher import Publisher
    from daemon.service import Daemon

    model = load_model(config.model)
    if model.feature_config.sample_rate != 16000:
        raise CcserError(f"{config.model}: model expects {model.feature_config.sample_rate} Hz; "
                         "ccserd works at 16000 Hz")
    source = make_source(config)
    publisher = Publisher(config.connect_proxy or config.publish, config.hwm,
                          config.ipc_permissions, config.curve_secret_key,
                          config.curve_authorized_keys, name=config.source_name,
                          proxy=config.connect_proxy is not None,
                          curve_proxy_key=config.curve_proxy_key)
    if config.connect_proxy is not None:
        log.info("publishing as %r through the proxy at %s%s", config.source_name,
                 config.connect_proxy, " (CURVE)" if config.curve_proxy_key else "")
    elif config.curve_secret_key is not None:
        log.info("CURVE on: encrypted, only keys in %s may subscribe",
                 config.curve_authorized_keys)
    try:
        if config.wait_subscribers > 0:
            log.info("waiting for %d subscriber(s) on %s", config.wait_subscribers,
                     config.publish)
            if not publisher.wait_for_subscribers(config.wait_subscribers,
                                                  config.wait_timeout, stop):
                if stop.is_set():
                    return 0
                log.warning("only %d subscriber(s) after %.0f s; starting anyway",
                            publisher.clients, config.wait_timeout)
        if config.start_delay > 0:
            stop.wait(config.start_delay)
        return Daemon(config, model, source, publisher).run(stop)
    finally:
        publisher.close()


def main(argv: list[str] | None = None) -> int:
    # Small matrices: BLAS thread pools only add wake-up latency and CPU (set before numpy).
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    args = build_parser().parse_args(argv)
    logging.basicConfig(stream=sys.stderr, format="ccserd %(levelname)s: %(message)s",
                        level=logging.INFO)
    try:
        if args.list_devices:
            from daemon.devices import describe_devices

            print(f"input devices:\n{describe_devices()}")
            return 0
        if args.generate_keys is not None:
            from ccser_core.curve import generate_key_pair

            public, secret = generate_key_pair(args.generate_keys, args.key_name)
            print(f"wrote {public} (public: give it to the other side) and {secret} "
                  "(secret: keep it here)")
            return 0
        config = load_config(args)
        logging.getLogger("daemon").setLevel(config.log_level.upper())
        stop = threading.Event()
        with stop_on_signals(stop):
            return run(config, stop)
    except CcserError as exc:
        log.error("%s", exc)
        return 2
    except ValueError as exc:  # e.g. an invalid log level
        log.error("%s", exc)
        return 2


if __name__ == "__main__":
    sys.exit(main())
