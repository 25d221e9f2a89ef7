"""Who is on the staff page: the session cookie, CSRF tokens, the headers every page carries.

- Signing in: a code emailed to a staff address (the chat sign-in's rules, handlers/signin.py
  through `Assistant.access`). Its lockout and its limit of codes an hour are kept per
  address, under the key "staff:" + a hash of the address, so the audit and the lockout table
  never hold an address typed by someone who is not staff.
- A signed-in browser holds a random token (256 bits) in a cookie that is Secure, HttpOnly,
  SameSite=Strict and only sent to /staff; the database keeps its SHA-256 only. A session ends
  SESSION_HOURS after sign-in, at sign-out, or when its address leaves the staff.
- CSRF: every form carries a token; a POST whose token is not the session's (or, before sign-in,
  the one in the browser's pre-sign-in cookie) is refused, and so is one from another origin.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import parse_qs

from starlette.requests import Request

from bot.channels.web.guard import Guard, RateLimiter
from bot.channels.web.http import read_body
from config.registry import normal_email
from config.settings import WebSettings

SESSION_COOKIE = "sa_staff"
PRE_COOKIE = "sa_staff_pre"  # the CSRF token of the sign-in forms, before there is a session
ROOT = "/staff"  # the first partnership's page; another's is at /staff-<its id>
SESSION_HOURS = 8.0  # a working day; then sign in again
PRE_SECONDS = 3600
CHAT_PREFIX = "staff:"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def signin_key(email: str) -> str:
    """The "chat" of an address's sign-in on the page: its lockout and codes are kept under it."""
    return CHAT_PREFIX + hashlib.sha256(normal_email(email).encode()).hexdigest()[:32]


def root_of(partnership: str, first: bool) -> str:
    """Where a partnership's staff page is: /staff for the first served, /staff-<id> for the
    others (a path of its own, so each one's cookies go to its own page only)."""
    return ROOT if first else f"{ROOT}-{partnership}"


def cookie(name: str, value: str, max_age: int, path: str = ROOT) -> str:
    return f"{name}={value}; Path={path}; Max-Age={max_age}; Secure; HttpOnly; SameSite=Strict"


class Form:
    """A posted form (application/x-www-form-urlencoded, all our forms send), read here rather
    than through python-multipart: a few fields of text, at most the web chat's body limit."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self.fields = fields

    def get(self, name: str) -> str:
        values = self.fields.get(name)
        return values[0] if values else ""

    def getlist(self, name: str) -> list[str]:
        return self.fields.get(name, [])


async def read_form(request: Request) -> Form | None:
    """The form posted, or None when it is too long, has too many fields or is not a form."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await read_body(request)
    if body is None or kind != "application/x-www-form-urlencoded":
        return None
    try:
        # parse_qs raises ValueError past max_num_fields: no form of ours has that many.
        return Form(parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=500))
    except (UnicodeDecodeError, ValueError):
        return None


def same(given: str, expected: str) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(given, expected)


class StaffGuard:
    def __init__(self, web: WebSettings) -> None:
        self.web = Guard(web)  # the client's address and our own origin, as the web chat sees
        self.signins = RateLimiter(20, 60)  # sign-in forms posted per address per minute

    def same_origin(self, request: Request) -> bool:
        """A POST from a browser names the page it came from: it must be ours."""
        origin = request.headers.get("origin")
        return origin is None or origin == self.web.own_origin(request)

    def may_try(self, request: Request) -> bool:
        return self.signins.allow(self.web.client_address(request))


# What every page of the staff page carries: no script at all, our own styles, no framing.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
