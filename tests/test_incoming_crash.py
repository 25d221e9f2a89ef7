"""kill -9 between the acknowledgement of an update and its handling: the update is handled
once, and answered, by the next process (webhook and polling on SQLite) or by the other
instance (two instances on PostgreSQL). The process killed is tests/incoming_crash.py, which
acknowledges updates and never handles them: the widest form of that window. The campaign
(bench/campaign.py) kills real processes at random moments, many times over."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.incoming_support import (
    answered,
    handled,
    handled_in_order,
    question,
    serve,
    text_update,
    until,
)
from tests.telegram_support import FakeBotApi

pytestmark = pytest.mark.slow  # main.py killed and restarted, and two instances


async def test_webhook_acknowledged_then_killed_is_handled_once_after_restart(
    tmp_path: Path, api: FakeBotApi
) -> None:
    database = str(tmp_path / "assistant.db")
    crashing = await serve(tmp_path, api, database, webhook=True, crash=True)
    try:
        async with httpx.AsyncClient() as http:
            for n in (1, 2):
                assert await crashing.post(http, text_update(n, 70, question(n))) == 200
    finally:
        crashing.kill()
        await crashing.process.wait()
    assert api.method_calls("sendMessage") == []  # acknowledged, never handled

    restarted = await serve(tmp_path, api, database, webhook=True)
    try:
        await until(lambda: answered(api)[70] == 2, "both answers")
        await asyncio.sleep(0.3)  # time for a second copy to show, were there one
    finally:
        log = await restarted.stop()
    assert answered(api) == {70: 2}
    texts = [call["text"] for call in api.method_calls("sendMessage")]
    assert all(text.startswith("Sorry, I don't have an answer") for text in texts), texts
    assert await handled(database) == {question(1): 1, question(2): 1}
    assert "Traceback" not in log


async def confirmed_then_killed(tmp_path: Path, api: FakeBotApi, database: str, what: str) -> None:
    """Serve by polling until the updates queued are confirmed (the poller asked for the
    updates after them: Telegram drops them then), then kill -9, nothing yet answered."""
    crashing = await serve(tmp_path, api, database, webhook=False, crash=True)
    try:
        await until(
            lambda: any(int(c.get("offset") or 0) > 1 for c in api.method_calls("getUpdates")),
            what,
        )
    finally:
        crashing.kill()
        await crashing.process.wait()
    assert api.pending_updates == [] and api.method_calls("sendMessage") == []


async def test_polling_confirmed_then_killed_is_handled_once_after_restart(
    tmp_path: Path, api: FakeBotApi
) -> None:
    database = str(tmp_path / "assistant.db")
    api.queue_update({"message": text_update(1, 71, question(3))["message"]})
    await confirmed_then_killed(tmp_path, api, database, "the update confirmed")

    restarted = await serve(tmp_path, api, database, webhook=False)
    try:
        await until(lambda: answered(api)[71] == 1, "the answer")
        await asyncio.sleep(0.3)
    finally:
        log = await restarted.stop()
    assert answered(api) == {71: 1}
    assert await handled(database) == {question(3): 1}
    assert "Traceback" not in log


async def test_a_polled_batch_stored_in_one_go_is_each_answered_once_after_kill_9(
    tmp_path: Path, api: FakeBotApi
) -> None:
    """A batch of updates (one getUpdates) stored together, confirmed, then kill -9: the next
    process answers every one of them, once, read from the JSON stored."""
    database = str(tmp_path / "assistant.db")
    chats = range(72, 78)
    for n, chat in enumerate(chats, 10):
        api.queue_update({"message": text_update(n, chat, question(n))["message"]})
    await confirmed_then_killed(tmp_path, api, database, "the batch confirmed")

    restarted = await serve(tmp_path, api, database, webhook=False)
    try:
        await until(lambda: len(answered(api)) == len(chats), "every answer")
        await asyncio.sleep(0.3)
    finally:
        log = await restarted.stop()
    assert answered(api) == dict.fromkeys(chats, 1)
    assert await handled(database) == {question(n): 1 for n in range(10, 10 + len(chats))}
    assert "Traceback" not in log


async def test_two_instances_the_other_handles_what_the_killed_one_acknowledged(
    tmp_path: Path, api: FakeBotApi, postgres_url: str
) -> None:
    killed, other = await asyncio.gather(
        serve(tmp_path / "a", api, postgres_url, webhook=True, crash=True),
        serve(tmp_path / "b", api, postgres_url, webhook=True),
    )
    try:
        async with httpx.AsyncClient() as http:
            # Chat 80's first question reaches the instance about to die, its second the other:
            # the other answers both, in order. Chat 81's only question waits for the lease.
            assert await killed.post(http, text_update(1, 80, question(10))) == 200
            assert await killed.post(http, text_update(2, 81, question(11))) == 200
            killed.kill()
            await killed.process.wait()
            assert await other.post(http, text_update(3, 80, question(12))) == 200
            await until(lambda: answered(api) == {80: 2, 81: 1}, "three answers")
            await asyncio.sleep(0.3)
    finally:
        killed.kill()
        log = await other.stop()
    assert answered(api) == {80: 2, 81: 1}
    assert await handled(postgres_url) == {question(n): 1 for n in (10, 11, 12)}
    in_order = [q for q in await handled_in_order(postgres_url) if q != question(11)]
    assert in_order == [question(10), question(12)]
    assert "Traceback" not in log
