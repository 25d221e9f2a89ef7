"""The HTTP client python-telegram-bot talks to the Bot API through: aiohttp instead of PTB's
default httpx (PTB's `BaseRequest` is the documented place to swap it).

Why: in a burst, httpx was most of the process's CPU. Measured against the same Bot API
emulator, one `sendMessage` cost about 1 ms of CPU through httpx and 0.2 ms through aiohttp
(docs/benchmarks.md). httpx's connection pool checks every connection, with a syscall each,
whenever a request starts or ends, and its request building is pure Python; aiohttp parses HTTP
in C. Requests are sent as JSON (which the Bot API accepts for every method except uploads),
because URL-encoding a 500-character HTML reply character by character cost 50 microseconds.

PTB's own layer above this is unchanged: it turns HTTP statuses and Telegram's error answers
into `TelegramError`s, and the rate limiter wraps it. This class only moves bytes and maps
transport failures to the two errors PTB's callers expect: `TimedOut` and `NetworkError`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import ssl
import urllib.parse
import urllib.request
from typing import Any

import aiohttp
import certifi
from telegram.error import NetworkError, TimedOut
from telegram.ext import ExtBot
from telegram.request import BaseRequest, RequestData

# PTB's HTTPXRequest defaults, so behaviour matches what PTB documents.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 5.0
WRITE_TIMEOUT = 5.0
MEDIA_WRITE_TIMEOUT = 20.0


@functools.cache
def _trust() -> ssl.SSLContext:
    """httpx's trust store (certifi), so a slim container without system CAs still works. Made
    once per process: reading the bundle took 40 ms of CPU for each Application started."""
    return ssl.create_default_context(cafile=certifi.where())


class AiohttpRequest(BaseRequest):
    """At most `limit` requests in flight; the others wait their turn in an asyncio semaphore,
    with no time limit: in a burst a reply waiting a second for a free connection is better
    than a reply dropped (PTB's httpx client fails a request after a 1 s pool wait). The wait
    for a free slot is the only unbounded one: each request has connect, write and read
    timeouts once it has its slot. A send waiting out the rate limiter's "retry after" holds no
    slot. Telegram takes about 30 messages a second; eight in flight carry 80 a second even at
    100 ms each. A proxy comes from the environment (HTTPS_PROXY, NO_PROXY), as with httpx."""

    def __init__(self, limit: int, read_timeout: float = READ_TIMEOUT) -> None:
        if limit < 1:
            raise ValueError("limit must be 1 or more")
        self.limit = limit
        self._read_timeout = read_timeout
        self._slots = asyncio.Semaphore(limit)
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}

    @property
    def read_timeout(self) -> float:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.limit, ssl=_trust())
            # Not trust_env: aiohttp would then read the proxy variables and ~/.netrc again, in
            # a worker thread, for every request (a sixth of the bot's CPU in a burst).
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self.USER_AGENT}
            )
            self._proxies.clear()

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,  # unused: waiting for a slot has no limit
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        uploads = request_data is not None and request_data.contains_files
        connect = _given(connect_timeout, CONNECT_TIMEOUT)
        write = _given(write_timeout, MEDIA_WRITE_TIMEOUT if uploads else WRITE_TIMEOUT)
        read = _given(read_timeout, self._read_timeout)
        # aiohttp has no write timeout of its own: the whole exchange is bounded by the sum.
        limits = (connect, write, read)
        total = None if None in limits else sum(t for t in limits if t is not None)
        timeout = aiohttp.ClientTimeout(total=total, sock_connect=connect, sock_read=read)
        async with self._slots:
            try:
                async with self._session.request(
                    method, url, timeout=timeout, proxy=self._proxy(url), **_body(request_data)
                ) as response:
                    return response.status, await response.read()
            except TimeoutError as exc:  # aiohttp's timeouts are TimeoutErrors too
                raise TimedOut from exc
            except aiohttp.ClientError as exc:
                # The type only: aiohttp's messages can hold the URL, and the URL holds the token.
                raise NetworkError(f"aiohttp.{type(exc).__name__}") from exc

    def _proxy(self, url: str) -> str | None:
        """The proxy for `url`'s host from the environment, looked up once per host."""
        parts = urllib.parse.urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        if key not in self._proxies:
            bypass = urllib.request.proxy_bypass(key[1])
            self._proxies[key] = None if bypass else urllib.request.getproxies().get(key[0])
        return self._proxies[key]


def _given(value: Any, default: float) -> float | None:
    """A timeout argument: PTB's DEFAULT_NONE means "this client's default"; None means none."""
    return default if isinstance(value, type(BaseRequest.DEFAULT_NONE)) else value


def _body(request_data: RequestData | None) -> dict[str, Any]:
    """The request's keyword arguments for its parameters: JSON, or multipart with files."""
    if request_data is None:
        return {}
    if not request_data.contains_files:
        body = json.dumps(request_data.parameters).encode()
        return {"data": body, "headers": {"Content-Type": "application/json"}}
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return {"data": form}


class AssistantBot(ExtBot[None]):
    """PTB's bot with one call of its own, `send_html`: sendMessage, answered with the sent
    message's id alone.

    PTB's send_message turns Telegram's answer into a `Message`, about a hundred attributes
    each set through TelegramObject.__setattr__, and the keyboard's buttons too: 0.15-0.25 ms
    of CPU for a reply with buttons, a tenth of what a bare PTB bot spends on a whole update,
    only for the assistant to read its message_id. The request is PTB's own (`_post`: its
    defaults, its errors, the rate limiter), with the same parameters in the same order."""

    async def send_html(self, chat_id: int, text: str, extra: dict[str, Any]) -> int:
        """Send `text` (HTML) to `chat_id` with `extra` (the Bot API's own JSON parameters:
        link_preview_options, reply_markup); returns the message's id."""
        data: dict[str, Any] = {"chat_id": chat_id, "text": text}
        data |= {"link_preview_options": None, "parse_mode": "HTML", "reply_markup": None}
        result = await self._post("sendMessage", data, api_kwargs=extra)
        if not isinstance(result, dict):  # Telegram's answer to sendMessage is the Message
            raise NetworkError(f"sendMessage answered {type(result).__name__}, not a message")
        return int(result["message_id"])

    async def get_updates_json(
        self, offset: int | None, timeout: dt.timedelta, allowed_updates: list[str]
    ) -> list[dict[str, Any]]:
        """getUpdates as PTB's get_updates asks it (the same parameters and read timeout), the
        updates as Telegram sent them: the poller stores them as they are, and a text message
        is read from them (bot/channels/telegram.py `text_message`) without PTB's Update."""
        data: dict[str, Any] = {"timeout": timeout, "offset": offset, "limit": None}
        data["allowed_updates"] = allowed_updates
        read_timeout = (self._request[0].read_timeout or 0) + timeout.total_seconds()
        result = await self._post("getUpdates", data, read_timeout=read_timeout)
        if not isinstance(result, list):
            raise NetworkError(f"getUpdates answered {type(result).__name__}, not a list")
        return result
