"""The relay under hostile publishers (issue 16, items 4 and 5): a malformed message is
counted and shown, never fatal; what the relay keeps stays bounded whatever names
and sizes the messages carry."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from dashboard_helpers import emotion, free_port, named, publisher, status

from ccser_core.client import EventError, parse
from ccser_core.events import MAX_SOURCE_CHARS
from training.dashboard.relay import NO_CONNECTION, Relay, RelayState

MALFORMED = [
    [b"emotion", b"[" * 100000],  # RecursionError in json, not ValueError
    [b"status", b"[1]"],  # JSON, not an object
    [b"status"],  # one frame
    [b"status", b"{}", b"extra"],  # three frames
    [b"status", b'{"seq": Infinity}'],
]


async def _until(predicate, relay: Relay, pub, frames_list, timeout: float = 15.0) -> None:
    """Send `frames_list` again and again (ZeroMQ's slow joiner) until `predicate()`."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, relay.state.counters()
        for frames in frames_list:
            pub.send_multipart(frames)
        await asyncio.sleep(0.1)


def test_malformed_messages_are_counted_and_later_events_still_arrive(caplog):
    port = free_port()

    async def scenario() -> tuple[Relay, list[dict]]:
        relay = Relay(f"tcp://127.0.0.1:{port}")
        got: list[dict] = []
        with publisher(port) as pub:
            await relay.start()
            queue, _ = relay.attach()
            await _until(lambda: relay.state.invalid_messages >= 10, relay, pub, MALFORMED)
            await _until(lambda: "" in relay.state.daemons, relay, pub,
                         [[b"status", json.dumps(status(0)).encode()]])
            await asyncio.sleep(0.6)  # a tick: the counters go to the browsers
            while not queue.empty():
                got.append(queue.get_nowait())
            snapshot = relay.attach()[1]
            await relay.stop()
        return relay, got + [snapshot]

    relay, messages = asyncio.run(scenario())
    assert relay.state.daemons[""].status["state"] == "running"
    counted = [m for m in messages if m["type"] in ("relay", "snapshot")]
    assert counted and counted[-1]["invalid_messages"] == relay.state.invalid_messages >= 10
    assert all(len(m["error"]) <= 300 for m in counted)  # a huge message is not quoted whole
    logged = caplog.text  # the journal says why, without a line per message of a flood
    assert "is not of type 'object'" in logged and "frames, expected 2" in logged
    assert logged.count("invalid message") < relay.state.invalid_messages


def test_a_long_source_is_not_a_valid_event():
    ok = named(status(0), "k" * MAX_SOURCE_CHARS)
    assert parse(b"status", json.dumps(ok).encode()).source == "k" * MAX_SOURCE_CHARS
    for size in (MAX_SOURCE_CHARS + 1, 200_000):
        with pytest.raises(EventError):  # "... is too long"
            parse(b"status", json.dumps(named(status(0), "k" * size)).encode())


def test_the_daemon_name_limit_is_the_schema_limit():
    from daemon.config import ConfigError, DaemonConfig

    DaemonConfig(name="n" * MAX_SOURCE_CHARS)
    with pytest.raises(ConfigError, match="name must be at most"):
        DaemonConfig(name="n" * (MAX_SOURCE_CHARS + 1))


def test_daemons_beyond_the_cap_are_counted_not_kept():
    state = RelayState(heartbeat_s=1.0, max_daemons=4)
    for i in range(10):
        state.receive(named(status(0), f"d{i}"), now=0.0)
    assert sorted(state.daemons) == ["d0", "d1", "d2", "d3"]
    assert state.ignored_messages == 6 and state.snapshot()["ignored_messages"] == 6
    # Once they go quiet, a newcomer takes the place of the longest silent one.
    state.receive(named(status(1), "d3"), now=1.0)
    state.tick(4.0)
    assert all(d.state() == NO_CONNECTION for d in state.daemons.values())
    out = state.receive(named(status(0), "new"), now=4.5)
    assert {"type": "daemon_gone", "source": "d0"} in out
    assert "new" in state.daemons and len(state.daemons) == 4


def test_long_silent_daemons_are_forgotten_except_the_last_one_heard():
    state = RelayState(heartbeat_s=1.0, forget_s=60.0)
    state.receive(named(status(0), "old"), now=0.0)
    state.receive(named(status(0), "recent"), now=30.0)
    out = state.tick(61.0)
    assert out[0] == {"type": "daemon_gone", "source": "old"}
    assert list(state.daemons) == ["recent"]
    state.tick(1000.0)
    assert list(state.daemons) == ["recent"]  # still shown, as "no connection"
    assert state.daemons["recent"].state() == NO_CONNECTION


def test_history_is_bounded_in_bytes_so_a_snapshot_stays_small():
    state = RelayState(max_history_bytes=3_000_000)
    state.receive(status(0), 0.0)
    for i in range(1, 11):
        state.receive(emotion(i), 0.1 * i, size=1_000_000)
    kept = [m["event"]["seq"] for m in state.snapshot()["events"]]
    assert kept == [8, 9, 10] and state.history_bytes == 3_000_000
