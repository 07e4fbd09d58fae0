"""Publisher: numbering, never blocking on a slow subscriber, drops counted."""

import time

import zmq
from daemon_helpers import free_address

from ccser_core.events import VadEvent, from_json
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
