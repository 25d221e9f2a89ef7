"""Microsoft Graph delta polling against a small fake Graph server on 127.0.0.1 that replays
recorded responses (tests/fixtures/graph_delta.json): paging by nextLink, removed and read
messages skipped, MIME download, mark-as-read, and the 410 "resync" case."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from bot.app import build_assistant
from bot.channels.email.channel import make_email_channel
from bot.channels.email.graph import GraphError, GraphSource
from config.settings import EmailSettings, Settings
from tests.email_support import ASSISTANT, PRACTITIONER, parse, text_of, written
from tests.test_mailer import Recorder, smtp_server

FIXTURE = Path(__file__).parent / "fixtures" / "graph_delta.json"
TOKEN = "test-access-token"


class FakeGraph:
    """Answers each request with the next recorded response for it; records every request."""

    def __init__(self, messages: dict[str, bytes]) -> None:
        self.recorded: dict[str, list[dict[str, Any]]] = {
            k: v for k, v in json.loads(FIXTURE.read_text()).items() if not k.startswith("_")
        }
        self.messages = messages
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def answer(self, method: str, target: str) -> tuple[int, bytes, str]:
        path = unquote(target)
        if method == "GET" and path.endswith("/$value"):
            message_id = path.rsplit("/", 2)[-2]
            if message_id in self.messages:
                return 200, self.messages[message_id], "message/rfc822"
            return 404, b'{"error": {"code": "ErrorItemNotFound"}}', "application/json"
        if method == "PATCH":
            return 200, b"{}", "application/json"
        responses = self.recorded.get(f"{method} {path}")
        if not responses:
            return 404, b'{"error": {"code": "NotRecorded"}}', "application/json"
        response = responses.pop(0) if len(responses) > 1 else responses[0]
        body = json.dumps(response["body"]).replace("{base}", self.base).encode()
        return response["status"], body, "application/json"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while request_line := await reader.readline():
                method, target, _ = request_line.decode().split(" ", 2)
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    key, _, value = line.decode().partition(":")
                    headers[key.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append((method, unquote(target), headers, body))
                status, payload, kind = self.answer(method, target)
                writer.write(
                    f"HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def graph_settings(base: str) -> EmailSettings:
    return EmailSettings(
        source="graph",
        graph_mailbox=ASSISTANT,
        graph_base_url=f"{base}/v1.0",
        oauth_tenant="contoso.example",
        oauth_client_id="00000000-0000-0000-0000-000000000001",
    )


async def token() -> str:
    return TOKEN


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    questions = {
        "AAMkAGI2-msg-A": written(PRACTITIONER, "What is an SCR?", "First").as_bytes(),
        "AAMkAGI2-msg-C": written(PRACTITIONER, "What is a rapid review?", "Second").as_bytes(),
        "AAMkAGI2-msg-E": written(PRACTITIONER, "What is a SILP?", "Third").as_bytes(),
    }
    server = FakeGraph(questions)
    await server.start()
    yield server
    await server.stop()


async def test_delta_pages_unread_only_then_410_resync(graph: FakeGraph) -> None:
    source = GraphSource(graph_settings(graph.base), token)
    first = await source.fetch()
    assert [m.key for m in first] == ["AAMkAGI2-msg-A", "AAMkAGI2-msg-C"]
    assert parse(first[0].data)["Subject"] == "First"
    await source.acknowledge([m.key for m in first])
    patches = [(t, json.loads(b)) for m, t, _, b in graph.requests if m == "PATCH"]
    assert [t.rsplit("/", 1)[-1] for t, _ in patches] == ["AAMkAGI2-msg-A", "AAMkAGI2-msg-C"]
    assert all(body == {"isRead": True} for _, body in patches)
    assert source.delta_link is not None and source.delta_link.endswith("deltatoken=first")

    # The stored delta has expired: Graph says 410, the source syncs again from the start and
    # finds the one message still unread.
    second = await source.fetch()
    assert [m.key for m in second] == ["AAMkAGI2-msg-E"]
    assert source.delta_link.endswith("deltatoken=after-resync")
    assert await source.fetch() == []
    assert all(h.get("authorization") == f"Bearer {TOKEN}" for _, _, h, _ in graph.requests)


async def test_graph_errors_carry_no_details(graph: FakeGraph) -> None:
    settings = dataclasses.replace(graph_settings(graph.base), graph_mailbox="nobody@x.example")
    with pytest.raises(GraphError) as error:
        await GraphSource(settings, token).fetch()
    assert str(error.value) == "Graph answered 404"


async def test_email_channel_over_graph_answers_each_question_once(
    graph: FakeGraph, settings: Settings
) -> None:
    recorder = Recorder()
    with smtp_server(recorder) as smtp_port:
        configured = dataclasses.replace(
            settings,
            mail=dataclasses.replace(settings.mail, from_address=ASSISTANT),
            smtp=dataclasses.replace(
                settings.smtp, host="127.0.0.1", port=smtp_port, security="none"
            ),
            email=graph_settings(graph.base),
        )
        assistant = await build_assistant(configured)
        try:
            channel = make_email_channel(assistant, GraphSource(configured.email, token))  # type: ignore[arg-type]
            for _ in range(3):
                await channel.poll_once()
                await assistant.outbox.run_once()
        finally:
            await assistant.close()
    subjects = sorted(r.message["Subject"] for r in recorder.received)
    assert subjects == ["Re: First", "Re: Second", "Re: Third"]
    assert "SILP" in text_of(
        next(r.message for r in recorder.received if r.message["Subject"] == "Re: Third")
    )
