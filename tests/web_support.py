"""The web chat as `python main.py serve` runs it without a Telegram token: bot/server.py's
Service on a real uvicorn server on 127.0.0.1, and a page's side of the conversation over a
real WebSocket (the `websockets` client), for the tests and the benchmark.

`served_web` runs the server in the caller's event loop (async tests); `ThreadedServer` runs it
in a thread with a loop of its own, for the browser tests, whose Playwright calls block.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import uvicorn
import websockets

from bot.app import build_assistant
from bot.assistant import Assistant
from bot.channels.web.guard import COOKIE
from bot.server import Service, server_for
from config.settings import Settings

T = TypeVar("T")


def port_of(server: uvicorn.Server) -> int:
    return int(server.servers[0].sockets[0].getsockname()[1])


@contextlib.asynccontextmanager
async def served_web(assistant: Assistant, port: int = 0) -> AsyncIterator[tuple[Service, str]]:
    """Serve the assistant (no Telegram: the web chat, and Teams when its settings name an app)
    until the block ends; yields the service and its base address. Stops as SIGTERM does."""
    service = Service(assistant, webhook=False)
    server = server_for(service, "127.0.0.1", port)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 30
    while not server.started:
        assert not task.done(), "the server stopped while starting"
        assert time.monotonic() < deadline, "the server did not start"
        await asyncio.sleep(0.01)
    try:
        yield service, f"http://127.0.0.1:{port_of(server)}"
    finally:
        server.should_exit = True
        await task


@dataclass
class Page:
    """One page of the web chat over a real socket, as panel.js speaks: it shows each
    numbered message once, acknowledges the last it showed when it reconnects, and sends its
    messages with client ids until the server confirms them."""

    base: str
    token: str
    origin: str | None = None
    shown: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0
    socket: Any = None
    _reader: asyncio.Task[None] | None = None
    _news: asyncio.Event = field(default_factory=asyncio.Event)

    async def connect(self) -> None:
        address = self.base.replace("http://", "ws://") + f"/chat/socket?after={self.shown}"
        self.socket = await websockets.connect(
            address,
            origin=self.origin or self.base,  # type: ignore[arg-type]
            additional_headers={"Cookie": f"{COOKIE}={self.token}"},
            max_size=2**20,
        )
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for frame in self.socket:
                event = json.loads(frame)
                if event["type"] == "message":
                    if event["seq"] <= self.shown:
                        self.duplicates += 1
                    else:
                        self.shown = event["seq"]
                        self.messages.append(event)
                else:
                    if event["type"] == "reset":  # as panel.js: clear, and show from the start
                        self.shown = 0
                        self.messages.clear()
                    self.events.append(event)
                self._news.set()

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        if self._reader is not None:
            await self._reader
        self.socket = self._reader = None

    async def send(self, text: str, client_id: str | None = None, **extra: Any) -> str:
        client_id = client_id or secrets.token_hex(8)
        await self.socket.send(json.dumps({"type": "say", "id": client_id, "text": text, **extra}))
        return client_id

    async def until(self, condition: Callable[[], Any], seconds: float = 20.0) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            self._news.clear()
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"gave up waiting; events {self.events[-3:]}"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._news.wait(), remaining)

    def replies_to(self, client_id: str) -> list[dict[str, Any]]:
        return [
            m["body"]
            for m in self.messages
            if m["role"] == "assistant" and m["body"].get("reply_to") == client_id
        ]

    async def ask(self, text: str, **extra: Any) -> list[dict[str, Any]]:
        """Send `text` and wait for its replies, up to the turn's last."""
        client_id = await self.send(text, **extra)
        await self.until(lambda: any(r["last"] for r in self.replies_to(client_id)))
        return self.replies_to(client_id)


def new_page(base: str, token: str | None = None, origin: str | None = None) -> Page:
    return Page(base, token or secrets.token_urlsafe(32), origin)


class ThreadedServer:
    """The served web chat in a thread of its own (its own event loop), for blocking callers
    such as the browser tests. `call` runs a coroutine function on the server's loop."""

    def __init__(self, settings: Settings, port: int = 0) -> None:
        self.settings = settings
        self.port = port
        self.base = ""
        self.assistant: Assistant | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="web-chat-server", daemon=True)

    def start(self) -> ThreadedServer:
        self._thread.start()
        self._ready.wait(60)
        if self._error is not None:
            raise RuntimeError("the web chat did not start") from self._error
        assert self.base, "the web chat did not start in time"
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.assistant = await build_assistant(self.settings)
        try:
            async with served_web(self.assistant, self.port) as (_, base):
                self.base = base
                self.port = int(base.rsplit(":", 1)[1])
                self._ready.set()
                await self._stop.wait()
        finally:
            await self.assistant.close()

    def call(self, function: Callable[[Assistant], Awaitable[T]], timeout: float = 30) -> T:
        assert self._loop is not None and self.assistant is not None
        assistant = self.assistant
        coroutine: Any = function(assistant)
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)
