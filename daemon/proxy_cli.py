"""`ccser-proxy`: one address for the events of many ccserd (ZeroMQ's XSUB/XPUB proxy)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from ccser_core.errors import CcserError
from ccser_core.usage import Parser
from daemon.bind import MAX_SUBSCRIBER_BYTES, MAX_SUBSCRIBER_MESSAGE
from daemon.proxy import DEFAULT_BACKEND, DEFAULT_FRONTEND, Proxy, ProxyConfig

log = logging.getLogger("daemon.proxy")

EPILOG = """example:
  ccser-proxy --frontend tcp://127.0.0.1:5555 --backend tcp://127.0.0.1:5556
  ccserd --name desk-1 --connect-proxy tcp://127.0.0.1:5555
  ccserd --name desk-2 --connect-proxy tcp://127.0.0.1:5555
  ccser-listen --connect tcp://127.0.0.1:5556            # both, each event naming its source
  ccser-listen --connect tcp://127.0.0.1:5556 --source desk-1

Each event carries its daemon's `source` and that daemon's own `seq`, so a
subscriber sees loss per daemon. A slow subscriber misses messages beyond
--hwm; it never holds up the proxy or the others. With CURVE the proxy's key
pair serves both sides: daemons give its public key as --curve-proxy-key
(with their own --curve-secret-key), subscribers as --curve-server-key.

Nothing a peer sends stops the proxy. A message the metrics cannot read (not
an event: wrong frames, not JSON, nested too deeply, ...) is forwarded
unchanged, since subscribers validate events themselves, and counted as
unreadable in the metrics line. A frame over --max-message bytes from a daemon,
or over {sub_kib} KiB from a subscriber, ends that peer's connection; a subscriber that
sends more than {peer_kib} KiB in all (a subscription flood) is disconnected."""


def build_parser() -> argparse.ArgumentParser:
    d = ProxyConfig()
    epilog = EPILOG.format(sub_kib=MAX_SUBSCRIBER_MESSAGE // 1024,
                           peer_kib=MAX_SUBSCRIBER_BYTES // 1024)
    p = Parser(prog="ccser-proxy", description=__doc__, epilog=epilog,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frontend", default=DEFAULT_FRONTEND,
                   help="address daemons connect to (ccserd --connect-proxy) (default %(default)s)")
    p.add_argument("--backend", default=DEFAULT_BACKEND,
                   help="address subscribers connect to (default %(default)s)")
    p.add_argument("--hwm", type=int, default=d.hwm,
                   help="messages queued per subscriber before it misses some (default %(default)s)")
    p.add_argument("--max-message", type=int, default=d.max_message, metavar="BYTES",
                   help="largest frame a daemon may send; a larger one ends its connection "
                        "(default %(default)s: --emit-features of a 600 s utterance fits)")
    p.add_argument("--stats-interval", type=float, default=d.stats_interval,
                   help="seconds between metrics lines on stderr (default %(default)s)")
    p.add_argument("--ipc-mode", default="0600",
                   help="file mode of ipc:// sockets, octal (default %(default)s)")
    p.add_argument("--curve-secret-key", type=Path, metavar="FILE",
                   help="the proxy's NAME.key_secret (ccserd --generate-keys DIR --key-name NAME)")
    p.add_argument("--curve-daemon-keys", type=Path, metavar="DIR",
                   help="CURVE on the frontend: folder of the daemons' public keys (*.key)")
    p.add_argument("--curve-client-keys", type=Path, metavar="DIR",
                   help="CURVE on the backend: folder of the subscribers' public keys (*.key)")
    return p


def config_from_args(args: argparse.Namespace) -> ProxyConfig:
    try:
        mode = int(args.ipc_mode.lower().removeprefix("0o"), 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o777:
        raise CcserError(f"--ipc-mode must be an octal file mode like 0660, got {args.ipc_mode!r}")
    return ProxyConfig(frontend=args.frontend, backend=args.backend, hwm=args.hwm,
                       stats_interval=args.stats_interval, ipc_mode=mode,
                       max_message=args.max_message,
                       curve_secret_key=args.curve_secret_key,
                       curve_daemon_keys=args.curve_daemon_keys,
                       curve_client_keys=args.curve_client_keys)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(stream=sys.stderr, format="ccser-proxy %(levelname)s: %(message)s",
                        level=logging.INFO)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        proxy = Proxy(config_from_args(args))
    except CcserError as exc:
        log.error("%s", exc)
        return 2
    try:
        proxy.run(stop)
    finally:
        proxy.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
