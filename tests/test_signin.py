"""Liaison Officer sign-in through the conversation core: codes read from the outbox's .eml
files, time moved by a test clock, the registry a YAML file the test writes and rewrites."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import time
from pathlib import Path

import pytest

from bot.app import build_assistant
from bot.assistant import Assistant
from bot.cli import main
from config.registry import RegistryChanged, load_registry
from config.settings import Settings, default_settings
from config.validation import KnowledgeError
from tests import yaml_support
from tests.cli import run_main
from tests.conftest import Chat, sqlite_only
from tests.signin_support import (
    ADMIN,
    OTHER_SLO,
    REGISTRY,
    SLO,
    SLO_AGENCY,
    SLO_NAME,
    Clock,
    Mailbox,
    fill_in_chat,
    sign_in,
)

SAME_ANSWER = "If {} is registered with the partnership, a 6-digit code has been sent to it."


@pytest.fixture
def registry_path(tmp_path: Path) -> Path:
    path = tmp_path / "liaison_officers.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    return path


@pytest.fixture
def settings(settings: Settings, registry_path: Path) -> Settings:
    return dataclasses.replace(settings, registry_file=str(registry_path))


@pytest.fixture
def clock(assistant: Assistant) -> Clock:
    clock = Clock(time.time())
    assistant.access.clock = clock
    return clock


@pytest.fixture
def mailbox(assistant: Assistant) -> Mailbox:
    return Mailbox(assistant)


def other(assistant: Assistant, name: str) -> Chat:
    return Chat(assistant, name)


# --- asking for a code ------------------------------------------------------------------------


async def test_notify_explains_only_the_slo_may_submit_and_asks_for_email(chat: Chat) -> None:
    await chat.say("/notify")
    assert "Only an agency's registered Liaison Officer (SLO) can submit" in chat.text
    assert "What is your work email address?" in chat.text
    assert [b.label for b in chat.buttons] == ["Cancel"]


async def test_registered_and_unregistered_addresses_get_the_same_answer(
    assistant: Assistant, mailbox: Mailbox, clock: Clock
) -> None:
    registered, stranger = other(assistant, "test:a"), other(assistant, "test:b")
    for chat, address in ((registered, SLO), (stranger, "nobody.here@example.org")):
        await chat.say("/signin")
        await chat.say(address)
        assert SAME_ANSWER.format(address) in chat.text
        assert assistant.settings.partnership_email in chat.text
    assert registered.text.replace(SLO, "X") == stranger.text.replace(
        "nobody.here@example.org", "X"
    )
    assert [b.label for b in registered.buttons] == [b.label for b in stranger.buttons]
    # No SMTP server is configured in tests: the reply says where the code can be found.
    outbox = assistant.settings.path(assistant.settings.mail.outbox_dir)
    assert f"emails are written as files to the folder {outbox}" in registered.text
    messages = await mailbox.new_messages()
    assert [str(m["To"]) for m in messages] == [SLO]
    assert "sign-in code" in str(messages[0]["Subject"])
    # The stranger's chat waits for a code like any other, and no code can work.
    await stranger.say("123456")
    assert "That code is not right. 4 tries left." in stranger.text


async def test_code_requests_are_limited_per_hour_whoever_asks(
    assistant: Assistant, mailbox: Mailbox, clock: Clock
) -> None:
    for name, address in (("test:a", SLO), ("test:b", "nobody.here@example.org")):
        chat = other(assistant, name)
        await chat.say("/signin")
        for _ in range(5):
            await chat.say(address)
            assert SAME_ANSWER.format(address) in chat.text
            await chat.say("back")
        await chat.say(address)
        assert "asked for several codes in the last hour" in chat.text
        clock.now += 3601
        await chat.say(address)
        assert SAME_ANSWER.format(address) in chat.text
    sent = await mailbox.new_messages()
    assert [str(m["To"]) for m in sent] == [SLO] * 6, "no code to strangers, none past the limit"


async def test_address_is_matched_whatever_its_case(chat: Chat, mailbox: Mailbox) -> None:
    await sign_in(chat, mailbox, "ROBIN.Tester@example.ORG")
    assert f"signed in as {SLO_NAME}, Liaison Officer for Testshire Council" in chat.text


async def test_not_an_email_address_keeps_the_step(chat: Chat, mailbox: Mailbox) -> None:
    await chat.say("/signin")
    await chat.say("robin at the council")
    assert "doesn't look like an email address" in chat.text
    await chat.say(SLO)
    assert SAME_ANSWER.format(SLO) in chat.text


async def test_a_question_during_sign_in_is_answered(chat: Chat) -> None:
    await chat.say("/signin")
    await chat.say("what is a serious case review?")
    assert "Serious case review" in chat.text
    assert "To carry on signing in: What is your work email address?" in chat.text


# --- the code ---------------------------------------------------------------------------------


async def test_code_signs_in_and_is_stored_only_as_a_hash(
    assistant: Assistant, chat: Chat, mailbox: Mailbox
) -> None:
    code = await sign_in(chat, mailbox, SLO)
    assert "Type /signout when you have finished" in chat.text
    db = assistant.storage.db  # either backend (TEST_DATABASE=postgresql runs it there too)
    stored = " ".join(str(v) for row in await db.fetch("SELECT * FROM signin_codes") for v in row)
    outbox = " ".join(str(v) for row in await db.fetch("SELECT * FROM outbox") for v in row)
    assert stored and code not in stored
    assert code not in outbox, "a sent sign-in email's body must not stay in the database"


async def test_wrong_code_then_right_code(chat: Chat, mailbox: Mailbox) -> None:
    await chat.say("/signin")
    await chat.say(SLO)
    code = await mailbox.code_for(SLO)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    await chat.say(wrong)
    assert "That code is not right. 4 tries left." in chat.text
    await chat.say("12ab")  # not a code at all: explained, not counted
    assert "A code is 6 digits" in chat.text
    await chat.say(wrong)
    assert "3 tries left" in chat.text
    await chat.say(f"{code[:3]} {code[3:]}")  # as copied from the email, with a space
    assert f"signed in as {SLO_NAME}" in chat.text


async def test_expired_code(chat: Chat, mailbox: Mailbox, clock: Clock) -> None:
    await chat.say("/signin")
    await chat.say(SLO)
    code = await mailbox.code_for(SLO)
    clock.advance(10)
    await chat.say(code)
    assert "That code has expired: codes are valid for 10 minutes." in chat.text
    await chat.say("back")
    assert "What is your work email address?" in chat.text
    await chat.say(SLO)
    await chat.say(await mailbox.code_for(SLO))
    assert "signed in" in chat.text


async def test_used_code_does_not_work_again(
    assistant: Assistant, chat: Chat, mailbox: Mailbox
) -> None:
    first = await sign_in(chat, mailbox, SLO)
    await chat.say("/signout")
    await chat.say("/signin")
    await chat.say(SLO)
    await chat.say(first)
    assert "That code has already been used" in chat.text
    assert await assistant.storage.signin.linked_email(chat.chat) is None


async def test_a_newer_code_replaces_the_older(chat: Chat, mailbox: Mailbox) -> None:
    await chat.say("/signin")
    await chat.say(SLO)
    older = await mailbox.code_for(SLO)
    await chat.say("back")
    await chat.say(SLO)
    newer = await mailbox.code_for(SLO)
    await chat.say(older)
    assert "replaced by a newer one" in chat.text
    await chat.say(newer)
    assert "signed in" in chat.text


async def test_code_of_another_chat_does_not_work(assistant: Assistant, mailbox: Mailbox) -> None:
    victim, attacker = other(assistant, "test:victim"), other(assistant, "test:attacker")
    await victim.say("/signin")
    await victim.say(SLO)
    code = await mailbox.code_for(SLO)
    await attacker.say("/signin")
    await attacker.say(OTHER_SLO)
    await attacker.say(code)
    assert "not right" in attacker.text


async def test_five_wrong_codes_lock_the_chat_for_fifteen_minutes(
    assistant: Assistant, chat: Chat, mailbox: Mailbox, clock: Clock
) -> None:
    await chat.say("/signin")
    await chat.say(SLO)
    code = await mailbox.code_for(SLO)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for left in (4, 3, 2, 1):
        await chat.say(wrong)
        assert f"{left} tr" in chat.text
    await chat.say(wrong)
    assert "sign-in is locked for this chat for 15 minutes" in chat.text
    await chat.say(code)  # the flow has ended: the right code is now just a message
    assert "signed in" not in chat.text
    await chat.say(SLO)  # and so is the address
    # Neither is a question the board could learn from, and both are personal: not kept.
    assert await assistant.storage.questions.unanswered() == []
    await chat.say("/notify")
    assert "locked for this chat for another 15 minutes" in chat.text
    clock.advance(14)
    await chat.say("/signin")
    assert "another 1 minute," in chat.text
    await chat.say("what is a rapid review?")  # questions still work while locked
    assert "Rapid review" in chat.text
    clock.advance(1)
    await sign_in(chat, mailbox, SLO)  # the lock is over, and the count starts again
    events = [e.event for e in await assistant.storage.audit.audit_events()]
    assert events.count("code_failed") == 5
    assert "locked_out" in events


async def test_back_and_cancel(chat: Chat, mailbox: Mailbox) -> None:
    await chat.say("/signin")
    await chat.say("back")  # back from the first step leaves sign-in
    assert "Sign-in stopped" in chat.text
    await chat.say("/signin")
    await chat.say(SLO)
    await mailbox.new_messages()  # the first code, left unread
    await chat.press("Back")
    assert "What is your work email address?" in chat.text
    await chat.say(SLO)
    await chat.press("Cancel")
    assert "Sign-in stopped" in chat.text
    await chat.say(await mailbox.code_for(SLO))
    assert "signed in" not in chat.text


# --- after sign-in ----------------------------------------------------------------------------


async def test_after_sign_in_the_form_opens_with_the_registry_details_to_confirm(
    chat: Chat, mailbox: Mailbox
) -> None:
    await chat.say("/notify")
    await chat.say(SLO)
    await chat.say(await mailbox.code_for(SLO))
    assert f"you're signed in as {SLO_NAME}" in chat.text
    assert "Significant Incident Notification" in chat.text  # straight into the form
    await chat.press("Start")
    for shown in (SLO_AGENCY, SLO_NAME):
        assert shown in chat.text and "Is this right?" in chat.text
        await chat.press("Yes")
    # The next question, not in the registry, is asked rather than offered for confirmation.
    asked = [f for f in chat.assistant.knowledge.form.fields if f.prompt in chat.text]
    assert asked and "Is this right?" not in chat.text, chat.text


async def test_signed_in_slo_submits_and_the_board_gets_the_email(
    assistant: Assistant, chat: Chat, mailbox: Mailbox
) -> None:
    await sign_in(chat, mailbox, SLO, start="/notify")
    await fill_in_chat(chat, {})
    await chat.press("Submit")
    assert "submitted" in chat.text
    reference = chat.replies[-1].id
    await chat.say("Submit.")  # typed after the button: the reference, not a "which one?" menu
    assert f"already submitted. Its reference is {reference}" in chat.text
    [message] = await mailbox.new_messages()
    subject = str(message["Subject"])
    assert subject.startswith(f"{reference} · ") and subject.endswith(f" · {SLO_AGENCY}")
    assert SLO in str(message["Cc"])
    events = [(e.event, e.who, e.reference) for e in await assistant.storage.audit.audit_events()]
    assert ("submitted", SLO, reference) in events
    assert ("delivered", SLO, reference) in events


async def test_signout(chat: Chat, mailbox: Mailbox) -> None:
    await sign_in(chat, mailbox, SLO)
    await chat.say("/signin")
    assert f"already signed in as {SLO_NAME}" in chat.text
    await chat.say("/signout")
    assert "You're signed out." in chat.text
    await chat.say("/notify")
    assert "What is your work email address?" in chat.text
    await chat.say("cancel")
    await chat.say("/signout")
    assert "You're not signed in." in chat.text


async def test_signout_deletes_the_unfinished_draft(chat: Chat, mailbox: Mailbox) -> None:
    await sign_in(chat, mailbox, SLO, start="/notify")
    await chat.press("Start")
    await chat.press("Yes")  # the agency, confirmed: the draft has an answer
    await chat.say("/signout")
    assert "You're signed out. Your unfinished notification was deleted." in chat.text
    await chat.say("/form back")  # a button of the deleted draft
    assert "no longer open" in chat.text


async def test_administrator_commands_refused_to_others(
    assistant: Assistant, chat: Chat, mailbox: Mailbox
) -> None:
    await chat.say("Is there a leaflet about knitting?")  # unanswered, recorded
    for command in ("/unanswered", "/reload"):
        await chat.say(command)
        assert f"Only partnership administrators can use {command}" in chat.text
    await sign_in(chat, mailbox, SLO)
    await chat.say("/unanswered")
    assert "Only partnership administrators can use /unanswered" in chat.text
    admin = other(assistant, "test:admin")
    await sign_in(admin, mailbox, ADMIN)
    assert "as a partnership administrator" in admin.text
    await admin.say("/unanswered")
    assert "Is there a leaflet about knitting?" in admin.text
    await admin.say("/notify")
    assert "Only an agency's registered Liaison Officer (SLO) can submit" in admin.text


async def test_slo_removed_from_registry_loses_access_at_reload(
    assistant: Assistant, mailbox: Mailbox, registry_path: Path
) -> None:
    slo, admin = other(assistant, "test:slo"), other(assistant, "test:admin")
    await sign_in(slo, mailbox, SLO, start="/notify")  # and the form opens: a draft to lose
    await sign_in(admin, mailbox, ADMIN)
    registry_path.write_text(
        REGISTRY.replace("name: Robin Tester", "name: [unclosed"), encoding="utf-8"
    )
    await admin.say("/reload")
    assert "Nothing reloaded" in admin.text and "liaison_officers.yaml" in admin.text
    await slo.say("/signin")
    assert "already signed in" in slo.text  # the old registry stays in use
    removed = (
        REGISTRY.split("  - id: test-council")[0]
        + "  - id: test-health"
        + (REGISTRY.split("  - id: test-health")[1])
    )
    registry_path.write_text(removed, encoding="utf-8")
    await admin.say("/reload")
    assert "Reloaded" in admin.text
    assert "no longer registered: 1" in admin.text
    await slo.say("/form start")  # the Start button of the form opened before the reload
    assert "no longer open" in slo.text
    await slo.say("/notify")
    assert "What is your work email address?" in slo.text
    await slo.say(SLO)
    assert SAME_ANSWER.format(SLO) in slo.text
    assert await mailbox.new_messages() == []  # no longer registered: no code
    assert "signed_out_removed" in [e.event for e in await assistant.storage.audit.audit_events()]


@sqlite_only  # the command line is given the SQLite file (run_main)
async def test_a_changed_registry_file_stops_a_start_and_signs_nobody_out(
    settings: Settings, registry_path: Path, tmp_path: Path
) -> None:
    first = await build_assistant(settings)
    try:
        await sign_in(Chat(first, "test:slo"), Mailbox(first), OTHER_SLO, start="/notify")
        # Another process on the same database, started with another registry file: refused,
        # and the first one's chats keep their sign-in (they used to be signed out).
        other_file = tmp_path / "other_registry.yaml"
        other_file.write_text(REGISTRY.replace(OTHER_SLO, "someone.new@example.org"), "utf-8")
        other = dataclasses.replace(settings, registry_file=str(other_file))
        with pytest.raises(RegistryChanged, match="is not the one in use on this database"):
            await build_assistant(other)
        assert await first.storage.signin.linked_email("test:slo") == OTHER_SLO
        chat = Chat(first, "test:slo")
        await chat.say("/signin")
        assert "already signed in" in chat.text
    finally:
        await first.close()

    # The same change, then a restart: refused with what to do, until the staff apply it.
    registry_path.write_text(REGISTRY.replace(OTHER_SLO, "someone.new@example.org"), "utf-8")
    # (main() runs its own event loop: in a thread of its own here.)
    result = await asyncio.to_thread(
        run_main, tmp_path, "chat", settings=settings_file(settings, tmp_path)
    )
    assert result.returncode == 1
    assert "Not starting. The registry of liaison officers in" in result.stderr
    assert "python main.py registry apply" in result.stderr
    applied = await asyncio.to_thread(
        run_main, tmp_path, "registry", "apply", settings=settings_file(settings, tmp_path)
    )
    assert applied.returncode == 0, applied.stderr
    assert "Chats signed out because their address is no longer registered: 1." in applied.stdout
    restarted = await build_assistant(settings)
    try:
        chat = Chat(restarted, "test:slo")
        await chat.say("/form start")  # the Start button of the form opened before
        assert "no longer open" in chat.text
        await chat.say("/notify")
        assert "What is your work email address?" in chat.text
    finally:
        await restarted.close()


def settings_file(settings: Settings, tmp_path: Path) -> str:
    """The settings file `run_main` gives `main.py` for these settings."""
    return (
        f"database: {settings.database}\nregistry_file: {settings.registry_file}\n"
        f"mail: {{outbox_dir: {settings.mail.outbox_dir}}}\n"
    )


async def test_audit_records_who_and_what_never_the_code(
    assistant: Assistant, chat: Chat, mailbox: Mailbox
) -> None:
    code = await sign_in(chat, mailbox, SLO)
    await chat.say("/signout")
    events = list(reversed(await assistant.storage.audit.audit_events()))
    assert [(e.event, e.who) for e in events] == [
        ("code_sent", SLO),
        ("signed_in", SLO),
        ("signed_out", SLO),
    ]
    assert all(e.chat == chat.chat for e in events)
    assert not any(code in str(dataclasses.astuple(e)) for e in events)


# --- the registry file ------------------------------------------------------------------------


def test_shipped_registry_is_valid() -> None:
    registry = load_registry(default_settings().registry_path)
    assert registry.officers and registry.administrators
    assert all(o.email.endswith("@example.org") for o in registry.officers)


def test_registry_problems_name_file_entry_and_field(tmp_path: Path) -> None:
    path = tmp_path / "liaison_officers.yaml"
    path.write_text(
        """
liaison_officers:
  - id: one
    name: A Person
    agency: An Agency
    email: not-an-address
    phone: "call me"
    colour: blue
  - id: two
    name: B Person
    email: A.Person@example.org
  - id: three
    name: C Person
    agency: Another
    email: a.person@example.org
  - id: four
    name: D Person
    agency: Another
    email: robin,tester@example.org
    phone: "+33 1 23 45 67 89"
administrators:
  - boss
""",
        encoding="utf-8",
    )
    with pytest.raises(KnowledgeError) as caught:
        load_registry(path)
    problems = caught.value.problems
    assert "liaison_officers.yaml: one: email: not an email address: 'not-an-address'" in problems
    assert any(
        p.startswith("liaison_officers.yaml: one: phone: not a phone number") for p in problems
    )
    assert any(p.startswith("liaison_officers.yaml: one: colour: unknown field") for p in problems)
    assert "liaison_officers.yaml: two: agency: missing" in problems
    assert "liaison_officers.yaml: three: email: also the address of two" in problems
    assert "liaison_officers.yaml: administrators[1]: -: not an email address: 'boss'" in problems
    # What the mailer would refuse fails here, not at the officer's first sign-in.
    assert (
        "liaison_officers.yaml: four: email: not an email address: 'robin,tester@example.org'"
        in (problems)
    )
    assert any(
        p.startswith("liaison_officers.yaml: four: phone: not a phone number") for p in problems
    )


def test_check_reports_registry_problems(
    settings: Settings, registry_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main.check(settings) == 0
    registry_path.write_text("liaison_officers:\n  - id: x\n", encoding="utf-8")
    assert main.check(settings) == 1
    err = capsys.readouterr().err
    assert "liaison_officers.yaml: x: name: missing" in err
    assert "3 problems found." in err


async def test_reload_puts_the_edited_knowledge_in_use_everywhere(
    assistant: Assistant, mailbox: Mailbox, tmp_path: Path
) -> None:
    directory = tmp_path / "knowledge"
    shutil.copytree(Path(__file__).resolve().parent.parent / "knowledge", directory)
    assistant.settings = dataclasses.replace(assistant.settings, knowledge_dir=str(directory))
    topics_file = directory / "topics.yaml"
    data = yaml_support.load(topics_file.read_text(encoding="utf-8"))
    first = data["topics"][0]
    first["title"] = "A title edited for this test"
    topics_file.write_text(yaml_support.dump(data, allow_unicode=True), encoding="utf-8")
    admin = other(assistant, "test:admin")
    await sign_in(admin, mailbox, ADMIN)
    await admin.say("/reload")
    assert "Reloaded" in admin.text
    await admin.say(f"/topic {first['id']}")
    assert "A title edited for this test" in admin.text
    # Nothing keeps the old copy: the assistant's knowledge is the one the chats use.
    assert assistant.knowledge.topics[first["id"]].title == "A title edited for this test"
