"""The HTTP server's limits: uvicorn, with a deadline on reading each request.

uvicorn times out idle keep-alive connections but not a request that arrives
slowly: a client sending a header byte every few seconds (slowloris) would hold
its connection, and a file descriptor, for ever. `DeadlineH11Protocol` closes a
connection whose request headers are not complete `header_timeout_s` after it
opened (or after its previous response), or whose body stops arriving for
`body_idle_s`. `limit_concurrency` answers 503 beyond `max_connections`, and
h11 refuses headers over 16 KB.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from training.dashboard.config import DashboardConfig
from training.dashboard.routes import create_app

#: Largest request line + headers (bytes); h11's default, stated.
MAX_HEADER_BYTES = 16 * 1024
#: Seconds an idle keep-alive connection stays open (uvicorn's default).
KEEP_ALIVE_S = 5


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with request deadlines (set by `protocol()`)."""

    header_timeout_s = 10.0
    body_idle_s = 30.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm(self.header_timeout_s)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self._arm(None)
        super().connection_lost(exc)

    def _follow(self) -> None:
        """Deadline by what the client owes: headers (IDLE), more body (SEND_BODY),
        nothing once the request is in (the app may stream for as long as it likes)."""
        state = self.conn.their_state
        if state is h11.SEND_BODY:
            self._arm(self.body_idle_s)  # each piece of body restarts the clock
        elif state is not h11.IDLE:
            self._arm(None)
        elif self._deadline is None:
            self._arm(self.header_timeout_s)  # a new request on a kept-alive connection

    def _arm(self, seconds: float | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None if seconds is None else self.loop.call_later(seconds, self._expire)

    def _expire(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def protocol(header_timeout_s: float, body_idle_s: float) -> type[DeadlineH11Protocol]:
    return type("DashboardH11Protocol", (DeadlineH11Protocol,),
                {"header_timeout_s": header_timeout_s, "body_idle_s": body_idle_s})


def uvicorn_config(cfg: DashboardConfig, log_level: str = "warning", **kw: Any) -> uvicorn.Config:
    """The one server configuration, for the CLI and the tests."""
    return uvicorn.Config(
        create_app(cfg), host=cfg.host, port=cfg.port, log_level=log_level,
        http=protocol(cfg.header_timeout_s, cfg.body_idle_s),
        limit_concurrency=cfg.max_connections, timeout_keep_alive=KEEP_ALIVE_S,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES, timeout_graceful_shutdown=2, **kw)
