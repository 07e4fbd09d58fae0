"""ccser-listen with nothing to listen to says so (issue 9.15)."""

from __future__ import annotations

import subprocess
import sys
import time

from daemon_helpers import free_address


def test_says_it_is_waiting_and_warns_when_nothing_comes():
    address = free_address()  # nothing listens here
    listen = subprocess.Popen([sys.executable, "-m", "daemon.listen_cli", "--connect", address,
                               "--warn-after", "1"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(4)
        assert listen.poll() is None  # still waiting: a daemon may come later
    finally:
        listen.terminate()
        out, err = listen.communicate(timeout=10)
    assert f"waiting for events from {address}" in err
    assert "no events for" in err and "Is ccserd running" in err
    assert "retrying" in err  # and it says nothing accepted the connection
    assert err.count("no events for") == 1  # once per silence, not a flood
    assert out == ""


def test_timeout_still_exits_1_and_names_the_address():
    address = free_address()
    proc = subprocess.run([sys.executable, "-m", "daemon.listen_cli", "--connect", address,
                           "--timeout", "1"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert f"no event for 1 s on {address}" in proc.stderr


def test_curve_needs_both_keys(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "daemon.listen_cli", "--curve-server-key",
                           str(tmp_path / "server.key"), "--timeout", "1"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "CURVE needs both" in proc.stderr
    assert "Traceback" not in proc.stderr
