"""Issue 16, the command lines: ccser-listen outlives bad messages and says when a daemon
restarted, ccserd stops cleanly on SIGHUP and leaves no signal handler behind, and every
refusal of an exposed address reads the same."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zmq
from daemon_helpers import Collector, ccserd, free_address, silence, speech_like, wait_running, write_wav
from test_daemon_hardening import status_event

from ccser_core.errors import CcserError
from daemon import cli
from daemon.config import DaemonConfig
from daemon.proxy import ProxyConfig

ROOT = Path(__file__).resolve().parents[2]


def test_listen_counts_bad_messages_says_so_once_and_notices_a_restart():
    address = free_address()
    ctx = zmq.Context()
    server = ctx.socket(zmq.XPUB)
    server.bind(address)
    listen = subprocess.Popen([sys.executable, "-m", "daemon.listen_cli", "--connect", address,
                               "--json", "--count", "2"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert server.poll(20000), "ccser-listen never subscribed"
        server.recv()
        for frames in ([b"status"], [b"status", b"[" * 100_000], [b"vad", b"not json"],
                       [b"status", status_event(5)], [b"status", status_event(0)]):
            server.send_multipart(frames)
        out, err = listen.communicate(timeout=20)
    finally:
        listen.kill()
        ctx.destroy(linger=0)
    assert listen.returncode == 0, err
    assert "Traceback" not in err
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [5, 0]
    assert err.count("ignored an invalid message") == 1  # said once ...
    assert "3 invalid message(s) ignored" in err  # ... and counted
    assert "seq went back from 5 to 0 from desk: the daemon restarted" in err


def test_sighup_stops_ccserd_cleanly_like_sigterm(model_dir, tmp_path):
    wav = write_wav(tmp_path / "long.wav", *([speech_like(2.0, seed=4), silence(0.5)] * 8))
    address = free_address()
    collector = Collector(address)
    proc = ccserd("--model", str(model_dir), "--source", str(wav), "--publish", address,
                  "--wait-subscribers", "1", "--status-interval", "0.5")
    try:
        wait_running(proc)
        time.sleep(1.0)
        proc.send_signal(signal.SIGHUP)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    events = collector.join()
    assert events[-1].type == "status" and events[-1].state == "stopping"
    assert events[-1].message == "signal"
    assert "ccserd stopped" in err


def test_help_and_unit_say_what_sighup_does():
    out = subprocess.run([sys.executable, "-m", "daemon.cli", "--help"], capture_output=True,
                         text=True, timeout=30).stdout
    assert "SIGTERM, SIGINT and SIGHUP all stop ccserd cleanly" in " ".join(out.split())
    assert "SIGHUP stops ccserd cleanly" in (ROOT / "systemd" / "ccserd.service").read_text()


def test_main_puts_back_the_signal_handlers_it_found(tmp_path):
    def mine(*_):
        return None

    before = {sig: signal.signal(sig, mine) for sig in cli.STOP_SIGNALS}
    try:  # runs until the model fails to load, with its handlers installed
        assert cli.main(["--model", str(tmp_path / "no-model"), "--config", str(_toml(tmp_path))]) == 2
        assert all(signal.getsignal(sig) is mine for sig in cli.STOP_SIGNALS)
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def _toml(tmp_path: Path) -> Path:
    path = tmp_path / "empty.toml"
    path.write_text("")
    return path


@pytest.mark.parametrize("make, option, address", [
    (lambda: DaemonConfig(publish="tcp://0.0.0.0:5556"), "publish", "tcp://0.0.0.0:5556"),
    (lambda: DaemonConfig(connect_proxy="tcp://10.1.2.3:5555"), "connect_proxy",
     "tcp://10.1.2.3:5555"),
    (lambda: ProxyConfig(frontend="tcp://0.0.0.0:5555"), "--frontend", "tcp://0.0.0.0:5555"),
    (lambda: ProxyConfig(backend="tcp://[::]:5556"), "--backend", "tcp://[::]:5556"),
])
def test_every_exposed_address_is_refused_in_the_same_words(make, option, address):
    with pytest.raises(CcserError) as caught:
        make()
    assert str(caught.value).startswith(
        f"{option} {address}: reachable from other machines; refusing to carry "
        "unauthenticated events there. ")
