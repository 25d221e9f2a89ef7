"""The HTTP side (`python main.py serve`): a real uvicorn server on 127.0.0.1, reached with
httpx, around PTB's real Application talking to the fake Bot API."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bot.assistant import Assistant
from bot.core.conversation import Context
from bot.core.replies import Reply
from bot.server import SECRET_HEADER, Service, server_for
from config.settings import Secret
from tests.conftest import sqlite_only
from tests.telegram_support import FakeBotApi
from tests.test_concurrency import use_api, wait_for

SECRET = "test-webhook-secret_1"


@dataclass
class Served:
    service: Service
    api: FakeBotApi
    http: httpx.AsyncClient

    async def post_update(self, update: dict[str, Any], secret: str | None = SECRET) -> int:
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        response = await self.http.post("/telegram", json=update, headers=headers)
        return response.status_code


def message(chat_id: int, text: str, update_id: int = 1) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Sam"},
            "text": text,
        },
    }


@pytest.fixture
async def served(assistant: Assistant) -> AsyncIterator[Served]:
    api = FakeBotApi()
    await api.start()
    use_api(
        assistant,
        api,
        rate_limit=False,
        ready_timeout_seconds=0.3,
        webhook_url="https://assistant.example.org/telegram",
    )
    assistant.settings = dataclasses.replace(assistant.settings, webhook_secret=Secret(SECRET))
    service = Service(assistant, webhook=True)
    server = server_for(service, "127.0.0.1", 0)
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: server.started or task.done(), "the server to start")
    assert server.started, "the server did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        yield Served(service, api, http)
    server.should_exit = True  # what SIGTERM does
    await task
    await api.stop()


async def test_webhook_refuses_requests_without_the_secret(served: Served) -> None:
    assert await served.post_update(message(50, "what is an SCR?"), secret=None) == 403
    assert await served.post_update(message(50, "what is an SCR?"), secret="wrong") == 403
    await asyncio.sleep(0.05)
    assert not served.api.method_calls("sendMessage"), "a refused update was handled"


async def test_webhook_update_is_answered(served: Served) -> None:
    webhook = served.api.method_calls("setWebhook")[0]
    assert webhook["url"] == "https://assistant.example.org/telegram"
    assert webhook["secret_token"] == SECRET
    assert await served.post_update(message(51, "what is an SCR?")) == 200
    await wait_for(lambda: served.api.method_calls("sendMessage"), "the reply")
    reply = served.api.method_calls("sendMessage")[0]
    assert reply["chat_id"] == 51
    assert reply["text"].startswith("<b>Serious case review")


async def test_webhook_refuses_what_is_not_an_update(served: Served) -> None:
    response = await served.http.post(
        "/telegram", content=b"not json", headers={SECRET_HEADER: SECRET}
    )
    assert response.status_code == 400


async def test_health_and_readiness(served: Served) -> None:
    health = await served.http.get("/healthz")
    assert health.status_code == 200
    ready = await served.http.get("/readyz")
    assert ready.status_code == 200
    report = ready.json()
    assert report["ready"] is True
    assert report["database"] == "ok"
    assert report["knowledge"]["topics"] > 0
    assert report["outbox"] == {"backlog": 0, "oldest_age_seconds": None}
    assert report["email"]["last_delivery"] is None


@sqlite_only
async def test_readiness_follows_the_database(served: Served) -> None:
    """Another process holding the database makes the instance not ready, until it lets go."""
    database = served.service.assistant.settings.database
    # From a thread: a blocking BEGIN on the event loop's thread would stop the assistant from
    # finishing a transaction it had begun, and both would wait out the busy timeout.
    other = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    try:
        # the write lock, as a long backup or a stuck process
        await asyncio.to_thread(other.execute, "BEGIN IMMEDIATE")
        response = await served.http.get("/readyz")
        assert response.status_code == 503
        assert response.json()["ready"] is False
        assert response.json()["database"] != "ok"
        await asyncio.to_thread(other.execute, "COMMIT")
        statuses: list[int] = []

        async def ready_again() -> None:
            while not statuses or statuses[-1] != 200:
                statuses.append((await served.http.get("/readyz")).status_code)

        await asyncio.wait_for(ready_again(), timeout=15)
        assert statuses[-1] == 200
    finally:
        other.close()


async def test_readiness_reports_the_outbox_and_deliveries(served: Served) -> None:
    assistant = served.service.assistant
    # A sign-in code email: queued, then delivered (to the .eml folder) by the worker.
    await served.post_update(message(52, "/signin", 1))
    await wait_for(lambda: served.api.method_calls("sendMessage"), "the question for the address")
    await served.post_update(message(52, "alex.example@example.org", 2))
    await wait_for(lambda: len(served.api.method_calls("sendMessage")) >= 2, "the code request")
    report: dict[str, Any] = {}

    async def delivered() -> bool:
        # The transport's success is seen a moment before the row is marked sent.
        report.update((await served.http.get("/readyz")).json())
        return report["email"]["last_delivery"] is not None and report["outbox"]["backlog"] == 0

    deadline = time.monotonic() + 10
    while not await delivered():
        assert time.monotonic() < deadline, report
        await asyncio.sleep(0.05)
    assert report["outbox"]["oldest_age_seconds"] is None
    assert report["ready"] is True
    assert report["email"]["transport"] == assistant.outbox.transport.describe()


async def test_metrics_count_kinds_latency_and_signin_failures(served: Served) -> None:
    api = served.api
    updates = [
        message(7305301, "what is an SCR?", 1),
        message(7305301, "pelka", 2),
        message(7305301, "/signin", 3),
        message(7305301, "alex.example@example.org", 4),
        message(7305301, "000000", 5),
    ]
    for number, update in enumerate(updates, 1):
        assert await served.post_update(update) == 200
        # One at a time, so the sign-in steps see each other's state.
        await wait_for(lambda n=number: len(api.method_calls("sendMessage")) >= n, "a reply")
    page = (await served.http.get("/metrics")).text
    assert 'assistant_messages_total{kind="answer"} 1.0' in page
    assert 'assistant_messages_total{kind="report"} 1.0' in page
    assert "assistant_handling_seconds_count 5.0" in page
    assert "assistant_signin_failures_total 1.0" in page
    assert "assistant_outbox_depth" in page
    assert "alex.example" not in page and "7305301" not in page, "personal data in metrics"


async def test_shutdown_handles_updates_already_received(assistant: Assistant) -> None:
    """Stopping (SIGTERM) while an update is being handled: its answer still goes out."""
    api = FakeBotApi()
    await api.start()
    use_api(assistant, api, rate_limit=False, webhook_url="")
    assistant.settings = dataclasses.replace(assistant.settings, webhook_secret=Secret(SECRET))
    handling = asyncio.Event()

    async def slow(ctx: Context, arg: str) -> list[Reply]:
        handling.set()
        await asyncio.sleep(0.5)  # still busy when the stop comes
        return [Reply("finished in time")]

    assistant.conversation.add_command("slow", slow)
    service = Service(assistant, webhook=True)
    server = server_for(service, "127.0.0.1", 0)
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: server.started, "the server to start")
    port = server.servers[0].sockets[0].getsockname()[1]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        headers = {SECRET_HEADER: SECRET}
        response = await http.post("/telegram", json=message(54, "/slow"), headers=headers)
        assert response.status_code == 200
    await asyncio.wait_for(handling.wait(), 10)
    server.should_exit = True  # what uvicorn does on SIGTERM
    await task
    await api.stop()
    texts = [call["text"] for call in api.method_calls("sendMessage")]
    assert texts == ["finished in time"], "the update in flight was abandoned at shutdown"
    assert not api.method_calls("setWebhook"), "no webhook_url: the webhook is left alone"


async def test_polling_mode_serves_health_and_answers(assistant: Assistant) -> None:
    api = FakeBotApi()
    await api.start()
    use_api(assistant, api, rate_limit=False, poll_timeout_seconds=1.0)
    service = Service(assistant, webhook=False)
    server = server_for(service, "127.0.0.1", 0)
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: server.started, "the server to start")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            assert (await http.get("/healthz")).status_code == 200
            webhook = await http.post("/telegram", json=message(56, "hi"))
            assert webhook.status_code in (404, 405), "no webhook route in polling mode"
        update = message(56, "what is an SCR?")
        del update["update_id"]
        api.queue_update(update)
        await wait_for(lambda: api.method_calls("sendMessage"), "the reply")
        assert api.method_calls("sendMessage")[0]["text"].startswith("<b>Serious case review")
    finally:
        server.should_exit = True
        await task
        await api.stop()
