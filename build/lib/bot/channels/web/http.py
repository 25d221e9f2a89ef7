"""The web chat's routes on the assistant's one ASGI app (bot/server.py).

    GET  /widget.js            the one script a page includes; it adds the button and the panel
    GET  /chat                 the chat panel (shown in a frame by the widget, or on its own);
                               gives the browser its conversation's cookie
    GET  /chat/static/<file>   the panel's and widget's script and styles; /chat/theme.css the
                               colours from the settings
    WS   /chat/socket?after=N  the conversation: messages numbered after N, then each new one;
                               the page sends {"type": "say", "id", "text", "pressed", "label"}
                               and hears "received" (stored) or "refused" (with the reason)
    GET  /chat/api/messages?after=N&wait=S   the same without a socket (long polling) ...
    POST /chat/api/send                      ... and sending, for networks that block sockets
    GET  /                     the demo page (web.demo_page)

Every message a page sends is checked here (its origin, size and rate) before the channel
records it; what it says is never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
from pathlib import Path
from string import Template
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from bot.channels.web.channel import HISTORY_LIMIT, Sent, WebChannel
from bot.channels.web.guard import (
    ASSET_CSP,
    CLIENT_ID,
    Guard,
    chat_for,
    cookie_header,
    new_token,
    page_csp,
    token_of,
)
from config.settings import Settings

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
ASSETS = {
    "widget.css": "text/css; charset=utf-8",
    "demo.css": "text/css; charset=utf-8",
    "panel.css": "text/css; charset=utf-8",
    "panel.js": "text/javascript; charset=utf-8",
}
WIDGET = "widget.js"
# The largest frame or request body read; a message at the size limit fits several times over.
MAX_BODY_BYTES = 64 * 1024
# A socket with nothing to send looks in the store this often anyway (news from another
# instance on a shared PostgreSQL database), and a long poll waits at most this long.
SOCKET_RECHECK_SECONDS = 10.0
LONG_POLL_SECONDS = 25.0
# Closing codes a page understands (4000-4999 are the application's own).
NO_CONVERSATION = 4001
TOO_MANY_CLOSE = 4029
TOO_MANY = "Too many new conversations from your network. Please try again in a while."
UNREADABLE = "That message could not be read. Please send it again."
TOO_FAST = (
    "You are sending messages faster than I can take them. Please wait a moment, then send it "
    "again."
)
EMPTY = "Please type a message."
ABSENT = (
    "This chat needs its cookie, and the browser did not send it. Reload the page, or allow "
    "cookies for this site."
)


class TooMany(Exception):
    """An address has started more new conversations than web.ip_new_conversations_per_hour."""


def too_long(length: int, limit: int) -> str:
    return (
        f"Your message is {length:,} characters long; the limit is {limit:,}. "
        "Please shorten it, or send it in parts."
    )


async def read_body(request: Request) -> bytes | None:
    """The request's body, or None once it is longer than MAX_BODY_BYTES (not read further)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return body


def message_json(seq: int, role: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "seq": seq, "role": role, "body": body}


class WebRoutes:
    """One partnership's web chat. `prefix` is where its paths start: "" for the default
    partnership, `/site/<site key>` for the others (bot/server.py), so one server holds each
    partnership's widget, panel and cookie apart."""

    def __init__(self, channel: WebChannel, settings: Settings, prefix: str = "") -> None:
        self.channel = channel
        self.prefix = prefix
        self.web = settings.web
        self.guard = Guard(settings.web)
        self.files = {name: (STATIC / name).read_bytes() for name in (*ASSETS, WIDGET)}
        board = settings.board
        title = settings.web.title or f"{board.short_name or board.name} assistant"
        fields = {
            "title": html.escape(title),
            "name": html.escape(board.name),
            "short_name": html.escape(board.short_name or board.name),
            "area": html.escape(board.area),
            "chat": html.escape(prefix + "/chat"),
            "widget": html.escape(prefix + "/widget.js"),
        }
        self.panel_page = Template((STATIC / "panel.html").read_text()).substitute(fields)
        self.demo_page = Template((STATIC / "demo.html").read_text()).substitute(fields)
        self.theme = (
            f":root {{ --sa-colour: {settings.web.main_colour}; "
            f"--sa-accent: {settings.web.accent_colour}; }}\n"
        ).encode()

    def routes(self) -> list[BaseRoute]:
        """Its routes: at the top for the default partnership (with the demo page at /, if
        enabled), else mounted under the prefix."""
        routes: list[BaseRoute] = [
            Route("/widget.js", self.widget),
            Route("/chat", self.panel),
            Route("/chat/theme.css", self.theme_css),
            Route("/chat/static/{name}", self.asset),
            WebSocketRoute("/chat/socket", self.socket),
            Route("/chat/api/messages", self.messages),
            Route("/chat/api/send", self.send, methods=["POST"]),
        ]
        if self.prefix:
            return [Mount(self.prefix, routes=routes)]
        if self.web.demo_page:
            routes.append(Route("/", self.demo))
        return routes

    # --- pages and files --------------------------------------------------------------------

    def _refused_page(self) -> Response:
        log.warning("web chat: a page of another site was refused")
        return PlainTextResponse("This site may not show the chat.", status_code=403)

    def _document(self, body: str, frames: bool = False) -> Response:
        return Response(
            body,
            media_type="text/html; charset=utf-8",
            headers={
                "Content-Security-Policy": page_csp(self.guard.frame_ancestors(), frames),
                "Referrer-Policy": "no-referrer" if not frames else "strict-origin",
                "Cache-Control": "no-store",
            },
        )

    def _asset(self, body: bytes, media_type: str) -> Response:
        return Response(
            body,
            media_type=media_type,
            headers={
                "Content-Security-Policy": ASSET_CSP,
                "Cache-Control": "no-cache",
                # Pages of the sites in web.origins load it from here.
                "Cross-Origin-Resource-Policy": "cross-origin",
            },
        )

    async def widget(self, request: Request) -> Response:
        if not self.guard.page_allowed(request):
            return self._refused_page()
        return self._asset(self.files[WIDGET], "text/javascript; charset=utf-8")

    async def asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return PlainTextResponse("Not Found", status_code=404)
        if not self.guard.page_allowed(request):
            return self._refused_page()
        return self._asset(self.files[name], ASSETS[name])

    async def theme_css(self, request: Request) -> Response:
        if not self.guard.page_allowed(request):
            return self._refused_page()
        return self._asset(self.theme, "text/css; charset=utf-8")

    async def panel(self, request: Request) -> Response:
        """The panel, with the browser's conversation cookie (a new one if it has none)."""
        if not self.guard.page_allowed(request):
            return self._refused_page()
        token = token_of(request) or new_token()
        response = self._document(self.panel_page)
        # Sent again every time, so the conversation lasts history_hours after its last visit.
        response.headers.append("Set-Cookie", cookie_header(token, self.web, self.prefix))
        return response

    async def demo(self, request: Request) -> Response:
        return self._document(self.demo_page, frames=True)

    # --- messages ---------------------------------------------------------------------------

    async def accept(self, connection: HTTPConnection, chat: str, payload: Any) -> dict[str, Any]:
        """Check one message from a page and record it: {"type": "received"} once it is
        stored, or {"type": "refused", "reason": ...} (the page keeps the text)."""
        client_id = payload.get("id") if isinstance(payload, dict) else None
        if not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id):
            return {"type": "refused", "id": None, "reason": UNREADABLE}
        text, label = payload.get("text"), payload.get("label")
        if not isinstance(text, str):
            return {"type": "refused", "id": client_id, "reason": UNREADABLE}
        if len(text) > self.web.max_message_chars:
            reason = too_long(len(text), self.web.max_message_chars)
            return {"type": "refused", "id": client_id, "reason": reason}
        if not text.strip():
            return {"type": "refused", "id": client_id, "reason": EMPTY}
        address = self.guard.client_address(connection)
        if not (self.guard.per_address.allow(address) and self.guard.per_chat.allow(chat)):
            log.warning("web chat %s: rate limit reached", chat)
            return {"type": "refused", "id": client_id, "reason": TOO_FAST}
        pressed = payload.get("pressed") is True
        shown = label if pressed and isinstance(label, str) and len(label) <= 200 else None
        await self.channel.receive(chat, Sent(client_id, text, pressed, shown))
        return {"type": "received", "id": client_id}

    async def _start_at(
        self, connection: HTTPConnection, chat: str, after: str | None
    ) -> tuple[int, bool]:
        """Where a page's messages start, and whether it must clear what it shows first: after
        the number it gave (the last it showed); for a new page, or one whose number is ahead
        of the conversation (its database was replaced), the conversation's recent history.
        A conversation with nothing in it is greeted (TooMany past the address's limit)."""
        try:
            seq = max(0, int(after or 0))
        except ValueError:
            seq = 0
        last = await self.channel.store.last_seq(chat)
        if 0 < seq <= last:
            return seq, False
        if last == 0:
            if not self.guard.new_per_address.allow(self.guard.client_address(connection)):
                log.warning("web chat: an address reached its limit of new conversations")
                raise TooMany
            self.channel.greet(chat)
        return max(0, last - HISTORY_LIMIT), seq > 0

    async def socket(self, websocket: WebSocket) -> None:
        if not self.guard.origin_allowed(websocket.headers.get("origin"), websocket):
            log.warning("web chat: a socket from another site was refused")
            await websocket.close(code=1008)  # before accepting: the browser gets a 403
            return
        token = token_of(websocket)
        await websocket.accept()
        if token is None:
            await websocket.close(code=NO_CONVERSATION, reason="no conversation cookie")
            return
        chat = chat_for(token)
        sending = asyncio.Lock()

        async def send(data: dict[str, Any]) -> None:
            async with sending:
                await websocket.send_text(json.dumps(data))

        after = websocket.query_params.get("after")
        try:
            start, reset = await self._start_at(websocket, chat, after)
        except TooMany:
            await websocket.close(code=TOO_MANY_CLOSE, reason=TOO_MANY)
            return
        if reset:
            await send({"type": "reset"})
        writer = asyncio.create_task(self._feed(chat, start, send), name="web-chat-socket")
        try:
            while True:
                frame = await websocket.receive_text()
                try:
                    payload = json.loads(frame)
                except ValueError:
                    payload = None
                if isinstance(payload, dict) and payload.get("type") == "say":
                    await send(await self.accept(websocket, chat, payload))
                else:
                    await send({"type": "refused", "id": None, "reason": UNREADABLE})
        except WebSocketDisconnect:
            pass
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer

    async def _feed(self, chat: str, seq: int, send: Any) -> None:
        """Send the page every message after `seq`, now and as they come, in order."""
        event = self.channel.watch(chat)
        try:
            while not self.channel.closing:  # then uvicorn closes the socket
                for message in await self.channel.wait(chat, seq, event, SOCKET_RECHECK_SECONDS):
                    await send(message_json(message.seq, message.role, message.body))
                    seq = message.seq
        finally:
            self.channel.unwatch(chat, event)

    async def messages(self, request: Request) -> Response:
        """Long polling: the messages after `after`, waiting up to `wait` seconds for some."""
        if not self.guard.page_allowed(request):
            return self._refused_page()
        token = token_of(request)
        if token is None:
            return JSONResponse({"error": ABSENT}, status_code=401)
        chat = chat_for(token)
        try:
            start, reset = await self._start_at(request, chat, request.query_params.get("after"))
        except TooMany:
            return JSONResponse({"error": TOO_MANY}, status_code=429)
        try:
            wait = min(max(float(request.query_params.get("wait", "0")), 0.0), LONG_POLL_SECONDS)
        except ValueError:
            wait = 0.0
        event = self.channel.watch(chat)
        try:
            found = await self.channel.wait(chat, start, event, wait)
        finally:
            self.channel.unwatch(chat, event)
        return JSONResponse(
            {
                "reset": reset,
                "messages": [message_json(m.seq, m.role, m.body) for m in found],
            },
            headers={"Cache-Control": "no-store"},
        )

    async def send(self, request: Request) -> Response:
        # A POST from a page always carries Origin: only the chat's own pages may send.
        if not self.guard.origin_allowed(request.headers.get("origin"), request):
            return self._refused_page()
        token = token_of(request)
        if token is None:
            return JSONResponse({"error": ABSENT}, status_code=401)
        body = await read_body(request)
        if body is None:
            return JSONResponse({"type": "refused", "reason": UNREADABLE}, status_code=413)
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        answer = await self.accept(request, chat_for(token), payload)
        status = 200 if answer["type"] == "received" else 422
        if answer.get("reason") == TOO_FAST:
            status = 429
        return JSONResponse(answer, status_code=status, headers={"Cache-Control": "no-store"})
