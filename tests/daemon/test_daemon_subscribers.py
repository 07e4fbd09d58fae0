"""ccserd and its subscribers: a stalled one hurts no one (9.1), clients are counted as
clients (9.4), a late one hears the status at once (9.5), and a stop closes the open
utterance (9.6). Real daemon subprocesses, real sockets."""

from __future__ import annotations

import signal
import subprocess
import threading
import time

import zmq
from daemon_helpers import (
    Collector,
    ccserd,
    free_address,
    silence,
    speech_like,
    wait_running,
    write_wav,
)

from ccser_core.client import subscribe
from ccser_core.events import EmotionEvent, StatusEvent, UtteranceEvent, VadEvent, from_json


def test_stalled_subscriber_does_not_silence_a_healthy_one(model_dir, tmp_path):
    """The issue's run, shortened: --no-realtime --hwm 20 --emit-features, one SUB socket
    never reads; the healthy one gets every event up to the final status. (Over ipc://,
    whose kernel buffers fill after ~100 messages; tcp:// loopback holds ~1000 more.)"""
    parts = [p for i in range(12) for p in (speech_like(4.0, seed=i), silence(1.0, seed=i))]
    wav = write_wav(tmp_path / "long.wav", *parts)
    address = f"ipc://{tmp_path / 'events.sock'}"
    ctx = zmq.Context()
    stuck = ctx.socket(zmq.SUB)
    stuck.setsockopt(zmq.RCVHWM, 1)
    stuck.setsockopt(zmq.RCVBUF, 4096)
    stuck.setsockopt(zmq.SUBSCRIBE, b"")
    stuck.connect(address)
    healthy = ctx.socket(zmq.SUB)
    healthy.setsockopt(zmq.RCVHWM, 0)
    healthy.setsockopt(zmq.SUBSCRIBE, b"")
    healthy.connect(address)
    received = []

    def read() -> None:
        while healthy.poll(20000):
            event = from_json(healthy.recv_multipart()[1])
            received.append(event)
            if isinstance(event, StatusEvent) and event.state == "stopping":
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        proc = ccserd("--model", str(model_dir), "--source", str(wav), "--no-realtime",
                      "--hwm", "20", "--emit-features", "--publish", address,
                      "--wait-subscribers", "2", "--wait-timeout", "20")
        _, err = proc.communicate(timeout=120)
        reader.join(30)
    finally:
        stuck.close(0)
        healthy.close(0)
        ctx.term()
    assert proc.returncode == 0, err
    assert [e.seq for e in received] == list(range(len(received)))
    final = received[-1]
    assert isinstance(final, StatusEvent) and final.state == "stopping"
    assert sum(isinstance(e, UtteranceEvent) for e in received) == 12
    assert final.dropped_messages > 0  # what the stalled one missed is counted


def test_subscribers_are_clients_not_topics(model_dir, tmp_path):
    wav = write_wav(tmp_path / "s.wav", silence(0.3), speech_like(1.0), silence(0.5))
    address = free_address()
    collector = Collector(address, topics=["status", "vad", "utterance"])
    proc = ccserd("--model", str(model_dir), "--source", str(wav), "--no-realtime",
                  "--publish", address, "--wait-subscribers", "2", "--wait-timeout", "2")
    _, err = proc.communicate(timeout=60)
    events = collector.join()
    assert proc.returncode == 0, err
    assert "only 1 subscriber(s)" in err  # one client with three topics is not two
    statuses = [e for e in events if isinstance(e, StatusEvent)]
    assert statuses and all(s.extra["subscribers"] == 1 for s in statuses)


def test_late_subscriber_gets_a_status_at_once(model_dir):
    """With a 60 s heartbeat, a subscriber arriving after start hears the state within
    a second instead of waiting for the next heartbeat."""
    proc = ccserd("--model", str(model_dir), "--source", "-", "--publish",
                  (address := free_address()), "--status-interval", "60",
                  stdin=subprocess.PIPE)
    try:
        wait_running(proc)
        start = time.monotonic()
        first = next(subscribe(address, timeout_s=5), None)
        elapsed = time.monotonic() - start
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    assert isinstance(first, StatusEvent) and first.state == "running"
    assert elapsed < 3
    assert first.extra["subscribers"] == 1


def test_sigterm_closes_the_open_utterance(model_dir, tmp_path):
    """Stopped mid-speech: a vad end and the utterance's event come before the final
    status, as at the end of a file."""
    wav = write_wav(tmp_path / "talk.wav", silence(0.5), speech_like(15.0, seed=2))
    address = free_address()
    collector = Collector(address)
    proc = ccserd("--model", str(model_dir), "--source", str(wav), "--publish", address,
                  "--wait-subscribers", "1")
    deadline = time.monotonic() + 30
    while not any(isinstance(e, EmotionEvent) for e in collector.events) and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
    events = collector.join()
    assert proc.returncode == 0
    vad = [e for e in events if isinstance(e, VadEvent)]
    assert [v.state for v in vad] == ["start", "end"]
    utterances = [e for e in events if isinstance(e, UtteranceEvent)]
    assert len(utterances) == 1 and utterances[0].utterance_id == vad[0].utterance_id
    assert utterances[0].t_end == vad[1].t
    assert events[-1].type == "status" and events[-1].state == "stopping"
    assert events[-1].message == "signal"
