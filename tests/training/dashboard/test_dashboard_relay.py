"""The relay: daemon bookkeeping (lost messages, restarts, two missed heartbeats) and
the fan-out from a real ZeroMQ publisher to browser queues."""

from __future__ import annotations

import asyncio
import json
import time

from dashboard_helpers import emotion, free_port, named, publisher, status, utterance, vad

from training.dashboard.relay import NO_CONNECTION, Relay, RelayState


def daemon_messages(messages):
    return [m for m in messages if m["type"] == "daemon"]


def test_status_makes_the_daemon_known_and_running():
    state = RelayState(heartbeat_s=1.0, address="tcp://x")
    out = state.receive(status(0), now=0.0)
    assert daemon_messages(out)[0]["state"] == "running"
    assert daemon_messages(out)[0]["status"]["model_id"] == "m"
    snap = state.snapshot()
    assert snap["daemons"][0]["source"] == "" and snap["address"] == "tcp://x"
    assert snap["daemons"][0]["status"]["source"] == "mic"  # version 1: the input


def test_gaps_in_seq_are_lost_messages_and_a_step_back_is_a_restart():
    state = RelayState(heartbeat_s=1.0)
    state.receive(status(0), 0.0)
    state.receive(emotion(1), 0.1)
    state.receive(emotion(5), 0.2)  # 2, 3, 4 lost
    daemon = state.daemons[""]
    assert daemon.lost_messages == 3 and daemon.restarts == 0
    out = state.receive(status(0), 0.3)  # a new ccserd starts again from 0
    assert daemon.restarts == 1 and daemon.lost_messages == 3
    assert daemon_messages(out)[0]["restarts"] == 1
    state.receive(emotion(1), 0.4)
    assert daemon.lost_messages == 3


def test_two_missed_heartbeats_mean_no_connection():
    state = RelayState(heartbeat_s=5.0)
    for i, t in enumerate((0.0, 1.0, 2.0)):  # beats every second: measured, not the default
        state.receive(status(i), t)
    assert state.daemons[""].heartbeat_s(5.0) == 1.0
    assert state.tick(4.4) == []  # 2.4 s: two beats late but within the slack
    out = state.tick(4.6)
    assert daemon_messages(out)[0]["state"] == NO_CONNECTION
    assert state.tick(10.0) == []  # said once
    out = state.receive(status(3), 11.0)  # back
    assert daemon_messages(out)[0]["state"] == "running"


def test_a_stopping_daemon_turns_to_no_connection_after_two_heartbeats():
    state = RelayState(heartbeat_s=1.0)
    state.receive(status(0), 0.0)
    state.receive(status(1), 1.0)
    out = state.receive(status(2, state="stopping"), 1.2)
    assert daemon_messages(out)[0]["state"] == "stopping"
    assert state.daemons[""].heartbeat_s(1.0) == 1.0  # the early final status is no beat
    assert daemon_messages(state.tick(3.8))[0]["state"] == NO_CONNECTION


def test_extra_statuses_for_new_subscribers_do_not_shorten_the_heartbeat():
    state = RelayState(heartbeat_s=5.0)
    for i, t in enumerate((0.0, 5.0, 5.1, 10.0)):
        state.receive(status(i), t)
    assert state.daemons[""].heartbeat_s(5.0) == 5.0


def test_daemons_behind_a_proxy_are_told_apart_by_source():
    state = RelayState()
    state.receive(named(status(0), "kitchen"), 0.0)
    state.receive(named(status(0), "hall"), 0.0)
    state.receive(named(emotion(1), "kitchen"), 0.1)
    out = state.receive(named(emotion(1), "hall"), 0.1)  # seq counts per daemon: no loss
    assert out[0]["source"] == "hall" and out[0]["event"]["source"] == "hall"
    assert set(state.daemons) == {"kitchen", "hall"}
    assert all(d.lost_messages == 0 and d.restarts == 0 for d in state.daemons.values())
    assert state.daemons["hall"].status["input"] == "mic"
    out = state.receive(emotion(9), 0.2)  # a version-1 daemon in the mix: unnamed
    assert out[0]["source"] == "" and "" in state.daemons


def test_history_keeps_the_last_minutes_for_a_reconnecting_browser():
    state = RelayState(history_s=10.0)
    state.receive(status(0), 0.0)
    state.receive(vad(1, "start", 0.5), 1.0)
    state.receive(emotion(2), 3.0)
    state.receive(utterance(3), 12.5)
    types = [m["event"]["type"] for m in state.snapshot()["events"]]
    assert types == ["emotion", "utterance"]  # the vad start is older than 10 s


def test_relay_fans_out_published_events_and_drops_a_browser_that_falls_behind():
    port = free_port()

    async def scenario():
        relay = Relay(f"tcp://127.0.0.1:{port}", heartbeat_s=1.0, queue_size=3)
        with publisher(port) as pub:
            await relay.start()
            fast, snapshot = relay.attach()
            slow, _ = relay.attach()
            assert snapshot["type"] == "snapshot" and snapshot["events"] == []
            got: list[dict] = []
            deadline = time.monotonic() + 15
            seq = 0
            while len(got) < 6 and time.monotonic() < deadline:  # slow joiner: keep sending
                pub.send_multipart([b"emotion", json.dumps(emotion(seq)).encode()])
                seq += 1
                await asyncio.sleep(0.05)
                while not fast.empty():
                    got.append(fast.get_nowait())
            await relay.stop()
        assert [m["type"] for m in got[:6]] == ["event"] * 6
        assert got[0]["event"]["probabilities"]["angry"] == 0.6
        # The slow browser's queue filled: it was closed (None) and detached, not waited for.
        assert slow.get_nowait() is None and slow not in relay.clients

    asyncio.run(scenario())


def test_invalid_messages_are_counted_not_fatal():
    port = free_port()

    async def scenario():
        relay = Relay(f"tcp://127.0.0.1:{port}")
        with publisher(port) as pub:
            await relay.start()
            queue, _ = relay.attach()
            deadline = time.monotonic() + 15
            while queue.empty() and time.monotonic() < deadline:
                pub.send_multipart([b"emotion", b"{not json"])
                pub.send_multipart([b"status", json.dumps(status(0)).encode()])
                await asyncio.sleep(0.1)
            await relay.stop()
        assert relay.state.invalid_messages >= 1 and "not JSON" in relay.state.last_error
        assert relay.state.daemons[""].status is not None

    asyncio.run(scenario())
