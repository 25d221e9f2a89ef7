"""The significant incident notification as an SLO meets it: /notify, one question at a time,
back / skip / help / cancel / edit, questions asked mid-form, a restart mid-form, Submit (once),
the email the board receives, /status; in the console core, through the real console program,
and through the Telegram adapter.

The chat is signed in by linking it in the database (sign-in itself is tested in
test_signin.py); the registry's details are then offered for confirmation. The form is the small
fixture form (tests/fixtures/notification_form.yaml), so the partnership can edit its own form
without breaking these tests; test_notification_form.py has a smoke test of the shipped one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import html
import io
import os
import re
import sys
import time
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from bot.app import build_assistant
from bot.assistant import Assistant
from bot.channels.console import run_console
from bot.core.replies import Incoming
from bot.ops.retention import apply_retention
from bot.storage import Storage
from config.settings import ROOT, Settings
from handlers.notification.answers import show_date, uk_today
from tests.conftest import Chat
from tests.form_fixture import knowledge_with_fixture_form, with_fixture_form
from tests.signin_support import REGISTRY, SLO, SLO_AGENCY, SLO_NAME
from tests.telegram_support import TelegramHarness, buttons_of

SKIP = "<skip>"
CHILD = "Zebedee Quigley"
INITIALS = "ZQ"
TODAY = uk_today()
INCIDENT = (TODAY - timedelta(days=10)).strftime("%d/%m/%Y")
# Answers typed for each question; fields pre-filled from the registry are confirmed instead.
ANSWERS = {
    "slo_role": "Named Nurse for Safeguarding",
    "dsl_consulted": "Yes",
    "dsl_name": "Jane Smith, Designated Safeguarding Lead",
    "child_initials": INITIALS,
    "child_dob": "03/02/2015",
    "child_gender": "Male",
    "legal_status": "1, 3",
    "incident_date": INCIDENT,
    "aware_date": "yesterday",
    "incident_type": "Serious harm to a child",
    "abuse_neglect": "Suspected",
    "summary": "Found with bruises <script>alert(1)</script> & a burn at home.\nSeen by GP.",
    "other_agencies": "GP & school",
    "reasons": "1, 3",
    "recommended_action": "Local learning review (for example SILP)",
    "records_secured": "Yes",
}


@pytest.fixture(autouse=True)
def dates_of_the_day() -> None:
    """Today's dates, read when each test starts: a run that crosses midnight made "tomorrow"
    today and "yesterday" the day before the incident the module had worked out."""
    global TODAY, INCIDENT
    TODAY = uk_today()
    INCIDENT = (TODAY - timedelta(days=10)).strftime("%d/%m/%Y")
    ANSWERS["incident_date"] = INCIDENT


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return with_fixture_form(settings, tmp_path)


async def signed_in(assistant: Assistant, chat: str) -> None:
    await assistant.storage.signin.link_chat(chat, SLO, time.time())


@pytest.fixture
async def slo(assistant: Assistant) -> Chat:
    """A chat signed in as the registry's SLO."""
    await signed_in(assistant, "test:1")
    return Chat(assistant, "test:1")


async def start_form(chat: Chat) -> None:
    await chat.say("/notify")
    await chat.press("Start")


def last_kind(chat: Chat) -> tuple[str, str | None]:
    reply = chat.replies[-1]
    return reply.kind, reply.id


async def answer_until(chat: Chat, stop_at: str | None = None, **changes: str) -> None:
    """Answer each question (confirming pre-filled ones) until `stop_at` is asked or the
    summary is shown; every answer must be accepted."""
    answers = {**ANSWERS, **changes}
    for _ in range(60):
        kind, field_id = last_kind(chat)
        if kind == "summary" or (stop_at is not None and field_id == stop_at):
            return
        if kind == "confirm":
            await chat.press("Yes")
            continue
        assert kind == "question", chat.text
        value = answers[str(field_id)]
        await chat.say("skip" if value == SKIP else value)
        assert all(r.kind != "invalid" for r in chat.replies), chat.text
    raise AssertionError("the form never ended")


async def reach(chat: Chat, field_id: str, **changes: str) -> None:
    await start_form(chat)
    await answer_until(chat, field_id, **changes)
    assert last_kind(chat) == ("question", field_id), chat.text


def eml_files(assistant: Assistant) -> list[Path]:
    folder = assistant.settings.path(assistant.settings.mail.outbox_dir)
    return sorted(folder.glob("*.eml")) if folder.exists() else []


def read_eml(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def body(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")  # SMTP line ends in the file


# --- the whole flow ---------------------------------------------------------------------------


async def test_intro_says_what_who_how_long_and_what_is_kept(slo: Chat) -> None:
    await slo.say("/notify")
    text = slo.text
    assert text.startswith("Test Incident Notification\nA test form. It does not replace")
    assert "Only your agency's Liaison Officer (SLO) should submit this form" in text
    # 23 fields: 2 identify the child only under "full", 2 are asked only when they apply.
    assert "It has 19 to 21 questions (some are asked only when they apply) in 5 sections" in text
    assert "I ask only the initials, the date of birth" in text
    assert "I don't ask the child's full name or address" in text
    assert "deleted after 7 days without changes" in text
    assert "answers for 30 days after delivery" in text
    assert [b.label for b in slo.buttons] == ["Start", "Cancel"]
    await slo.press("Cancel")
    assert "Nothing was saved" in slo.text
    await slo.say("hello")
    assert "Hello!" in slo.text, "after Cancel the chat is back to questions"


async def test_the_free_text_request_opens_the_form(slo: Chat) -> None:
    await slo.say("I need to report a significant incident")
    assert [b.label for b in slo.buttons] == ["Start", "Cancel"]


async def test_whole_flow_submits_once_and_the_board_gets_the_email(
    assistant: Assistant, slo: Chat
) -> None:
    await start_form(slo)
    # Pre-filled from the registry: shown for confirmation, with progress and section.
    reply = slo.replies[-1]
    assert reply.title == "About you and your agency"
    assert reply.text.startswith("Section 1 of 5, question 1 of 5")
    assert f"Agency: {SLO_AGENCY}\nIs this right?" in reply.text
    assert reply.private
    await slo.press("Yes")
    assert f"SLO name: {SLO_NAME}" in slo.text
    await answer_until(slo, "dsl_name")
    assert "Section 2 of 5, question 2 of 2" in slo.text
    await answer_until(slo)

    summary = slo.replies[-1]
    assert summary.kind == "summary" and summary.private
    text = summary.text
    for heading in ("ABOUT YOU AND YOUR AGENCY", "THE CHILD", "THE INCIDENT", "NEXT STEPS"):
        assert heading in text
    assert f"Child's initials: {INITIALS}" in text
    assert "Child's date of birth: 3 February 2015" in text
    # Derived, not asked: the age on the date of the incident, from the date of birth.
    age = uk_today().year - 2015 - ((TODAY - timedelta(days=10)).timetuple()[1:3] < (2, 3))
    assert f"Child's age: {age} years (worked out from the child's date of birth)" in text
    assert "Child's name" not in text and "Address" not in text
    assert "Legal status: Child protection plan now, Child in need" in text
    assert "Recommended action: Local learning review (for example SILP)" in text
    assert [b.label for b in slo.buttons] == ["Submit", "Edit the summary", "Back", "Cancel"]
    submit = next(b for b in slo.buttons if b.label == "Submit")

    await slo.press("Submit")
    year = TODAY.year
    assert f"Its reference is SIN-{year}-0001" in slo.text
    outbox = assistant.settings.path(assistant.settings.mail.outbox_dir)
    assert f"the email is written to the file {outbox / f'SIN-{year}-0001.eml'}" in slo.text
    assert not slo.replies[-1].private, "the reference stays in the chat"

    # The same Submit pressed again (a double tap, an old message): no second notification.
    await slo.assistant.conversation.handle(Incoming(slo.chat, submit.data, pressed=True))
    again = await slo.assistant.conversation.handle(Incoming(slo.chat, submit.data, pressed=True))
    assert f"already submitted. Its reference is SIN-{year}-0001" in again[0].text
    assert len(await assistant.storage.notifications.notifications_for(slo.chat)) == 1

    await assistant.outbox.run_once()
    files = eml_files(assistant)
    assert [f.name for f in files] == [f"SIN-{year}-0001.eml"]
    message = read_eml(files[0])
    subject = str(message["Subject"])
    assert subject == (
        f"SIN-{year}-0001 · serious harm · abuse or neglect suspected · {SLO_AGENCY}"
    )
    assert INITIALS not in subject
    assert str(message["To"]) == assistant.settings.mail.board_addresses[0]
    assert str(message["Cc"]) == SLO
    assert str(message["Reply-To"]) == SLO
    # The reference, a random part (unique across databases) and the sender's domain.
    assert re.fullmatch(rf"<SIN-{year}-0001\.[0-9a-f]{{16}}@example\.org>", message["Message-ID"])
    plain = body(message, "plain")
    for expected in (
        f"Agency: {SLO_AGENCY}",
        f"SLO name: {SLO_NAME}",
        "SLO role: Named Nurse for Safeguarding",
        "SLO phone: 01234 111111",
        f"Contact email: {SLO}",
        "Designated safeguarding lead: Jane Smith, Designated Safeguarding Lead",
        f"Child's initials: {INITIALS}",
        "Gender: Male",
        "Date the agency became aware: ",
        "Category: Serious harm to a child",
        "Abuse or neglect: Suspected",
        "    Found with bruises <script>alert(1)</script> & a burn at home.\n    Seen by GP.",
        "Other agencies involved: GP & school",
        "Reasons for notifying: Inter-agency learning opportunity, Likely media interest",
        "Agency records secured: Yes",
    ):
        assert expected in plain, expected
    page = body(message, "html")
    assert "<script>" not in page and "alert(1)" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; a burn at home.<br>" in page
    assert "GP &amp; school" in page

    await slo.say("/status")
    assert re.search(rf"SIN-{year}-0001, submitted .*: sent on ", slo.text), slo.text


async def test_status_without_notifications(slo: Chat) -> None:
    await slo.say("/status")
    assert "You haven't submitted any notifications from this chat" in slo.text


async def test_submit_retried_after_a_lost_reply_gives_the_same_reference(
    assistant: Assistant, slo: Chat
) -> None:
    await start_form(slo)
    await answer_until(slo)
    before = await assistant.storage.sessions.load_session(slo.chat)
    submit = next(b for b in slo.buttons if b.label == "Submit")
    await slo.press("Submit")
    reference = slo.replies[-1].id
    # As if the reply and the session's save were lost after the notification was stored: the
    # draft is still open, and the SLO presses Submit again.
    # (A copy: storage skips saving a session object that is unchanged since it was loaded.)
    await assistant.storage.sessions.save_session(dataclasses.replace(before))
    assert (await assistant.storage.sessions.load_session(slo.chat)).step == "summary"
    slo.replies = await assistant.conversation.handle(Incoming(slo.chat, submit.data, True))
    assert f"already submitted. Its reference is {reference}" in slo.text
    assert len(await assistant.storage.notifications.notifications_for(slo.chat)) == 1
    await assistant.outbox.run_once()
    assert len(eml_files(assistant)) == 1


async def test_prefilled_answer_can_be_changed(slo: Chat) -> None:
    await start_form(slo)
    await slo.press("Change")
    assert "Which agency are you notifying for?" in slo.text
    assert "Your answer so far" not in slo.text
    await slo.say("Testshire Council, Early Help")
    assert f"SLO name: {SLO_NAME}" in slo.text
    await answer_until(slo)
    assert "Agency: Testshire Council, Early Help" in slo.text


# --- validation: the message says what is wrong and the question is asked again --------------


async def refused(chat: Chat, typed: str, message: str, field_id: str) -> None:
    await chat.say(typed)
    assert message in chat.text, chat.text
    assert chat.replies[0].kind == "invalid"
    assert last_kind(chat) == ("question", field_id), "the user stays where they were"


async def test_bad_dates_are_refused(slo: Chat) -> None:
    await reach(slo, "child_dob")
    future = (TODAY + timedelta(days=1)).strftime("%d/%m/%Y")
    await refused(slo, "31/02/2015", "There is no 31 February 2015", "child_dob")
    await refused(slo, "02/13/2015", "did you mean 13/02/2015?", "child_dob")
    await refused(slo, "the spring", "Please give a date as day, month and year", "child_dob")
    await refused(slo, future, "is in the future", "child_dob")
    await refused(slo, "tomorrow", "is in the future", "child_dob")
    await slo.say("3 Feb 2015")
    await answer_until(slo, "incident_date")
    await refused(
        slo, "1/1/2015", "before the child's date of birth (3 February 2015)", "incident_date"
    )
    await slo.say(INCIDENT)
    await refused(slo, "2/2/2015", "before the date of the incident", "aware_date")
    await slo.say("today")
    assert last_kind(slo) == ("question", "incident_type")


async def test_bad_phone_and_email_are_refused(slo: Chat) -> None:
    await reach(slo, "slo_role")
    await slo.say(ANSWERS["slo_role"])
    assert "SLO phone: 01234 111111\nIs this right?" in slo.text
    await slo.press("Change")
    await refused(slo, "call me", "A phone number can only have digits", "slo_phone")
    await refused(slo, "+33 1 23 45 67 89", "Please give a UK number", "slo_phone")
    await refused(slo, "01234 5678", "That number has 9 digits", "slo_phone")
    await slo.say("07700 900123")
    await slo.press("Change")
    await refused(slo, "robin at example.org", "An email address has no spaces", "slo_email")
    await refused(slo, "robin@example", "should be a domain such as agency.gov.uk", "slo_email")
    await slo.say("robin@example.org")
    assert last_kind(slo) == ("question", "dsl_consulted")


async def test_too_short_and_too_long_are_refused(slo: Chat) -> None:
    await reach(slo, "child_initials")
    await refused(
        slo, "N" * 11, "That's too long: 11 characters, and the limit is 10", "child_initials"
    )
    await slo.say(INITIALS)
    await answer_until(slo, "summary")
    await refused(slo, "Hurt", "That's too short (4 characters)", "summary")
    await refused(slo, "x" * 3001, "That's too long: 3001 characters", "summary")


async def test_choice_not_offered(slo: Chat) -> None:
    await reach(slo, "child_gender")
    await refused(slo, "Banana", "Please choose one of the options: Female, Male", "child_gender")
    await slo.say("female")
    await answer_until(slo, "legal_status")
    await refused(
        slo, "1, 9", "Please choose one of the options: '9' is not one of them", "legal_status"
    )
    await slo.press("Done")
    assert "Please choose at least one of the options, then press Done." in slo.text


async def test_multi_choice_by_buttons(slo: Chat) -> None:
    await reach(slo, "legal_status")
    await slo.press("Child in need")
    await slo.press("Looked after")
    assert "✓ Child in need" in [b.label for b in slo.buttons]
    await slo.press("✓ Looked after")  # pressed again: unticked
    await slo.press("Done")
    await answer_until(slo)
    assert "Legal status: Child in need\n" in slo.text


# --- back, skip, help, cancel, edit -----------------------------------------------------------


async def test_back_shows_the_earlier_answer_and_can_keep_it(slo: Chat) -> None:
    await reach(slo, "child_initials")
    await slo.say("back")
    assert last_kind(slo) == ("question", "dsl_name")
    assert "Your answer so far: Jane Smith, Designated Safeguarding Lead" in slo.text
    await slo.say("/back")
    assert last_kind(slo) == ("question", "dsl_consulted")
    await slo.press("Keep this answer")
    assert last_kind(slo) == ("question", "child_initials"), "the next question not answered"
    for _ in range(7):
        await slo.press("Back")
    assert last_kind(slo) == ("question", "agency")
    await slo.press("Back")
    assert "This is the first question. To stop, press Cancel." in slo.text
    assert last_kind(slo) == ("question", "agency")


async def test_skip_optional_but_not_required(slo: Chat) -> None:
    await reach(slo, "child_initials")
    await slo.say("skip")
    assert "This question is required, so it can't be skipped." in slo.text
    assert last_kind(slo) == ("question", "child_initials")
    assert "Skip" not in [b.label for b in slo.buttons]
    await slo.say(INITIALS)
    await slo.press("Skip")  # the date of birth is optional: the age is asked instead
    assert last_kind(slo) == ("question", "child_age")
    await slo.say("/skip")
    assert last_kind(slo) == ("question", "child_gender")
    await answer_until(slo)
    assert "Child's date of birth: Not given" in slo.text
    assert "Child's age: Not given" in slo.text


async def test_help_gives_the_fields_help(slo: Chat) -> None:
    await reach(slo, "recommended_action")
    help_text = "A local learning review is one way to learn; the partnership decides."
    await slo.say("help")
    assert help_text in slo.text
    assert last_kind(slo) == ("question", "recommended_action")
    await slo.say("/help")
    assert help_text in slo.text
    await slo.press("Help")
    assert help_text in slo.text


async def test_cancel_asks_first_then_deletes(assistant: Assistant, slo: Chat) -> None:
    await reach(slo, "child_initials")
    await slo.say("cancel")
    assert "Do you want to stop and delete this notification?" in slo.text
    await slo.press("No, carry on")
    assert last_kind(slo) == ("question", "child_initials")
    await slo.say("/cancel")
    await slo.press("Yes, delete it")
    assert "Your draft notification has been deleted." in slo.text
    session = await assistant.storage.sessions.load_session(slo.chat)
    assert session.flow is None and "answers" not in session.data
    await slo.say("/notify")
    assert [b.label for b in slo.buttons] == ["Start", "Cancel"], "no draft to continue"
    # A button of the cancelled form now does nothing but say so.
    await slo.press("Cancel")
    await slo.say("/form back")
    assert "That button belongs to a notification form that is no longer open" in slo.text


async def test_edit_from_the_summary(slo: Chat) -> None:
    await start_form(slo)
    await answer_until(slo)
    await slo.press("Edit the summary")
    assert "Which answer would you like to change?" in slo.text
    await slo.press("Child's initials")
    assert f"Your answer so far: {INITIALS}" in slo.text
    await slo.say("ZQJ")
    assert last_kind(slo)[0] == "summary", "back to the summary"
    assert "Child's initials: ZQJ" in slo.text
    # Changing an answer that another question depends on.
    await slo.press("Edit the summary")
    await slo.press("Designated safeguarding lead consulted")
    await slo.say("No")
    assert last_kind(slo)[0] == "summary"
    assert "Designated safeguarding lead consulted: No" in slo.text
    assert "Designated safeguarding lead:" not in slo.text
    await slo.press("Edit the summary")
    await slo.press("Designated safeguarding lead consulted")
    await slo.say("Yes")
    assert last_kind(slo) == ("question", "dsl_name"), "the question that applies again is asked"
    await slo.say("Sam Lead, DSL")
    assert "Designated safeguarding lead: Sam Lead, DSL" in slo.text
    await slo.press("Edit the summary")
    await slo.press("Back to the summary")
    assert last_kind(slo)[0] == "summary"


# --- questions mid-form, restart, idle drafts -------------------------------------------------


async def test_question_mid_form_is_answered_then_the_question_asked_again(slo: Chat) -> None:
    await reach(slo, "child_initials")
    await slo.say("what is a SILP?")
    assert slo.replies[0].title == "Significant Incident Learning Process (SILP)"
    assert slo.replies[0].buttons == (), "only the form's question offers buttons"
    assert last_kind(slo) == ("question", "child_initials")
    await answer_until(slo, "recommended_action")
    # At a choice question any text that is not an option is tried as a question.
    await slo.say("whats a silp")
    assert "Significant Incident Learning Process" in slo.text
    assert last_kind(slo) == ("question", "recommended_action")
    # An answer that merely ends with "?" and matches nothing is an answer.
    await slo.say("back")
    await slo.say("back")
    await slo.say("back")
    assert last_kind(slo) == ("question", "summary")
    await slo.say("Unclear whether the injury was accidental?")
    assert [r.kind for r in slo.replies] == ["question"]
    assert last_kind(slo) == ("question", "recommended_action"), "the next unanswered question"


async def test_restart_mid_form_resumes_where_it_stopped(settings: Settings) -> None:
    first = await build_assistant(settings)
    try:
        await signed_in(first, "test:9")
        chat = Chat(first, "test:9")
        await reach(chat, "child_gender")
    finally:
        await first.close()

    second = await build_assistant(settings)
    try:
        chat = Chat(second, "test:9")
        await chat.say("Female")  # the flow is still open: the answer is taken
        assert last_kind(chat) == ("question", "legal_status")
        await chat.say("/notify")
        assert "You have a Test Incident Notification in progress: 10 of about" in chat.text
        assert "you stopped at section 3 of 5 (The child)" in chat.text
        await chat.press("Continue")
        assert last_kind(chat) == ("question", "legal_status")
        await answer_until(chat)
        assert f"Child's initials: {INITIALS}" in chat.text
        await chat.say("/notify")
        assert "you stopped at the summary, ready to submit" in chat.text
        await chat.press("Start again")
        assert "Start again? Your 20 saved answers will be deleted." in chat.text
        await chat.press("No, continue")
        assert last_kind(chat)[0] == "summary", "nothing deleted"
        await chat.say("/notify")
        await chat.press("Start again")
        await chat.press("Yes, start again")
        assert last_kind(chat) == ("confirm", "agency")
        await answer_until(chat, "child_initials")
        assert "Your answer so far" not in chat.text
    finally:
        await second.close()


async def test_idle_draft_is_not_resumed(assistant: Assistant, slo: Chat) -> None:
    await reach(slo, "child_initials")
    eight_days_ago = time.time() - 8 * 86400
    await assistant.storage.db.execute(
        "UPDATE sessions SET updated_at = ? WHERE chat = ?", (eight_days_ago, slo.chat)
    )
    await slo.say(INITIALS)
    assert "deleted because it had not been changed for 7 days" in slo.text
    await slo.say("/notify")
    assert [b.label for b in slo.buttons] == ["Start", "Cancel"]


async def test_purge_deletes_only_idle_drafts(assistant: Assistant) -> None:
    old, fresh = Chat(assistant, "test:old"), Chat(assistant, "test:fresh")
    for chat in (old, fresh):
        await signed_in(assistant, chat.chat)
        await reach(chat, "child_initials")
    now = time.time()
    later = now + 6 * 86400
    assert (await apply_retention(assistant.storage, assistant.settings, later)).drafts == 0
    await fresh.say(INITIALS)  # touched: idle for less than 7 days at `much_later`
    await assistant.storage.db.execute(
        "UPDATE sessions SET updated_at = ? WHERE chat = ?", (now - 86400, old.chat)
    )
    much_later = now + 6.5 * 86400
    assert (await apply_retention(assistant.storage, assistant.settings, much_later)).drafts == 1
    assert (await assistant.storage.sessions.load_session(old.chat)).flow is None
    answers = (await assistant.storage.sessions.load_session(fresh.chat)).data["answers"]
    assert answers["child_initials"] == INITIALS


# --- Telegram ---------------------------------------------------------------------------------


async def test_whole_flow_in_telegram(assistant: Assistant, telegram: TelegramHarness) -> None:
    chat_id = 4242
    await signed_in(assistant, f"telegram:{chat_id}")
    form = assistant.knowledge.form
    sent = await telegram.send_text(chat_id, "/notify")
    for _ in range(60):
        message = sent[-1]
        text = html.unescape(message["text"])
        buttons = {b["text"]: b["callback_data"] for b in buttons_of(message)}
        assert all(len(data.encode()) <= 64 for data in buttons.values())
        if "Submit" in buttons:
            break
        if "Start" in buttons:
            sent = await telegram.press(chat_id, buttons["Start"])
        elif "Is this right?" in text:
            sent = await telegram.press(chat_id, buttons["Yes"])
        else:
            field = max((f for f in form.fields if f.prompt in text), key=lambda f: len(f.prompt))
            value = ANSWERS[field.id]
            if value == SKIP:
                sent = await telegram.press(chat_id, buttons["Skip"])
            elif field.type == "multi_choice":
                await telegram.press(chat_id, buttons[field.options[0]])
                sent = await telegram.press(chat_id, buttons["Done"])
            elif value in buttons:
                sent = await telegram.press(chat_id, buttons[value])
            else:
                sent = await telegram.send_text(chat_id, value)
            # Accepted: the next question or the summary (titled), not a refusal (untitled).
            assert all(m["text"].startswith("<b>") for m in sent), sent[0]["text"]
    else:
        raise AssertionError("no summary")
    assert "&lt;script&gt;" in sent[-1]["text"], "user text is escaped in Telegram's HTML"
    submit = buttons["Submit"]
    sent = await telegram.press(chat_id, submit)
    reference = f"SIN-{TODAY.year}-0001"
    assert any(f"Its reference is {reference}" in m["text"] for m in sent)
    sent = await telegram.press(chat_id, submit)  # the old button, pressed again
    assert f"already submitted. Its reference is {reference}" in sent[-1]["text"]
    sent = await telegram.send_text(chat_id, "/status")
    assert reference in sent[-1]["text"]
    assert len(await assistant.storage.notifications.notifications_for(f"telegram:{chat_id}")) == 1


# --- the console program ----------------------------------------------------------------------


@pytest.mark.slow  # main.py as a process
async def test_console_program_submits_and_writes_the_eml(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    registry = tmp_path / "liaison_officers.yaml"
    registry.write_text(REGISTRY, encoding="utf-8")
    settings_file = tmp_path / "settings.yaml"
    knowledge = knowledge_with_fixture_form(tmp_path)
    settings_file.write_text(
        f"registry_file: {registry}\nknowledge_dir: {knowledge}\nmail:\n  outbox_dir: {outbox}\n",
        encoding="utf-8",
    )
    database = tmp_path / "console.db"
    storage = await Storage.open(database)
    await storage.signin.link_chat("console:local", SLO, time.time())
    await storage.close()

    lines = ["/notify", "Start", "Yes", "Yes"]  # agency and name confirmed
    lines += [ANSWERS["slo_role"], "Yes", "Yes"]  # phone and email confirmed
    for value in list(ANSWERS.values())[1:]:
        # One line per message on the console; "skip" is the Skip button's label.
        lines.append("skip" if value == SKIP else value.replace("\n", " "))
    lines.append("Submit")
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env |= {"ASSISTANT_SETTINGS": str(settings_file), "ASSISTANT_DATABASE": str(database)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "main.py",
        "chat",
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None
    process.stdin.write("".join(f"{line}\n" for line in lines).encode())
    await process.stdin.drain()
    eml = outbox / f"SIN-{TODAY.year}-0001.eml"
    # The outbox worker writes the file soon after Submit; keep the program running until then.
    for _ in range(300):
        if eml.exists():
            break
        await asyncio.sleep(0.05)
    process.stdin.write(b"quit\n")
    process.stdin.close()
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    output = stdout.decode()
    assert process.returncode == 0, stderr.decode()
    assert f"Its reference is SIN-{TODAY.year}-0001" in output, output[-3000:]
    assert f"the email is written to the file {eml}" in output
    assert eml.exists()
    assert "== Check your answers ==" in output
    assert f"Child's initials: {INITIALS}" in body(read_eml(eml), "plain")


# --- the copy goes only to the registered address ---------------------------------------------


async def test_copy_goes_to_the_registered_address_not_a_typed_one(
    assistant: Assistant, slo: Chat
) -> None:
    typo = "robin.tester@exmaple.org"  # a typo that would send a child's details outside
    await start_form(slo)
    await answer_until(slo, "slo_email")
    await slo.press("Change")
    await slo.say(typo)
    await answer_until(slo)
    assert f"Contact email: {typo}" in slo.text, "recorded in the form"
    await slo.press("Submit")
    assert f"a copy goes to {SLO}, the address you signed in with" in slo.text
    await assistant.outbox.run_once()
    message = read_eml(eml_files(assistant)[0])
    assert str(message["Cc"]) == SLO and str(message["Reply-To"]) == SLO
    headers = " ".join(str(v) for k, v in message.items() if k.lower() != "subject")
    assert typo not in headers, "nothing is sent to the typed address"


async def test_submit_needs_the_sign_in(assistant: Assistant, slo: Chat) -> None:
    await start_form(slo)
    await answer_until(slo)
    await assistant.storage.signin.unlink_chat(slo.chat)  # e.g. removed from the registry meanwhile
    await slo.press("Submit")
    assert "You're no longer signed in, so I can't submit this" in slo.text
    assert await assistant.storage.notifications.notifications_for(slo.chat) == []


# --- rules between answers: on first answer, on edit, at Submit -------------------------------


async def edit(chat: Chat, label: str, typed: str) -> None:
    await chat.press("Edit the summary")
    await chat.press(label)
    await chat.say(typed)


async def test_each_dated_field_edited_into_a_contradiction_is_refused(
    assistant: Assistant, slo: Chat
) -> None:
    await start_form(slo)
    await answer_until(slo)  # born 3 Feb 2015, incident 10 days ago, aware yesterday
    incident = TODAY - timedelta(days=10)
    after_incident = (incident + timedelta(days=1)).strftime("%d/%m/%Y")

    await edit(slo, "Child's date of birth", after_incident)
    assert "is after the date of the incident" in slo.text
    assert "The child's date of birth cannot be later" in slo.text
    assert slo.replies[0].kind == "invalid"
    assert last_kind(slo) == ("question", "child_dob"), "the user stays at the question"
    await slo.press("Keep this answer")
    assert last_kind(slo)[0] == "summary"

    await edit(slo, "Date of the incident", "01/01/2015")
    assert "1 January 2015 is before the child's date of birth (3 February 2015)" in slo.text
    assert last_kind(slo) == ("question", "incident_date")
    await slo.say(TODAY.strftime("%d/%m/%Y"))  # after the date the agency became aware
    yesterday = show_date(TODAY - timedelta(days=1))
    assert f"is after the date the agency became aware ({yesterday})" in slo.text
    assert "The date of the incident cannot be later" in slo.text
    assert last_kind(slo) == ("question", "incident_date")
    await slo.press("Keep this answer")

    await edit(
        slo, "Date the agency became aware", (incident - timedelta(days=1)).strftime("%d/%m/%Y")
    )
    assert "is before the date of the incident" in slo.text
    assert last_kind(slo) == ("question", "aware_date")
    await slo.press("Keep this answer")

    await edit(slo, "Child's date of birth", "01/01/1990")
    assert "This form is for a child, or a care leaver up to 24" in slo.text
    await slo.press("Keep this answer")
    assert "Child's date of birth: 3 February 2015" in slo.text
    await slo.press("Submit")
    assert slo.replies[-1].kind == "submitted"


async def test_submit_refuses_a_contradiction_naming_the_field(
    assistant: Assistant, slo: Chat
) -> None:
    await start_form(slo)
    await answer_until(slo)
    # A contradiction that got in another way (the form was edited under an open draft, or an
    # old draft): the answers in the database say the child was born after the incident.
    session = await assistant.storage.sessions.load_session(slo.chat)
    session.data["answers"]["child_dob"] = TODAY.isoformat()
    await assistant.storage.sessions.save_session(session)
    await slo.press("Submit")
    assert slo.replies[0].kind == "refused"
    assert slo.text.lstrip().startswith(
        "I can't submit this yet: please check Date of the incident."
    )
    assert "is before the child's date of birth" in slo.text
    assert last_kind(slo) == ("question", "incident_date")
    assert await assistant.storage.notifications.notifications_for(slo.chat) == []


async def test_the_age_is_asked_only_without_a_birth_date_and_is_never_a_date(slo: Chat) -> None:
    await reach(slo, "child_dob")
    await slo.press("Skip")
    assert last_kind(slo) == ("question", "child_age")
    await refused(slo, "03/02/2015", "That looks like a date", "child_age")
    await refused(slo, "40", "older than this form covers", "child_age")
    await slo.say("about 11")
    await answer_until(slo)
    assert "Child's age: about 11 years" in slo.text
    await edit(slo, "Child's date of birth", "03/02/2015")
    assert re.search(
        r"Child's age: \d+ years \(worked out from the child's date of birth\)", slo.text
    )
    assert "about 11" not in slo.text, "the typed age gives way to the date of birth"


# --- the full name and address, when the partnership chooses them ------------------------------


async def test_identify_child_full_asks_name_and_address(settings: Settings) -> None:
    full = dataclasses.replace(
        settings, form=dataclasses.replace(settings.form, identify_child="full")
    )
    assistant = await build_assistant(full)
    try:
        await signed_in(assistant, "test:full")
        chat = Chat(assistant, "test:full")
        await chat.say("/notify")
        assert "I ask the full name, date of birth and home address" in chat.text
        await chat.press("Start")
        await answer_until(chat, child_name=CHILD, child_address="1 High Street, Bedford MK40 1AA")
        assert f"Child's name: {CHILD}" in chat.text
        assert "Address: 1 High Street, Bedford MK40 1AA" in chat.text
        assert "Child's initials" not in chat.text
        await chat.say("/privacy")
        assert "the child's full name, date of birth and home address" in chat.text
    finally:
        await assistant.close()


# --- coming back to a draft -------------------------------------------------------------------


async def test_start_with_a_draft_open_says_where_it_got_to(slo: Chat) -> None:
    await reach(slo, "child_gender")
    await slo.say("/start")
    [reply] = slo.replies
    assert reply.kind == "resume"
    assert reply.text.startswith("You have a Test Incident Notification in progress: 9 of about")
    assert "you stopped at section 3 of 5 (The child)" in reply.text
    assert [b.label for b in reply.buttons] == ["Continue", "Start again", "Cancel"]
    # Typing at the offer answers nothing: the question is not on the screen.
    await slo.say("1")
    assert "Please press Continue to carry on, or Start again." in slo.text
    await slo.say("Male")
    assert slo.replies[-1].kind == "resume"
    await slo.press("Continue")
    assert last_kind(slo) == ("question", "child_gender")
    await slo.say("Male")
    assert last_kind(slo) == ("question", "legal_status")


async def test_typing_after_a_break_first_says_where_it_got_to(
    assistant: Assistant, slo: Chat
) -> None:
    await reach(slo, "child_gender")
    two_hours_ago = time.time() - 2 * 3600
    await assistant.storage.db.execute(
        "UPDATE sessions SET updated_at = ? WHERE chat = ?", (two_hours_ago, slo.chat)
    )
    await slo.say("1")  # meant for something else: not taken as "Female"
    assert slo.replies[-1].kind == "resume"
    answers = (await assistant.storage.sessions.load_session(slo.chat)).data["answers"]
    assert "child_gender" not in answers
    await slo.press("Continue")
    assert last_kind(slo) == ("question", "child_gender")


async def test_console_restart_with_a_draft_never_presses_a_greeting_button(
    assistant: Assistant,
) -> None:
    await signed_in(assistant, "console:local")
    chat = Chat(assistant, "console:local")
    await reach(chat, "child_gender")
    # A new console session on the same database: it sends /start, the user types "1".
    stdout = io.StringIO()
    await run_console(assistant.conversation, stdin=io.StringIO("1\n"), stdout=stdout)
    output = stdout.getvalue()
    assert "You have a Test Incident Notification in progress" in output
    assert "Hello, I'm the" not in output and "Review types" not in output
    assert "[1] Continue" in output
    after = output.split("you> ", 1)[1]
    assert "What is the child's gender?" in after, "1 pressed Continue, the offer's own button"
    session = await assistant.storage.sessions.load_session("console:local")
    assert session.flow == "notify" and "child_gender" not in session.data["answers"]


async def test_start_at_the_intro_leaves_the_form_for_the_greeting(slo: Chat) -> None:
    await slo.say("/notify")
    await slo.say("/start")
    assert slo.replies[-1].kind == "greeting"
    await slo.say("hello")
    assert "Hello!" in slo.text, "no form open any more"


async def test_threshold_during_a_draft_says_what_is_in_progress_and_asks_again(
    slo: Chat,
) -> None:
    await reach(slo, "child_initials")
    question = slo.replies[-1].text
    await slo.say("/threshold")
    assert "You have a notification draft in progress" in slo.text
    assert "/cancel" in slo.text and "/threshold again" in slo.text
    assert question in slo.text  # the question it was at, asked again
    assert slo.replies[-1].kind == "question"
