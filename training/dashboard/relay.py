"""The live relay: one ZeroMQ subscription fanned out to every browser.

A thread holds one SUB socket for the dashboard's lifetime, reads each message
with `ccser_core.client.parse` (the schema's one validator, which also brings
older event versions up to date; a bad message is counted and skipped, the
socket stays) and hands the event to the asyncio loop. The loop keeps the last
few minutes of events, and per daemon its latest status, lost messages (gaps in
`seq`), restarts (`seq` going back) and whether it is still there: a daemon
that misses two heartbeats is "no connection". Every message goes onto each
browser's bounded queue; a browser that falls behind is dropped (its
EventSource reconnects and gets a fresh snapshot), so a sleeping tab never
holds up the relay or the other tabs.

Messages to browsers (JSON):
  {"type": "event", "source": KEY, "event": {...daemon event...}}
  {"type": "daemon", "source": KEY, "state": ..., "status": {...} | null, ...}
  {"type": "snapshot", "now": UNIX_S, "events": [...], "daemons": [...], ...}
KEY is the daemon's name, the events' `source` ("" for an unnamed daemon);
many daemons behind one proxy are told apart by it, each with its own `seq`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ccser_core.client import parse

log = logging.getLogger("ccser-dashboard")

#: ccserd's default --status-interval: the heartbeat assumed until two are seen.
DEFAULT_HEARTBEAT_S = 5.0
#: A daemon is "no connection" once this many heartbeat intervals pass without one
#: (two missed heartbeats, plus half an interval of slack for jitter).
MISSED_HEARTBEATS = 2.5
NO_CONNECTION = "no connection"
#: How often the subscription thread checks whether to stop.
POLL_S = 0.25


@dataclass
class Daemon:
    """What the relay knows of one publisher. Times are the relay's monotonic clock."""

    key: str
    status: dict[str, Any] | None = None
    last_status_at: float | None = None
    intervals: deque[float] = field(default_factory=lambda: deque(maxlen=5))
    last_seq: int | None = None
    lost_messages: int = 0
    restarts: int = 0
    connected: bool = False

    def heartbeat_s(self, default: float) -> float:
        """Longest of the last few gaps between status events (default until known):
        extra statuses (ccserd sends one to each new subscriber) only shorten gaps."""
        return max(self.intervals) if self.intervals else default

    def state(self) -> str:
        return str(self.status["state"]) if self.connected and self.status else NO_CONNECTION

    def to_message(self, default_heartbeat: float) -> dict[str, Any]:
        return {"type": "daemon", "source": self.key, "state": self.state(),
                "status": self.status, "lost_messages": self.lost_messages,
                "restarts": self.restarts, "heartbeat_s": self.heartbeat_s(default_heartbeat)}


class RelayState:
    """The relay's bookkeeping, without threads or sockets: events and clock ticks in,
    messages for the browsers out."""

    def __init__(self, history_s: float = 300.0, heartbeat_s: float = DEFAULT_HEARTBEAT_S,
                 max_history: int = 20000, address: str = "") -> None:
        self.history_s = history_s
        self.default_heartbeat = heartbeat_s
        self.history: deque[tuple[float, dict[str, Any]]] = deque(maxlen=max_history)
        self.daemons: dict[str, Daemon] = {}
        self.invalid_messages = 0
        self.last_error = ""
        self.address = address

    @staticmethod
    def key(event: dict[str, Any]) -> str:
        """The daemon an event comes from. Schema version 1 had no daemon name and
        used a status event's `source` for its input (version 2 calls that `input`)."""
        if event["type"] == "status" and "input" not in event:
            return ""
        return str(event.get("source", ""))

    def receive(self, event: dict[str, Any], now: float) -> list[dict[str, Any]]:
        """Account for one daemon event received at monotonic time `now`."""
        key = self.key(event)
        out: list[dict[str, Any]] = []
        daemon = self.daemons.setdefault(key, Daemon(key))
        changed = self._count_seq(daemon, int(event["seq"]))
        if event["type"] == "status":
            if daemon.last_status_at is not None and daemon.status is not None \
                    and daemon.status.get("state") != "stopping" and not changed:
                daemon.intervals.append(max(now - daemon.last_status_at, 0.05))
            daemon.status, daemon.last_status_at = event, now
            daemon.connected = True
            changed = True
        else:
            message = {"type": "event", "source": key, "event": event}
            self.history.append((now, message))
            out.append(message)
            if not daemon.connected and daemon.status is not None:
                daemon.connected, daemon.last_status_at, changed = True, now, True
        self.prune(now)
        if changed:
            out.append(daemon.to_message(self.default_heartbeat))
        return out

    def _count_seq(self, daemon: Daemon, seq: int) -> bool:
        """Gaps are lost messages; a step back is a restarted daemon. True if a restart."""
        last, daemon.last_seq = daemon.last_seq, seq
        if last is None:
            return False
        if seq <= last:
            daemon.restarts += 1
            daemon.intervals.clear()  # the new daemon may beat at another rate
            return True
        daemon.lost_messages += seq - last - 1
        return False

    def tick(self, now: float) -> list[dict[str, Any]]:
        """Daemons that missed two heartbeats become "no connection"."""
        out = []
        for daemon in self.daemons.values():
            if daemon.connected and daemon.last_status_at is not None and \
                    now - daemon.last_status_at > MISSED_HEARTBEATS * daemon.heartbeat_s(
                        self.default_heartbeat):
                daemon.connected = False
                out.append(daemon.to_message(self.default_heartbeat))
        self.prune(now)
        return out

    def prune(self, now: float) -> None:
        while self.history and now - self.history[0][0] > self.history_s:
            self.history.popleft()

    def snapshot(self) -> dict[str, Any]:
        return {"type": "snapshot", "now": time.time(), "address": self.address,
                "history_s": self.history_s, "events": [m for _, m in self.history],
                "daemons": [d.to_message(self.default_heartbeat) for d in self.daemons.values()],
                "invalid_messages": self.invalid_messages, "error": self.last_error}


class Relay:
    """Runs the subscription thread and the fan-out; `start()`/`stop()` inside the event loop."""

    def __init__(self, address: str, history_s: float = 300.0,
                 heartbeat_s: float = DEFAULT_HEARTBEAT_S, queue_size: int = 2000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.address = address
        self.state = RelayState(history_s, heartbeat_s, address=address)
        self.queue_size = queue_size
        self.clock = clock
        self.clients: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop.clear()
        self._thread = threading.Thread(target=self._listen, name="ccser-relay", daemon=True)
        self._thread.start()
        self._ticker = asyncio.create_task(self._tick_forever())

    async def stop(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for queue in list(self.clients):
            self._close(queue)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, POLL_S + 1.0)

    def attach(self) -> tuple[asyncio.Queue[dict[str, Any] | None], dict[str, Any]]:
        """A new browser: its queue, and the snapshot to send before the queue's messages."""
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(self.queue_size)
        self.clients.add(queue)
        self.state.prune(self.clock())
        return queue, self.state.snapshot()

    def detach(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        self.clients.discard(queue)

    def _close(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        """End a browser's stream: drop what it has not read and leave the end marker."""
        self.clients.discard(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)

    def broadcast(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            for queue in list(self.clients):
                try:
                    queue.put_nowait(message)
                except asyncio.QueueFull:  # asleep or too slow: it reconnects to a snapshot
                    self._close(queue)

    def _receive(self, event: dict[str, Any]) -> None:
        self.broadcast(self.state.receive(event, self.clock()))

    def _invalid(self, message: str) -> None:
        self.state.invalid_messages += 1
        self.state.last_error = message
        log.warning("invalid message from %s: %s", self.address, message)

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            self.broadcast(self.state.tick(self.clock()))

    def _listen(self) -> None:
        """Subscription thread: never touches the state, only schedules work on the loop."""
        import zmq

        sock = zmq.Context.instance().socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SUBSCRIBE, b"")
        try:
            sock.connect(self.address)
            while not self._stop.is_set():
                if not sock.poll(int(POLL_S * 1000)):
                    continue
                frames = sock.recv_multipart()
                try:
                    event = parse(frames[0], frames[1]).to_dict()  # ValueError if invalid
                    self._call(self._receive, event)
                except (ValueError, IndexError) as exc:
                    self._call(self._invalid, str(exc) if frames[1:] else "message without a body")
        except zmq.ZMQError as exc:
            self._call(self._invalid, f"{self.address}: {exc}")
        finally:
            sock.close()

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop closed: the app is shutting down
            self._loop.call_soon_threadsafe(fn, *args)
