"""The staff page over HTTP (the browser's side is tests/test_staff_browser.py): one
partnership's staff never see another's notifications, hand-offs, questions or audit, on
SQLite and PostgreSQL; sessions expire; what staff do is audited; the charts' counts hold no
text; the suggestions' export is a patch in topics.yaml's shape."""

from __future__ import annotations

import re
import time

from bot.channels.email.channel import make_email_channel
from bot.core.usage import Usage
from bot.ops.retention import apply_retention
from bot.server import Service
from tests import test_partnership_isolation as isolation
from tests import yaml_support
from tests.conftest import Chat
from tests.signin_support import Mailbox, fill_in_chat
from tests.signin_support import sign_in as chat_sign_in
from tests.staff_support import csrf_of, sign_in, staff_client
from tests.test_partnership_isolation import BEDFORD_ADMIN, BEDFORD_SLO, VALE_ADMIN, Two

# Bedford Borough and Example Vale on one database, SQLite and PostgreSQL (their fixtures).
packs, two = isolation.packs, isolation.two

REFERENCE = re.compile(r"SIN-\d{4}-\d{4}")


async def submit(chat: Chat, mailbox: Mailbox, address: str) -> str:
    """A notification through the conversation, as the console chat sends it."""
    await chat_sign_in(chat, mailbox, address, start="/notify")
    await fill_in_chat(chat, {})
    await chat.press("Submit")
    found = REFERENCE.search(chat.text)
    assert found, chat.text
    return found.group(0)


async def hand_off(chat: Chat, text: str = "when does the mobile library visit the estate") -> str:
    """A question the assistant cannot answer, handed to the partnership: its Q- reference."""
    await chat.say(text)
    await chat.press("Ask the partnership")
    await chat.press("Send")
    found = re.search(r"Q-\d{4}-\d{4}", chat.text)
    assert found, chat.text
    return found.group(0)


async def test_one_partnerships_staff_never_see_anothers_rows(two: Two) -> None:
    bedford, vale = two.bedford, two.vale
    bedford_mail, vale_mail = Mailbox(bedford), Mailbox(vale)
    user = Chat(bedford, "console:bedford-user")
    reference = await submit(user, bedford_mail, BEDFORD_SLO)
    question = await hand_off(user)

    async with staff_client(vale) as vale_page, staff_client(bedford) as bedford_page:
        home = await sign_in(vale_page, VALE_ADMIN, vale_mail.code_for)
        assert "Use of the assistant" in home.text
        await sign_in(bedford_page, BEDFORD_ADMIN, bedford_mail.code_for)
        # Bedford's own staff see them (so the checks below could fail)...
        listed = await bedford_page.get("/staff/notifications")
        assert reference in listed.text
        assert question in (await bedford_page.get("/staff/handoffs")).text
        assert "mobile library" in (await bedford_page.get("/staff/unanswered")).text
        assert (await bedford_page.get(f"/staff/notifications/{reference}")).status_code == 200
        # ...and Example Vale's see none of them, by the list or by their address.
        for path in ("/staff/notifications", "/staff/handoffs", "/staff/unanswered", "/staff"):
            page = await vale_page.get(path)
            assert page.status_code == 200
            assert reference not in page.text and question not in page.text
            assert "mobile library" not in page.text
        assert (await vale_page.get(f"/staff/notifications/{reference}")).status_code == 404
        assert (await vale_page.get(f"/staff/notifications/{reference}.docx")).status_code == 404
        audit = await vale_page.get("/staff/audit")
        assert audit.status_code == 200 and reference not in audit.text
        assert BEDFORD_ADMIN not in audit.text
        # Bedford's session cookie opens nothing on Example Vale's page.
        cookie = bedford_page.cookies.get("sa_staff")
        assert cookie
        async with staff_client(vale) as stranger:
            stranger.cookies.set("sa_staff", cookie, domain="staff.test", path="/staff")
            assert (await stranger.get("/staff/notifications")).status_code == 303


async def test_serve_gives_each_partnership_its_own_staff_page(two: Two) -> None:
    """`serve` (bot/server.py): the first partnership's page at /staff, another's at
    /staff-<id>, each with its own cookies and only its own rows."""
    bedford, vale = two.bedford, two.vale
    reference = await submit(Chat(bedford, "console:slo"), Mailbox(bedford), BEDFORD_SLO)
    service = Service(bedford, webhook=False)
    await service.add_partnership(vale)
    root = f"/staff-{vale.settings.partnership}"
    async with staff_client(None, service.app) as page:
        home = await sign_in(page, VALE_ADMIN, Mailbox(vale).code_for, root)
        assert home.status_code == 200 and str(home.url).endswith(root)
        assert "Vale Administrator" in home.text
        assert f'href="{root}/notifications"' in home.text
        listed = await page.get(f"{root}/notifications")
        assert listed.status_code == 200 and reference not in listed.text
        # Its session cookie is for its own page only: Bedford's page asks for sign-in.
        assert {c.path for c in page.cookies.jar} == {root}
        assert (await page.get("/staff/notifications")).headers["location"] == "/staff/signin"
        # Stopping the partnership takes its page away.
        await service.remove_partnership(vale.settings.partnership)
        assert (await page.get(f"{root}/notifications")).status_code == 404
        assert (await page.get("/staff/signin")).status_code == 200


async def test_a_hand_off_asked_by_email_is_answered_by_email_once(two: Two) -> None:
    """Answered on the page, the answer goes the way an answer by email would: to the asker's
    address, by the email channel's own delivery, once whatever is posted twice."""
    bedford = two.bedford
    mailbox = Mailbox(bedford)
    asker = Chat(bedford, "email:practitioner@example.org")
    question = await hand_off(asker)
    bedford.deliver_news = make_email_channel(bedford).deliver  # as the installation sets it
    answer = "The mobile library is the council's libraries team's: ask them."
    async with staff_client(bedford) as page:
        await sign_in(page, BEDFORD_ADMIN, mailbox.code_for)
        token = csrf_of((await page.get("/staff/handoffs")).text)
        path = f"/staff/handoffs/{question}/answer"
        first = await page.post(path, data={"csrf": token, "answer": answer})
        assert first.headers["location"] == "/staff/handoffs?done=answered"
        again = await page.post(path, data={"csrf": token, "answer": "a second answer"})
        assert again.headers["location"] == "/staff/handoffs?done=already"
        trail = (await page.get("/staff/audit")).text
        assert "handoff_answered" in trail and question in trail
    arrived = [
        m
        for m in await mailbox.new_messages()
        if "practitioner@example.org" in str(m["To"]) and answer in m.as_string()
    ]
    assert len(arrived) == 1
    assert not [m for m in await mailbox.new_messages() if "a second answer" in m.as_string()]


async def test_sessions_expire_sign_out_ends_them_and_views_are_audited(two: Two) -> None:
    bedford = two.bedford
    mailbox = Mailbox(bedford)
    reference = await submit(Chat(bedford, "console:slo"), mailbox, BEDFORD_SLO)
    async with staff_client(bedford) as page:
        await sign_in(page, BEDFORD_ADMIN, mailbox.code_for)
        assert (await page.get(f"/staff/notifications/{reference}")).status_code == 200
        trail = (await page.get("/staff/audit")).text
        assert "staff_viewed" in trail and reference in trail and BEDFORD_ADMIN in trail
        assert "staff_signed_in" in trail
        # Sign-out needs its CSRF token too; then the cookie opens nothing.
        home = await page.get("/staff")
        assert (await page.post("/staff/signout", data={})).status_code == 403
        out = await page.post("/staff/signout", data={"csrf": csrf_of(home.text)})
        assert out.status_code == 303 and out.headers["location"] == "/staff/signin?out=1"
        assert (await page.get("/staff")).headers["location"] == "/staff/signin"

        # A session past its hours is over, whatever the cookie says.
        await sign_in(page, BEDFORD_ADMIN, mailbox.code_for)
        assert (await page.get("/staff")).status_code == 200
        real = bedford.access.clock
        bedford.access.clock = lambda: real() + 9 * 3600
        try:
            assert (await page.get("/staff")).status_code == 303
        finally:
            bedford.access.clock = real


async def test_the_charts_count_turns_and_keep_no_text(two: Two) -> None:
    bedford = two.bedford
    bedford.conversation.usage = Usage()
    chat = Chat(bedford, "telegram:5")
    await chat.say("what is a widget review")
    await chat.say("a child is in danger right now")
    await chat.say("when does the mobile library visit the estate")
    await bedford.conversation.usage.flush(bedford.storage)
    counts = await bedford.storage.staff.usage("2000-01-01")
    outcomes = {c.kind: c.turns for c in counts}
    assert outcomes.get("urgent") == 1
    assert sum(outcomes.values()) == 3
    assert {c.channel for c in counts} == {"telegram"}
    stored = " ".join(f"{c.day} {c.channel} {c.kind} {c.item}" for c in counts)
    assert "library" not in stored and "danger" not in stored


async def test_suggestions_export_as_a_topics_patch(two: Two) -> None:
    bedford = two.bedford
    mailbox = Mailbox(bedford)
    chat = Chat(bedford, "console:asker")
    await chat.say("when does the mobile library visit the estate")
    await chat.say("when does the mobile library visit our estate please")
    topic = next(iter(bedford.knowledge.topics))
    async with staff_client(bedford) as page:
        await sign_in(page, BEDFORD_ADMIN, mailbox.code_for)
        listing = await page.get("/staff/unanswered")
        # Similar questions are one group: one form for both.
        assert listing.text.count('action="/staff/unanswered/suggest"') == 1
        token = csrf_of(listing.text)
        posted = await page.post(
            "/staff/unanswered/suggest",
            data={
                "csrf": token,
                "topic": topic,
                "question": [
                    "when does the mobile library visit the estate",
                    "something never asked",
                ],
            },
        )
        assert posted.status_code == 303
        export = await page.get("/staff/suggestions.yaml")
        patch = yaml_support.load(export.text)
        assert patch == {
            "topics": [
                {"id": topic, "questions": ["when does the mobile library visit the estate"]}
            ]
        }
        assert "staff_exported" in (await page.get("/staff/audit")).text


async def test_five_wrong_codes_lock_the_address_out(two: Two) -> None:
    """The chat sign-in's rules on the page: the lockout is the address's, whichever browser."""
    bedford = two.bedford
    mailbox = Mailbox(bedford)
    async with staff_client(bedford) as page:
        token = csrf_of((await page.get("/staff/signin")).text)
        await page.post("/staff/signin", data={"csrf": token, "email": BEDFORD_ADMIN})
        code = await mailbox.code_for(BEDFORD_ADMIN)
        wrong = "000000" if code != "000000" else "111111"
        said = []
        for _ in range(5):
            answer = await page.post(
                "/staff/code", data={"csrf": token, "email": BEDFORD_ADMIN, "code": wrong}
            )
            said.append(answer.text)
        assert "4 tries left" in said[0] and "1 try left" in said[3]
        assert "sign-in is locked for 15 minutes" in said[4]
        # The right code no longer works, and another browser cannot ask for a new one.
        late = await page.post(
            "/staff/code", data={"csrf": token, "email": BEDFORD_ADMIN, "code": code}
        )
        assert late.status_code == 422 and "locked" in late.text
    async with staff_client(bedford) as other:
        token = csrf_of((await other.get("/staff/signin")).text)
        asked = await other.post("/staff/signin", data={"csrf": token, "email": BEDFORD_ADMIN})
        assert "Sign-in is locked for another 15 minutes" in asked.text
    assert not [m for m in await mailbox.new_messages() if BEDFORD_ADMIN in str(m["To"])]


async def test_a_form_of_too_many_fields_is_refused_not_a_crash(two: Two) -> None:
    """parse_qs raises past its field limit: the page says the form is not its own, before
    sign-in and after, rather than failing with a server error."""
    bedford = two.bedford
    many = {"content-type": "application/x-www-form-urlencoded"}
    async with staff_client(bedford) as page:
        token = csrf_of((await page.get("/staff/signin")).text)
        body = f"csrf={token}&" + "&".join(["email=a@b.org"] * 600)
        refused = await page.post("/staff/signin", content=body, headers=many)
        assert refused.status_code == 403 and "did not come from your staff page" in refused.text
        await sign_in(page, BEDFORD_ADMIN, Mailbox(bedford).code_for)
        token = csrf_of((await page.get("/staff")).text)
        body = f"csrf={token}&" + "&".join(["question=x"] * 600)
        refused = await page.post("/staff/unanswered/suggest", content=body, headers=many)
        assert refused.status_code == 403 and "did not come from your staff page" in refused.text


async def test_a_control_character_in_a_reference_or_an_answer_is_a_clear_message(
    two: Two,
) -> None:
    """A NUL (which PostgreSQL cannot store or even compare) in the address or in an answer
    gets the page's own message, and the hand-off stays open for a readable answer."""
    bedford = two.bedford
    mailbox = Mailbox(bedford)
    asker = Chat(bedford, "console:asker")
    question = await hand_off(asker)
    async with staff_client(bedford) as page:
        await sign_in(page, BEDFORD_ADMIN, mailbox.code_for)
        for path in ("/staff/notifications/SIN%00", "/staff/notifications/SIN%00.docx"):
            missing = await page.get(path)
            assert missing.status_code == 404 and "There is nothing here called" in missing.text
        token = csrf_of((await page.get("/staff/handoffs")).text)
        unknown = await page.post(
            "/staff/handoffs/Q%00/answer", data={"csrf": token, "answer": "x"}
        )
        assert unknown.headers["location"] == "/staff/handoffs?done=unknown"
        path = f"/staff/handoffs/{question}/answer"
        bad = await page.post(path, data={"csrf": token, "answer": "ask the\x00 library"})
        assert bad.status_code == 422 and "invisible control character" in bad.text
        good = await page.post(path, data={"csrf": token, "answer": "Ask the library."})
        assert good.headers["location"] == "/staff/handoffs?done=answered"


async def test_a_suggestion_goes_when_its_question_does(two: Two) -> None:
    """Retention: a suggestion quotes an unanswered question, so it is deleted with the
    question, however late it was made."""
    bedford = two.bedford
    mailbox = Mailbox(bedford)
    await Chat(bedford, "console:asker").say("when does the mobile library visit the estate")
    topic = next(iter(bedford.knowledge.topics))
    days = bedford.settings.retention.unanswered_days
    real = bedford.access.clock
    # Suggested in the last hour of the question's life; its session outlives the question.
    bedford.access.clock = lambda: real() + days * 86400 - 3600
    try:
        async with staff_client(bedford) as page:
            await sign_in(page, BEDFORD_ADMIN, mailbox.code_for)
            token = csrf_of((await page.get("/staff/unanswered")).text)
            posted = await page.post(
                "/staff/unanswered/suggest",
                data={
                    "csrf": token,
                    "topic": topic,
                    "question": "when does the mobile library visit the estate",
                },
            )
            assert posted.headers["location"] == "/staff/unanswered?done=suggested"
            assert "mobile library" in (await page.get("/staff/suggestions.yaml")).text
            await apply_retention(bedford.storage, bedford.settings, real() + days * 86400 + 60)
            export = await page.get("/staff/suggestions.yaml")
            assert export.status_code == 200 and "mobile library" not in export.text
    finally:
        bedford.access.clock = real


async def test_a_code_is_read_as_the_chat_reads_it(two: Two) -> None:
    """One rule for what a typed code is: "123-456" signs in on the page as in the chat."""
    bedford = two.bedford
    mailbox = Mailbox(bedford)

    async def hyphenated(address: str) -> str:
        code = await mailbox.code_for(address)
        return f"{code[:3]}-{code[3:]}"

    async with staff_client(bedford) as page:
        home = await sign_in(page, BEDFORD_ADMIN, hyphenated)
        assert home.status_code == 200 and "Use of the assistant" in home.text
    async with staff_client(bedford) as other:
        token = csrf_of((await other.get("/staff/signin")).text)
        await other.post("/staff/signin", data={"csrf": token, "email": BEDFORD_ADMIN})
        asked = await other.post(
            "/staff/code", data={"csrf": token, "email": BEDFORD_ADMIN, "code": "12345"}
        )
        assert asked.status_code == 422 and "A code is 6 digits" in asked.text
        assert 'pattern="[0-9 \\-]{6,8}"' in asked.text


async def test_a_suggestion_of_no_stored_question_is_not_said_to_be_recorded(two: Two) -> None:
    """A question gone since the page was read (retention) is not suggested, and the page says
    so rather than "Suggestion recorded"; nothing is audited as suggested."""
    bedford = two.bedford
    await Chat(bedford, "console:asker").say("when does the mobile library visit the estate")
    topic = next(iter(bedford.knowledge.topics))
    async with staff_client(bedford) as page:
        await sign_in(page, BEDFORD_ADMIN, Mailbox(bedford).code_for)
        token = csrf_of((await page.get("/staff/unanswered")).text)
        await bedford.storage.questions.delete_unanswered(time.time() + 1)
        posted = await page.post(
            "/staff/unanswered/suggest",
            data={
                "csrf": token,
                "topic": topic,
                "question": "when does the mobile library visit the estate",
            },
            follow_redirects=True,
        )
        assert "Suggestion recorded" not in posted.text
        assert "no longer stored" in posted.text
        assert "staff_suggested" not in (await page.get("/staff/audit")).text
