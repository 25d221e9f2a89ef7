"""Recovery from a permanent refusal (a "554 relay denied" or "550 mailbox unavailable"): the
email is kept as an .eml file, the SLO and the administrators are told, and after the fix
`/outbox retry REF` or `python main.py outbox retry REF` sends it, exactly once. A real aiosmtpd
server on 127.0.0.1 refuses, then accepts."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import build_assistant
from bot.assistant import Assistant
from bot.core.replies import Reply
from config.settings import Settings
from tests.cli import ROOT, main_env
from tests.conftest import Chat
from tests.signin_support import ADMIN, REGISTRY, SLO, fill_in_chat
from tests.test_mailer import Recorder, smtp_server, with_smtp


@pytest.fixture
def recorder() -> Recorder:
    return Recorder(refuse_recipients=True)


@pytest.fixture
async def relay(recorder: Recorder) -> AsyncIterator[int]:
    with smtp_server(recorder) as port:
        yield port


@pytest.fixture
async def assistant(settings: Settings, tmp_path: Path, relay: int) -> AsyncIterator[Assistant]:
    registry = tmp_path / "liaison_officers.yaml"
    registry.write_text(REGISTRY, encoding="utf-8")
    settings = with_smtp(dataclasses.replace(settings, registry_file=str(registry)), relay)
    assistant = await build_assistant(settings)
    yield assistant
    await assistant.close()


class Phones:
    """What the channel pushes to each chat (news nobody asked for)."""

    def __init__(self) -> None:
        self.by_chat: dict[str, list[str]] = {}

    async def push(self, chat: str, replies: list[Reply]) -> None:
        self.by_chat.setdefault(chat, []).extend(r.text for r in replies)


async def submitted(assistant: Assistant) -> tuple[Chat, Chat, Phones, str]:
    phones = Phones()
    assistant.conversation.push = phones.push
    slo, admin = Chat(assistant, "test:slo"), Chat(assistant, "test:admin")
    await assistant.storage.signin.link_chat(slo.chat, SLO, time.time())
    await assistant.storage.signin.link_chat(admin.chat, ADMIN, time.time())
    await slo.say("/notify")
    await fill_in_chat(slo, {})
    await slo.press("Submit")
    # What is true at this moment: queued, not yet at the mail server.
    assert "I'll tell you when the partnership's mail server has it" in slo.text
    assert "being emailed" not in slo.text
    reference = str(slo.replies[-1].id)
    await slo.say("/status")
    assert f"{reference}, submitted" in slo.text and "does not have it yet" in slo.text
    return slo, admin, phones, reference


async def test_refused_then_fixed_then_retried_is_delivered_exactly_once(
    assistant: Assistant, recorder: Recorder
) -> None:
    slo, admin, phones, reference = await submitted(assistant)
    outbox = assistant.outbox
    assert await outbox.run_once() == 0  # 550: refused for good

    copy = assistant.settings.path(assistant.settings.mail.outbox_dir) / f"{reference}.eml"
    assert copy.exists() and stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert stat.S_IMODE(copy.parent.stat().st_mode) == 0o700
    kept = email.message_from_bytes(copy.read_bytes(), policy=email.policy.default)
    assert str(kept["Subject"]).startswith(reference)
    [told_slo] = phones.by_chat[slo.chat]
    assert reference in told_slo and "administrators have been told" in told_slo
    [told_admin] = phones.by_chat[admin.chat]
    assert f"/outbox retry {reference}" in told_admin and str(copy) in told_admin
    await slo.say("/status")
    assert "not sent: the mail server refused it (550)" in slo.text

    assert await outbox.run_once() == 0  # not retried by itself
    await slo.say(f"/outbox retry {reference}")
    assert "Only partnership administrators" in slo.text
    await admin.say("/outbox")
    assert reference in admin.text and "refused (SMTPRecipientsRefused 550)" in admin.text

    recorder.refuse_recipients = False  # the relay is fixed
    await admin.press(f"Retry {reference}")
    assert "queued again" in admin.text
    assert await outbox.run_once() == 1
    assert await outbox.run_once() == 0
    assert len(recorder.received) == 1
    assert str(recorder.received[0].message["Subject"]).startswith(reference)
    assert "reached the partnership's mail server" in phones.by_chat[slo.chat][-1]
    await slo.say("/status")
    assert "sent on" in slo.text
    await admin.say(f"/outbox retry {reference}")  # nothing refused any more
    assert "No refused email has the reference" in admin.text
    await admin.say("/outbox")
    assert "No refused emails" in admin.text


@pytest.mark.slow  # main.py as a process
async def test_outbox_retry_from_the_command_line(
    assistant: Assistant, recorder: Recorder, tmp_path: Path
) -> None:
    _, _, _, reference = await submitted(assistant)
    assert await assistant.outbox.run_once() == 0
    env = {**main_env(tmp_path), "ASSISTANT_DATABASE": assistant.settings.database}

    def main(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, str(ROOT / "main.py"), "outbox", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)

    listed = main()
    assert listed.returncode == 0 and listed.stdout.startswith(f"{reference}: a notification")
    wrong = main("retry", "SIN-1999-0042")
    assert wrong.returncode == 1 and "No refused email" in wrong.stderr
    recorder.refuse_recipients = False
    retried = main("retry", reference)
    assert retried.returncode == 0, retried.stderr
    assert await assistant.outbox.run_once() == 1
    assert await assistant.outbox.run_once() == 0
    assert len(recorder.received) == 1


async def test_a_refused_signin_email_names_its_recipient_and_a_human_reference(
    assistant: Assistant,
) -> None:
    phones = Phones()
    assistant.conversation.push = phones.push
    chat = Chat(assistant, "test:someone")
    await chat.say("/signin")
    await chat.say(SLO)
    assert await assistant.outbox.run_once() == 0
    [told] = phones.by_chat[chat.chat]
    year = time.localtime().tm_year
    assert f"sign-in code to {SLO.lower()}" in told and f"CODE-{year}-0001" in told
    assert "mail-" not in told and "to the partnership" not in told
