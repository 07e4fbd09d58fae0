"""The dashboard's HTTP side: a routes table of plain async handlers (Starlette).

    GET  /                              the page (static/index.html)
    GET  /static/...                    its scripts, styles and the chart library
    GET  /api/events                    live events, Server-Sent Events (see relay.py)
    GET  /api/info                      what the dashboard is connected to, its limits
    GET  /api/models                    model folders and their cards, readable
    GET  /api/models/{key}/confusion.png
    POST /api/recognise                 multipart `files` (+ `model`, `stream`): one session
    GET  /api/train/options             corpora, emotions, feature groups, classifiers
    GET  /api/train                     the current / last run: state, progress, log
    POST /api/train                     start ccser-train (JSON form)
    POST /api/train/cancel
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ccser_core import __version__
from ccser_core.audio import MAX_DURATION_S, TooLongError, load_audio
from ccser_core.errors import CcserError
from ccser_core.model import CARD_NAME, LoadedModel, load_model
from ccser_core.recognise import recognise_session
from training.dashboard import catalogue
from training.dashboard.config import DashboardConfig, is_loopback
from training.dashboard.relay import Relay
from training.dashboard.security import Guard
from training.dashboard.trainer import Trainer, TrainError, options

STATIC = Path(__file__).resolve().parent / "static"
#: Seconds between pings on the event stream (the page reconnects when they stop).
PING_S = 5.0
#: Points per waveform sent to the page (min and max of each slice).
WAVEFORM_POINTS = 800
#: Seconds of audio all files of one recognition request may hold together (each file
#: at most MAX_DURATION_S): the decoded session stays under 40 MB.
REQUEST_AUDIO_S = 600.0
#: Largest Train form (JSON); a real one is a few hundred bytes.
MAX_TRAIN_BODY = 16 * 1024


def error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def info(request: Request) -> Response:
    cfg: DashboardConfig = request.app.state.config
    return JSONResponse({
        "version": __version__, "connect": cfg.connect,
        "models_dirs": [str(d) for d in cfg.models_dirs], "output_dir": str(cfg.output_dir),
        "corpus_dir": str(cfg.corpus_dir or ""), "max_upload_mb": cfg.max_upload_mb,
        "max_files": cfg.max_files, "history_s": cfg.history_s})


def _sse(message: dict[str, Any]) -> str:
    return f"data: {json.dumps(message, separators=(',', ':'))}\n\n"


async def events(request: Request) -> Response:
    relay: Relay = request.app.state.relay
    queue, snapshot = relay.attach()

    async def stream() -> AsyncIterator[str]:
        try:
            yield "retry: 2000\n" + _sse(snapshot)
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), PING_S)
                except TimeoutError:
                    message = {"type": "ping", "now": time.time()}
                if message is None:  # dropped for falling behind: the browser reconnects
                    return
                yield _sse(message)
        finally:
            relay.detach(queue)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _entries(request: Request) -> list[catalogue.ModelEntry]:
    cfg: DashboardConfig = request.app.state.config
    return catalogue.find_models(cfg.models_dirs, cfg.default_model)


async def models(request: Request) -> Response:
    entries = await run_in_threadpool(_entries, request)
    return JSONResponse({"models": [catalogue.summary(e) for e in entries]})


async def confusion_png(request: Request) -> Response:
    for entry in _entries(request):
        if entry.key == request.path_params["key"] and (entry.folder / "confusion.png").is_file():
            return FileResponse(entry.folder / "confusion.png")
    return error("no such model or no confusion.png", 404)


def _model(request: Request, key: str) -> LoadedModel:
    """Load (once per card version) the model with this key, else the first one listed."""
    entries = _entries(request)
    entry = next((e for e in entries if e.key == key), entries[0] if entries else None)
    if entry is None:
        raise CcserError("no model found: start the dashboard with --models-dir")
    cache: dict[str, tuple[int, LoadedModel]] = request.app.state.models
    stamp = (entry.folder / CARD_NAME).stat().st_mtime_ns
    if entry.key not in cache or cache[entry.key][0] != stamp:
        cache[entry.key] = (stamp, load_model(entry.folder))
    return cache[entry.key][1]


def envelope(y: np.ndarray, sr: int, points: int = WAVEFORM_POINTS) -> dict[str, Any]:
    """Min and max of `points` equal slices: enough to draw a waveform."""
    n = max(1, min(points, len(y)))
    edges = np.linspace(0, len(y), n + 1).astype(int)
    lo = [float(y[a:b].min()) if b > a else 0.0 for a, b in zip(edges[:-1], edges[1:], strict=True)]
    hi = [float(y[a:b].max()) if b > a else 0.0 for a, b in zip(edges[:-1], edges[1:], strict=True)]
    return {"min": np.round(lo, 4).tolist(), "max": np.round(hi, 4).tolist(),
            "seconds": len(y) / sr}


def recognise_files(model: LoadedModel, paths: list[Path], names: list[str],
                    stream: bool) -> list[dict[str, Any]]:
    """Load each file and recognise the readable ones as one session, in input order.
    Each file may last MAX_DURATION_S and all files of one request REQUEST_AUDIO_S
    seconds, so decoded audio stays bounded however well the upload compresses."""
    sr = model.feature_config.sample_rate
    out: list[dict[str, Any]] = [{"name": name} for name in names]
    loaded: list[tuple[int, np.ndarray]] = []
    budget = REQUEST_AUDIO_S
    for i, path in enumerate(paths):
        try:
            loaded.append((i, load_audio(path, sr, max_duration_s=min(MAX_DURATION_S, budget))))
            budget -= len(loaded[-1][1]) / sr
        except CcserError as exc:  # the message names the temp file: name the upload instead
            out[i]["error"] = str(exc).replace(str(path), names[i]) + (
                f" (all files of one request share {REQUEST_AUDIO_S:g} s)"
                if isinstance(exc, TooLongError) and budget < MAX_DURATION_S else "")
    results = recognise_session(model, [y for _, y in loaded], stream=stream)
    for (i, y), result in zip(loaded, results, strict=True):
        out[i].update(result.to_dict(), waveform=envelope(y, sr))
    return out


def _suffix(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else ""


async def recognise(request: Request) -> Response:
    cfg: DashboardConfig = request.app.state.config
    length = request.headers.get("content-length", "")
    if not length.isdigit():
        return error("upload without a Content-Length", 411)
    if int(length) > cfg.max_upload_bytes:
        return error(f"the files are {int(length) / 2**20:.1f} MB together; the limit is "
                     f"{cfg.max_upload_mb:g} MB (ccser-dashboard --max-upload-mb)", 413)
    async with request.form(max_files=cfg.max_files, max_fields=10) as form:
        uploads = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        if not uploads:
            return error("no file in the request (field 'files')", 400)
        try:
            model = await run_in_threadpool(_model, request, str(form.get("model") or ""))
        except CcserError as exc:
            return error(str(exc), 422)
        with tempfile.TemporaryDirectory(prefix="ccser-dashboard-") as tmp:
            paths = [Path(tmp) / f"{i:03d}{_suffix(f.filename or '')}" for i, f in enumerate(uploads)]
            for upload, path in zip(uploads, paths, strict=True):
                with path.open("wb") as fh:
                    await run_in_threadpool(shutil.copyfileobj, upload.file, fh)
            names = [Path(f.filename or f"file {i + 1}").name for i, f in enumerate(uploads)]
            results = await run_in_threadpool(recognise_files, model, paths, names,
                                              form.get("stream") == "1")
    return JSONResponse({"model": {"model_id": model.model_id, "emotions": model.emotions,
                                   "folder": str(model.folder)}, "files": results})


async def train_options(request: Request) -> Response:
    return JSONResponse(options(request.app.state.config.corpus_dir))


async def train_status(request: Request) -> Response:
    return JSONResponse(request.app.state.trainer.status())


class BodyError(CcserError):
    """A request body refused before or while reading it; `status` is the HTTP answer."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


async def small_json(request: Request, limit: int) -> Any:
    """The request's JSON body, read only up to `limit` bytes: a Content-Length over it
    is refused before reading, a chunked body as soon as it passes the limit."""
    length = request.headers.get("content-length", "")
    too_large = f"the request body is over {limit // 1024} KB (a Train form is a few hundred bytes)"
    if length and not length.isdigit():
        raise BodyError(f"bad Content-Length {length[:20]!r}", 400)
    if length and int(length) > limit:
        raise BodyError(too_large, 413)
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise BodyError(too_large, 413)
    except ClientDisconnect:  # e.g. dropped for sending its body too slowly
        raise BodyError("the request body was not sent in full", 400) from None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested too deep
        raise BodyError("expected a JSON object", 400) from None


async def train_start(request: Request) -> Response:
    try:
        data = await small_json(request, MAX_TRAIN_BODY)
    except BodyError as exc:
        return error(str(exc), exc.status)
    trainer: Trainer = request.app.state.trainer
    busy = trainer.state == "running"
    try:
        status = await trainer.start(data if isinstance(data, dict) else {})
    except TrainError as exc:
        return error(str(exc), 409 if busy else 400)
    return JSONResponse(status, status_code=202)


async def train_cancel(request: Request) -> Response:
    try:
        return JSONResponse(await request.app.state.trainer.cancel())
    except TrainError as exc:
        return error(str(exc), 409)


ROUTES = [
    Route("/", index),
    Route("/api/events", events),
    Route("/api/info", info),
    Route("/api/models", models),
    Route("/api/models/{key}/confusion.png", confusion_png),
    Route("/api/recognise", recognise, methods=["POST"]),
    Route("/api/train/options", train_options),
    Route("/api/train", train_status),
    Route("/api/train", train_start, methods=["POST"]),
    Route("/api/train/cancel", train_cancel, methods=["POST"]),
    Mount("/static", StaticFiles(directory=STATIC), name="static"),
]


def create_app(cfg: DashboardConfig) -> Starlette:
    relay = Relay(cfg.connect, history_s=cfg.history_s, heartbeat_s=cfg.heartbeat_s)
    trainer = Trainer(cfg.corpus_dir, cfg.output_dir, jobs=cfg.train_jobs)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await relay.start()
        try:
            yield
        finally:
            await trainer.close()
            await relay.stop()

    app = Starlette(routes=ROUTES, lifespan=lifespan, middleware=[
        Middleware(Guard, token=cfg.token, loopback_only=is_loopback(cfg.host))])
    app.state.config, app.state.relay, app.state.trainer = cfg, relay, trainer
    app.state.models = {}
    return app
