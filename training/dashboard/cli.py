"""`ccser-dashboard`: the live view of a ccserd daemon, file recognition, models and
training, as a local web page.

Serves http://127.0.0.1:8765 and subscribes to the daemon's events on
tcp://127.0.0.1:5556 (ccserd's default). Open the address it prints.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from pathlib import Path

from ccser_core.client import DEFAULT_ADDRESS
from ccser_core.model import default_model_dir
from training.dashboard.config import (
    DEFAULT_HTTP,
    DashboardConfig,
    check_connect,
    is_loopback,
    parse_http,
)

EPILOG = """examples:
  ccser-dashboard
  ccser-dashboard --connect tcp://127.0.0.1:6000 --http 127.0.0.1:9000 --models-dir exported_models
  ccser-dashboard --corpus-dir /data/corpora            # enables the Train panel
  ccser-dashboard --http 0.0.0.0:8765 --allow-remote    # other machines; prints a token URL

Security: the page is served on loopback only unless --allow-remote is given;
then every request needs the token (--token, $CCSER_DASHBOARD_TOKEN, or a
random one printed at start). Uploads go to a temporary folder and are
deleted after recognition. The Train panel sees only the corpora in
--corpus-dir and writes new models only into the first --models-dir."""


def build_parser() -> argparse.ArgumentParser:
    d = DashboardConfig()
    p = argparse.ArgumentParser(prog="ccser-dashboard", description=__doc__, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--connect", default=DEFAULT_ADDRESS,
                   help="ZeroMQ address of the daemon's publisher (default %(default)s)")
    p.add_argument("--http", default=DEFAULT_HTTP, metavar="HOST:PORT",
                   help="address to serve the page on (default %(default)s)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a non-loopback --http; every request then needs the token")
    p.add_argument("--token", default=os.environ.get("CCSER_DASHBOARD_TOKEN", ""),
                   help="access token (default $CCSER_DASHBOARD_TOKEN; with --allow-remote and "
                        "none given, a random one)")
    p.add_argument("--models-dir", type=Path, action="append", default=[], metavar="DIR",
                   help="folder of model folders, repeatable; the first receives models trained "
                        f"here (default {d.output_dir})")
    p.add_argument("--model", type=Path, default=default_model_dir(), metavar="DIR",
                   help="the default model for recognition (default %(default)s)")
    p.add_argument("--corpus-dir", type=Path, default=os.environ.get("CCSER_CORPORA") or None,
                   help="folder holding ravdess/, emodb/, ... for the Train panel "
                        "(default $CCSER_CORPORA)")
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
    token = args.token or (secrets.token_urlsafe(18) if args.allow_remote else "")
    for flag, value, low in (("--max-upload-mb", args.max_upload_mb, 0.001),
                             ("--max-files", args.max_files, 1), ("--history", args.history, 1),
                             ("--heartbeat", args.heartbeat, 0.1),
                             ("--train-jobs", args.train_jobs, 1)):
        if value < low:
            raise ValueError(f"{flag} must be at least {low}")
    if args.corpus_dir is not None and not Path(args.corpus_dir).is_dir():
        raise ValueError(f"--corpus-dir {args.corpus_dir}: not a folder")
    return DashboardConfig(
        connect=args.connect, host=host, port=port,
        models_dirs=tuple(args.models_dir) or DashboardConfig().models_dirs,
        default_model=args.model, corpus_dir=Path(args.corpus_dir) if args.corpus_dir else None,
        token=token, max_upload_mb=args.max_upload_mb, max_files=args.max_files,
        history_s=args.history, heartbeat_s=args.heartbeat, train_jobs=args.train_jobs)


def page_url(cfg: DashboardConfig) -> str:
    host = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
    return f"http://{host}:{cfg.port}/" + (f"?token={cfg.token}" if cfg.token else "")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cfg = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        import uvicorn

        from training.dashboard.routes import create_app
    except ImportError as exc:
        print(f"ccser-dashboard: error: {exc.name} is missing; install the extra: "
              "pip install 'ccser[dashboard]'", file=sys.stderr)
        return 1
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="ccser-dashboard: %(levelname)s: %(message)s")
    print(f"ccser-dashboard: {page_url(cfg)}  (events from {cfg.connect})", file=sys.stderr,
          flush=True)
    server = uvicorn.Server(uvicorn.Config(
        create_app(cfg), host=cfg.host, port=cfg.port, log_level=args.log_level,
        timeout_graceful_shutdown=2, access_log=args.log_level == "debug"))
    try:
        server.run()
    except OSError as exc:  # e.g. the port is taken
        print(f"ccser-dashboard: error: --http {args.http}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
