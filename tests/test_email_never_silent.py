"""The email channel never leaves a person without an answer: the hourly limit still answers a
live concern and gives one notice an hour (staff see every email left unanswered); an unknown
charset, a 5 MB email or an empty body still have their question read; replies use email
words, never chat commands; signatures are not relayed from staff answers. pymap holds the
mailbox, aiosmtpd receives the replies."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from bot.app import build_assistant
from bot.core.replies import Incoming
from config.settings import Settings
from tests.email_support import (
    ASSISTANT,
    PRACTITIONER,
    EmailWorld,
    Mailbox,
    email_settings,
    text_of,
    written,
)
from tests.signin_support import ADMIN, REGISTRY
from tests.test_mailer import Recorder

LIVE_CONCERN = "A 7 year old just told me her stepdad hits her with a belt"
UNANSWERABLE = "zorblax quibbit frumious"


@pytest.fixture
def settings(
    settings: Settings, imap_mailbox: Mailbox, smtp_recorder: Recorder, tmp_path: Path
) -> Settings:
    """Email on, two answers an hour per sender, and the test registry (with an admin)."""
    registry = tmp_path / "registry.yaml"
    registry.write_text(REGISTRY, encoding="utf-8")
    port = smtp_recorder.port  # type: ignore[attr-defined]
    configured = email_settings(settings, imap_mailbox, port, max_per_hour=2)
    return dataclasses.replace(configured, registry_file=str(registry))


@pytest.fixture
async def world(
    settings: Settings, imap_mailbox: Mailbox, smtp_recorder: Recorder
) -> AsyncIterator[EmailWorld]:
    assistant = await build_assistant(settings)
    yield EmailWorld(assistant, imap_mailbox, smtp_recorder)
    await assistant.close()


async def test_over_the_limit_a_live_concern_is_answered_and_others_get_one_notice(
    world: EmailWorld,
) -> None:
    for n in range(2):  # the limit: two answers an hour
        [answer] = await world.send(written(PRACTITIONER, "What is an SCR?", f"Q{n}"))
        assert "serious case review" in text_of(answer).lower()
    [notice] = await world.send(written(PRACTITIONER, "What is a rapid review?", "Q2"))
    said = text_of(notice)
    assert "pausing my answers to this address until" in said
    assert "999" in said and "Your emails are kept" in said
    assert notice["Subject"] == "Re: Q2", "in the thread, like every answer"
    # One notice an hour: the next ordinary email gets nothing more...
    assert await world.send(written(PRACTITIONER, "What is a SILP?", "Q3")) == []
    # ...but a live concern gets the safety route, whatever the limit.
    [route] = await world.send(written(PRACTITIONER, LIVE_CONCERN, "Help"))
    lines = text_of(route).splitlines()
    assert lines[0] == "IF A CHILD MAY BE AT RISK" and "999" in lines[1], lines[:3]
    assert "pausing" not in text_of(route)

    # Nothing dropped without a record staff can see: /unanswered lists both unanswered emails.
    await world.assistant.storage.signin.link_chat("test:admin", ADMIN, time.time())
    replies = await world.assistant.conversation.handle(Incoming("test:admin", "/unanswered"))
    listed = next(r for r in replies if r.kind == "unanswered_emails")
    assert f"from {PRACTITIONER}: What is a rapid review?" in listed.text
    assert f"from {PRACTITIONER}: What is a SILP?" in listed.text
    assert "2 emails not answered" in (listed.title or "")


def raw_email(body: bytes, charset: str, subject: str = "Question") -> bytes:
    return (
        f"From: Jane Doe <{PRACTITIONER}>\r\nTo: {ASSISTANT}\r\nSubject: {subject}\r\n"
        f"Message-ID: <raw.{time.time_ns()}@mail.example.net>\r\n"
        "Date: Mon, 07 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset={charset}\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode() + body


async def test_an_unknown_charset_is_read_all_the_same(world: EmailWorld) -> None:
    world.mailbox.deliver(raw_email(b"What is an SCR?\r\n", "x-unknown-8bit"))
    [answer] = await world.turn()
    assert "serious case review" in text_of(answer).lower()


async def test_a_5_mb_email_is_read_from_its_first_paragraphs(world: EmailWorld) -> None:
    padding = (b"x" * 1000 + b"\r\n") * 5000  # 5 MB of one long line over and over
    body = b"Hello,\r\n\r\nWhat is an SCR?\r\n\r\n" + padding + b"\r\n\r\n" + b"z " * 100_000
    world.mailbox.deliver(raw_email(body, "utf-8"))
    [answer] = await world.turn()
    assert "serious case review" in text_of(answer).lower()


async def test_an_empty_body_is_read_from_the_subject(world: EmailWorld) -> None:
    message = written(PRACTITIONER, "\n", "What is an SCR?")
    [answer] = await world.send(message)
    assert "serious case review" in text_of(answer).lower()


async def test_replies_use_email_words_and_the_word_works(world: EmailWorld) -> None:
    [fallback] = await world.send(written(PRACTITIONER, UNANSWERABLE, "Odd"))
    said = text_of(fallback)
    assert "/help" not in said and "/urgent" not in said
    assert 'reply with the word "help"' in said.lower()
    [helped] = await world.send(reply(fallback, "help"))
    assert "How to use this assistant".upper() in text_of(helped)


def reply(original: EmailMessage, text: str) -> EmailMessage:
    return written(
        PRACTITIONER, text, f"Re: {original['Subject']}", in_reply_to=str(original["Message-ID"])
    )
