"""The Train panel's back end: one `ccser-train` run at a time, in the background.

The run is the real CLI in a child process (`python -m training.cli`), so it
behaves exactly as on the command line, a crash cannot take the dashboard
down, and cancel is a SIGINT (ccser-train then leaves caches and existing
models intact). Choices are checked against what the dashboard offers:
corpora only from the configured corpus folder, names only from the lists
ccser-train accepts, and the output only as a new folder in the models dir.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccser_core.corpora import PARSERS
from ccser_core.emotions import CANONICAL, parse_emotions
from ccser_core.errors import CcserError
from ccser_core.features import FRAME_GROUPS, UTTERANCE_GROUPS, FeatureConfig
from training.models import ALL_MODELS

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_+\-.]{0,63}$")
#: tqdm's progress lines: "features ravdess:  45%|####  | 300/672 [...]".
PROGRESS_RE = re.compile(r"^(?P<stage>[^:|]*?):?\s*(?P<pct>\d{1,3})%\|")
LOG_LINES = 400
#: The child runs ccser-train with SIGINT reset to Python's KeyboardInterrupt first: a
#: dashboard started with SIGINT ignored (`nohup`, `cmd &` in a script) passes the
#: ignored disposition on through exec, and cancel would then have to SIGKILL the run.
CHILD = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
         "from training.cli import main; sys.exit(main())")


class TrainError(CcserError):
    """A training request the dashboard refuses (names the field)."""


def available_corpora(corpus_dir: Path | None) -> list[str]:
    """Built-in corpora present as folders in the configured corpus dir."""
    if corpus_dir is None or not corpus_dir.is_dir():
        return []
    return [name for name in PARSERS if (corpus_dir / name).is_dir()]


def options(corpus_dir: Path | None) -> dict[str, Any]:
    d = FeatureConfig()
    return {"corpora": available_corpora(corpus_dir), "corpus_dir": str(corpus_dir or ""),
            "emotions": list(CANONICAL), "features": list(FRAME_GROUPS + UTTERANCE_GROUPS),
            "default_features": list(d.groups), "models": list(ALL_MODELS),
            "default_models": ["logreg"], "default_emotions": ["angry", "happy", "neutral", "sad"]}


@dataclass(frozen=True)
class TrainRequest:
    train: tuple[str, ...]
    test: tuple[str, ...]
    emotions: tuple[str, ...]
    features: tuple[str, ...]
    models: tuple[str, ...]
    name: str


def _names(data: dict[str, Any], key: str, allowed: list[str], required: bool) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TrainError(f"{key}: expected a list of names")
    bad = [v for v in value if v not in allowed]
    if bad:
        raise TrainError(f"{key}: {', '.join(bad)} not available (choose from {', '.join(allowed)})")
    if required and not value:
        raise TrainError(f"{key}: choose at least one")
    return tuple(dict.fromkeys(value))


def parse_request(data: dict[str, Any], corpus_dir: Path | None, models_dir: Path) -> TrainRequest:
    """Validate the form; TrainError names the field at fault."""
    corpora = available_corpora(corpus_dir)
    if not corpora:
        raise TrainError(f"no corpora found in {corpus_dir or '(no --corpus-dir)'}; start the "
                         "dashboard with --corpus-dir or $CCSER_CORPORA")
    train = _names(data, "train", corpora, True)
    test = _names(data, "test", corpora, False)
    if set(train) & set(test):
        raise TrainError(f"test: {', '.join(sorted(set(train) & set(test)))} is also a training "
                         "corpus (cross-corpus means testing on other corpora)")
    emotions = _names(data, "emotions", list(CANONICAL), True)
    try:
        emotions = parse_emotions(",".join(emotions))
    except CcserError as exc:
        raise TrainError(f"emotions: {exc}") from exc
    features = _names(data, "features", list(FRAME_GROUPS + UTTERANCE_GROUPS), True)
    models = _names(data, "models", list(ALL_MODELS), True)
    name = str(data.get("name") or "").strip() or \
        f"{'+'.join(train)}_{''.join(e[0].upper() for e in emotions)}"
    if not NAME_RE.match(name):
        raise TrainError(f"name: {name!r} must be 1-64 letters, digits, '_', '+', '-' or '.'")
    if (models_dir / name).exists():
        raise TrainError(f"name: {models_dir / name} exists already; choose another name")
    return TrainRequest(train, test, emotions, features, models, name)


def train_command(req: TrainRequest, corpus_dir: Path, models_dir: Path, jobs: int) -> list[str]:
    out = models_dir / req.name
    cmd = [sys.executable, "-c", CHILD, "--train", ",".join(req.train),
           "--corpus-dir", str(corpus_dir), "--emotions", ",".join(req.emotions),
           "--features", ",".join(req.features), "--models", ",".join(req.models),
           "--output", str(out), "--report", str(out / "report.json"), "--jobs", str(jobs)]
    return cmd + (["--test", ",".join(req.test)] if req.test else [])


class Trainer:
    """At most one ccser-train child; its state for the page, and cancel."""

    def __init__(self, corpus_dir: Path | None, models_dir: Path, jobs: int = 1) -> None:
        self.corpus_dir, self.models_dir, self.jobs = corpus_dir, models_dir, jobs
        self.proc: asyncio.subprocess.Process | None = None
        self.request: TrainRequest | None = None
        self.state = "idle"  # idle | running | finished | failed | cancelled
        self.returncode: int | None = None
        self.started = self.ended = 0.0
        self.log: deque[str] = deque(maxlen=LOG_LINES)
        self.progress: dict[str, Any] = {}
        self._cancelled = False
        self._reader: asyncio.Task[None] | None = None

    def status(self) -> dict[str, Any]:
        req = self.request
        return {"state": self.state, "returncode": self.returncode,
                "name": req.name if req else "", "request": req.__dict__ if req else None,
                "output": str(self.models_dir / req.name) if req else "",
                "elapsed_s": round((self.ended or time.time()) - self.started, 1)
                if self.started else 0.0,
                "progress": self.progress, "log": list(self.log)}

    async def start(self, data: dict[str, Any]) -> dict[str, Any]:
        if self.state == "running":
            raise TrainError(f"a run is in progress ({self.request.name if self.request else ''});"
                             " cancel it or wait")
        req = parse_request(data, self.corpus_dir, self.models_dir)
        assert self.corpus_dir is not None  # parse_request found corpora in it
        self.models_dir.mkdir(parents=True, exist_ok=True)
        cmd = train_command(req, self.corpus_dir, self.models_dir, self.jobs)
        self.request, self.state, self.returncode = req, "running", None
        self.started, self.ended, self._cancelled = time.time(), 0.0, False
        self.log.clear()
        self.progress = {}
        self.log.append("$ ccser-train " + " ".join(cmd[3:]))
        self.proc = await asyncio.create_subprocess_exec(
            *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL, start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self._reader = asyncio.create_task(self._follow(self.proc))
        return self.status()

    async def _follow(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        pending = ""
        while chunk := await proc.stdout.read(4096):
            pending += chunk.decode(errors="replace")
            *lines, pending = re.split(r"[\r\n]", pending)
            for line in lines:
                self._line(line)
        self._line(pending)
        self.returncode = await proc.wait()
        self.ended = time.time()
        self.state = ("cancelled" if self._cancelled else
                      "finished" if self.returncode == 0 else "failed")

    def _line(self, line: str) -> None:
        line = line.rstrip()
        if not line:
            return
        m = PROGRESS_RE.match(line)
        if m:  # tqdm redraws one line: show it as progress, not as hundreds of log lines
            self.progress = {"stage": m["stage"].strip(), "percent": int(m["pct"]), "line": line}
            return
        self.log.append(line)

    async def cancel(self) -> dict[str, Any]:
        proc = self.proc
        if self.state != "running" or proc is None:
            raise TrainError("no run in progress")
        self._cancelled = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            await asyncio.wait_for(asyncio.shield(self._wait()), timeout=10)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await self._wait()
        return self.status()

    async def _wait(self) -> None:
        if self._reader is not None:
            await self._reader

    async def close(self) -> None:
        """On shutdown: a run in progress is cancelled, not orphaned."""
        if self.state == "running":
            await self.cancel()
