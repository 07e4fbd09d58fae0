"""Request guard, as plain ASGI middleware in front of every route.

- Host header: on a loopback bind only loopback names are served, so a web page
  elsewhere cannot reach the dashboard by DNS rebinding.
- Token (required with --allow-remote): `Authorization: Bearer T`, the
  `ccser_token` cookie, or `?token=T` once, which sets the cookie and redirects
  to the same page without the token in its address.
- Requests that change something (POST) need the `X-Ccser-Dashboard` header,
  which a cross-site form cannot send: another site cannot start a training
  run or upload files through the user's browser.
- Every response says how a browser may use it: scripts, styles and images only
  from the dashboard itself, never inside another site's frame (no clickjacking of
  Train / Cancel), no MIME sniffing, no Referer sent elsewhere.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from training.dashboard.config import is_loopback

COOKIE = "ccser_token"
CSRF_HEADER = "x-ccser-dashboard"
#: Sent with every response (the page has no inline script or style, so CSP holds).
SECURITY_HEADERS = (
    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


class Guard:
    def __init__(self, app: ASGIApp, token: str, loopback_only: bool) -> None:
        self.app, self.token, self.loopback_only = app, token, loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *((k, v) for k, v in SECURITY_HEADERS if k not in names)]
            await send(message)

        response = self.check(scope)
        if response is None:
            await self.app(scope, receive, send_with_headers)
        else:
            await response(scope, receive, send_with_headers)

    def check(self, scope: Scope) -> Any:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = host_name(headers.get("host", ""))
        if self.loopback_only and not is_loopback(host):
            return PlainTextResponse(f"host {host!r} is not served: open http://127.0.0.1",
                                     status_code=421)
        if self.token:
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            if "token" in query and same_token(query["token"], self.token):
                rest = urlencode({k: v for k, v in query.items() if k != "token"})
                response = RedirectResponse(scope["path"] + (f"?{rest}" if rest else ""), 303)
                response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict")
                return response
            if not any(same_token(given, self.token) for given in _presented(headers)):
                return PlainTextResponse("token required: open the address ccser-dashboard "
                                         "printed (…/?token=…)", status_code=401)
        if scope["method"] not in ("GET", "HEAD", "OPTIONS") and CSRF_HEADER not in headers:
            return PlainTextResponse(f"missing {CSRF_HEADER} header (cross-site request?)",
                                     status_code=403)
        return None


def same_token(given: str, token: str) -> bool:
    """Constant-time comparison as bytes: a presented token may hold any character
    (`?token=%C3%A9`, a Latin-1 header), which `compare_digest` refuses as str."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode())


def host_name(header: str) -> str:
    """The host part of a Host header: "127.0.0.1:8765" -> "127.0.0.1", "[::1]:80" -> "::1"."""
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _presented(headers: dict[str, str]) -> list[str]:
    """Tokens a request carries (bearer header, cookie)."""
    found = []
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        found.append(auth[7:].strip())
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            found.append(value)
    return found
