"""The page under the Content-Security-Policy, in headless chromium (no corpora needed):
it runs without a single violation, and says how many unreadable messages the relay
ignored while the daemon after them still shows (issue 16, items 4 and 9)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
playwright = pytest.importorskip("playwright.sync_api")

from dashboard_helpers import free_port, named, publisher, serve, status  # noqa: E402

from training.dashboard.config import DashboardConfig  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed")]


def test_the_page_runs_under_csp_and_shows_ignored_messages(tmp_path):
    zport = free_port()
    cfg = DashboardConfig(connect=f"tcp://127.0.0.1:{zport}", port=free_port(),
                          models_dirs=(tmp_path / "models",), heartbeat_s=1.0)
    with serve(cfg) as url, publisher(zport) as pub, playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        problems: list[str] = []
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
        page.on("pageerror", lambda exc: problems.append(str(exc)))
        page.goto(url + "/")
        for tab in ("#tab-recognise", "#tab-models", "#tab-train", "#tab-live"):
            page.click(tab)  # every panel's script runs
        deadline = time.monotonic() + 20
        seq = 0
        while "unreadable" not in page.inner_text("#relay-note") or \
                page.inner_text("#daemon-state").strip() != "running":
            assert time.monotonic() < deadline, page.inner_text("#relay-note")
            pub.send_multipart([b"status", b"[" * 100000])  # killed the relay before
            pub.send_multipart([b"status", json.dumps(named(status(seq), "kitchen")).encode()])
            seq += 1
            time.sleep(0.3)
        assert "(last: " in page.inner_text("#relay-note")  # and why
        assert "kitchen" in page.inner_text("#daemon-counters")
        browser.close()
    assert problems == []
