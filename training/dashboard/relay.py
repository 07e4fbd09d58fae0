"""The live relay: one ZeroMQ subscription fanned out to every browser.

A thread holds one SUB socket for the dashboard's lifetime, reads each message
with `ccser_core.client.parse` (the schema's one validator, which also brings
older event versions up to date) and hands the event to the asyncio loop. A
message that cannot be read, for whatever reason (not JSON, nested too deep,
not an event), is counted and skipped; the count is on the page. A failing
socket is closed and the subscription made again. Messages over MAX_MESSAGE_BYTES
are refused by ZeroMQ itself. The loop keeps the last
few minutes of events, and per daemon its latest status, lost messages (gaps in
`seq`), restarts (`seq` going back) and whether it is still there: a daemon
that misses two heartbeats is "no connection". Every message goes onto each
browser's bounded queue; a browser that falls behind is dropped (its
EventSource reconnects and gets a fresh snapshot), so a sleeping tab never
holds up the relay or the other tabs.

What is kept is bounded whatever the publishers send: the history by time, count
and bytes; the daemons by number (messages from daemons beyond MAX_DAEMONS are
counted, not shown) and by age (a daemon silent for FORGET_S is forgotten,
except the one heard last).

Messages to browsers (JSON):
  {"type": "event", "source": KEY, "event": {...daemon event...}}
  {"type": "daemon", "source": KEY, "state": ..., "status": {...} | null, ...}
  {"type": "daemon_gone", "source": KEY}          (forgotten after FORGET_S of silence)
  {"type": "relay", "invalid_messages": N, "ignored_messages": N, "error": "..."}
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
#: Largest message read (ZMQ_MAXMSGSIZE); a real event is well under 4 KB.
MAX_MESSAGE_BYTES = 256 * 1024
#: Most daemons kept and shown at once (many behind one proxy still fit).
MAX_DAEMONS = 32
#: A daemon not heard from for this long is forgotten (seconds).
FORGET_S = 600.0
#: Bytes of events kept for browsers that (re)connect: each snapshot sends them all.
MAX_HISTORY_BYTES = 32 * 1024 * 1024
#: Longest error text kept for the page (a message may quote a huge value).
MAX_ERROR_CHARS = 300
#: Seconds before subscribing again after the socket failed.
RETRY_S = 1.0


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
    last_heard: float = 0.0  # any message

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
                 max_history: int = 20000, address: str = "", max_daemons: int = MAX_DAEMONS,
                 forget_s: float = FORGET_S, max_history_bytes: int = MAX_HISTORY_BYTES) -> None:
        self.history_s = history_s
        self.default_heartbeat = heartbeat_s
        self.history: deque[tuple[float, dict[str, Any], int]] = deque(maxlen=max_history)
        self.history_bytes = 0
        self.max_history_bytes = max_history_bytes
        self.daemons: dict[str, Daemon] = {}
        self.max_daemons, self.forget_s = max_daemons, forget_s
        self.invalid_messages = 0
        self.ignored_messages = 0  # from daemons beyond max_daemons
        self.last_error = ""
        self.address = address

    @staticmethod
    def key(event: dict[str, Any]) -> str:
        """The daemon an event comes from. Schema version 1 had no daemon name and
        used a status event's `source` for its input (version 2 calls that `input`)."""
        if event["type"] == "status" and "input" not in event:
            return ""
        return str(event.get("source", ""))

    def invalid(self, error: str) -> None:
        self.invalid_messages += 1
        self.last_error = error[:MAX_ERROR_CHARS]

    def counters(self) -> dict[str, Any]:
        return {"type": "relay", "invalid_messages": self.invalid_messages,
                "ignored_messages": self.ignored_messages, "max_daemons": self.max_daemons,
                "error": self.last_error}

    def _daemon(self, key: str, now: float) -> tuple[Daemon | None, list[dict[str, Any]]]:
        """The daemon for `key`, made room for if new: a full table forgets its longest
        silent disconnected daemon; if every one is connected, the newcomer is refused."""
        if key in self.daemons:
            return self.daemons[key], []
        out = []
        if len(self.daemons) >= self.max_daemons:
            silent = [d for d in self.daemons.values() if not d.connected]
            if not silent:
                return None, []
            out.append(self._forget(min(silent, key=lambda d: d.last_heard)))
        self.daemons[key] = Daemon(key, last_heard=now)
        return self.daemons[key], out

    def _forget(self, daemon: Daemon) -> dict[str, Any]:
        del self.daemons[daemon.key]
        return {"type": "daemon_gone", "source": daemon.key}

    def receive(self, event: dict[str, Any], now: float, size: int = 0) -> list[dict[str, Any]]:
        """Account for one daemon event (`size` bytes on the wire) received at monotonic
        time `now`."""
        key = self.key(event)
        daemon, out = self._daemon(key, now)
        if daemon is None:
            self.ignored_messages += 1
            return out
        daemon.last_heard = now
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
            if len(self.history) == self.history.maxlen:
                self.history_bytes -= self.history[0][2]
            self.history.append((now, message, size))
            self.history_bytes += size
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
        """Daemons that missed two heartbeats become "no connection"; those silent for
        `forget_s` are forgotten, except the one heard last (its page says "no
        connection" rather than nothing)."""
        out = []
        last = max(self.daemons.values(), key=lambda d: d.last_heard, default=None)
        for daemon in [d for d in self.daemons.values() if d is not last
                       and now - d.last_heard > self.forget_s]:
            out.append(self._forget(daemon))
        for daemon in self.daemons.values():
            if daemon.connected and daemon.last_status_at is not None and \
                    now - daemon.last_status_at > MISSED_HEARTBEATS * daemon.heartbeat_s(
                        self.default_heartbeat):
                daemon.connected = False
                out.append(daemon.to_message(self.default_heartbeat))
        self.prune(now)
        return out

    def prune(self, now: float) -> None:
        while self.history and (now - self.history[0][0] > self.history_s
                                or self.history_bytes > self.max_history_bytes):
            self.history_bytes -= self.history.popleft()[2]

    def snapshot(self) -> dict[str, Any]:
        return {**self.counters(), "type": "snapshot", "now": time.time(),
                "address": self.address, "history_s": self.history_s,
                "events": [m for _, m, _ in self.history],
                "daemons": [d.to_message(self.default_heartbeat) for d in self.daemons.values()]}


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
        self._counted: tuple[int, int] = (0, 0)  # counters last sent to browsers

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

    def _receive(self, event: dict[str, Any], size: int) -> None:
        self.broadcast(self.state.receive(event, self.clock(), size))

    def _invalid(self, message: str) -> None:
        self.state.invalid(message)
        n = self.state.invalid_messages
        if n & (n - 1) == 0:  # 1, 2, 4, 8, ...: a flood does not flood the journal
            log.warning("invalid message from %s (%d so far): %s", self.address, n,
                        self.state.last_error)

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            out = self.state.tick(self.clock())
            counted = (self.state.invalid_messages, self.state.ignored_messages)
            if counted != self._counted:  # at most four updates a second, however many
                self._counted = counted
                out.append(self.state.counters())
            self.broadcast(out)

    def _listen(self) -> None:
        """Subscription thread: never touches the state, only schedules work on the loop.
        Subscribes again (after RETRY_S) whenever the socket fails."""
        import zmq

        while not self._stop.is_set():
            sock = zmq.Context.instance().socket(zmq.SUB)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
            sock.setsockopt(zmq.SUBSCRIBE, b"")
            try:
                sock.connect(self.address)
                while not self._stop.is_set():
                    if sock.poll(int(POLL_S * 1000)):
                        self._read(sock.recv_multipart())
            except Exception as exc:  # the socket itself failed: count it, subscribe again
                self._call(self._invalid, f"{self.address}: {exc}; subscribing again")
                self._stop.wait(RETRY_S)
            finally:
                sock.close()

    def _read(self, frames: list[bytes]) -> None:
        """One message: an event for the loop, or counted as invalid, whatever is wrong
        with it (a deeply nested body raises RecursionError, not ValueError)."""
        if len(frames) != 2:
            self._call(self._invalid, f"a message of {len(frames)} frames, expected 2")
            return
        try:
            event = parse(frames[0], frames[1]).to_dict()
        except Exception as exc:  # any unreadable message is only counted
            text = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
            self._call(self._invalid, text)
            return
        self._call(self._receive, event, len(frames[1]))

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop closed: the app is shutting down
            self._loop.call_soon_threadsafe(fn, *args)
