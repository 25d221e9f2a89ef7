"""Who may use the web chat, how a browser's conversation is named, and the headers it carries.

- Origins: the widget, the panel and the socket are for the assistant's own pages and the sites
  in `web.origins`. A browser says which page asks (Origin on the socket and on POSTs, Referer
  when it loads the widget or the panel); a page elsewhere is refused. The panel's
  `frame-ancestors` makes the browser itself refuse to show it inside any other site.
- The conversation: a browser holds a random token (256 bits) in a cookie that scripts cannot
  read (HttpOnly), sent only over HTTPS (Secure) and only by the chat's own pages (SameSite).
  The conversation's key is a hash of the token, so the key in the database and the logs
  opens nothing; a conversation is found only with its own token.
- Client addresses: the connection's, or the one a trusted reverse proxy forwarded.
- Rate limits: token buckets per conversation and per address, kept in memory.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from config.settings import WebSettings

COOKIE = "sa_chat"
COOKIE_PATH = "/chat"
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
CHAT_PREFIX = "web:"
DEFAULT_PORTS = {"http": "80", "https": "443"}


def new_token() -> str:
    return secrets.token_urlsafe(32)


def chat_for(token: str) -> str:
    """The conversation's key for the token a browser holds (128 bits of its SHA-256)."""
    return CHAT_PREFIX + hashlib.sha256(token.encode()).hexdigest()[:32]


def cookie_header(token: str, web: WebSettings, prefix: str = "") -> str:
    """The Set-Cookie value that gives a browser its conversation, for `history_hours`; only
    the chat's own paths get it (each partnership's chat has its own `prefix`)."""
    parts = [
        f"{COOKIE}={token}",
        f"Path={prefix}{COOKIE_PATH}",
        f"Max-Age={round(web.history_hours * 3600)}",
        "Secure",
        "HttpOnly",
        f"SameSite={web.cookie_samesite}",
    ]
    if web.cookie_samesite == "None":
        # Another site embeds the chat: the cookie is kept apart for that site (CHIPS), which
        # browsers that block third-party cookies still allow.
        parts.append("Partitioned")
    return "; ".join(parts)


def token_of(connection: HTTPConnection) -> str | None:
    token = connection.cookies.get(COOKIE, "")
    return token if TOKEN.fullmatch(token) else None


def _normal_origin(scheme: str, netloc: str) -> str:
    """scheme://host[:port] in lower case, without the scheme's default port."""
    scheme, netloc = scheme.lower(), netloc.lower()
    host, _, port = netloc.rpartition(":") if not netloc.endswith("]") else (netloc, "", "")
    if host and port == DEFAULT_PORTS.get(scheme):
        netloc = host
    return f"{scheme}://{netloc}"


def origin_of(url: str) -> str | None:
    """The origin of an address (a Referer), or None if it has none."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.netloc:
        return None
    return _normal_origin(parts.scheme, parts.netloc.rpartition("@")[2])


class RateLimiter:
    """Token buckets: each key may spend `rate` per `period` seconds, refilled evenly, in
    bursts of up to `rate`. A key whose bucket would be full again is forgotten, so the table
    holds only the keys that were busy lately."""

    def __init__(
        self, rate: int, period: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity = float(rate)
        self.refill = rate / period
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._prune_at = 1024

    def allow(self, key: str) -> bool:
        now = self.clock()
        tokens, at = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * self.refill)
        allowed = tokens >= 1
        self._buckets[key] = (tokens - 1 if allowed else tokens, now)
        if len(self._buckets) >= self._prune_at:
            self._prune(now)
        return allowed

    def _prune(self, now: float) -> None:
        full = [
            key
            for key, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self.refill >= self.capacity
        ]
        for key in full:
            del self._buckets[key]
        self._prune_at = max(1024, 2 * len(self._buckets))


class Guard:
    """The web settings' rules, applied to one connection at a time."""

    def __init__(self, web: WebSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.web = web
        self.origins = frozenset(
            origin for origin in (origin_of(o) for o in web.origins) if origin is not None
        )
        self.proxies = [ipaddress.ip_network(p, strict=False) for p in web.trusted_proxies]
        self.per_chat = RateLimiter(web.messages_per_minute, 60, clock)
        self.per_address = RateLimiter(web.ip_messages_per_minute, 60, clock)
        self.new_per_address = RateLimiter(web.ip_new_conversations_per_hour, 3600, clock)

    def _via_proxy(self, connection: HTTPConnection) -> bool:
        peer = connection.client.host if connection.client else ""
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self.proxies)

    def client_address(self, connection: HTTPConnection) -> str:
        """The browser's address: the connection's, or, from a trusted proxy, the last address
        in X-Forwarded-For that is not itself a trusted proxy."""
        peer = connection.client.host if connection.client else "unknown"
        if not self._via_proxy(connection):
            return peer
        hops = [h.strip() for h in connection.headers.get("x-forwarded-for", "").split(",")]
        for hop in reversed([h for h in hops if h]):
            try:
                address = ipaddress.ip_address(hop)
            except ValueError:
                return peer
            if not any(address in network for network in self.proxies):
                return str(address)
        return peer

    def own_origin(self, connection: HTTPConnection) -> str:
        """The origin the browser used to reach us (through a trusted proxy: as it forwarded)."""
        scheme = {"ws": "http", "wss": "https"}.get(connection.url.scheme, connection.url.scheme)
        host = connection.headers.get("host", "")
        if self._via_proxy(connection):
            scheme = connection.headers.get("x-forwarded-proto", scheme).split(",")[0].strip()
            host = connection.headers.get("x-forwarded-host", host).split(",")[0].strip()
        return _normal_origin(scheme, host)

    def origin_allowed(self, origin: str | None, connection: HTTPConnection) -> bool:
        """Whether a page at `origin` may use the chat: ours, or one of web.origins."""
        if origin is None:
            return False
        normal = origin_of(origin)
        return normal is not None and (
            normal in self.origins or normal == self.own_origin(connection)
        )

    def page_allowed(self, connection: HTTPConnection) -> bool:
        """For the widget and the panel: the page that asks (Origin, else Referer) is allowed,
        or the request names no page (not a page's request: a person or a probe)."""
        asking = connection.headers.get("origin") or connection.headers.get("referer")
        return asking is None or self.origin_allowed(asking, connection)

    def frame_ancestors(self) -> str:
        return " ".join(["'self'", *sorted(self.origins)])


# The headers of what the chat serves. Everything is ours and same-origin: no inline script or
# style, no third-party anything. A page is shown in a frame only by our pages and web.origins.
def page_csp(frame_ancestors: str, frames: bool = False) -> str:
    frame_src = "frame-src 'self'; " if frames else ""
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        f"{frame_src}base-uri 'none'; form-action 'none'; frame-ancestors {frame_ancestors}"
    )


ASSET_CSP = "default-src 'none'; frame-ancestors 'none'"
