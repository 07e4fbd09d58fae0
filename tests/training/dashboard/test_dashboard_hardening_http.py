"""The dashboard's HTTP edges under hostile clients (issue 16, items 6-9): the Train
form's body is capped, slow requests are dropped, a non-ASCII token is a plain 401,
and every response carries the browser security headers."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from dashboard_helpers import free_port, serve  # noqa: E402

from training.dashboard.config import DashboardConfig  # noqa: E402

H = {"X-Ccser-Dashboard": "1"}
TOKEN = "a-long-enough-token-0123"


def config(tmp_path: Path, **kw) -> DashboardConfig:
    return DashboardConfig(connect=f"tcp://127.0.0.1:{free_port()}", port=free_port(),
                           models_dirs=(tmp_path / "models",), **kw)


def exchange(url: str, raw: bytes, timeout: float = 5.0) -> bytes:
    """Send `raw` on a fresh connection; the response (b"" if none came in `timeout`)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(raw)
        got = b""
        try:
            while chunk := sock.recv(65536):
                got += chunk
                head, sep, body = got.partition(b"\r\n\r\n")
                length = [int(line.split(b":")[1]) for line in head.lower().split(b"\r\n")
                          if line.startswith(b"content-length:")]
                if sep and length and len(body) >= length[0]:
                    break
        except (TimeoutError, ConnectionResetError):
            pass
    return got


def test_a_train_form_over_the_cap_is_refused_unread(tmp_path):
    with serve(config(tmp_path)) as url:
        head = (b"POST /api/train HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Ccser-Dashboard: 1\r\n"
                b"Content-Type: application/json\r\n")
        # 400 MB announced, a few bytes sent: refused at once, not waited for.
        t0 = time.monotonic()
        answer = exchange(url, head + b"Content-Length: 400000000\r\n\r\n{\"train\": [")
        assert answer.startswith(b"HTTP/1.1 413") and b"KB" in answer
        assert time.monotonic() - t0 < 4
        # Chunked (no Content-Length): refused as soon as it passes the cap.
        chunk = b"4000\r\n" + b" " * 0x4000 + b"\r\n"
        answer = exchange(url, head + b"Transfer-Encoding: chunked\r\n\r\n" + chunk * 8)
        assert answer.startswith(b"HTTP/1.1 413")
        # Nested too deep for the JSON parser: a 400, not a 500.
        r = httpx.post(url + "/api/train", content=b"[" * 10000, headers=H)
        assert r.status_code == 400 and r.json()["error"] == "expected a JSON object"


def test_slow_requests_are_dropped_and_connections_are_capped(tmp_path):
    cfg = config(tmp_path, header_timeout_s=1.0, body_idle_s=1.0, max_connections=20)
    with serve(cfg) as url:
        host, port = url.removeprefix("http://").split(":")
        slow = [socket.create_connection((host, int(port)), timeout=5) for _ in range(30)]
        for sock in slow:  # slowloris: a request line, then nothing
            sock.sendall(b"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        time.sleep(0.5)
        busy = httpx.get(url + "/api/info")  # over the cap while they are open
        assert busy.status_code == 503
        time.sleep(1.5)
        assert sum(closed_by_server(sock) for sock in slow) == len(slow)
        assert httpx.get(url + "/api/info").status_code == 200  # room again
        # A body that stops arriving is dropped too.
        sock = socket.create_connection((host, int(port)), timeout=5)
        sock.sendall(b"POST /api/train HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"X-Ccser-Dashboard: 1\r\nContent-Length: 100\r\n\r\n{")
        assert closed_by_server(sock)


def closed_by_server(sock: socket.socket) -> bool:
    """True if the server closed the connection (before the socket's timeout)."""
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    finally:
        sock.close()


def test_a_non_ascii_token_is_refused_with_401(tmp_path):
    with serve(config(tmp_path, token=TOKEN)) as url:
        assert httpx.get(url + "/api/info?token=%C3%A9").status_code == 401
        answer = exchange(url, "GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               "Authorization: Bearer é\r\nConnection: close\r\n\r\n"
                               .encode("latin-1"))
        assert answer.startswith(b"HTTP/1.1 401") and b"token required" in answer
        assert httpx.get(url + "/api/info", headers={"Cookie": b"ccser_token=\xc3\xa9"}
                         ).status_code == 401
        ok = httpx.get(url + "/api/info", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200


def test_every_response_carries_the_browser_security_headers(tmp_path):
    with serve(config(tmp_path, token=TOKEN)) as url:
        for r in (httpx.get(url + "/", headers={"Authorization": f"Bearer {TOKEN}"}),
                  httpx.get(url + "/static/app.js", headers={"Authorization": f"Bearer {TOKEN}"}),
                  httpx.get(url + "/api/info")):  # a refusal (401) too
            assert r.headers["content-security-policy"] == \
                "default-src 'self'; frame-ancestors 'none'"
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["referrer-policy"] == "no-referrer"
        page = httpx.get(url + "/", headers={"Authorization": f"Bearer {TOKEN}"}).text
        # CSP forbids inline code: the page has none.
        assert "<script>" not in page and "<style" not in page and "style=" not in page
        assert "data:" not in page and "onclick" not in page
