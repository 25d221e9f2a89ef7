"""Hand-off to the partnership: asked in Telegram or by email, answered by a staff email,
relayed exactly once; forged references ignored; reminders, closing and /unanswered.

Real parts: pymap holds the assistant's imap_mailbox, aiosmtpd receives what the outbox sends, the
Telegram side is python-telegram-bot's Application over HTTP to the fake Bot API."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from bot.assistant import Assistant
from bot.core.replies import Incoming
from config.registry import load_registry
from config.settings import Settings, default_settings
from tests.conftest import Chat
from tests.email_support import (
    PARTNERSHIP,
    PRACTITIONER,
    STAFF,
    EmailWorld,
    Mailbox,
    email_settings,
    reply_to,
    text_of,
    written,
)
from tests.signin_support import REGISTRY, SLO
from tests.telegram_support import TelegramHarness, buttons_of
from tests.test_mailer import Recorder

UNANSWERABLE = "How do I renew my parking permit at the civic offices?"
REFERENCE = re.compile(r"Q-\d{4}-\d{4}")


@pytest.fixture
def settings(settings: Settings, imap_mailbox: Mailbox, smtp_recorder: Recorder) -> Settings:
    """The shared fixtures' settings, with the email channel on (so `assistant` and
    `telegram` from conftest run with it)."""
    return email_settings(settings, imap_mailbox, smtp_recorder.port)  # type: ignore[attr-defined]


@pytest.fixture
async def world(
    assistant: Assistant, imap_mailbox: Mailbox, smtp_recorder: Recorder
) -> AsyncIterator[EmailWorld]:
    yield EmailWorld(assistant, imap_mailbox, smtp_recorder)


def to(messages: list[EmailMessage], address: str) -> list[EmailMessage]:
    return [m for m in messages if m["To"] == address]


def option_number(message: EmailMessage, label: str) -> str:
    line = next(x for x in text_of(message).splitlines() if x.strip().endswith(label))
    return line.strip().split(".")[0]


async def ask_by_email(world: EmailWorld) -> tuple[str, EmailMessage]:
    """A practitioner's question goes to the partnership by email; (reference, its email)."""
    [fallback] = await world.send(written(PRACTITIONER, UNANSWERABLE, "Permit"))
    assert "Ask the partnership" in text_of(fallback)
    number = option_number(fallback, "Ask the partnership")
    [confirm] = await world.send(reply_to(fallback, PRACTITIONER, number))
    assert "does not name a child" in text_of(confirm)
    assert UNANSWERABLE in text_of(confirm)
    sent = await world.send(reply_to(confirm, PRACTITIONER, option_number(confirm, "partnership")))
    [receipt] = to(sent, PRACTITIONER)
    [question] = to(sent, PARTNERSHIP)
    found = REFERENCE.search(text_of(receipt))
    assert found is not None
    return found[0], question


async def test_asked_in_telegram_answered_by_staff_email_relayed_to_the_chat(
    telegram: TelegramHarness, world: EmailWorld
) -> None:
    [fallback] = await telegram.send_text(42, UNANSWERABLE)
    offer = next(b for b in buttons_of(fallback) if b["text"] == "Ask the partnership")
    [confirm] = await telegram.press(42, offer["callback_data"])
    assert "does not name a child" in confirm["text"]
    send = next(b for b in buttons_of(confirm) if "Send" in b["text"])
    [receipt] = await telegram.press(42, send["callback_data"])
    found = REFERENCE.search(receipt["text"])
    assert found is not None
    reference = found[0]

    [question] = to(await world.turn(), PARTNERSHIP)
    assert reference in question["Subject"]
    assert reference in question["Message-ID"]
    assert UNANSWERABLE in text_of(question)
    assert question["Reply-To"] == world.assistant.settings.mail.from_address

    before = len(telegram.api.calls)
    answer = reply_to(question, PARTNERSHIP, "You renew it online on the council's website.")
    assert to(await world.send(answer), PRACTITIONER) == []
    relayed = telegram.api.method_calls("sendMessage")[-1]
    assert len(telegram.api.calls) > before
    assert relayed["chat_id"] == 42
    assert "Answer from the partnership's staff" in relayed["text"]
    assert "renew it online" in relayed["text"]
    assert "not by the assistant" in relayed["text"]
    assert "wrote:" not in relayed["text"], "quoted history is not relayed"

    # The same reply again, and a second reply: nothing more reaches the chat.
    count = len(telegram.api.method_calls("sendMessage"))
    world.mailbox.deliver(answer)
    await world.send(reply_to(question, STAFF, "Also, bring proof of address."))
    assert len(telegram.api.method_calls("sendMessage")) == count


async def test_asked_by_email_answered_by_email(world: EmailWorld) -> None:
    reference, question = await ask_by_email(world)
    sent = await world.send(reply_to(question, STAFF, "Renew it online.\n\nSam\nBBSCP team"))
    [relayed] = to(sent, PRACTITIONER)
    assert relayed["Subject"] == "Re: Permit", "in the thread the person asked in"
    assert relayed["In-Reply-To"] is not None
    assert relayed["In-Reply-To"] in world.inbound_ids
    assert reference in text_of(relayed)
    assert "Renew it online." in text_of(relayed)
    assert "partnership's staff" in text_of(relayed).lower()
    assert "not by the assistant" in text_of(relayed)
    assert "wrote:" not in text_of(relayed)
    assert relayed["Auto-Submitted"] == "auto-replied"
    assert await world.turn() == []


async def test_forged_reference_from_non_staff_is_ignored(world: EmailWorld) -> None:
    reference, question = await ask_by_email(world)
    subject = f"Re: {question['Subject']}"
    for forger in ("mallory@gmail.com", "someone.else@nhs.net"):
        sent = await world.send(written(forger, "Forged answer: call me.", subject))
        assert sent == [], forger
    [handoff] = await world.assistant.storage.handoffs.handoffs("open")
    assert handoff.reference == reference
    # Staff quoting only the reference (a new email, not a reply) is accepted.
    sent = await world.send(written(STAFF, "The real answer.", f"About {reference}"))
    [relayed] = to(sent, PRACTITIONER)
    assert "The real answer." in text_of(relayed)
    assert "Forged" not in text_of(relayed)


async def test_reminded_then_closed_and_the_person_is_told(world: EmailWorld) -> None:
    reference, question = await ask_by_email(world)
    desk = world.channel.desk
    desk.clock = lambda: time.time() + 49 * 3600
    [reminder] = await world.turn()
    assert reminder["To"] == PARTNERSHIP
    assert reminder["Subject"].startswith("Reminder:")
    assert reminder["In-Reply-To"] == question["Message-ID"]
    assert await world.turn() == [], "one reminder"
    desk.clock = lambda: time.time() + 15 * 86400
    [closed] = await world.turn()
    assert closed["To"] == PRACTITIONER
    assert "closed" in text_of(closed)
    assert reference in text_of(closed)
    # A late reply to the reminder finds a closed question: nothing is relayed.
    assert await world.send(reply_to(reminder, STAFF, "Sorry for the delay")) == []


async def test_open_handoffs_listed_in_unanswered_for_administrators(
    world: EmailWorld, assistant: Assistant
) -> None:
    reference, _ = await ask_by_email(world)
    admin = Chat(assistant, "test:admin")
    await assistant.storage.signin.link_chat(admin.chat, "board.admin@example.org", time.time())
    await admin.say("/unanswered")
    assert reference in admin.text
    assert "1 question waiting for the partnership" in admin.text


async def test_no_offer_without_email_settings(chat: Chat, settings: Settings) -> None:
    assert settings.email is not None  # this module's fixture; the plain one has none
    chat.assistant.settings = chat.assistant.conversation.settings = default_settings()
    await chat.say(UNANSWERABLE)
    assert chat.replies[-1].kind == "fallback"
    assert all(b.label != "Ask the partnership" for b in chat.buttons)


async def test_settled_handoff_text_forgotten_after_retention(world: EmailWorld) -> None:
    _, question = await ask_by_email(world)
    await world.send(reply_to(question, STAFF, "Renew it online."))
    [handoff] = await world.assistant.storage.handoffs.handoffs("answered")
    assert handoff.question == UNANSWERABLE
    days = world.assistant.settings.retention.unanswered_days
    world.channel.desk.clock = lambda: time.time() + (days + 1) * 86400
    await world.turn()
    [handoff] = await world.assistant.storage.handoffs.handoffs("answered")
    assert (handoff.question, handoff.answer) == ("", None)
    assert handoff.reference.startswith("Q-")


@pytest.mark.parametrize("typed", ["Cancel!", "stop", "/cancel"])
async def test_cancel_at_the_confirmation_sends_nothing(
    chat: Chat, assistant: Assistant, typed: str
) -> None:
    await chat.say(UNANSWERABLE)
    await chat.press("Ask the partnership")
    assert "Send to the partnership" in [b.label for b in chat.buttons]
    await chat.say(typed)
    assert chat.replies[-1].kind == "cancelled"
    assert await assistant.storage.handoffs.handoffs("open") == []


@pytest.mark.parametrize(("old", "label"), [("send", "Send"), ("cancel", "Cancel")])
async def test_old_handoff_buttons_act_like_the_new_ones(
    assistant: Assistant, old: str, label: str
) -> None:
    """Until this release the confirmation's buttons sent the plain words send and cancel;
    now "/handoff send" and "/handoff cancel", which the flow claims."""
    outcomes = []
    for chat, new in ((Chat(assistant, "test:new"), True), (Chat(assistant, "test:old"), False)):
        await chat.say(UNANSWERABLE)
        await chat.press("Ask the partnership")
        assert [b.data for b in chat.buttons] == ["/handoff send", "/handoff cancel"]
        if new:
            await chat.press(label)
        else:
            chat.replies = await assistant.conversation.handle(Incoming(chat.chat, old, True))
        outcomes.append((chat.replies[-1].kind, REFERENCE.sub("Q-", chat.text)))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == ("handoff_sent" if old == "send" else "cancelled")


async def test_a_handoff_button_after_it_was_sent_sends_nothing_more(
    chat: Chat, assistant: Assistant
) -> None:
    await chat.say(UNANSWERABLE)
    await chat.press("Ask the partnership")
    send = next(b.data for b in chat.buttons if b.label.startswith("Send"))
    await chat.press("Send")
    await assistant.conversation.handle(Incoming(chat.chat, send, True))
    chat.replies = await assistant.conversation.handle(Incoming(chat.chat, send, True))
    assert chat.replies[-1].kind == "handoff_closed"
    assert len(await assistant.storage.handoffs.handoffs("open")) == 1


async def test_handoff_during_a_draft_says_what_is_in_progress(
    chat: Chat, assistant: Assistant, tmp_path: Path
) -> None:
    """A stale "Ask the partnership" pressed mid-form must not throw the draft away."""
    registry = tmp_path / "liaison_officers.yaml"
    registry.write_text(REGISTRY, encoding="utf-8")
    await assistant.access.use_registry(load_registry(registry), assistant.storage, "a test")
    await assistant.storage.signin.link_chat(chat.chat, SLO, time.time())
    await chat.say("/notify")
    await chat.press("Start")
    await chat.press("Yes")  # the agency, pre-filled
    question = chat.replies[-1].text
    await chat.say("/handoff")
    assert "You have a notification draft in progress" in chat.text
    assert question in chat.text, "the question it was at, asked again"
    await chat.say("/handoff What is the threshold for a rapid review, please?")
    assert "notification draft in progress" in chat.text


@pytest.mark.parametrize("text", ["can I speak to a human?", "/contact"])
async def test_asking_for_a_person_gives_the_partnership_and_the_handoff(
    chat: Chat, text: str
) -> None:
    await chat.say(text)
    reply = chat.replies[-1]
    assert chat.assistant.settings.partnership_email in reply.text
    await chat.press("Ask the partnership")
    assert chat.replies[-1].kind == "handoff_question"
    await chat.say(UNANSWERABLE)
    assert chat.replies[-1].kind == "handoff_confirm"
    assert UNANSWERABLE in chat.replies[-1].text


async def test_asking_for_a_person_without_email_gives_the_address(
    chat: Chat, settings: Settings
) -> None:
    chat.assistant.settings = chat.assistant.conversation.settings = default_settings()
    await chat.say("can I talk to a real person")
    reply = chat.replies[-1]
    assert default_settings().partnership_email in reply.text
    assert [b.label for b in chat.buttons] == ["A child may be at risk"]


SIGNATURE = "Sam Staff\nPartnership Officer\nBedford Borough Council\nTel: 01234 567890"


@pytest.mark.parametrize(
    ("path", "closing"),
    [
        ("a reply in the thread", "Kind regards,\n"),
        ("a reply in the thread", "Thanks\n"),
        ("a new email naming the reference", "Many thanks,\n\n"),
        ("a new email naming the reference", ""),  # just the name, as From gives it
    ],
)
async def test_the_staff_signature_is_not_relayed(
    world: EmailWorld, path: str, closing: str
) -> None:
    reference, question = await ask_by_email(world)
    body = f"Renew it online, at the civic offices' page.\n\n{closing}{SIGNATURE}\n"
    if path == "a reply in the thread":
        answer = reply_to(question, STAFF, body)
    else:
        answer = written(STAFF, body, f"Answer to {reference}")
    del answer["From"]
    answer["From"] = f"Sam Staff <{STAFF}>"
    [relayed] = to(await world.send(answer), PRACTITIONER)
    said = text_of(relayed)
    assert "Renew it online, at the civic offices' page." in said
    for line in ("Partnership Officer", "01234 567890", "Sam Staff", "regards", "Thanks\n"):
        assert line not in said, (path, line)
