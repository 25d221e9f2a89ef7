"""Two partnerships served by one installation, on one database: Bedford Borough, and the
invented Example Vale (tests/fixtures/packs/example-vale/). Nothing of Bedford's (its name, its
contacts, its recipients, its people, its documents, its users' questions and emails) ever
reaches Example Vale's users or staff, and nothing of Example Vale's reaches Bedford's: in
replies, the safety route, the fallback, the hand-off, /privacy, the emails sent, and the staff's
/unanswered and /outbox. On SQLite and on PostgreSQL, and with both partnerships' chats at once.

The national knowledge here is the small fixture base (tests/fixtures/small_knowledge), which
names no partnership; Bedford's pack is its real partnership.yaml and registry, and its real
local documents (regrouped under the fixture's one heading).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from bot.assistant import Assistant
from bot.channels.email.channel import make_email_channel
from bot.core.replies import Reply
from bot.installation import Installation
from bot.mail.message import OutgoingEmail
from bot.storage import OutboxItem
from config.settings import load_installation
from tests import yaml_support
from tests.conftest import Chat
from tests.email_support import PASSWORD, PRACTITIONER, USER, ImapServer, text_of, written
from tests.packs_support import BEDFORD, SMALL_KNOWLEDGE, VALE, two_packs
from tests.signin_support import Mailbox, fill_in_chat, sign_in
from tests.test_mailer import Recorder

VALE_ADMIN, VALE_SLO = "vale.admin@example-vale.org", "val.vale@example-vale.org"
BEDFORD_ADMIN, BEDFORD_SLO = "board.admin@example.org", "alex.example@example.org"


def strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return [str(node)] if isinstance(node, str | int) else []


def own_words(pack: Path, national: tuple[str, ...]) -> set[str]:
    """What only this partnership's people may see, lower-cased: every text of its
    partnership.yaml (its name, contacts, recipients) and its registry (its people),
    and its documents' titles; less what is everyone's (999, 101, "any time", ...)."""
    found = {"bedford"} if pack.name == BEDFORD else {"vale", "evscp"}
    texts = []
    for file in ("partnership.yaml", "liaison_officers.yaml"):
        data = yaml_support.load((pack / file).read_text(encoding="utf-8"))
        # (Whose email is answered is not shown: nhs.net is any NHS sender's own address.)
        texts += strings({k: v for k, v in data.items() if k != "allowed_email_domains"})
    reports = yaml_support.load((pack / "reports.yaml").read_text(encoding="utf-8"))["reports"]
    # (The notification form's entry is named as every partnership's form is.)
    texts += [r["title"] for r in reports if r["id"] != "notification-form"]
    for text in texts:
        if len(text) > 5 and text not in national:
            found.add(text.lower().removeprefix("https://").removeprefix("www.").rstrip("/"))
    return found


# Shared by every partnership: the national route's wording and numbers, the fields' names.
NATIONAL = (
    "Police or ambulance (emergency)",
    "any time",
    "Monday to Friday, office hours",
    "full report",
    "executive summary",
    "practitioner briefing",
    "presentation",
    "Not recorded",
    "official",
    "archive",
    "reviews",
)


@pytest.fixture
def packs(tmp_path: Path) -> Path:
    return two_packs(tmp_path)


@dataclass
class Two:
    installation: Installation
    bedford: Assistant
    vale: Assistant
    bedford_words: set[str]
    vale_words: set[str]


@pytest.fixture
async def two(tmp_path: Path, packs: Path, database_target: str) -> AsyncIterator[Two]:
    path = tmp_path / "settings.yaml"
    path.write_text(
        f"partnership: {BEDFORD}\n"
        f"partnerships_dir: {packs}\n"
        f"knowledge_dir: {SMALL_KNOWLEDGE}\n"
        f"database: {database_target}\n"
        f"installation_admins: [{VALE_ADMIN}]\n"
        f"mail:\n  outbox_dir: {tmp_path / 'outbox'}\n"
        "partnerships:\n"
        f"  - id: {BEDFORD}\n"
        "    email: {imap_host: 127.0.0.1, imap_username: bedford-assistant}\n"
        f"  - id: {VALE}\n"
        "    email: {imap_host: 127.0.0.1, imap_username: vale-assistant}\n",
        encoding="utf-8",
    )
    installation = await Installation.open(load_installation(path, environ={}))
    yield Two(
        installation,
        installation.assistants[BEDFORD],
        installation.assistants[VALE],
        own_words(packs / BEDFORD, NATIONAL),
        own_words(packs / VALE, NATIONAL),
    )
    await installation.close()


def seen(replies: list[Reply]) -> str:
    """Everything a user sees of replies: titles, text, buttons and links."""
    parts = []
    for reply in replies:
        parts += [reply.title or "", reply.text]
        parts += [f"{b.label} {b.data}" for b in reply.buttons]
        parts += [f"{link.label} {link.url}" for link in reply.links]
    return "\n".join(parts).lower()


def email_seen(message: EmailMessage | OutgoingEmail) -> str:
    if isinstance(message, OutgoingEmail):
        parts = [*message.to, *message.cc, message.subject, message.text, message.html or ""]
        return "\n".join([*parts, message.reply_to or ""]).lower()
    return message.as_string().lower()


def leaks(text: str, words: set[str]) -> list[str]:
    return sorted(w for w in words if w in text)


class Watched(Chat):
    """A user's chat that keeps everything it was shown."""

    def __init__(self, assistant: Assistant, chat: str) -> None:
        super().__init__(assistant, chat)
        self.shown: list[str] = []

    async def say(self, text: str) -> list[Reply]:
        replies = await super().say(text)
        self.shown.append(seen(replies))
        return replies

    async def press(self, label: str) -> list[Reply]:
        replies = await super().press(label)
        self.shown.append(seen(replies))
        return replies

    @property
    def everything(self) -> str:
        return "\n".join(self.shown)


async def a_users_visit(chat: Watched) -> None:
    """What a practitioner does: the menu, questions, documents, the safety route, a question
    the assistant cannot answer handed to the partnership, /privacy and /contact."""
    for text in ("/start", "/help", "/contact", "/privacy", "/urgent", "/reports"):
        await chat.say(text)
    await chat.say("what is a widget review")
    await chat.say("a child is in danger right now")  # the safety route
    await chat.say("patrick report")  # Bedford's own document
    await chat.say("child v review")  # Example Vale's
    await chat.say("what is the bedford front door")
    await chat.say("what is the vale advice line")
    await chat.say("when does the mobile library visit the estate")  # the fallback
    await chat.press("Ask the partnership")
    await chat.press("Send")


async def outbox_of(assistant: Assistant) -> list[OutboxItem]:
    """Every email the partnership's outbox holds (through its own store's view)."""
    rows = await assistant.storage.db.fetch(
        "SELECT id FROM outbox WHERE partnership = ?", (assistant.settings.partnership,)
    )
    items = []
    for _ in rows:
        claimed = await assistant.storage.outbox.claim_next_email(time.time() + 1, 0)
        if claimed is not None:
            items.append(claimed)
    assert len(items) == len(rows)
    return items


async def test_neither_partnerships_users_see_anything_of_the_other(two: Two) -> None:
    vale = Watched(two.vale, "telegram:42")
    bedford = Watched(two.bedford, "telegram:42")  # the same Telegram user, in both bots
    await a_users_visit(vale)
    await a_users_visit(bedford)

    # Each sees its own partnership: the test is not looking at empty replies.
    assert "evscp@example-vale.org" in vale.everything
    assert "01632 960101" in vale.everything, "vale's front door on the safety route"
    assert "child v - local review" in vale.everything
    assert "lscb@bedford.gov.uk" in bedford.everything
    assert "serious case review - patrick" in bedford.everything
    # ... and nothing of the other's.
    assert leaks(vale.everything, two.bedford_words) == []
    assert leaks(bedford.everything, two.vale_words) == []
    # Recipients: /privacy names each partnership's own.
    assert "notifications@example-vale.org" in vale.everything
    assert "safeguarding.partnership@example.org" not in vale.everything

    # The hand-offs went to each partnership's own address, numbered in each partnership.
    vale_mail = [i.email for i in await outbox_of(two.vale)]
    bedford_mail = [i.email for i in await outbox_of(two.bedford)]
    assert [m.to for m in vale_mail] == [("evscp@example-vale.org",)]
    assert [m.to for m in bedford_mail] == [("lscb@bedford.gov.uk",)]
    assert "Q-" in vale_mail[0].subject and vale_mail[0].subject == bedford_mail[0].subject
    assert leaks(email_seen(vale_mail[0]), two.bedford_words) == []
    assert leaks(email_seen(bedford_mail[0]), two.vale_words) == []


async def test_a_notification_goes_only_to_its_own_partnership(two: Two) -> None:
    mailboxes = {name: Mailbox(a) for name, a in ((VALE, two.vale), (BEDFORD, two.bedford))}
    vale = Watched(two.vale, "telegram:7")
    # Bedford's liaison officer is not Example Vale's: no code is sent to them by Vale.
    stranger = Watched(two.vale, "telegram:8")
    await stranger.say("/signin")
    await stranger.say(BEDFORD_SLO)
    assert await mailboxes[VALE].new_messages() == []
    await sign_in(vale, mailboxes[VALE], VALE_SLO, start="/notify")
    await fill_in_chat(vale, {})
    await vale.press("Submit")
    assert "sin-" in vale.everything
    sent = await mailboxes[VALE].new_messages()
    notification = next(m for m in sent if "SIN-" in str(m["Subject"]))
    assert str(notification["To"]) == "notifications@example-vale.org"
    assert VALE_SLO in str(notification["Cc"]).lower()
    for message in sent:
        assert leaks(email_seen(message), two.bedford_words) == [], message["Subject"]
    assert leaks(vale.everything, two.bedford_words) == []
    assert await mailboxes[BEDFORD].new_messages() == [], "nothing went out as Bedford"
    # Bedford's first notification is SIN-...-0001 too: numbers are per partnership.
    assert await two.bedford.storage.notifications.notifications_for("telegram:7") == []


async def test_staff_see_only_their_own_partnerships_questions_and_emails(two: Two) -> None:
    # Bedford's users leave questions and a refused email behind.
    bedford_user = Watched(two.bedford, "telegram:100")
    await bedford_user.say("is the bedford borough bus depot open on sundays")
    queued = OutgoingEmail(
        ("safeguarding.partnership@example.org",), "Bedford", "body", None, "<b1@example.org>"
    )
    outbox_id = await two.bedford.storage.outbox.enqueue_email(queued, "telegram:100", "other")
    item = await two.bedford.storage.outbox.claim_next_email(time.time(), 60)
    assert item is not None and item.id == outbox_id
    await two.bedford.storage.outbox.mark_email_failed(outbox_id, "550", time.time())
    # Example Vale's own.
    vale_user = Watched(two.vale, "telegram:100")
    await vale_user.say("when is the vale bin collection")
    # Example Vale's administrator signs in and looks.
    admin = Watched(two.vale, "telegram:900")
    await sign_in(admin, Mailbox(two.vale), VALE_ADMIN)
    await admin.say("/unanswered")
    listed = admin.shown[-1]
    assert "vale bin collection" in listed
    assert "bus depot" not in listed
    await admin.say("/outbox")
    assert "no refused emails" in admin.shown[-1]
    await admin.say(f"/outbox retry {item.human_reference}")
    assert "no refused email has the reference" in admin.shown[-1]
    assert leaks(admin.everything, two.bedford_words) == []
    # A Bedford administrator, signed in with Bedford, sees Bedford's.
    bedford_admin = Watched(two.bedford, "telegram:901")
    bedford_mailbox = Mailbox(two.bedford)
    await sign_in(bedford_admin, bedford_mailbox, BEDFORD_ADMIN)
    await bedford_admin.say("/unanswered")
    assert (
        "bus depot" in bedford_admin.shown[-1] and "bin collection" not in bedford_admin.shown[-1]
    )
    await bedford_admin.say("/outbox")
    assert item.human_reference.lower() in bedford_admin.shown[-1]
    # Vale's administrator is not Bedford's.
    stranger = Watched(two.bedford, "telegram:902")
    await stranger.say("/signin")
    await stranger.say(VALE_ADMIN)
    assert await bedford_mailbox.new_messages() == []


async def test_both_partnerships_chats_at_once(two: Two) -> None:
    """Twenty users of each partnership, the same chat ids in both, all talking at once."""

    async def user(assistant: Assistant, n: int) -> Watched:
        chat = Watched(assistant, f"telegram:{n}")
        for text in ("/start", "/threshold", "Yes", "a child is in danger right now", "/privacy"):
            await chat.say(text)
        await chat.say("/cancel")
        # Example Vale's users number their questions from 100, Bedford's from 0.
        number = n + (100 if assistant is two.vale else 0)
        await chat.say(f"question number {number} nobody can answer about the allotments")
        return chat

    chats = await asyncio.gather(*(user(a, n) for n in range(20) for a in (two.vale, two.bedford)))
    for chat in chats:
        other = two.bedford_words if chat.assistant is two.vale else two.vale_words
        assert leaks(chat.everything, other) == [], chat.chat
        assert chat.shown[2] != chat.shown[0]  # the threshold check moved on
    for assistant in (two.vale, two.bedford):
        numbers = [int(q.split()[2]) for q, _ in await assistant.storage.questions.unanswered(100)]
        expected = range(100, 120) if assistant is two.vale else range(20)
        assert sorted(numbers) == list(expected), assistant.settings.partnership
        # The last question of each chat waits for its hand-off in its own partnership's
        # session: a session per (partnership, chat).
        session = await assistant.storage.sessions.load_session("telegram:3")
        assert session.data["handoff_question"].split()[2] == (
            "103" if assistant is two.vale else "3"
        )


async def test_one_email_to_both_partnerships_mailboxes_gets_two_answers_each_its_own(
    tmp_path: Path,
    packs: Path,
    database_target: str,
    imap_server: ImapServer,
    smtp_recorder: Recorder,
) -> None:
    """A practitioner writes to both partnerships' assistants at once (the same email, one
    Message-ID): each answers from its own mailbox, as itself, under an id of its own."""
    boxes = {BEDFORD: imap_server.new_mailbox(), VALE: imap_server.new_mailbox()}
    path = tmp_path / "settings.yaml"
    entries = "".join(
        f"  - id: {pid}\n    email:\n      imap_host: 127.0.0.1\n      imap_port: {box.port}\n"
        f"      imap_folder: {box.folder}\n      imap_security: none\n"
        f"      imap_username: {USER}\n      allowed_domains: [nhs.net]\n"
        for pid, box in boxes.items()
    )
    path.write_text(
        f"partnership: {BEDFORD}\npartnerships_dir: {packs}\nknowledge_dir: {SMALL_KNOWLEDGE}\n"
        f"database: {database_target}\nmail:\n  outbox_dir: {tmp_path / 'outbox'}\n"
        f"smtp: {{host: 127.0.0.1, port: {smtp_recorder.port}, security: none}}\n"  # type: ignore[attr-defined]
        f"partnerships:\n{entries}",
        encoding="utf-8",
    )
    environ = {
        "EMAIL_PASSWORD__BEDFORD_BOROUGH": PASSWORD,
        "EMAIL_PASSWORD__EXAMPLE_VALE": PASSWORD,
    }
    installation = await Installation.open(load_installation(path, environ=environ))
    try:
        question = written(PRACTITIONER, "when does the mobile library visit the estate?")
        for box in boxes.values():
            box.deliver(question)
        for assistant in installation.assistants.values():
            await make_email_channel(assistant).poll_once()
            await assistant.outbox.run_once()
    finally:
        await installation.close()
    answers = {str(r.message["Message-ID"]): r.message for r in smtp_recorder.received}
    assert len(answers) == 2, "two answers, under two ids"
    by_footer = {
        pid: [m for m in answers.values() if email in text_of(m)]
        for pid, email in ((BEDFORD, "lscb@bedford.gov.uk"), (VALE, "evscp@example-vale.org"))
    }
    assert len(by_footer[BEDFORD]) == len(by_footer[VALE]) == 1
    vale_words, bedford_words = (
        own_words(packs / VALE, NATIONAL),
        own_words(packs / BEDFORD, NATIONAL),
    )
    assert leaks(email_seen(by_footer[VALE][0]), bedford_words) == []
    assert leaks(email_seen(by_footer[BEDFORD][0]), vale_words) == []
    for message in answers.values():
        assert str(message["In-Reply-To"]) == str(question["Message-ID"])
