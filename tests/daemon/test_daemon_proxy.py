"""ccser-proxy: many ccserd behind one address. Three daemons replay files through one
proxy to two subscribers (every event once, per-source seq without gaps), a daemon is
killed and restarted, a stalled subscriber holds up nobody, CURVE on both sides, the
metrics from the capture socket, the settings and the CLI."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import zmq
from daemon_helpers import ccserd, free_address, silence, speech_like, write_wav

from ccser_core.client import subscribe
from ccser_core.curve import generate_key_pair
from ccser_core.events import Event
from daemon.proxy import Proxy, ProxyConfig, ProxyError, ProxyStats

BIN = Path(sys.executable).parent


@pytest.fixture
def speech_file(tmp_path) -> Path:
    return write_wav(tmp_path / "speech.wav", silence(0.5), speech_like(3.0, seed=1), silence(0.8),
                     speech_like(2.5, seed=2), silence(0.8))


class RunningProxy:
    """An in-process proxy on free loopback ports, forwarding on its own thread."""

    def __init__(self, **settings) -> None:
        self.frontend, self.backend = free_address(), free_address()
        self.proxy = Proxy(ProxyConfig(frontend=self.frontend, backend=self.backend,
                                       stats_interval=60, **settings))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.proxy.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def wait_subscribes(self, n: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.proxy.stats.subscribes < n:
            assert time.monotonic() < deadline, "subscriptions did not reach the proxy"
            time.sleep(0.02)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.proxy.close()


@pytest.fixture
def proxy():
    running = RunningProxy()
    yield running
    running.close()


class Listener:
    """Keeps every event from `address` until each of `sources` has said "stopping"."""

    def __init__(self, address: str, sources: set[str], **subscribe_args) -> None:
        self.events: list[Event] = []
        self.sources = set(sources)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(address,), kwargs=subscribe_args,
                                       daemon=True)
        self.thread.start()

    def _run(self, address: str, **subscribe_args) -> None:
        stopped: set[str] = set()
        try:
            for event in subscribe(address, timeout_s=30, **subscribe_args):
                self.events.append(event)
                if event.type == "status" and event.state == "stopping":
                    stopped.add(event.source)
                    if stopped >= self.sources:
                        return
        except BaseException as exc:
            self.error = exc

    def join(self, timeout: float = 90.0) -> list[Event]:
        self.thread.join(timeout)
        if self.error is not None:
            raise self.error
        return self.events


def daemon(model_dir: Path, wav: Path, name: str, proxy_address: str, *extra: str):
    return ccserd("--model", str(model_dir), "--source", str(wav), "--name", name,
                  "--connect-proxy", proxy_address, "--wait-subscribers", "1",
                  "--wait-timeout", "20", *extra)


def by_source(events: list[Event]) -> dict[str, list[int]]:
    seqs: dict[str, list[int]] = defaultdict(list)
    for e in events:
        seqs[e.source].append(e.seq)
    return seqs


def test_three_daemons_reach_two_subscribers_each_event_once_and_gap_free(
        model_dir, speech_file, proxy):
    names = {"desk-1", "desk-2", "desk-3"}
    listeners = [Listener(proxy.backend, names) for _ in range(2)]
    proxy.wait_subscribes(2)
    procs = [daemon(model_dir, speech_file, name, proxy.frontend, "--no-realtime")
             for name in sorted(names)]
    for proc in procs:
        _, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err
    received = [listener.join() for listener in listeners]
    for events in received:
        seqs = by_source(events)
        assert set(seqs) == names  # every event names its daemon
        for name, got in seqs.items():
            assert got == list(range(len(got))), f"{name}: gaps or repeats {got}"
            assert len(got) > 5
        kinds = Counter((e.source, e.type) for e in events)
        assert all(kinds[(n, "utterance")] == 2 for n in names)
    # Both subscribers got exactly the same events, each once.
    assert sorted(e.to_json() for e in received[0]) == sorted(e.to_json() for e in received[1])
    stats = proxy.proxy.stats
    assert {n: s.lost for n, s in stats.sources.items()} == dict.fromkeys(names, 0)


def test_a_killed_daemon_restarts_behind_the_proxy_and_the_others_go_on(
        model_dir, speech_file, tmp_path, proxy):
    long_file = write_wav(tmp_path / "long.wav", *([speech_like(2.0, seed=3), silence(0.6)] * 6))
    listener = Listener(proxy.backend, {"steady", "flaky"})
    proxy.wait_subscribes(1)
    steady = daemon(model_dir, long_file, "steady", proxy.frontend, "--status-interval", "0.5")
    flaky = daemon(model_dir, long_file, "flaky", proxy.frontend, "--status-interval", "0.5")
    deadline = time.monotonic() + 30
    while not any(e.source == "flaky" and e.type == "emotion" for e in listener.events):
        assert time.monotonic() < deadline, "no event from the first flaky daemon"
        time.sleep(0.05)
    flaky.send_signal(signal.SIGKILL)
    flaky.wait(10)
    before = len([e for e in listener.events if e.source == "flaky"])
    again = daemon(model_dir, speech_file, "flaky", proxy.frontend, "--no-realtime")
    _, err = again.communicate(timeout=90)
    assert again.returncode == 0, err
    steady.send_signal(signal.SIGTERM)
    steady.communicate(timeout=30)
    events = listener.join()
    flaky_seqs = by_source(events)["flaky"]
    first, second = flaky_seqs[:before], flaky_seqs[before:]
    assert first == list(range(len(first)))
    assert second == list(range(len(second))) and len(second) > 5  # the new daemon, from 0
    assert by_source(events)["steady"] == list(range(len(by_source(events)["steady"])))
    assert proxy.proxy.stats.sources["flaky"].restarts == 1


def test_a_stalled_subscriber_holds_up_neither_the_proxy_nor_the_others():
    running = RunningProxy()  # 1000 messages queued per subscriber
    ctx = zmq.Context()
    try:
        stalled = ctx.socket(zmq.SUB)
        stalled.setsockopt(zmq.RCVHWM, 20)
        stalled.setsockopt(zmq.RCVBUF, 4096)
        stalled.setsockopt(zmq.SUBSCRIBE, b"")
        stalled.connect(running.backend)  # connected, subscribed, never reads
        total, payload = 5000, "x" * 4000  # 20 MB: more than any queue and socket buffer
        got: list[int] = []
        healthy = ctx.socket(zmq.SUB)
        healthy.setsockopt(zmq.SUBSCRIBE, b"")
        healthy.connect(running.backend)

        def read() -> None:
            while healthy.poll(10000):
                got.append(json.loads(healthy.recv_multipart()[1])["seq"])
                if got[-1] == total - 1:
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        publisher = ctx.socket(zmq.XPUB)
        publisher.connect(running.frontend)
        assert publisher.poll(10000), "no subscription reached the publisher"
        running.wait_subscribes(2)
        started = time.monotonic()
        for seq in range(total):
            event = {"schema_version": 2, "type": "vad", "seq": seq, "time": time.time(),
                     "source": "load", "state": "start", "t": 0.0, "utterance_id": 0,
                     "pad": payload}
            publisher.send_multipart([b"vad", json.dumps(event).encode()])
            if seq % 100 == 99:
                time.sleep(0.02)  # a pace the healthy reader keeps up with
        reader.join(60)
        assert got == list(range(total)), f"healthy subscriber got {len(got)} of {total}"
        assert time.monotonic() - started < 30
        stuck = 0
        while stalled.poll(200):
            stalled.recv_multipart()
            stuck += 1
        assert stuck < total  # the stalled one missed messages: they were dropped for it
    finally:
        running.close()
        ctx.destroy(linger=0)


def test_curve_on_both_sides_admits_only_known_daemons_and_subscribers(
        model_dir, speech_file, tmp_path):
    keys = tmp_path / "keys"
    proxy_pub, proxy_secret = generate_key_pair(keys, "proxy")
    daemon_pub, daemon_secret = generate_key_pair(keys / "d", "desk")
    client_pub, client_secret = generate_key_pair(keys / "c", "listener")
    _, stranger_secret = generate_key_pair(keys / "x", "stranger")
    running = RunningProxy(curve_secret_key=proxy_secret, curve_daemon_keys=keys / "d",
                           curve_client_keys=keys / "c")
    try:
        good = Listener(running.backend, {"desk"}, curve_server_key=proxy_pub,
                        curve_secret_key=client_secret)
        bad: list[Event] = []
        threading.Thread(target=lambda: bad.extend(subscribe(
            running.backend, timeout_s=8, curve_server_key=proxy_pub,
            curve_secret_key=stranger_secret)), daemon=True).start()
        running.wait_subscribes(1)
        proc = daemon(model_dir, speech_file, "desk", running.frontend, "--no-realtime",
                      "--curve-secret-key", str(daemon_secret), "--curve-proxy-key", str(proxy_pub))
        _, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err
        events = good.join()
        assert by_source(events)["desk"] == list(range(len(events))) and len(events) > 5
        # A daemon with an unknown key is never admitted: nothing of it arrives.
        intruder = daemon(model_dir, speech_file, "intruder", running.frontend, "--no-realtime",
                          "--curve-secret-key", str(stranger_secret), "--curve-proxy-key",
                          str(proxy_pub), "--wait-timeout", "2")
        intruder.communicate(timeout=90)
        assert "intruder" not in running.proxy.stats.sources
        assert bad == []
    finally:
        running.close()


def test_stats_count_per_source_gaps_restarts_and_subscriptions():
    stats = ProxyStats()

    def ev(source: str, seq: int) -> list[bytes]:
        return [b"vad", json.dumps({"source": source, "seq": seq}).encode()]

    for frames in (ev("a", 0), ev("a", 1), ev("a", 4), ev("b", 7), ev("a", 0), [b"\x01"],
                   [b"\x00"], [b"vad", b"{broken"]):
        stats.observe(frames, now=100.0)
    assert (stats.sources["a"].messages, stats.sources["a"].lost,
            stats.sources["a"].restarts) == (4, 2, 1)
    assert (stats.sources["b"].messages, stats.sources["b"].lost) == (1, 0)
    assert (stats.subscribes, stats.unsubscribes, stats.unreadable) == (1, 1, 1)
    assert "a: 4 msgs, 2 lost, 1 restarts" in stats.summary(101.0)


@pytest.mark.parametrize("settings, message", [
    ({"frontend": "tcp://0.0.0.0:5555"}, "reachable from other machines"),
    ({"backend": "tcp://127.0.0.1:0"}, "fixed port"),
    ({"curve_daemon_keys": Path("/k")}, "needs --curve-secret-key"),
    ({"curve_secret_key": Path("/k")}, "needs --curve-daemon-keys"),
    ({"frontend": "tcp://127.0.0.1:7", "backend": "tcp://127.0.0.1:7"}, "both"),
    ({"hwm": 0}, "hwm"),
])
def test_bad_settings_are_refused_naming_the_option(settings, message):
    with pytest.raises(ProxyError, match=message):
        ProxyConfig(**settings)


def test_cli_runs_until_sigterm_and_reports_metrics():
    frontend, backend = free_address(), free_address()
    proc = subprocess.Popen([str(BIN / "ccser-proxy"), "--frontend", frontend, "--backend",
                             backend, "--stats-interval", "0.2"], stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 20
        line = proc.stderr.readline()
        while "forwarding" not in line:
            assert time.monotonic() < deadline and line, "proxy did not start"
            line = proc.stderr.readline()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=5)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert "0 messages from 0 source(s)" in err and "stopped:" in err


def test_cli_bad_flag_is_one_line_and_exit_2():
    proc = subprocess.run([str(BIN / "ccser-proxy"), "--backend", "tcp://0.0.0.0:5556"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "--backend tcp://0.0.0.0:5556" in proc.stderr


def test_daemon_refuses_a_remote_proxy_without_curve(model_dir, speech_file):
    proc = ccserd("--model", str(model_dir), "--source", str(speech_file), "--connect-proxy",
                  "tcp://proxy.invalid:5555")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "connect_proxy tcp://proxy.invalid:5555" in err
