"""ccser-dashboard's token, unit limits and Cancel (issue 16, item 13, item 7's unit
part, and the ignored-SIGINT note): the token never reaches the command line or the
journal, and Cancel stops a run even when the dashboard was started with SIGINT
ignored."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dashboard_helpers import free_port

from training.dashboard import cli
from training.dashboard.trainer import Trainer

UNIT = Path(__file__).resolve().parents[3] / "systemd" / "ccser-dashboard.service"
FORM = {"train": ["ravdess"], "emotions": ["angry", "sad"], "features": ["spectral", "prosody"],
        "models": ["logreg"], "name": "cancelled"}


def config(*argv: str):
    return cli.config_from_args(cli.build_parser().parse_args(list(argv)))


def test_a_short_or_command_line_token_is_refused(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("CCSER_DASHBOARD_TOKEN", raising=False)
    remote = ("--http", "0.0.0.0:8765", "--allow-remote")
    with pytest.raises(ValueError, match="needs a token"):
        config(*remote)
    with pytest.raises(ValueError, match="`ps` shows it"):
        config(*remote, "--token", "a-long-enough-token-0123")
    monkeypatch.setenv("CCSER_DASHBOARD_TOKEN", "a")
    with pytest.raises(ValueError, match=r"\$CCSER_DASHBOARD_TOKEN must be at least 16"):
        config(*remote)
    short = tmp_path / "short"
    short.write_text("abc\n")
    with pytest.raises(ValueError, match="must be at least 16"):
        config(*remote, "--token-file", str(short))
    with pytest.raises(SystemExit):  # through main: one line, no traceback
        cli.main([*remote, "--token-file", str(short)])
    err = capsys.readouterr().err
    assert "must be at least 16" in err and "Traceback" not in err
    monkeypatch.setenv("CCSER_DASHBOARD_TOKEN", "é" * 20)
    with pytest.raises(ValueError, match="letters, digits"):
        config(*remote)


def test_a_missing_token_file_gets_a_private_random_token(monkeypatch, tmp_path):
    monkeypatch.delenv("CCSER_DASHBOARD_TOKEN", raising=False)
    path = tmp_path / "token"
    cfg = config("--http", "0.0.0.0:8765", "--allow-remote", "--token-file", str(path))
    assert len(cfg.token) >= 16 and path.read_text().strip() == cfg.token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert config("--allow-remote", "--token-file", str(path)).token == cfg.token  # kept
    monkeypatch.setenv("CCSER_DASHBOARD_TOKEN", "from-the-environment-1")
    assert config("--http", "0.0.0.0:8765", "--allow-remote").token == "from-the-environment-1"


def test_the_token_is_never_printed(tmp_path):
    token = tmp_path / "token"
    proc = subprocess.Popen(
        [sys.executable, "-m", "training.dashboard.cli", "--http", f"127.0.0.1:{free_port()}",
         "--connect", f"tcp://127.0.0.1:{free_port()}", "--allow-remote",
         "--token-file", str(token), "--models-dir", str(tmp_path / "models")],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = proc.stderr.readline()
    finally:
        proc.terminate()
        rest = proc.communicate(timeout=20)[1]
    secret = token.read_text().strip()
    assert line.startswith("ccser-dashboard: http://127.0.0.1:") and str(token) in line
    assert secret not in line + rest and "?token=" + secret not in line


def test_the_unit_limits_open_files():
    values = [line.partition("=")[2] for line in UNIT.read_text().splitlines()
              if line.startswith("LimitNOFILE=")]
    assert len(values) == 1 and 256 <= int(values[0]) <= 65536


@pytest.mark.slow
def test_cancel_stops_a_run_even_when_sigint_was_ignored(fake_corpora, tmp_path, monkeypatch):
    """A dashboard started with SIGINT ignored (`nohup`, `&` in a script) passes that on
    to its children; Cancel must still interrupt ccser-train (exit 130, not SIGKILL)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    async def run() -> tuple[dict, float]:
        trainer = Trainer(fake_corpora, tmp_path / "models")
        await trainer.start(FORM)
        deadline = time.monotonic() + 120
        while len(trainer.log) < 2 and not trainer.progress and trainer.state == "running":
            assert time.monotonic() < deadline, list(trainer.log)
            await asyncio.sleep(0.1)  # ccser-train is past its imports and running
        t0 = time.monotonic()
        status = await trainer.cancel()
        return status, time.monotonic() - t0

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        status, took = asyncio.run(run())
    finally:
        signal.signal(signal.SIGINT, previous)
    assert status["state"] == "cancelled" and status["returncode"] == 130, status["log"][-5:]
    assert took < 9 and any("interrupted" in line for line in status["log"])
    assert not (tmp_path / "models" / "cancelled" / "model.onnx").exists()
