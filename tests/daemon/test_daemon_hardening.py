"""Issue 16: what a local peer can send must not stop or exhaust ccserd, ccser-proxy or
ccser-listen. Malformed messages are counted, floods of subscriptions are cut off,
oversized frames end only their sender's connection, and the reproductions of the
review (bounded here to a few seconds) leave every process running."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zmq
from daemon_helpers import free_address
from test_daemon_proxy import RunningProxy
from zmq.utils.monitor import parse_monitor_message

from ccser_core.client import EventError, Subscriber, parse
from ccser_core.events import VadEvent
from daemon.proxy import MAX_SOURCES, ProxyStats
from daemon.publisher import Publisher

BIN = Path(sys.executable).parent

#: `python -c FLOODER ADDRESS N [RECONNECT_MS]`: a raw XSUB that sends N unique SUBSCRIBE
#: frames, as the review's attacker did. Without RECONNECT_MS it stays off once cut off
#: (so what got through can be counted); with it, ZeroMQ reconnects and replays them all.
FLOODER = """
import sys, time, zmq
s = zmq.Context().socket(zmq.XSUB)
s.setsockopt(zmq.SNDHWM, 0)
s.setsockopt(zmq.RECONNECT_IVL, int(sys.argv[3]) if len(sys.argv) > 3 else -1)
s.connect(sys.argv[1])
t = time.monotonic()
for i in range(int(sys.argv[2])):
    s.send(b"\\x01topic-%08d-xxxxxxxxxxxxxxxx" % i)
print(f"sent {sys.argv[2]} subscriptions in {time.monotonic() - t:.1f} s", flush=True)
time.sleep(30)
"""

MALFORMED = [
    [b"status", b"[1]"],  # a list, not an object
    [b"vad", b'{"seq": Infinity, "source": "x"}'],
    [b"vad", b"[" * 200_000],  # deeper than Python's recursion limit
    [b"vad", b'{"seq": 1e308, "source": "x"}'],
    [b"vad", b'{"seq": true, "source": "x"}'],
    [b"vad", b'{"seq": -3, "source": "x"}'],
    [b"vad", b'{"seq": 1, "source": ["x"]}'],
    [b"vad", b'{"seq": 1, "source": "' + b"n" * 500 + b'"}'],
    [b"vad", b"\xff\xfe not utf-8"],
    [b"vad"],  # one frame
    [b"vad", b"{}", b"{}"],  # three frames
]


def status_event(seq: int, source: str = "desk", message: str = "") -> bytes:
    return json.dumps({"schema_version": 2, "type": "status", "seq": seq, "time": time.time(),
                       "source": source, "state": "running", "uptime_s": 1.0, "audio_s": 1.0,
                       "overflows": 0, "dropped_windows": 0, "dropped_messages": 0,
                       "queue_depth": 0, "windows": 0, "utterances": 0, "model_id": "m",
                       "input": "test", "stream_start_time": None, "message": message,
                       "extra": {}}).encode()


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def wait_disconnected(monitor: zmq.Socket, timeout_s: float) -> bool:
    """Whether a connecting socket's monitor (EVENT_DISCONNECTED) reports the connection
    lost within `timeout_s`."""
    return bool(monitor.poll(int(timeout_s * 1000))) and \
        parse_monitor_message(monitor.recv_multipart())["event"] == zmq.EVENT_DISCONNECTED


@pytest.fixture
def ctx():
    context = zmq.Context()
    yield context
    context.destroy(linger=0)


# --- High 1: one message must not kill ccser-proxy ---------------------------------------

@pytest.mark.parametrize("frames", MALFORMED, ids=range(len(MALFORMED)))
def test_proxy_stats_count_any_malformed_message_as_unreadable(frames):
    stats = ProxyStats()
    stats.observe(frames, now=1.0)
    stats.observe([b"vad", json.dumps({"source": "a", "seq": 0}).encode()], now=1.0)
    assert (stats.messages, stats.unreadable) == (2, 1)
    assert list(stats.sources) == ["a"]


def test_proxy_stats_keep_a_bounded_number_of_sources():
    stats = ProxyStats()
    for i in range(MAX_SOURCES + 50):
        stats.observe([b"vad", json.dumps({"source": f"d{i}", "seq": 0}).encode()], now=1.0)
    assert len(stats.sources) == MAX_SOURCES and stats.untracked == 50
    assert len(stats.summary(2.0)) < 3000  # one readable log line, not one per source


def test_ccser_proxy_forwards_through_every_malformed_message(ctx):
    frontend, backend = free_address(), free_address()
    proc = subprocess.Popen([str(BIN / "ccser-proxy"), "--frontend", frontend, "--backend",
                             backend, "--stats-interval", "0.2"], stderr=subprocess.PIPE,
                            text=True)
    try:
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(backend)
        daemon = ctx.socket(zmq.XPUB)  # any local process may act as a daemon
        daemon.connect(frontend)
        assert daemon.poll(20000), "the subscription never reached the fake daemon"
        daemon.recv()
        valid = [b"status", status_event(7)]
        for frames in [*MALFORMED, valid]:
            daemon.send_multipart(frames)
        got = []
        while sub.poll(10000):
            got.append(sub.recv_multipart())
            if got[-1] == valid:
                break
        assert len(got) == len(MALFORMED) + 1  # all forwarded, unchanged, the valid one last
        assert got[0] == MALFORMED[0]
        time.sleep(0.5)
        assert proc.poll() is None, proc.communicate()[1]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert f"{len(MALFORMED)} unreadable (forwarded)" in err.splitlines()[-1]


def test_ccser_proxy_help_says_what_happens_to_unreadable_messages():
    out = " ".join(subprocess.run([str(BIN / "ccser-proxy"), "--help"], capture_output=True,
                                  text=True, timeout=30).stdout.split())
    assert "unreadable" in out and "forwarded unchanged" in out


# --- High 2: subscription floods and oversized frames ------------------------------------

def test_a_subscription_flood_is_cut_off_and_never_holds_up_the_daemon_loop(ctx):
    address = free_address()
    pub = Publisher(address, hwm=1000)
    listener = ctx.socket(zmq.SUB)
    listener.setsockopt(zmq.SUBSCRIBE, b"")
    listener.connect(address)
    flooder = None
    try:
        assert pub.wait_for_subscribers(1, 10)
        before = rss_mb()
        flooder = subprocess.Popen([sys.executable, "-c", FLOODER, address, "300000"])
        slowest, started = 0.0, time.monotonic()
        while time.monotonic() - started < 6:  # the daemon's loop: poll, publish, audio
            t = time.monotonic()
            pub.poll()
            slowest = max(slowest, time.monotonic() - t)
            pub.publish(lambda seq, now: VadEvent(seq=seq, time=now, state="start", t=0.0,
                                                  utterance_id=0))
            time.sleep(0.05)
        grown = rss_mb() - before
        assert slowest < 1.0, f"poll held the loop for {slowest:.2f} s"
        assert grown < 100, f"RSS grew {grown:.0f} MB"
        assert pub.refused >= 1  # the flooder was cut off
        seqs = []
        while listener.poll(500):
            seqs.append(json.loads(listener.recv_multipart()[1])["seq"])
        assert seqs and seqs[-1] == pub.seq - 1  # the real subscriber still gets every event
    finally:
        if flooder is not None:
            flooder.kill()
            flooder.wait()
        listener.close(0)
        pub.close(0)


def test_a_flood_on_the_proxy_backend_is_cut_off_before_it_reaches_the_daemons():
    running = RunningProxy()
    pub = Publisher(running.frontend, 1000, proxy=True)  # a daemon behind the proxy
    flooder = subprocess.Popen([sys.executable, "-c", FLOODER, running.backend, "300000"])
    try:
        started = time.monotonic()
        while time.monotonic() - started < 6:
            pub.poll()
            time.sleep(0.05)
        assert pub.subscriptions < 30_000, f"{pub.subscriptions} of 300000 passed on"
        assert running.thread.is_alive()
        assert running.proxy.watch is not None and running.proxy.watch.refused == 1
    finally:
        flooder.kill()
        flooder.wait()
        pub.close(0)
        running.close()


@pytest.mark.parametrize("where", ["publisher", "proxy backend", "proxy frontend"])
def test_an_oversized_frame_ends_its_senders_connection(ctx, where):
    running = pub = None
    if where == "publisher":
        pub = Publisher(free_address(), hwm=10)
        address, kind, frame = pub.address, zmq.XSUB, b"\x01" + b"t" * 10_000
    else:
        running = RunningProxy(max_message=64 * 1024)
        if where == "proxy backend":
            address, kind, frame = running.backend, zmq.XSUB, b"\x01" + b"t" * 10_000
        else:
            address, kind, frame = running.frontend, zmq.XPUB, b"x" * 2_000_000
    peer = ctx.socket(kind)
    peer.setsockopt(zmq.RECONNECT_IVL, -1)
    monitor = peer.get_monitor_socket(zmq.EVENT_DISCONNECTED)
    listener = ctx.socket(zmq.SUB)  # so that the fake daemon has someone to send to
    listener.setsockopt(zmq.SUBSCRIBE, b"")
    try:
        peer.connect(address)
        if kind == zmq.XPUB:
            assert running is not None
            listener.connect(running.backend)
            assert peer.poll(10000)
            peer.recv()
        time.sleep(0.3)
        peer.send(frame)
        assert wait_disconnected(monitor, 5.0)
    finally:
        peer.disable_monitor()
        monitor.close(0)
        peer.close(0)
        listener.close(0)
        if pub is not None:
            pub.close(0)
        if running is not None:
            running.close()


@pytest.fixture
def fake_daemon(ctx):
    """A raw XPUB (anything may publish) and a Subscriber whose subscription reached it."""
    address = free_address()
    server = ctx.socket(zmq.XPUB)
    server.bind(address)
    with Subscriber(address, max_message_bytes=64 * 1024) as sub:
        assert server.poll(10000)
        server.recv()
        yield server, sub


def test_the_client_never_takes_in_an_oversized_event(fake_daemon):
    server, sub = fake_daemon
    server.send_multipart([b"status", status_event(0, message="m" * 1_000_000)])
    assert sub.receive(2.0) is None  # ZeroMQ dropped the connection instead of the memory


def test_the_client_names_a_message_of_the_wrong_shape(fake_daemon):
    server, sub = fake_daemon
    server.send_multipart([b"status"])
    server.send_multipart([b"status", b"[" * 50_000])  # deeper than the recursion limit
    server.send_multipart([b"status", status_event(3)])
    with pytest.raises(EventError, match="1 frame"):
        sub.receive(5)
    with pytest.raises(EventError, match="nested too deeply"):
        parse(*sub.receive(5))
    assert parse(*sub.receive(5)).seq == 3
