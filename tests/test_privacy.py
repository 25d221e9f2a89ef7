"""Privacy: /privacy, the retention job, no personal data in logs, and Telegram deleting the form's
messages after a submit. Notifications are submitted through the real sign-in and form."""

from __future__ import annotations

import dataclasses
import io
import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.assistant import Assistant
from bot.ops.logs import setup_logging
from bot.ops.retention import DAY, apply_retention
from config.settings import Settings
from tests.conftest import Chat
from tests.signin_support import REGISTRY, SLO, Mailbox, fill_form, fill_in_chat, sign_in
from tests.telegram_support import TelegramHarness, buttons_of

CHILD = "Zebedee Quillfeather-7731"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    path = tmp_path / "liaison_officers.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    return dataclasses.replace(settings, registry_file=str(path))


@pytest.fixture
def mailbox(assistant: Assistant) -> Mailbox:
    return Mailbox(assistant)


async def submit(chat: Chat, mailbox: Mailbox) -> str:
    """Sign in, fill the form with CHILD as the child's name, submit; returns the reference."""
    await sign_in(chat, mailbox, SLO, start="/notify")
    await fill_in_chat(chat, {"summary": f"{CHILD} was hurt at home."})
    assert CHILD in chat.text  # the summary shows it
    await chat.press("Submit")
    reference = chat.replies[-1].id
    assert reference and reference.startswith("SIN-")
    return reference


async def database_text(assistant: Assistant) -> str:
    """Every value in every table, as one string. On SQLite, read from the file by a connection
    of its own (what anyone with the file would see); on PostgreSQL, from the test's schema."""
    db = assistant.storage.db
    if db.dialect == "postgresql":
        tables = await db.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        )
        values = []
        for (table,) in tables:
            values += [str(v) for row in await db.fetch(f"SELECT * FROM {table}") for v in row]
        return " ".join(values)
    database = sqlite3.connect(assistant.settings.database)
    try:
        names = [
            r[0] for r in database.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        return " ".join(
            str(value)
            for table in names
            for row in database.execute(f"SELECT * FROM {table}")
            for value in row
        )
    finally:
        database.close()


# --- /privacy ---------------------------------------------------------------------------------


async def test_privacy_says_what_where_how_long_and_who(assistant: Assistant, chat: Chat) -> None:
    assistant.settings = dataclasses.replace(
        assistant.settings,
        retention=dataclasses.replace(
            assistant.settings.retention,
            draft_days=3,
            delivered_content_days=45,
            unanswered_days=60,
        ),
    )
    assistant.conversation.settings = assistant.settings
    await chat.say("/privacy")
    text = chat.text
    assert "untouched for 3 days is deleted" in text
    assert "deleted from my database 45 days after it has been delivered" in text
    assert "kept for 60 days" in text
    for address in assistant.settings.mail.board_addresses:
        assert address in text
    assert "a copy goes to the address you signed in with" in text
    assert "only the child's initials, date of birth" in text
    assert "The full name and home address are not asked" in text
    assert "hashed" in text and "expires after 10 minutes" in text
    assert "partnership's own server" in text
    assert "I delete the form's questions and your answers from the chat" in text
    assert assistant.settings.partnership_email in text


# --- retention --------------------------------------------------------------------------------


async def test_retention_deletes_content_keeps_the_record(
    assistant: Assistant, settings: Settings, chat: Chat, mailbox: Mailbox
) -> None:
    reference = await submit(chat, mailbox)
    [email] = [m for m in await mailbox.new_messages() if reference in str(m["Subject"])]
    assert CHILD in email.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    drafting = Chat(assistant, "test:drafting")
    await sign_in(drafting, mailbox, "kim.checker@example.org", start="/notify")
    await drafting.press("Start")
    now = time.time()

    early = await apply_retention(assistant.storage, settings, now + 6 * DAY)
    # Too early for the notification and the draft; sign-in codes and their emails go sooner.
    assert (early.notification_contents, early.drafts) == (0, 0)
    assert (early.codes, early.signin_emails) == (2, 2)
    assert CHILD in await database_text(assistant)
    # The .eml copies go with their rows: the two code emails now, the notification later.
    folder = settings.path(settings.mail.outbox_dir)
    assert early.eml_files == 2
    assert [p.name for p in folder.glob("*.eml")] == [f"{reference}.eml"]

    later = await apply_retention(assistant.storage, settings, now + 31 * DAY)
    assert (later.notification_contents, later.drafts, later.eml_files) == (1, 1, 1)
    assert CHILD not in await database_text(assistant)
    assert list(folder.iterdir()) == []
    await chat.say("/status")  # the record stays: reference, date and delivery state
    assert reference in chat.text and "sent on" in chat.text
    await drafting.say("/form start")  # a button of the deleted draft
    assert "no longer open" in drafting.text
    again = await apply_retention(assistant.storage, settings, now + 32 * DAY)
    assert not any(dataclasses.astuple(again)), again


async def test_retention_deletes_old_unanswered_questions(
    assistant: Assistant, settings: Settings, chat: Chat
) -> None:
    await chat.say("does our school qualify for council tax relief")
    now = time.time()
    early = await apply_retention(assistant.storage, settings, now + 89 * DAY)
    assert early.unanswered == 0
    assert len(await assistant.storage.questions.unanswered()) == 1
    later = await apply_retention(assistant.storage, settings, now + 91 * DAY)
    assert later.unanswered == 1
    assert await assistant.storage.questions.unanswered() == []


async def test_undelivered_notification_keeps_its_content(
    assistant: Assistant, settings: Settings, chat: Chat, mailbox: Mailbox
) -> None:
    await sign_in(chat, mailbox, SLO, start="/notify")
    await fill_in_chat(chat, {"summary": f"{CHILD} was hurt at home."})
    await chat.press("Submit")  # queued, and no worker runs: not delivered
    removed = await apply_retention(assistant.storage, settings, time.time() + 90 * DAY)
    assert removed.notification_contents == 0
    assert CHILD in await database_text(assistant)


# --- logs -------------------------------------------------------------------------------------


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name} {record.getMessage()}")


@pytest.fixture
def records(assistant: Assistant) -> Iterator[Records]:
    """Every log record of the test, at DEBUG, with the project's own logging set-up."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    debug = dataclasses.replace(assistant.settings, log_level="DEBUG")
    stream_handler = setup_logging(debug, io.StringIO())
    handler = Records()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)
    root.removeHandler(stream_handler)
    root.handlers[:0], root.level = saved[0], saved[1]
    root.setLevel(saved[1])


async def test_no_child_name_or_code_in_any_log_record(
    assistant: Assistant, settings: Settings, chat: Chat, mailbox: Mailbox, records: Records
) -> None:
    await chat.say("/notify")
    await chat.say(SLO)
    code = await mailbox.code_for(SLO)
    await chat.say(code)
    await fill_in_chat(chat, {"child_name": CHILD, "summary": f"{CHILD} was hurt at home."})
    await chat.press("Submit")
    reference = chat.replies[-1].id
    assert reference
    await mailbox.new_messages()
    await apply_retention(assistant.storage, settings, time.time() + 31 * DAY)
    logged = "\n".join(records.messages)
    assert reference in logged and "signed in" in logged  # the logs were captured
    assert CHILD not in logged
    assert "Quillfeather" not in logged
    assert code not in logged
    assert SLO not in logged


# --- Telegram: the form's messages deleted after the submit ------------------------------------


class TelegramUser:
    """One user in Telegram. Knows the ids the harness gives: its own messages are numbered
    1, 2, 3... (a button press uses a number too) and the bot's from 1000 in sending order."""

    def __init__(self, harness: TelegramHarness, chat_id: int) -> None:
        self.harness = harness
        self.chat_id = chat_id
        self.numbered = 0
        self.typed: list[int] = []
        self.last_sent: list[dict[str, Any]] = []

    def bot_messages(self) -> int:
        return len(self.harness.api.method_calls("sendMessage"))

    async def say(self, text: str) -> None:
        self.numbered += 1
        self.typed.append(self.numbered)
        self.last_sent = await self.harness.send_text(self.chat_id, text)

    async def press(self, data: str) -> None:
        self.numbered += 1
        self.last_sent = await self.harness.press(self.chat_id, data)

    def last(self) -> tuple[str, dict[str, str]]:
        message = self.last_sent[-1]
        buttons = {b["text"]: b.get("callback_data", "") for b in buttons_of(message)}
        return str(message["text"]), buttons


async def telegram_code(mailbox: Mailbox) -> str:
    return await mailbox.code_for(SLO)


async def test_telegram_deletes_the_form_messages_after_submit(
    assistant: Assistant, telegram: TelegramHarness, mailbox: Mailbox
) -> None:
    user = TelegramUser(telegram, 4242)
    await user.say("/start")
    await user.say("/notify")
    first_bot, first_user = user.bot_messages(), user.numbered + 1
    await user.say(SLO)
    await user.say(await telegram_code(mailbox))
    form = assistant.conversation.knowledge.form
    await fill_form(
        form, user.last, user.say, user.press, {"summary": f"{CHILD} was hurt at home."}
    )
    assert CHILD in user.last()[0]
    last_bot, answers = user.bot_messages(), [n for n in user.typed if n >= first_user]
    await user.press(user.last()[1]["Submit"])

    [call] = telegram.api.method_calls("deleteMessages")
    assert call["chat_id"] == 4242
    bot_ids = [1000 + i for i in range(first_bot, last_bot)]
    assert sorted(call["message_ids"]) == sorted(bot_ids + answers)
    submitted = 1000 + last_bot  # the reply to Submit: the reference stays in the chat
    assert "SIN-" in user.last()[0] and submitted not in call["message_ids"]
    assert 1000 not in call["message_ids"] and 1 not in call["message_ids"]  # before the form


async def test_telegram_keeps_messages_when_deletion_is_off(
    assistant: Assistant, telegram: TelegramHarness, mailbox: Mailbox
) -> None:
    settings = assistant.settings
    assistant.settings = dataclasses.replace(
        settings, telegram=dataclasses.replace(settings.telegram, delete_form_messages=False)
    )
    user = TelegramUser(telegram, 77)
    await user.say("/notify")
    await user.say(SLO)
    await user.say(await telegram_code(mailbox))
    await fill_form(assistant.conversation.knowledge.form, user.last, user.say, user.press, {})
    await user.press(user.last()[1]["Submit"])
    assert "SIN-" in user.last()[0]
    assert telegram.api.method_calls("deleteMessages") == []


async def test_a_sign_in_left_half_way_for_a_day_is_forgotten(
    assistant: Assistant, settings: Settings
) -> None:
    left, recent = Chat(assistant, "test:left"), Chat(assistant, "test:recent")
    for chat in (left, recent):
        await chat.say("/signin")
        await chat.say(SLO)  # the address typed: kept while the sign-in waits for its code
    now = time.time()
    await assistant.storage.db.execute(
        "UPDATE sessions SET updated_at = ? WHERE chat = ?", (now - 25 * 3600, left.chat)
    )
    removed = await apply_retention(assistant.storage, settings, now)
    assert removed.short_flows == 1
    forgotten = await assistant.storage.sessions.load_session(left.chat)
    assert (forgotten.flow, forgotten.data) == (None, {})
    assert (await assistant.storage.sessions.load_session(recent.chat)).flow == "signin"
    # Back the next day, a question is just answered: no step from yesterday follows it.
    await left.say("what is a rapid review")
    assert left.replies[-1].id == "rapid-review"
    assert "signing in" not in left.text
