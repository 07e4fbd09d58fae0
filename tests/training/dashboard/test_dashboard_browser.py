"""The page in a real headless browser (Debian's chromium driven by playwright):
ccserd replays corpus speech, the page shows the emotion and the daemon's state,
recognises corpus files, survives a frozen (sleeping) tab, shows "no connection"
when the daemon stops and recovers when it restarts.

Set CCSER_DASHBOARD_SCREENSHOTS=DIR to keep the screenshots (the README's comes
from here)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
playwright = pytest.importorskip("playwright.sync_api")

from dashboard_helpers import free_port  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EMOTIONS = ("neutral", "happy", "sad", "angry")  # the default model's
pytestmark = [pytest.mark.corpora, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed")]


@pytest.fixture
def session_wav(corpora_dir: Path, tmp_path: Path) -> Path:
    """About 30 s of one EmoDB speaker (several emotions) with pauses, as one file."""
    files = sorted((corpora_dir / "emodb" / "wav").glob("03a0[1-5]*"))[:10]
    if len(files) < 4:
        pytest.skip("EmoDB speaker 03 not found in CCSER_CORPORA")
    parts = []
    for f in files:
        y, sr = sf.read(f, dtype="float32")
        parts += [y if y.ndim == 1 else y.mean(axis=1), np.zeros(int(1.2 * sr), np.float32)]
    out = tmp_path / "session.wav"
    sf.write(out, np.concatenate(parts), sr)
    return out


def start(module: str, *args: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("NOTIFY_SOCKET", None)
    return subprocess.Popen([sys.executable, "-m", module, *args], stdout=subprocess.DEVNULL,
                            stderr=log.open("w"), env=env)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def shot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    keep = os.environ.get("CCSER_DASHBOARD_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / name)
    return path


def text_is(page, selector: str, values: tuple[str, ...], timeout_s: float) -> str:
    """Wait until the element's text is one of `values` (lower case); return it."""
    deadline = time.monotonic() + timeout_s
    text = ""
    while time.monotonic() < deadline:
        text = page.inner_text(selector).strip().lower()
        if text in values:
            return text
        time.sleep(0.2)
    raise AssertionError(f"{selector} shows {text!r}, expected one of {values}")


def test_live_page_recognition_and_daemon_stop(session_wav, corpora_dir, tmp_path):
    zmq_address = f"tcp://127.0.0.1:{free_port()}"
    http = f"127.0.0.1:{free_port()}"
    daemon_args = ("--source", str(session_wav), "--publish", zmq_address, "--status-interval", "1")
    dashboard = start("training.dashboard.cli", "--connect", zmq_address, "--http", http,
                      "--heartbeat", "1", "--models-dir", str(tmp_path / "models"),
                      log=tmp_path / "dashboard.log")
    daemon = start("daemon.cli", *daemon_args, log=tmp_path / "ccserd.log")
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            deadline = time.monotonic() + 20
            while True:  # the dashboard is up when its page loads
                try:
                    page.goto(f"http://{http}/")
                    break
                except playwright.Error:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.3)
            page.select_option("#timeline-span", "60")

            # Live: the daemon's state and the current emotion.
            assert text_is(page, "#daemon-state", ("running",), 30) == "running"
            assert text_is(page, "#current-emotion", EMOTIONS, 40) in EMOTIONS
            counters = page.inner_text("#daemon-counters")
            assert "default-" in counters and "session.wav" in counters
            time.sleep(8)  # a few utterances on the timeline
            shot(page, tmp_path, "dashboard-live.png")

            # Recognise: two corpus files sent together are one session.
            page.click("#tab-recognise")
            wavs = sorted((corpora_dir / "emodb" / "wav").glob("03a01*"))[:2]
            page.set_input_files("#file-input", [str(f) for f in wavs])
            page.wait_for_selector("#file-result .result >> nth=1", timeout=60000)
            results = page.inner_text("#file-result").lower()
            assert all(f.name.lower() in results for f in wavs)
            assert any(e in results for e in EMOTIONS) and "%" in results
            shot(page, tmp_path, "dashboard-recognise.png")
            page.click("#tab-live")

            # The tab sleeps while the daemon stops; awake, it shows "no connection".
            cdp = page.context.new_cdp_session(page)
            cdp.send("Page.setWebLifecycleState", {"state": "frozen"})
            stop(daemon)
            time.sleep(4)
            cdp.send("Page.setWebLifecycleState", {"state": "active"})
            assert text_is(page, "#daemon-state", ("no connection",), 20) == "no connection"
            shot(page, tmp_path, "dashboard-stopped.png")

            # A restarted daemon (its sequence starts again at 0) is picked up again.
            daemon = start("daemon.cli", *daemon_args, log=tmp_path / "ccserd2.log")
            assert text_is(page, "#daemon-state", ("running",), 30) == "running"
            deadline = time.monotonic() + 20
            while "Restarts seen\n1" not in page.inner_text("#daemon-counters"):
                assert time.monotonic() < deadline, page.inner_text("#daemon-counters")
                time.sleep(0.3)
            assert errors == []
            browser.close()
    finally:
        stop(daemon)
        stop(dashboard)
