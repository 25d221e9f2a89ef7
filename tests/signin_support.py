"""Test helpers for sign-in: a registry of made-up people, a clock the test moves, a mailbox that
reads the .eml files the outbox writes (the way an SLO reads their email), and a form filler that
answers the notification form the way a user would, in the console core or in Telegram."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from pathlib import Path

from bot.assistant import Assistant
from knowledge.form import Field, Form
from tests.conftest import Chat

SLO = "robin.tester@example.org"
SLO_NAME = "Robin Tester"
SLO_AGENCY = "Testshire Council, Children's Services"
OTHER_SLO = "kim.checker@example.org"
ADMIN = "admin.person@example.org"

REGISTRY = f"""
liaison_officers:
  - id: test-council
    name: {SLO_NAME}
    agency: "{SLO_AGENCY}"
    email: Robin.Tester@Example.org
    phone: "01234 111111"
  - id: test-health
    name: Kim Checker
    agency: Testshire Health Trust
    email: {OTHER_SLO}
administrators:
  - {ADMIN}
"""


class Clock:
    """Time as the sign-in code sees it; starts now and moves only when the test says so."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += minutes * 60


class Mailbox:
    """The .eml files the outbox has written, read once each, like new mail in an inbox."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.folder = Path(assistant.settings.path(assistant.settings.mail.outbox_dir))
        self.seen: set[Path] = set()

    async def new_messages(self) -> list[EmailMessage]:
        """Let the outbox deliver what is queued, then return the messages not read before."""
        await self.assistant.outbox.run_once()
        fresh = sorted(set(self.folder.glob("*.eml")) - self.seen) if self.folder.exists() else []
        self.seen.update(fresh)
        return [
            email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in fresh
        ]

    async def code_for(self, address: str) -> str:
        """The code in the one new email to `address`; fails unless there is exactly one."""
        to_address = [m for m in await self.new_messages() if address in str(m["To"]).lower()]
        assert len(to_address) == 1, f"expected one new email to {address}, got {len(to_address)}"
        body = to_address[0].get_body(("plain",))
        assert body is not None
        found = re.findall(r"\b\d{6}\b", body.get_content())
        assert len(found) == 1
        return str(found[0])


async def sign_in(chat: Chat, mailbox: Mailbox, address: str, start: str = "/signin") -> str:
    """Sign `chat` in as `address` through the real flow; returns the code that was used."""
    await chat.say(start)
    await chat.say(address)
    code = await mailbox.code_for(address.lower())
    await chat.say(code)
    assert "signed in" in chat.text, chat.text
    return code


# What the filler types, by field type, unless the test gives an answer for the field.
SAMPLES = {
    "text": "Sample answer",
    "long_text": "Sample details, long enough for the form's minimum length.",
    "date": "01/01/2025",
    "yes_no": "Yes",
    "multi_choice": "1",
    "email": "someone.else@example.org",
    "phone": "01234 567890",
    "age": "10",
}
CHILD_DOB = "01/01/2015"  # before the sample incident date, which may not precede it


def sample_answer(field: Field) -> str:
    if field.id == "child_dob":
        return CHILD_DOB
    if field.type == "choice":
        return field.options[0]
    return SAMPLES[field.type][: field.max_length]


async def fill_form(
    form: Form,
    last: Callable[[], tuple[str, dict[str, str]]],
    say: Callable[[str], Awaitable[object]],
    press: Callable[[str], Awaitable[object]],
    answers: dict[str, str],
) -> None:
    """Answer the open form up to its summary: Start, Yes to each pre-filled answer, and typed
    answers (from `answers`, else a sample). `last()` gives the last message's text and its
    buttons (label -> data); `press` sends a button's data."""
    for _ in range(3 * len(form.fields)):
        text, buttons = last()
        if "Submit" in buttons:
            return
        if "Start" in buttons:
            await press(buttons["Start"])
        elif "Is this right?" in text:
            await press(buttons["Yes"])
        else:
            asked = [f for f in form.fields if f.prompt in text]
            assert asked, f"not a question of the form: {text!r}"
            field = max(asked, key=lambda f: len(f.prompt))
            await say(answers.get(field.id) or sample_answer(field))
    raise AssertionError(f"the form did not reach its summary; last message: {last()[0]!r}")


async def fill_in_chat(chat: Chat, answers: dict[str, str]) -> None:
    """`fill_form` through the conversation core."""

    def last() -> tuple[str, dict[str, str]]:
        reply = chat.replies[-1]
        return reply.text, {b.label: b.data for b in reply.buttons}

    async def press(data: str) -> None:
        label = next(label for label, value in last()[1].items() if value == data)
        await chat.press(label)

    await fill_form(chat.assistant.conversation.knowledge.form, last, chat.say, press, answers)
