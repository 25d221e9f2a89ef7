"""The store of incoming messages and the intake around it, in one process (the kill -9 tests
are tests/test_incoming_crash.py): a message stored once however often it arrives, handled once
however often it is handed out, in order per chat, its replies kept until sent and sent again
by a later pass, and its turn's changes committed with its mark, on both backends."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import fields

import pytest

from bot.app import build_assistant
from bot.assistant import Assistant
from bot.channels.intake import MAX_RESENDS, Intake
from bot.core.conversation import sent_later
from bot.core.replies import Button, File, Incoming, Link, Reply
from bot.storage import Arrival, Received
from config.settings import IncomingSettings, Settings

CHANNEL = "test"
QUESTION = "zorblax quibbit"


@pytest.fixture
async def assistant(settings: Settings, database_target: str) -> AsyncIterator[Assistant]:
    assistant = await build_assistant(dataclasses.replace(settings, database=database_target))
    yield assistant
    await assistant.close()


class Channel:
    """A chat channel as the intake sees one: it turns a stored message into an Incoming with
    its receipt, and 'sends' the replies by recording them."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.sent: list[tuple[str, str, str]] = []  # (chat, message key, reply text)
        self.fail_sends = 0

    async def handle(self, message: Received) -> None:
        assert message.payload is not None
        incoming = Incoming(message.chat, message.payload["text"], receipt=(CHANNEL, message.key))
        replies = await self.assistant.conversation.handle(incoming)
        if replies:
            await self.send(message.chat, message.key, replies)

    async def resend(self, message: Received) -> None:
        replies, _ = sent_later(message.replies or {})
        await self.send(message.chat, message.key, replies)

    async def send(self, chat: str, key: str, replies: list[Reply]) -> None:
        if self.fail_sends:
            self.fail_sends -= 1
            raise ConnectionError("the channel is down")
        self.sent.extend((chat, key, r.text) for r in replies)
        await self.assistant.storage.incoming.answered(CHANNEL, key)  # as Intake.answered

    def intake(self, single_process: bool = True) -> Intake:
        return Intake(
            CHANNEL,
            self.assistant.storage.incoming,
            IncomingSettings(lease_seconds=0, reply_lease_seconds=0, sweep_seconds=60),
            self.handle,
            self.resend,
            single_process=single_process,
        )


def arrival(key: int, chat: str, text: str) -> Arrival:
    return Arrival(str(key), chat, {"text": text})


async def unanswered(assistant: Assistant) -> list[str]:
    return [q for q, _ in reversed(await assistant.storage.questions.unanswered())]


async def test_stored_once_handled_once_however_often_it_comes(assistant: Assistant) -> None:
    channel = Channel(assistant)
    intake = channel.intake()
    new = await intake.receive([arrival(1, "test:a", QUESTION)])
    again = await intake.receive([arrival(1, "test:a", QUESTION)])
    assert [m.key for m in new] == ["1"] and again == []
    # Handed out three times (a redelivery, a sweep, an earlier-first pass): handled once.
    await asyncio.gather(*(channel.handle(new[0]) for _ in range(3)))
    assert await unanswered(assistant) == [QUESTION]
    assert [key for _, key, _ in channel.sent] == ["1"]
    assert await assistant.storage.incoming.counts(CHANNEL) == {"answered": 1}


async def test_a_chats_earlier_message_left_pending_is_handled_first(
    assistant: Assistant,
) -> None:
    channel = Channel(assistant)
    intake = channel.intake(single_process=False)  # as with PostgreSQL: always look
    _, second = await intake.receive(
        [arrival(1, "test:a", f"{QUESTION} one"), arrival(2, "test:a", f"{QUESTION} two")]
    )
    intake.dispatch([second])  # the first was left by a process that died
    await intake.drain(10)
    assert await unanswered(assistant) == [f"{QUESTION} one", f"{QUESTION} two"]
    assert [key for _, key, _ in channel.sent] == ["1", "2"]


async def test_the_sweep_handles_what_was_left_and_sends_unsent_replies(
    assistant: Assistant,
) -> None:
    channel = Channel(assistant)
    intake = channel.intake()
    [left, unsent] = await intake.receive(
        [arrival(1, "test:a", f"{QUESTION} one"), arrival(2, "test:b", f"{QUESTION} two")]
    )
    channel.fail_sends = 1
    with pytest.raises(ConnectionError):
        await channel.handle(unsent)  # handled, its reply kept: the channel was down
    assert await assistant.storage.incoming.counts(CHANNEL) == {"pending": 1, "handled": 1}
    assert await intake.sweep(starting=True) == (1, 1)
    await intake.drain(10)
    assert sorted(key for _, key, _ in channel.sent) == ["1", "2"]
    assert await assistant.storage.incoming.counts(CHANNEL) == {"answered": 2}
    assert sorted(await unanswered(assistant)) == [f"{QUESTION} one", f"{QUESTION} two"]
    assert left.payload is not None


async def test_replies_that_never_go_out_are_given_up_with_a_record(
    assistant: Assistant, caplog: pytest.LogCaptureFixture
) -> None:
    channel = Channel(assistant)
    intake = channel.intake()
    [message] = await intake.receive([arrival(1, "test:a", QUESTION)])
    channel.fail_sends = 100
    with pytest.raises(ConnectionError):
        await channel.handle(message)
    for _ in range(MAX_RESENDS + 1):
        await intake.sweep()
    assert await assistant.storage.incoming.counts(CHANNEL) == {"answered": 1}
    assert "replies not delivered after" in caplog.text


async def test_a_turn_that_fails_changes_nothing_and_is_answered_with_the_apology(
    assistant: Assistant,
) -> None:
    channel = Channel(assistant)
    [message] = await channel.intake().receive([arrival(1, "test:a", "/boom")])

    async def boom(ctx: object, arg: str) -> list[Reply]:
        await assistant.storage.questions.record_unanswered("test:a", "written, then undone")
        raise RuntimeError("a bug")

    assistant.conversation.add_command("boom", boom)
    await channel.handle(message)
    assert await unanswered(assistant) == [], "the turn's write was rolled back"
    [(_, _, said)] = channel.sent
    assert said.startswith("Sorry, something went wrong")
    assert await assistant.storage.incoming.counts(CHANNEL) == {"answered": 1}


async def test_what_a_person_wrote_is_erased_once_handled(assistant: Assistant) -> None:
    channel = Channel(assistant)
    [message] = await channel.intake().receive([arrival(1, "test:a", QUESTION)])
    await channel.handle(message)
    rows = await assistant.storage.db.fetch("SELECT payload, replies FROM incoming")
    assert [(r["payload"], r["replies"]) for r in rows] == [(None, None)]


def test_a_reply_kept_to_send_later_keeps_every_field() -> None:
    reply = Reply(
        "text",
        kind="kind",
        title="title",
        id="id",
        ids=("a", "b"),
        buttons=(Button("label", "/data"),),
        links=(Link("label", "https://example.org"),),
        private=True,
        expects_text=True,
        files=(File("briefing.docx", "application/octet-stream", b"PK\x03\x04 bytes"),),
    )
    assert set(reply.to_json()) == {f.name for f in fields(Reply)}
    assert Reply.from_json(reply.to_json()) == reply


async def test_a_mark_the_database_refused_waits_for_the_sweep_not_a_resend(
    assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = Channel(assistant)
    intake = channel.intake()
    [message] = await intake.receive([arrival(1, "test:a", QUESTION)])
    replies = await assistant.conversation.handle(
        Incoming("test:a", QUESTION, receipt=(CHANNEL, message.key))
    )
    store = assistant.storage.incoming
    real = store.answered

    async def down(channel_name: str, key: str) -> None:
        raise ConnectionError("the database is down")

    monkeypatch.setattr(store, "answered", down)
    await intake.answered(message.key)  # sent; the mark fails, and is kept in memory
    monkeypatch.setattr(store, "answered", real)
    assert await intake.sweep() == (0, 0), "marked, not sent again"
    assert await store.counts(CHANNEL) == {"answered": 1}
    assert replies and channel.sent == []
