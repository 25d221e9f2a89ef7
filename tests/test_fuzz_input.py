"""Hostile input at every step of the notification form, and at the console's numbered prompts:
digits of other scripts ("²", "①", "٣"), lone surrogates (undecodable console input), control
characters and 100,000-character answers. Nothing may end in an apology or a crash, and what the
mailer could not carry is refused at the step with a message that says why."""

from __future__ import annotations

import copy
import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.app import build_assistant
from bot.assistant import Assistant
from bot.mail.message import build_message
from config.settings import Settings
from handlers.notification.answers import AnswerError, check_sendable, pick_choice
from knowledge.form import Field
from tests.cli import ROOT, main_env
from tests.conftest import Chat
from tests.signin_support import REGISTRY, SLO, sample_answer
from tests.web_support import new_page, served_web

FUZZ = (
    "²",
    "①",
    "٣",  # an Arabic-Indic three: a digit to isdigit(), not what "3" means here
    "1²",
    "², ³",
    "1 ²",
    "³/¹/2020",
    "١٢/٠٣/٢٠٢٠",
    "9" * 5000,  # int() refuses runs longer than 4,300 digits
    "1" * 100_000,
    "x" * 100_000,
    "what is an SCR " * 7000,
    "\ud800",
    "Zebedee \udcff Quigley",
    "\udcff\udcfe",
    "a\x00b",
    "\x1b[31mred",
    "😀",
    "",
    " ",
)
UNREADABLE = "could not be read"
REFUSED_UNREADABLE: list[str] = []


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    registry = tmp_path / "liaison_officers.yaml"
    registry.write_text(REGISTRY, encoding="utf-8")
    return dataclasses.replace(settings, registry_file=str(registry))


async def fuzz_here(chat: Chat, assistant: Assistant) -> int:
    """Send every fuzz input from the chat's current state (restored after each); returns how
    many were answered. Fails on an apology."""
    storage = assistant.storage
    saved = await storage.sessions.load_session(chat.chat)
    replies = chat.replies
    typed_answer = replies[-1].kind == "question" and replies[-1].expects_text
    for text in FUZZ:
        await chat.say(text)
        if typed_answer and "\udcff" in text:  # a typed answer: refused, saying why
            assert UNREADABLE in chat.text, chat.text
            REFUSED_UNREADABLE.append(text)
        assert all(r.kind != "error" for r in chat.replies), (text[:20], chat.text)
        # Nothing the mailer could not carry was stored as an answer.
        answers = (await storage.sessions.load_session(chat.chat)).data.get("answers", {})
        for value in answers.values():
            for part in value if isinstance(value, list) else [value]:
                if isinstance(part, str):
                    check_sendable(part)
        await storage.sessions.save_session(copy.deepcopy(saved))
    chat.replies = replies
    return len(FUZZ)


async def test_every_step_of_the_form_survives_hostile_input(assistant: Assistant) -> None:
    slo = Chat(assistant)
    await assistant.storage.signin.link_chat(slo.chat, SLO, time.time())
    await slo.say("/notify")
    tried = await fuzz_here(slo, assistant)  # the intro
    form = assistant.conversation.knowledge.form
    steps = 1
    # Walk the form one answer at a time, fuzzing each step before answering it properly.
    for _ in range(3 * len(form.fields)):
        last = slo.replies[-1]
        tried += await fuzz_here(slo, assistant)
        steps += 1
        if last.kind == "summary":
            break
        await fill_one(slo)
    assert slo.replies[-1].kind == "summary", slo.text
    assert len(REFUSED_UNREADABLE) >= 10  # checked at every typed-answer step
    assert steps > len(form.fields) // 2 and tried == steps * len(FUZZ)
    await slo.press("Submit")
    assert "SIN-" in slo.text
    item = await assistant.storage.outbox.claim_next_email(time.time(), 60)
    assert item is not None
    build_message(item.email, assistant.settings.mail.from_address).as_bytes()  # can be sent


async def fill_one(chat: Chat) -> None:
    """Give the current step one proper answer, as a user would."""
    reply = chat.replies[-1]
    labels = [b.label for b in reply.buttons]
    if "Start" in labels:
        await chat.press("Start")
    elif reply.kind == "confirm":
        await chat.press("Yes")
    else:
        form = chat.assistant.conversation.knowledge.form
        asked = [f for f in form.fields if f.prompt in reply.text]
        assert asked, reply.text
        await chat.say(sample_answer(max(asked, key=lambda f: len(f.prompt))))


def test_unreadable_and_control_characters_are_refused_with_a_reason() -> None:
    with pytest.raises(AnswerError, match=UNREADABLE):
        check_sendable("Zebedee \udcff")
    with pytest.raises(AnswerError, match="control character"):
        check_sendable("a\x00b")
    check_sendable("Zoë Ó'Brien\tand 😀\nnew line")  # ordinary text, any script: accepted


def test_choice_numbers_are_ascii_digits_only() -> None:
    field = Field("f", "Choose", "Which one?", "", "choice", True, choices=("A", "B", "C"))
    assert pick_choice(field, "2") == "B"
    for typed in ("²", "①", "٢", "2" * 5000, "0", "4"):
        assert pick_choice(field, typed) is None, typed


@pytest.mark.parametrize("locale", ["C", "C.UTF-8"])
@pytest.mark.slow  # main.py as a process
def test_console_survives_odd_digits_and_undecodable_bytes(tmp_path: Path, locale: str) -> None:
    typed = (
        "\n".join(
            ["/reviews", "²", "/reviews", "①", "/reviews", "9" * 5000, "/reviews", "٣", "/reviews"]
        ).encode()
        + b"\n\xff\xfe broken\n/reviews\n2\nquit\n"
    )
    env = {**main_env(tmp_path), "LC_ALL": locale, "PYTHONIOENCODING": ""}
    run = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "chat"],
        input=typed,
        capture_output=True,
        env={k: v for k, v in env.items() if v},
        cwd=tmp_path,
        timeout=120,
    )
    out = run.stdout.decode("utf-8", "replace")
    assert run.returncode == 0, run.stderr.decode("utf-8", "replace")[-2000:]
    assert "Traceback" not in run.stderr.decode("utf-8", "replace")
    assert "Sorry, something went wrong" not in out
    assert "== Rapid review ==" in out  # a real "2" still picks the second option
    assert out.rstrip().endswith("Goodbye.")
    assert os.path.exists(tmp_path / "assistant.db")


async def test_sign_in_steps_survive_hostile_input(assistant: Assistant) -> None:
    chat = Chat(assistant, "test:fuzz-signin")
    await chat.say("/signin")
    await fuzz_here(chat, assistant)  # the address step
    await chat.say(SLO)
    assert "6-digit code" in chat.text
    await fuzz_here(chat, assistant)  # the code step
    await chat.say("١٢٣٤٥٦")  # six digits of another script: not a code, and not a wrong one
    assert "A code is 6 digits" in chat.text and "tries left" not in chat.text


async def test_a_nul_in_a_question_gets_the_usual_reply_on_either_database(
    settings: Settings, database_target: str
) -> None:
    # PostgreSQL refuses a NUL in any text: the question kept as unanswered failed, and the
    # person got the apology instead of the fallback.
    assistant = await build_assistant(dataclasses.replace(settings, database=database_target))
    try:
        chat = Chat(assistant)
        await chat.say("when does the mobile\x00 library visit the estate")
        plain = Chat(assistant, "test:plain")
        await plain.say("when does the mobile library visit the estate")
        assert [r.kind for r in chat.replies] == [r.kind for r in plain.replies]
        assert "went wrong" not in chat.text
    finally:
        await assistant.close()


async def test_a_nul_in_a_web_chat_message_is_answered_on_either_database(
    settings: Settings, database_target: str
) -> None:
    # The web chat keeps the person's message in its transcript: the same NUL broke that write.
    assistant = await build_assistant(dataclasses.replace(settings, database=database_target))
    try:
        async with served_web(assistant) as (_, base):
            page = new_page(base)
            await page.connect()
            replies = await page.ask("when does the mobile\x00 library visit the estate")
            await page.close()
    finally:
        await assistant.close()
    assert replies and "went wrong" not in " ".join(r["text"] for r in replies)
