"""The app's gate: the Host header, the token, and the headers every response carries.

Jupyter's rules for a local web app. A request whose ``Host`` header names
another host than the one served is refused (403), which defeats DNS
rebinding. Every request needs the token: in the first URL
(``/?token=...``), which is exchanged for an HttpOnly ``SameSite=Strict``
cookie and a redirect to the same URL without the token; afterwards from the
cookie, or from an ``Authorization: Bearer`` header for scripts. No token
gives 401, a wrong one 403.
"""

from __future__ import annotations

import hmac
import re
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

__all__ = ["LOOPBACK_HOSTS", "TOKEN_PATTERN", "Guard", "allowed_hosts", "check_token", "cookie_name"]

#: What a token may look like: it travels in a URL and a cookie unescaped.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9._~-]{8,256}")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Host names that always reach a server bound to this machine.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})

#: Sent with every response: no sniffing, no framing, no referrer, scripts and styles from the app only.
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"content-security-policy",
     (b"default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; "
      b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")),
]


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def allowed_hosts(host: str) -> frozenset[str]:
    """Host names (without port) a request may name when the server binds ``host``.

    The loopback names always; the bound name itself; for a wildcard bind
    (``0.0.0.0``, ``::``) also this machine's host names and addresses.
    """
    names = set(LOOPBACK_HOSTS) | {_bracketed(host.lower())}
    if host in ("0.0.0.0", "::", ""):
        hostname = socket.gethostname()
        names |= {hostname.lower(), socket.getfqdn().lower()}
        try:
            names |= {_bracketed(info[4][0]) for info in socket.getaddrinfo(hostname, None)}
        except OSError:
            pass
    return frozenset(names)


def check_token(token: Any) -> str:
    """Return ``token`` if it is 8 to 256 URL-safe characters, else raise ``ValueError``."""
    if not isinstance(token, str) or TOKEN_PATTERN.fullmatch(token) is None:
        raise ValueError("token must be 8 to 256 letters, digits, '-', '_', '.' or '~' "
                         "(it travels in a URL and a cookie).")
    return token


def cookie_name(port: int) -> str:
    """Name of the token cookie; cookies ignore ports, so each port gets its own."""
    return f"xsup_app_{port}"


def _host_name(header: str) -> str:
    """The host part of a ``Host`` header (``[::1]:8765`` -> ``[::1]``), lower-cased."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[: header.find("]") + 1]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Guard:
    """ASGI middleware that checks the host and the token before the app sees a request.

    Parameters
    ----------
    app : ASGI application
        The app to protect.
    token : str
        The secret every request must carry.
    hosts : frozenset of str
        Accepted host names (see :func:`allowed_hosts`).
    cookie : str
        Name of the cookie that carries the token.
    """

    def __init__(self, app: ASGIApp, token: str, hosts: frozenset[str], cookie: str) -> None:
        self.app = app
        self.token = check_token(token).encode()
        self.hosts = hosts
        self.cookie = cookie

    def _matches(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1"): value.decode("latin-1")
                   for key, value in scope["headers"]}
        if _host_name(headers.get("host", "")) not in self.hosts:
            await _plain(send, 403, "Host header not allowed (the app answers only to the "
                         "host it serves).")
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        token_in_url = next((value for key, value in query if key == "token"), None)
        if token_in_url is not None and scope["method"] == "GET":
            if not self._matches(token_in_url):
                await _plain(send, 403, "Wrong token.")
                return
            rest = urlencode([(key, value) for key, value in query if key != "token"])
            location = scope["path"] + (f"?{rest}" if rest else "")
            cookie = (f"{self.cookie}={token_in_url}; HttpOnly; SameSite=Strict; Path=/")
            await _plain(send, 303, "See the app.", [(b"location", location.encode()),
                                                     (b"set-cookie", cookie.encode())])
            return
        credential = _bearer(headers.get("authorization", "")) or _cookie(
            headers.get("cookie", ""), self.cookie)
        if credential is None:
            await _plain(send, 401, "Token required: open the URL that 'xsup app' printed, or "
                         "send 'Authorization: Bearer TOKEN'.")
            return
        if not self._matches(credential):
            await _plain(send, 403, "Wrong token.")
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _bearer(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


async def _plain(send: Send, status: int, text: str,
                 extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"), *SECURITY_HEADERS, *(extra or [])]})
    await send({"type": "http.response.body", "body": body})
