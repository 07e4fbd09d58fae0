"""`ccser-dashboard`: the live view of a ccserd daemon, file recognition, models and
training, as a local web page.

Serves http://127.0.0.1:8765 and subscribes to the daemon's events on
tcp://127.0.0.1:5556 (ccserd's default). Open the address it prints.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import secrets
import sys
from pathlib import Path

from ccser_core.client import DEFAULT_ADDRESS
from ccser_core.model import default_model_dir
from ccser_core.usage import Parser
from training.dashboard.config import (
    DEFAULT_HTTP,
    DashboardConfig,
    check_connect,
    is_loopback,
    parse_http,
)

TOKEN_ENV = "CCSER_DASHBOARD_TOKEN"
MIN_TOKEN_CHARS = 16
#: URL-safe characters only: the token travels in ?token= and a cookie unescaped.
TOKEN_RE = re.compile(r"[A-Za-z0-9._~-]+")

EPILOG = """examples:
  ccser-dashboard
  ccser-dashboard --connect tcp://127.0.0.1:6000 --http 127.0.0.1:9000 --models-dir exported_models
  ccser-dashboard --corpus-dir /data/corpora            # enables the Train panel
  ccser-dashboard --http 0.0.0.0:8765 --allow-remote --token-file ~/.config/ccser/token
                                                        # other machines; the file is made if missing

Security: the page is served on loopback only unless --allow-remote is given;
then every request needs the token, at least 16 characters, from --token-file
(a new file gets a random token, mode 600) or $CCSER_DASHBOARD_TOKEN; it is
never printed or logged, and never put on the command line where `ps` shows
it. Open the page once as http://HOST:PORT/?token=TOKEN. Uploads go to a temporary folder and are
deleted after recognition. The Train panel sees only the corpora in
--corpus-dir and writes new models only into the first --models-dir."""


def build_parser() -> argparse.ArgumentParser:
    d = DashboardConfig()
    p = Parser(prog="ccser-dashboard", description=__doc__, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--connect", default=DEFAULT_ADDRESS,
                   help="ZeroMQ address of the daemon's publisher (default %(default)s)")
    p.add_argument("--http", default=DEFAULT_HTTP, metavar="HOST:PORT",
                   help="address to serve the page on (default %(default)s)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a non-loopback --http; every request then needs the token")
    p.add_argument("--token-file", type=Path, metavar="FILE",
                   help="file holding the access token (made with a random one, mode 600, if "
                        "missing); default $CCSER_DASHBOARD_TOKEN. Needed with --allow-remote")
    p.add_argument("--token", help=argparse.SUPPRESS)  # refused: visible in `ps`
    p.add_argument("--max-connections", type=int, default=d.max_connections,
                   help="open HTTP connections, live tabs included; more are answered 503 "
                        "(default %(default)s)")
    p.add_argument("--models-dir", type=Path, action="append", default=[], metavar="DIR",
                   help="folder of model folders, repeatable; the first receives models trained "
                        f"here (default {d.output_dir})")
    p.add_argument("--model", type=Path, default=default_model_dir(), metavar="DIR",
                   help="the default model for recognition (default %(default)s)")
    p.add_argument("--corpus-dir", type=Path, default=None,
                   help="folder holding ravdess/, emodb/, ... for the Train panel "
                        "(default $CCSER_CORPORA when that is a folder; else no Train panel)")
    p.add_argument("--max-upload-mb", type=float, default=d.max_upload_mb,
                   help="largest upload, all files of one request together (default %(default)s)")
    p.add_argument("--max-files", type=int, default=d.max_files,
                   help="most files recognised together (default %(default)s)")
    p.add_argument("--history", type=float, default=d.history_s, metavar="SECONDS",
                   help="live timeline kept for the page (default %(default)s)")
    p.add_argument("--heartbeat", type=float, default=d.heartbeat_s, metavar="SECONDS",
                   help="daemon status interval assumed until two are seen; two missed "
                        "heartbeats mean 'no connection' (default %(default)s)")
    p.add_argument("--train-jobs", type=int, default=d.train_jobs,
                   help="--jobs for ccser-train runs started here (default %(default)s)")
    p.add_argument("--log-level", default="warning",
                   choices=("debug", "info", "warning", "error"), help="(default %(default)s)")
    return p


def config_from_args(args: argparse.Namespace) -> DashboardConfig:
    """Validate the flags into a config; ValueError names the flag."""
    host, port = parse_http(args.http)
    check_connect(args.connect)
    if not is_loopback(host) and not args.allow_remote:
        raise ValueError(f"--http {args.http}: not a loopback address; the dashboard has no "
                         "login, so serving other machines needs --allow-remote (and then a token)")
    token, token_from = read_token(args)
    for flag, value, low in (("--max-upload-mb", args.max_upload_mb, 0.001),
                             ("--max-connections", args.max_connections, 4),
                             ("--max-files", args.max_files, 1), ("--history", args.history, 1),
                             ("--heartbeat", args.heartbeat, 0.1),
                             ("--train-jobs", args.train_jobs, 1)):
        if value < low:
            raise ValueError(f"{flag} must be at least {low}")
    if args.corpus_dir is not None and not Path(args.corpus_dir).is_dir():
        raise ValueError(f"--corpus-dir {args.corpus_dir}: not a folder")
    if args.corpus_dir is None and os.environ.get("CCSER_CORPORA"):
        env = Path(os.environ["CCSER_CORPORA"])  # a default, not a request: absent -> no panel
        args.corpus_dir = env if env.is_dir() else None
    return DashboardConfig(
        connect=args.connect, host=host, port=port,
        models_dirs=tuple(args.models_dir) or DashboardConfig().models_dirs,
        default_model=args.model, corpus_dir=Path(args.corpus_dir) if args.corpus_dir else None,
        token=token, token_from=token_from, max_upload_mb=args.max_upload_mb,
        max_files=args.max_files, history_s=args.history, heartbeat_s=args.heartbeat,
        train_jobs=args.train_jobs, max_connections=args.max_connections)


def read_token(args: argparse.Namespace) -> tuple[str, str]:
    """(token, where the user finds it) from --token-file or $CCSER_DASHBOARD_TOKEN; a
    missing token file is made with a random token. ValueError names the source."""
    if args.token is not None:
        raise ValueError("--token puts the token where `ps` shows it: use --token-file FILE "
                         f"or ${TOKEN_ENV}")
    if args.token_file is not None:
        path, where = Path(args.token_file).expanduser(), f"the file {args.token_file}"
        try:
            if not path.exists():
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_urlsafe(24) + "\n")
            token = path.read_text().strip()
        except OSError as exc:
            raise ValueError(f"--token-file {args.token_file}: {exc.strerror or exc}") from exc
    else:
        token, where = os.environ.get(TOKEN_ENV, "").strip(), f"${TOKEN_ENV}"
        if not token and args.allow_remote:
            raise ValueError("--allow-remote needs a token: --token-file FILE (made with a "
                             f"random token if missing) or ${TOKEN_ENV}")
        if not token:
            return "", ""
    if len(token) < MIN_TOKEN_CHARS or not TOKEN_RE.fullmatch(token):
        raise ValueError(f"the token in {where} must be at least {MIN_TOKEN_CHARS} letters, "
                         f"digits, '-', '_', '.' or '~' (it has {len(token)} characters)")
    return token, where


def page_url(cfg: DashboardConfig) -> str:
    """The page's address, never with the token in it (this line goes to the journal)."""
    host = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
    return f"http://{host}:{cfg.port}/"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cfg = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        import uvicorn

        from training.dashboard.server import uvicorn_config
    except ImportError as exc:
        print(f"ccser-dashboard: error: {exc.name} is missing; install the extra: "
              "pip install 'ccser[dashboard]'", file=sys.stderr)
        return 1
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="ccser-dashboard: %(levelname)s: %(message)s")
    token = f"; open it once with ?token= and the token in {cfg.token_from}" if cfg.token else ""
    print(f"ccser-dashboard: {page_url(cfg)}  (events from {cfg.connect}{token})",
          file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn_config(cfg, args.log_level,
                                           access_log=args.log_level == "debug"))
    try:
        server.run()
    except OSError as exc:  # e.g. the port is taken
        print(f"ccser-dashboard: error: --http {args.http}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
