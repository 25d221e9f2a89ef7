"""The staff page in a real browser: Debian's headless Chromium driven by Playwright, against
`serve` on loopback with email through a real SMTP server (aiosmtpd), as
tests/test_webchat_browser.py does (its browser, context and mail fixtures and helpers are
used here, not copied). What comes in comes through real conversations: notifications through
the conversation core as the console chat sends them, a hand-off through the web chat's panel.

Covered: sign-in with the code from the email, for staff only (a non-staff address is told the
same and sent nothing); a notification seen in the list and in full, its .docx downloaded;
"Send again" for one the mail server refused, which then arrives; a hand-off answered on the
page reaches the asker's web chat, once; the charts render; a forged POST is refused; axe-core
finds no WCAG 2.2 AA violation on any page. A failing test leaves screenshots in
test-artifacts/ (the context fixture). With STAFF_SCREENSHOTS=<folder> the tests also save the
pictures docs/staff.md shows.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import docx
import pytest

from bot.assistant import Assistant
from config.settings import EmailSettings
from tests import test_webchat_browser as webchat
from tests.conftest import Chat
from tests.signin_support import ADMIN, OTHER_SLO, SLO, fill_in_chat
from tests.test_mailer import Recorder
from tests.test_webchat_browser import AXE, WCAG, code_from, no_errors, open_panel
from tests.web_support import ThreadedServer

pytestmark = pytest.mark.slow  # a real Chromium

# The web chat's browser tests' fixtures: one browser and one SMTP server for the module, a
# context of its own for each test (which keeps screenshots of a failure).
browser, context, mail = webchat.browser, webchat.context, webchat.mail

STAFF = "sam.staff@example.org"
# A second member: an address may ask for 5 codes an hour, as in the chat.
OTHER_STAFF = "lee.staff@example.org"
STAFF_ENTRY = (
    "staff:\n"
    f"  - email: {STAFF}\n    role: staff\n    name: Sam Staff\n"
    f"  - email: {OTHER_STAFF}\n    role: staff\n    name: Lee Staff\n"
)
REFERENCE = re.compile(r"SIN-\d{4}-\d{4}")
QUESTION = re.compile(r"Q-\d{4}-\d{4}")
UNANSWERABLE = "when does the mobile library visit the estate"
WAIT_S = 15.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, mail: Recorder) -> Iterator[ThreadedServer]:
    """`serve` with the web chat and the staff page, the test registry with a member of staff,
    email through the SMTP server, and the email settings on (so hand-offs are offered; the
    mailbox itself is not read here)."""
    served = webchat.served_settings(tmp_path_factory.mktemp("staff"), mail)
    settings = dataclasses.replace(served, email=EmailSettings(imap_host="127.0.0.1"))
    registry = Path(settings.registry_file)
    registry.write_text(registry.read_text(encoding="utf-8") + STAFF_ENTRY, encoding="utf-8")
    running = ThreadedServer(settings).start()
    yield running
    running.stop()


def shot(page: Any, name: str) -> None:
    """A picture for docs/staff.md, when STAFF_SCREENSHOTS names a folder."""
    folder = os.environ.get("STAFF_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"staff-{name}.png"), full_page=True)


def axe(page: Any) -> None:
    page.evaluate(AXE.read_text(encoding="utf-8"))
    violations = page.evaluate(
        "async tags => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
        ".violations.map(v => ({id: v.id, nodes: v.nodes.map(n => n.target.join(' '))}))",
        WCAG,
    )
    assert violations == [], f"axe, {page.url}: {violations}"


def wait_for(condition: Any, what: str, seconds: float = WAIT_S) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = condition()
        if found:
            return found
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def shown_sent(page: Any, url: str) -> None:
    """Load the notification's page at `url` until it shows the notification as sent: the
    outbox marks it sent just after the mail server has taken it, so a page loaded as soon as
    the email arrived could still show it queued (seen on a busy machine)."""

    def sent() -> bool:
        page.goto(url)
        return page.locator(".facts .state-sent").count() > 0

    wait_for(sent, "the notification shown as sent")


def console_notification(
    server: ThreadedServer, recorder: Recorder, chat_id: str, refuse: bool = False
) -> str:
    """A notification submitted through the conversation, as the console chat sends it (the
    SLO signs in with the code from the email); with `refuse`, the mail server refuses it."""
    assert server.assistant is not None
    chat = Chat(server.assistant, chat_id)
    server.call(lambda _: chat.say("/notify"))
    before = len(recorder.received)
    server.call(lambda _: chat.say(SLO))
    code = code_from(recorder, SLO, before)
    server.call(lambda _: chat.say(code))
    server.call(lambda _: fill_in_chat(chat, {}))
    recorder.refuse_recipients = refuse
    try:
        server.call(lambda _: chat.press("Submit"))
        found = REFERENCE.search(chat.text)
        assert found, chat.text
        reference = found.group(0)
        if refuse:

            async def refused(assistant: Assistant) -> bool:
                failed = await assistant.storage.outbox.failed_emails()
                return any(item.reference == reference for item in failed)

            wait_for(lambda: server.call(refused), "the mail server's refusal")
        return reference
    finally:
        recorder.refuse_recipients = False


def staff_sign_in(context: Any, server: ThreadedServer, mail: Recorder, address: str) -> Any:
    page = context.new_page()
    page.goto(f"{server.base}/staff")
    assert page.url.endswith("/staff/signin")
    page.get_by_label("Work email address").fill(address)
    before = len(mail.received)
    page.get_by_role("button", name="Email me a code").click()
    page.get_by_label("Code").wait_for()
    shot(page, "code")
    page.get_by_label("Code").fill(code_from(mail, address, before))
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Use of the assistant").wait_for()
    return page


def emails_to(recorder: Recorder, address: str) -> int:
    return sum(address in m.rcpt_tos for m in recorder.received)


def only_refusals(context: Any, statuses: set[int]) -> None:
    """No script or page error but the console's note of each refusal the test asked for."""
    expected = {f"the server responded with a status of {status}" for status in statuses}
    assert all(any(e in error for e in expected) for error in context.errors), context.errors


# --- the tests ---------------------------------------------------------------------------


def test_staff_sign_in_see_a_notification_in_full_and_download_its_word_copy(
    context: Any,
    server: ThreadedServer,
    mail: Recorder,
) -> None:
    reference = console_notification(server, mail, "console:staff-1")
    page = context.new_page()
    page.goto(f"{server.base}/staff")
    shot(page, "signin")
    axe(page)
    page.close()
    page = staff_sign_in(context, server, mail, STAFF)
    page.get_by_role("link", name="Notifications").click()
    row = page.get_by_role("row").filter(has_text=reference)
    assert row.count() == 1
    cells = row.locator("td").all_text_contents()
    assert cells[0] == "Testshire Council, Children's Services"  # the registry's agency
    assert cells[2] == "sent"
    shot(page, "notifications")
    axe(page)
    row.get_by_role("link", name=reference).click()
    page.get_by_role("heading", name=reference).wait_for()
    assert reference in page.locator(".notification-text").text_content()
    axe(page)
    shot(page, "notification")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Download the Word copy")).click()
    assert download.value.suggested_filename == f"{reference}.docx"
    content = Path(download.value.path()).read_bytes()
    assert zipfile.is_zipfile(io.BytesIO(content))
    document = docx.Document(io.BytesIO(content))
    assert document.paragraphs or document.tables
    # Sign out: the pages ask for sign-in again.
    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("You're signed out.").wait_for()
    page.goto(f"{server.base}/staff/notifications")
    assert page.url.endswith("/staff/signin")
    no_errors(context)


def test_send_again_a_notification_the_mail_server_refused(
    context: Any,
    server: ThreadedServer,
    mail: Recorder,
) -> None:
    reference = console_notification(server, mail, "console:staff-2", refuse=True)
    page = staff_sign_in(context, server, mail, STAFF)
    page.goto(f"{server.base}/staff/notifications")
    row = page.get_by_role("row").filter(has_text=reference)
    assert row.locator("td").nth(2).text_content() == "refused"
    row.get_by_role("link", name=reference).click()
    before = len(mail.received)
    page.get_by_role("button", name="Send again").click()
    page.get_by_text(f"{reference} is queued again").wait_for()
    wait_for(
        lambda: [m for m in mail.received[before:] if reference.encode() in m.raw],
        "the notification sent again",
    )
    shown_sent(page, page.url)
    assert page.get_by_role("button", name="Send again").count() == 0
    no_errors(context)


def test_send_again_from_the_list_of_refused_emails(
    context: Any,
    server: ThreadedServer,
    mail: Recorder,
) -> None:
    reference = console_notification(server, mail, "console:staff-3", refuse=True)
    page = staff_sign_in(context, server, mail, ADMIN)
    page.get_by_role("link", name="Refused emails").click()
    row = page.get_by_role("row").filter(has_text=reference)
    assert "a notification" in row.inner_text()
    axe(page)
    shot(page, "outbox")
    before = len(mail.received)
    row.get_by_role("button", name=f"Send again {reference}").click()
    page.get_by_text(f"{reference} is queued again").wait_for()
    wait_for(
        lambda: [m for m in mail.received[before:] if reference.encode() in m.raw],
        "the notification sent again",
    )
    shown_sent(page, f"{server.base}/staff/notifications/{reference}")
    no_errors(context)


def test_answer_a_hand_off_and_the_asker_sees_it_in_the_web_chat(
    context: Any,
    server: ThreadedServer,
    mail: Recorder,
) -> None:
    panel = open_panel(context, server)
    panel.say(UNANSWERABLE)
    panel.press("Ask the partnership")
    sent = panel.press("Send to the partnership")
    found = QUESTION.search(" ".join(r["text"] for r in sent))
    assert found, sent
    question = found.group(0)
    page = staff_sign_in(context, server, mail, STAFF)
    page.get_by_role("link", name="Hand-offs").click()
    assert f"{question}, asked" in page.locator("main").inner_text()
    assert "by the web chat" in page.locator("main").inner_text()
    axe(page)
    shot(page, "handoffs")
    answer = "The mobile library is run by the council's libraries team, not the partnership."
    page.get_by_label(f"Your answer to {question}").fill(answer)
    page.get_by_role("button", name="Send the answer").click()
    page.get_by_text("Answered: the answer has been passed").wait_for()
    assert page.get_by_label(f"Your answer to {question}").count() == 0
    assert page.get_by_role("row").filter(has_text=question).count() == 1
    panel.page.wait_for_function(
        "text => document.querySelector('iframe.sa-frame').contentDocument.body"
        ".textContent.includes(text)",
        arg=answer,
        timeout=WAIT_S * 1000,
    )
    time.sleep(0.5)  # time for a second copy to arrive, if one were sent
    assert panel.log_text().count(answer) == 1
    no_errors(context)


def test_unanswered_questions_grouped_and_a_suggestion_recorded(
    context: Any,
    server: ThreadedServer,
    mail: Recorder,
) -> None:
    assert server.assistant is not None
    chat = Chat(server.assistant, "console:staff-4")
    server.call(lambda _: chat.say("how many swimming pools does the borough have"))
    server.call(lambda _: chat.say("how many swimming pools has the borough got"))
    page = staff_sign_in(context, server, mail, ADMIN)
    page.get_by_role("link", name="Unanswered").click()
    group = page.locator(".group").filter(has_text="swimming pools")
    assert group.count() == 1
    assert "2 wordings" in group.locator(".meta").text_content()
    group.get_by_label("This should have been the topic").select_option(index=1)
    group.get_by_role("button", name="Suggest").click()
    page.get_by_text("Suggestion recorded.").wait_for()
    assert (
        "Suggested for the topic"
        in page.locator(".group").filter(has_text="swimming pools").inner_text()
    )
    axe(page)
    shot(page, "unanswered")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Export the suggestions")).click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert "how many swimming pools has the borough got" in exported
    # An administrator sees the audit trail, export included.
    page.get_by_role("link", name="Audit").click()
    assert page.get_by_role("row").filter(has_text="staff_exported").count() >= 1
    axe(page)
    shot(page, "audit")
    no_errors(context)


def test_the_charts_render(
    context: Any,
    server: ThreadedServer,
    mail: Recorder,
) -> None:
    panel = open_panel(context, server)
    panel.say("what is an SCR")
    page = staff_sign_in(context, server, mail, OTHER_STAFF)
    per_day = page.locator("section", has=page.get_by_role("heading", name=re.compile("per day")))
    chart = per_day.first.locator("svg.chart")
    assert chart.count() == 1
    assert chart.locator("rect.bar").count() >= 1
    box = chart.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 100
    headers = per_day.first.locator("th[scope=col]").all_text_contents()
    assert "web" in headers
    axe(page)
    shot(page, "use")
    # A member of staff who is not an administrator has no audit trail.
    assert page.get_by_role("link", name="Audit").count() == 0
    page.goto(f"{server.base}/staff/audit")
    assert page.get_by_text("Only the partnership's administrators").count() == 1
    only_refusals(context, {403})


def test_a_non_staff_address_is_told_the_same_and_sent_nothing(
    context: Any,
    server: ThreadedServer,
    mail: Recorder,
) -> None:
    shown = {}
    for address in ("nobody.here@example.org", OTHER_SLO, STAFF):
        page = context.new_page()
        page.goto(f"{server.base}/staff/signin")
        page.get_by_label("Work email address").fill(address)
        page.get_by_role("button", name="Email me a code").click()
        page.get_by_label("Code").wait_for()
        shown[address] = page.locator("main").inner_text().replace(address, "ADDRESS")
        if address != STAFF:
            page.get_by_label("Code").fill("123456")
            page.get_by_role("button", name="Sign in").click()
            assert "That code is not right. 4 tries left." in page.locator("main").inner_text()
        page.close()
    assert shown["nobody.here@example.org"] == shown[OTHER_SLO] == shown[STAFF]
    wait_for(lambda: emails_to(mail, STAFF), "the staff member's code")
    # The outbox sends in order: what was asked before the staff code would have come first.
    assert emails_to(mail, "nobody.here@example.org") == 0
    before = emails_to(mail, OTHER_SLO)
    time.sleep(0.3)
    assert emails_to(mail, OTHER_SLO) == before  # the SLO's earlier mail was form copies
    only_refusals(context, {422})


def test_a_forged_post_is_refused(
    context: Any,
    server: ThreadedServer,
    mail: Recorder,
) -> None:
    page = staff_sign_in(context, server, mail, OTHER_STAFF)
    base = server.base
    # The browser's cookie goes with these, but no token, or another token, or another site.
    for form, headers in (
        ({}, {}),
        ({"csrf": "x" * 43}, {}),
        (
            {"csrf": page.locator("input[name=csrf]").first.input_value()},
            {"Origin": "http://evil.example"},
        ),
    ):
        answer = page.request.post(
            f"{base}/staff/notifications/SIN-2026-0001/retry", form=form, headers=headers
        )
        assert answer.status == 403, (form, headers)
        assert "did not come from your staff page" in answer.text()
    # The sign-in forms too.
    answer = page.request.post(f"{base}/staff/signin", form={"email": STAFF})
    assert answer.status == 403
    # Still signed in: the refusals changed nothing.
    page.goto(f"{base}/staff")
    page.get_by_role("heading", name="Use of the assistant").wait_for()
    # The cookies are Secure, HttpOnly, SameSite=Strict, and only for /staff.
    cookies = {c["name"]: c for c in context.cookies()}
    session = cookies["sa_staff"]
    assert session["secure"] and session["httpOnly"] and session["sameSite"] == "Strict"
    assert session["path"] == "/staff"


def test_a_failing_test_leaves_a_screenshot_of_each_page(
    browser: Any, server: ThreadedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the context fixture does when a test fails (webchat.keep_screenshots)."""
    monkeypatch.setattr(webchat, "ARTIFACTS", tmp_path)
    opened = webchat.watched(browser)
    try:
        opened.new_page().goto(f"{server.base}/staff/signin")
        failed = SimpleNamespace(
            node=SimpleNamespace(name="a-test", rep_call=SimpleNamespace(failed=True))
        )
        webchat.keep_screenshots(opened, failed)  # type: ignore[arg-type]
        passed = SimpleNamespace(
            node=SimpleNamespace(name="b-test", rep_call=SimpleNamespace(failed=False))
        )
        webchat.keep_screenshots(opened, passed)  # type: ignore[arg-type]
    finally:
        opened.close()
    assert [p.name for p in tmp_path.iterdir()] == ["a-test-0.png"]
    assert (tmp_path / "a-test-0.png").read_bytes().startswith(b"\x89PNG")
