"""Publisher: numbering, never blocking on a slow subscriber, drops counted."""

import time

import zmq
from daemon_helpers import free_address

from ccser_core.events import EmotionEvent, VadEvent, from_json
from daemon.publisher import Publisher


def vad(seq, now):
    return VadEvent(seq=seq, time=now, state="start", t=0.0, utterance_id=0)


def test_stuck_subscriber_never_blocks_and_drops_are_counted():
    address = free_address()
    pub = Publisher(address, hwm=10)
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 10)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(address)
    try:
        assert pub.wait_for_subscribers(1, 10)
        start = time.monotonic()
        for _ in range(5000):
            pub.publish(vad)
        assert time.monotonic() - start < 10  # returns; never waits for the reader
        assert pub.seq == 5000
        assert pub.dropped > 0
        assert from_json(sub.recv_multipart()[1]).seq == 0
    finally:
        sub.close(0)
        ctx.term()
        pub.close(0)


def test_no_subscriber_is_not_a_drop():
    pub = Publisher(free_address(), hwm=10)
    for _ in range(100):
        pub.publish(vad)
    assert pub.seq == 100 and pub.dropped == 0
    pub.close(0)


def big(seq, now):
    """A message the size of an --emit-features prediction (~3 KB)."""
    return EmotionEvent(seq=seq, time=now, t_start=0.0, t_end=2.0, utterance_id=0,
                        emotion="sad", confidence=1.0, probabilities={"sad": 1.0},
                        model_id="m", features=[0.123456789] * 200)


def test_a_stalled_subscriber_loses_only_its_own_messages():
    """Issue 9.1: one SUB socket that never reads must not silence the others."""
    address = free_address()
    pub = Publisher(address, hwm=20)
    ctx = zmq.Context()
    stuck = ctx.socket(zmq.SUB)
    stuck.setsockopt(zmq.RCVHWM, 1)
    stuck.setsockopt(zmq.RCVBUF, 4096)
    stuck.setsockopt(zmq.SUBSCRIBE, b"")
    stuck.connect(address)
    healthy = ctx.socket(zmq.SUB)
    healthy.setsockopt(zmq.SUBSCRIBE, b"")
    healthy.connect(address)
    try:
        assert pub.wait_for_subscribers(2, 10)
        for i in range(3000):
            pub.publish(big)
            assert healthy.poll(5000), f"healthy subscriber got nothing after {i} messages"
            assert from_json(healthy.recv_multipart()[1]).seq == i
        assert pub.dropped > 0  # the stalled subscriber's losses are counted
        assert pub.dropped < 3000
    finally:
        stuck.close(0)
        healthy.close(0)
        ctx.term()
        pub.close(0)


def test_clients_count_connections_not_topics():
    """Issue 9.4: one client with three topics is one subscriber."""
    address = free_address()
    pub = Publisher(address, hwm=10)
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    for topic in (b"status", b"vad", b"utterance"):
        sub.setsockopt(zmq.SUBSCRIBE, topic)
    sub.connect(address)
    try:
        assert pub.wait_for_subscribers(1, 10)
        assert not pub.wait_for_subscribers(2, 1.0)  # three topics are not two clients
        assert pub.clients == 1
        sub.close(0)
        deadline = time.monotonic() + 5
        while pub.clients and time.monotonic() < deadline:
            pub.poll(100)
        assert pub.clients == 0
    finally:
        sub.close(0)
        ctx.term()
        pub.close(0)


def test_poll_reports_new_subscriptions():
    """Issue 9.5: the loop learns of a new subscriber, to send it a status at once."""
    address = free_address()
    pub = Publisher(address, hwm=10)
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    try:
        assert pub.poll(0) == 0
        sub.connect(address)
        deadline = time.monotonic() + 5
        new = 0
        while not new and time.monotonic() < deadline:
            new = pub.poll(100)
        assert new == 1
    finally:
        sub.close(0)
        ctx.term()
        pub.close(0)
