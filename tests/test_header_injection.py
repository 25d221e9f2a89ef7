"""Nothing a person types reaches an email's header as anything but text: every field of the
form that makes the subject, and the subject of an email answered by the email channel, carry
literal, encoded-word (q and b), doubly encoded and blank-line payloads to a real SMTP server
(aiosmtpd), whose raw bytes must show exactly the headers the assistant sets, the Message-ID it
chose and an intact MIME structure."""

from __future__ import annotations

import base64
import dataclasses
import email.policy
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import build_assistant
from bot.assistant import Assistant
from bot.mail.headers import flatten
from config.settings import Settings
from tests.conftest import Chat
from tests.email_support import PRACTITIONER, EmailWorld, Mailbox, email_settings, text_of
from tests.form_fixture import FIXTURE_FORM, knowledge_with_fixture_form, with_fixture_form
from tests.signin_support import SLO
from tests.test_mailer import Received, Recorder, smtp_server, with_smtp
from tests.test_notification import answer_until, start_form

EVIL = "evil@attacker.example"


def b_word(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="


Q_WORD = "=?utf-8?q?Acme=0D=0ABcc=3A_evil=40attacker=2Eexample?="
PAYLOADS = {
    "literal": f"Acme\r\nBcc: {EVIL}",
    "q": Q_WORD,
    "b": b_word(f"Acme\r\nBcc: {EVIL}"),
    "doubly encoded": b_word(Q_WORD),
    "blank line": "=?utf-8?q?Acme=0D=0A=0D=0AX-Injected=3A_yes?=",
    "unicode break": f"Acme\u2028Bcc: {EVIL}\x85X-Injected: yes",
    "unknown charset": "=?x-unknown?q?Acme=0D=0ABcc=3A_evil=40attacker=2Eexample?=",
}
# The form's fields that make the subject here: a prefilled one (agency), a role and a name.
SUBJECT_FIELDS = ("agency", "slo_role", "dsl_name")
NOTIFICATION_HEADERS = [
    "From",
    "To",
    "Cc",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "Auto-Submitted",
    "X-Auto-Response-Suppress",
    "MIME-Version",
    "Content-Type",
]
REPLY_HEADERS = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Auto-Submitted",
    "X-Auto-Response-Suppress",
    "MIME-Version",
    "Content-Type",
]


def header_names(raw: bytes) -> list[str]:
    """The names of the header lines of a raw message, in order (continuations skipped)."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return [line.split(":", 1)[0] for line in head.split("\r\n") if line[:1] not in (" ", "\t")]


def decoded_every_way(value: str) -> list[str]:
    """`value`, and what decoding its encoded words gives, again and again, to a fixed point."""
    forms = [value]
    for _ in range(6):
        value = str(email.policy.default.header_factory("Subject", value))
        if value == forms[-1]:
            break
        forms.append(value)
    return forms


def assert_only_text(subject: str, payload: str) -> None:
    """The subject reads as one line in every decoded form; a typed encoded word reads as
    typed (literally), not as what it encodes."""
    for form in decoded_every_way(subject):
        assert not re.search("[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]", form), repr(form)
    if payload.startswith("=?"):
        assert "=?" in subject, subject


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    form = tmp_path / "form.yaml"
    fields = ", ".join(SUBJECT_FIELDS)
    form.write_text(
        re.sub(r"(?m)^subject: .*$", f"subject: [{fields}]", FIXTURE_FORM.read_text("utf-8")),
        encoding="utf-8",
    )
    settings = with_fixture_form(settings, tmp_path)
    return dataclasses.replace(
        settings, knowledge_dir=str(knowledge_with_fixture_form(tmp_path / "k", form))
    )


async def submit_with(chat: Chat, payload: str) -> str:
    """Fill in the form with `payload` in every field of the subject; returns the reference."""
    await start_form(chat)
    await chat.press("Change")  # the agency, pre-filled from the registry
    await chat.say(payload)
    await answer_until(chat, **dict.fromkeys(SUBJECT_FIELDS[1:], payload))
    await chat.press("Submit")
    found = re.search(r"SIN-\d{4}-\d{4}", chat.text)
    assert found, chat.text
    return found[0]


async def test_form_fields_reach_the_header_only_as_text(settings: Settings) -> None:
    recorder = Recorder()
    with smtp_server(recorder) as port:
        assistant = await build_assistant(with_smtp(settings, port))
        try:
            references = {}
            for n, (name, payload) in enumerate(PAYLOADS.items()):
                chat = Chat(assistant, f"test:{n}")
                await assistant.storage.signin.link_chat(chat.chat, SLO, 0)
                references[name] = await submit_with(chat, payload)
            assert await assistant.outbox.run_once() == len(PAYLOADS)
            sent = await message_ids(assistant)
        finally:
            await assistant.close()
    board = list(settings.mail.board_addresses)
    by_reference = {reference_of(r): r for r in recorder.received}
    for name, payload in PAYLOADS.items():
        received = by_reference[references[name]]
        assert received.rcpt_tos == [*board, SLO], name
        assert header_names(received.raw) == NOTIFICATION_HEADERS, name
        message = received.message
        assert message["Message-ID"] == sent[references[name]], name
        assert message.get_content_type() == "multipart/mixed", name
        attachments = [a.get_filename() for a in message.iter_attachments()]
        assert attachments == [f"{references[name]}.docx"], name
        assert references[name] in text_of(message), name
        subject = str(message["Subject"])
        assert subject.startswith(references[name]), subject
        assert_only_text(subject, payload)
        # What was typed is there, on one line (the form cuts each answer at 60 characters).
        assert flatten(payload)[:10] in subject


def reference_of(received: Received) -> str:
    found = re.search(r"SIN-\d{4}-\d{4}", str(received.message["Subject"]))
    assert found, received.raw[:500]
    return found[0]


async def message_ids(assistant: Assistant) -> dict[str, str]:
    rows = await assistant.storage.db.fetch("SELECT reference, message_id FROM outbox")
    return {row["reference"]: row["message_id"] for row in rows}


# --- the email channel: a reply's subject comes from the sender --------------------------------


def raw_email(subject_header: str, message_id: str) -> bytes:
    """An email exactly as a sender's program might write it: `subject_header` is the raw
    header's value, encoded words and all."""
    return (
        f"From: Jane Doe <{PRACTITIONER}>\r\nTo: assistant@bbscp.example.org\r\n"
        f"Subject: {subject_header}\r\nMessage-ID: {message_id}\r\n"
        "Date: Mon, 07 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nWhat is an SCR?\r\n"
    ).encode()


@pytest.fixture
async def world(
    settings: Settings, imap_mailbox: Mailbox, smtp_recorder: Recorder
) -> AsyncIterator[EmailWorld]:
    configured = email_settings(settings, imap_mailbox, smtp_recorder.port)  # type: ignore[attr-defined]
    assistant = await build_assistant(configured)
    yield EmailWorld(assistant, imap_mailbox, smtp_recorder)
    await assistant.close()


async def test_email_subjects_reach_the_reply_only_as_text(world: EmailWorld) -> None:
    ids = {}
    for n, (name, payload) in enumerate(PAYLOADS.items()):
        ids[name] = f"<inj{n}@mail.example.net>"
        # A literal line break cannot be in a raw header line: the sender folds it instead.
        header = payload.replace("\r\n", "\r\n ") if name == "literal" else payload
        world.mailbox.deliver(raw_email(header, ids[name]))
    await world.turn()
    by_parent = {str(r.message["In-Reply-To"]): r for r in world.recorder.received}
    assert len(by_parent) == len(PAYLOADS)
    for name, payload in PAYLOADS.items():
        received = by_parent[ids[name]]
        assert received.rcpt_tos == [PRACTITIONER], name
        assert header_names(received.raw) == REPLY_HEADERS, name
        message = received.message
        assert re.fullmatch(r"<reply\.[0-9a-f]{32}@bbscp\.example\.org>", message["Message-ID"])
        assert "serious case review" in text_of(message).lower(), name
        subject = str(message["Subject"])
        assert subject.startswith("Re: "), subject
        # The sender's header is decoded once (as their program meant it), never twice.
        assert_only_text(subject, payload if name == "doubly encoded" else "")


async def test_an_encoded_word_in_the_senders_address_gets_no_reply(world: EmailWorld) -> None:
    sender = "=?utf-8?q?x=0D=0ABcc=3A_evil=40attacker=2Eexample?=.a@nhs.net"
    raw = raw_email("Question", "<addr@mail.example.net>").replace(
        f"Jane Doe <{PRACTITIONER}>".encode(), sender.encode()
    )
    world.mailbox.deliver(raw)
    assert await world.turn() == []
