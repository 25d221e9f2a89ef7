"""A fake Telegram Bot API on 127.0.0.1, and a harness that drives the real Application.

The bot under test is python-telegram-bot's real Application, built by `bot.channels.telegram` with
its base URL pointed at this server, so every call (sendMessage, setMyCommands,
answerInlineQuery...) is a real HTTP request over loopback. The server records each call and answers
the way the Bot API does. Updates are fed through `Application.process_update` as real `Update`
objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.policy
import itertools
import json
import time
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qsl

from telegram import Update
from telegram.ext import Application

from bot.assistant import Assistant
from bot.channels.telegram import build_application

BOT_USER = {"id": 999, "is_bot": True, "first_name": "Assistant", "username": "test_assistant_bot"}
TOKEN = "123456:TEST-TOKEN-never-logged"


class FakeBotApi:
    """Enough of the Bot API over HTTP/1.1 for the assistant: records calls, returns results."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._server: asyncio.Server | None = None
        self._ids = itertools.count(1000)
        self.port = 0
        # The next this-many sendMessage calls fail as the Bot API fails them (400 Bad Request).
        self.fail_sends = 0
        # The next this-many calls of a method fail the same way, e.g. {"setMyCommands": 2}.
        self.fail_methods: dict[str, int] = {}
        # sendMessage answers after this many seconds (a slow Bot API, for shutdown tests).
        self.send_delay = 0.0
        # getUpdates answered at once, ignoring its timeout (an emulator or proxy that does not
        # hold long polls), instead of held until an update arrives.
        self.instant_polls = False
        # Updates served by getUpdates (long polling), oldest first; see `queue_update`.
        self.pending_updates: list[dict[str, Any]] = []
        self._new_update = asyncio.Event()
        self._update_ids = itertools.count(1)
        self.sent = asyncio.Event()  # set at every sendMessage
        # The sendMessage calls that succeeded (`calls` has the refused ones too).
        self.delivered: list[dict[str, Any]] = []
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            # Python 3.11 leaves open connections alone: end them, and any long poll, here.
            self._new_update.set()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()

    def method_calls(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    break
                _, path, _ = request_line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    key, _, value = line.decode().partition(":")
                    headers[key.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                method = path.rsplit("/", 1)[-1]
                if method == "getUpdates":
                    result = await self._get_updates(headers, body)
                else:
                    result = self._answer(method, headers, body)
                if method == "sendMessage":
                    if self.send_delay:
                        await asyncio.sleep(self.send_delay)
                    self.sent.set()
                if self._should_fail(method):
                    answer = {"ok": False, "error_code": 400, "description": "Bad Request: test"}
                    status = b"400 Bad Request"
                else:
                    answer = {"ok": True, "result": result}
                    status = b"200 OK"
                    if method == "sendMessage":
                        self.delivered.append(self._params(headers, body))
                payload = json.dumps(answer).encode()
                writer.write(
                    b"HTTP/1.1 "
                    + status
                    + b"\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def _should_fail(self, method: str) -> bool:
        if self.fail_methods.get(method, 0) > 0:
            self.fail_methods[method] -= 1
            return True
        if method == "sendMessage" and self.fail_sends > 0:
            self.fail_sends -= 1
            return True
        return False

    def queue_update(self, update: dict[str, Any]) -> None:
        """Make `update` (without update_id) the next one getUpdates returns."""
        self.pending_updates.append({"update_id": next(self._update_ids), **update})
        self._new_update.set()

    async def _get_updates(self, headers: dict[str, str], body: bytes) -> list[dict[str, Any]]:
        """Long polling as the Bot API does it: confirm updates below `offset`, then answer
        with what is pending, waiting up to `timeout` seconds for something to arrive."""
        params = self._params(headers, body)
        self.calls.append(("getUpdates", params))
        offset = int(params.get("offset") or 0)
        self.pending_updates = [u for u in self.pending_updates if u["update_id"] >= offset]
        if not self.pending_updates and not self.instant_polls:
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), float(params.get("timeout", 0)))
        return self.pending_updates[: int(params.get("limit") or 100)]

    def _params(self, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        params: dict[str, Any] = {}
        content_type = headers.get("content-type", "")
        if body and "json" in content_type:
            params = json.loads(body)
        elif body and content_type.startswith("multipart/form-data"):
            # A file upload (sendDocument): each part by name; a file as {filename, data}.
            message = BytesParser(policy=email.policy.HTTP).parsebytes(
                f"Content-Type: {content_type}\r\n\r\n".encode() + body
            )
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                data = part.get_payload(decode=True)
                assert isinstance(data, bytes)
                filename = part.get_filename()
                params[str(name)] = (
                    {"filename": filename, "data": data} if filename else data.decode()
                )
        elif body:
            for key, value in parse_qsl(body.decode(), keep_blank_values=True):
                try:
                    params[key] = json.loads(value)
                except ValueError:
                    params[key] = value
        return params

    def _answer(self, method: str, headers: dict[str, str], body: bytes) -> Any:
        params = self._params(headers, body)
        self.calls.append((method, params))
        if method == "getMe":
            return BOT_USER
        if method == "sendDocument":
            document = params.get("document") or {}
            return {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "from": BOT_USER,
                "document": {
                    "file_id": "f1",
                    "file_unique_id": "u1",
                    "file_name": document.get("filename", ""),
                },
            }
        if method in ("sendMessage", "editMessageText"):
            return {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "from": BOT_USER,
                "text": str(params.get("text", "")),
            }
        return True


class TelegramHarness:
    """Drives the Application: a user types, presses buttons or makes inline queries."""

    def __init__(self, api: FakeBotApi, application: Application, assistant: Assistant) -> None:
        self.api = api
        self.app = application
        self.app_settings = assistant.settings
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)

    def _user(self, user_id: int) -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": "Sam"}

    async def _process(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        before = len(self.api.calls)
        data["update_id"] = next(self._update_ids)
        await self.app.process_update(Update.de_json(data, self.app.bot))
        return [p for name, p in self.api.calls[before:] if name == "sendMessage"]

    async def send_text(self, chat_id: int, text: str) -> list[dict[str, Any]]:
        """The user types `text`; returns the sendMessage calls the bot made in reply."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": self._user(chat_id),
            "text": text,
        }
        if text.startswith("/"):
            command = text.split(" ", 1)[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return await self._process({"message": message})

    async def press(self, chat_id: int, data: str) -> list[dict[str, Any]]:
        """The user presses an inline button carrying `data`."""
        query = {
            "id": str(next(self._update_ids)),
            "from": self._user(chat_id),
            "chat_instance": "ci",
            "data": data,
            "message": {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": BOT_USER,
                "text": "earlier message",
            },
        }
        return await self._process({"callback_query": query})

    async def inline(self, user_id: int, text: str) -> dict[str, Any]:
        """The user types `@bot text` in any chat; returns the answerInlineQuery parameters."""
        before = len(self.api.calls)
        query = {
            "id": str(next(self._update_ids)),
            "from": self._user(user_id),
            "query": text,
            "offset": "",
        }
        data = {"update_id": next(self._update_ids), "inline_query": query}
        await self.app.process_update(Update.de_json(data, self.app.bot))
        answers = [p for name, p in self.api.calls[before:] if name == "answerInlineQuery"]
        assert answers, "the bot did not answer the inline query"
        return answers[-1]


def buttons_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    """All inline buttons of a sent message, in order (each a dict with text and data or url)."""
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


async def start_harness(assistant: Assistant, api: FakeBotApi) -> TelegramHarness:
    """Point the assistant's Telegram settings at `api` and initialise the real Application."""
    from config.settings import Secret

    settings = dataclasses.replace(
        assistant.settings,
        telegram=dataclasses.replace(
            assistant.settings.telegram,
            base_url=api.base_url,
            base_file_url=f"http://127.0.0.1:{api.port}/file/bot",
        ),
        telegram_token=Secret(TOKEN),
    )
    assistant.settings = settings
    application = build_application(assistant, rate_limit=False)
    await application.initialize()
    return TelegramHarness(api, application, assistant)
