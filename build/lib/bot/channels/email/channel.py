"""The email channel: each accepted email becomes an `Incoming`, and the replies one email in
the same thread, queued in the outbox. Holds no feature logic, like the other channels.

The path of an email, and what makes it happen once:
1. fetch: the source hands over unread mail; each is parsed and recorded in the inbox table
   under its Message-ID (a Message-ID seen before is dropped here), then marked read.
2. process: every pending row, in order. Ignored: no sender, our own address, automatic mail
   (auto-replies, bounces, lists). A staff reply to a hand-off is relayed. A sender outside the
   allowed domains and the registry gets at most one notice a day. A sender over the hourly
   limit still gets the safety route for a live concern, else one short notice an hour, and
   staff see each such email in /unanswered. Everyone else gets the core's answer to the
   question (the subject and first paragraphs, `question_of`), in email words ("reply with
   the number"), never chat commands.
3. the reply is queued with a Message-ID derived from the inbound one, then the row is marked
   answered. A crash anywhere before that leaves the row pending: after a restart the email is
   answered again, and the outbox refuses the second copy of the same Message-ID.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.channels.email import render
from bot.channels.email.handoffs import HandoffDesk
from bot.channels.email.parse import InboundEmail, parse_email, question_of
from bot.channels.email.sources import MailboxSource
from bot.core.background import BackgroundTask
from bot.core.conversation import Conversation, split_command
from bot.core.lifetimes import INBOX_KEEP_SECONDS
from bot.core.redaction import redact
from bot.core.replies import HANDOFF_SENT, Incoming, Reply
from bot.mail.message import (
    MESSAGE_ID,
    Attachment,
    OutgoingEmail,
    make_message_id,
    message_id_domain,
)
from bot.storage import Storage
from bot.storage.inbox import LEFT_UNANSWERED
from config.addresses import is_email
from config.registry import Registry, normal_email
from config.settings import EmailSettings, Settings

if TYPE_CHECKING:  # bot.app builds the assistant this channel serves
    from bot.assistant import Assistant

log = logging.getLogger(__name__)

CHAT_PREFIX = "email:"
# Conversations that need a signed-in chat: by email, the sender's address is only a claim.
CHAT_ONLY = frozenset({"/notify", "/signin", "/signout", "/status"})
MAX_REFERENCES = 10  # References grows with every reply; keep the newest


def chat_of(address: str) -> str:
    return f"{CHAT_PREFIX}{address}"


def address_of(chat: str) -> str | None:
    return chat[len(CHAT_PREFIX) :] if chat.startswith(CHAT_PREFIX) else None


def domain_allowed(address: str, patterns: tuple[str, ...]) -> bool:
    """'a@nhs.net' matches "nhs.net"; 'b@school.beds.sch.uk' matches "*.sch.uk"."""
    domain = address.rpartition("@")[2].lower()
    for pattern in (p.strip().lower() for p in patterns):
        if pattern.startswith("*."):
            if domain.endswith(pattern[1:]):
                return True
        elif domain == pattern:
            return True
    return False


class EmailChannel(BackgroundTask):
    name = "email"

    def __init__(
        self,
        conversation: Conversation,
        storage: Storage,
        settings: Settings,
        source: MailboxSource,
        registry: Callable[[], Registry],
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        assert settings.email is not None, "the email channel needs the email settings"
        self.conversation = conversation
        self.storage = storage
        self.settings = settings
        self.email: EmailSettings = settings.email
        self.source = source
        self.registry = registry
        self.clock = clock
        self.desk = HandoffDesk(storage, settings, clock)
        self._wake = asyncio.Event()

    # --- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        log.info("email channel started: %s", self.source.describe())
        while True:
            try:
                await self.poll_once()
            except Exception as exc:  # the server is down, a login failed: try next time
                log.error("email channel: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.email.poll_seconds)
            self._wake.clear()

    def wake(self) -> None:
        self._wake.set()

    async def poll_once(self) -> int:
        """Fetch, process, relay and remind; returns how many emails were dealt with."""
        await self.receive_new()
        done = await self.process_pending()
        await self.desk.run_once(self.deliver)
        await self.storage.inbox.delete_inbox(self.clock() - INBOX_KEEP_SECONDS)
        return done

    async def receive_new(self) -> int:
        """Record new mail in the inbox table, then mark it read; returns how many were new."""
        fetched = await self.source.fetch()
        new = 0
        for raw in fetched:
            mail = parse_email(raw.data)
            if await self.storage.inbox.receive_email(mail.message_id, mail.sender, mail.to_json()):
                new += 1
            else:
                log.info("email already received; dropped the copy")
        await self.source.acknowledge([raw.key for raw in fetched])
        return new

    async def process_pending(self) -> int:
        pending = await self.storage.inbox.pending_emails()
        for message_id, _, data in pending:
            # Several instances may poll one mailbox: each email is taken by one of them.
            async with self.storage.inbox.take_email(message_id) as still_pending:
                if not still_pending:
                    continue
                keep = None
                try:
                    mail = InboundEmail.from_json(data)
                    status = await self.process(mail)
                    if status in LEFT_UNANSWERED:
                        keep = self.kept_for_staff(mail)
                except Exception as exc:  # one bad email must not block the others
                    log.error("email could not be processed: %s", type(exc).__name__)
                    status, keep = "failed", {"subject": "", "question": "(could not be read)"}
                await self.storage.inbox.finish_email(message_id, status, keep)
                log.info("email processed: %s", status)
        return len(pending)

    # --- one email -----------------------------------------------------------------------

    def own_addresses(self) -> set[str]:
        return {
            normal_email(a) for a in (self.settings.mail.from_address, *self.email.own_addresses)
        }

    def allowed(self, sender: str) -> bool:
        return domain_allowed(sender, self.settings.allowed_email_domains) or self.registry().knows(
            sender
        )

    async def process(self, mail: InboundEmail) -> str:
        """Deal with one email; returns what became of it (the inbox row's status)."""
        if not is_email(mail.sender):  # none, or one no reply could be addressed to
            return "ignored"
        if mail.sender in self.own_addresses():
            return "own"  # a copy of our own mail, or a loop: never answered
        if mail.automatic:
            return "automatic"
        handoff = await self.desk.match(mail)
        if handoff is False:
            return "ignored"
        if handoff is not None:
            if await self.desk.accept(handoff, mail):
                await self.desk.tell(self.deliver)
                return "staff"
            return "ignored"
        if not self.allowed(mail.sender):
            return await self._outsider(mail)
        answered = await self.storage.inbox.received_times(
            mail.sender, "answered", self.clock() - 3600
        )
        if len(answered) >= self.email.max_per_hour:
            return await self._limited(mail, answered)
        replies = await self.answer(mail)
        await self.reply(mail, replies)
        return "answered"

    async def _limited(self, mail: InboundEmail, answered: list[float]) -> str:
        """A sender over the hourly limit is never left in silence: a live concern gets the
        safety route all the same, and anyone else one short notice an hour (when answers
        resume, who to call if a child is at risk). Each email is kept for staff (/unanswered)."""
        route = await self.conversation.safety_route(chat_of(mail.sender), question_of(mail))
        if route:
            log.warning("email sender over the hourly limit: a live concern, answered")
            await self.reply(mail, route)
            return "answered"
        log.warning("email sender over the hourly limit; not answered")
        hour_ago = self.clock() - 3600
        if await self.storage.inbox.count_inbox(mail.sender, "limit_notice", hour_ago):
            return "limited"
        resume = answered[len(answered) - self.email.max_per_hour] + 3600
        await self.reply(mail, [self.limit_notice(resume)])
        return "limit_notice"

    def limit_notice(self, resume: float) -> Reply:
        contacts = self.settings.contacts
        front_door, out_of_hours = contacts.front_door, contacts.out_of_hours
        at = time.strftime("%H:%M", time.localtime(resume))
        return Reply(
            f"You have sent more than {self.email.max_per_hour} emails in an hour, so I'm "
            f"pausing my answers to this address until {at}. Your emails are kept, and the "
            "partnership's staff can see them. If a child is in immediate danger, call 999. "
            f"If you are worried about a child now, call {front_door.name}"
            f"{f' on {front_door.phone}' if front_door.phone else ''} (out of hours: "
            f"{out_of_hours.name}{f' on {out_of_hours.phone}' if out_of_hours.phone else ''}).",
            kind="limited",
            title="I'll answer again soon",
        )

    def kept_for_staff(self, mail: InboundEmail) -> dict[str, str]:
        """What staff see of an email left unanswered: its subject and question, without
        names or other personal details (as unanswered questions are kept)."""
        return {"subject": redact(mail.subject)[:200], "question": redact(question_of(mail))[:500]}

    async def answer(self, mail: InboundEmail) -> list[Reply]:
        """The core's replies to the email's question (a number or a word picks an option)."""
        chat = chat_of(mail.sender)
        options, numbered = await self.storage.inbox.email_choices(chat)
        picked = render.choose(mail.text, options, numbered)
        text = picked if picked is not None else question_of(mail)
        if self.chat_only(text):
            replies = [self.chat_only_reply()]
        else:
            replies = await self.conversation.handle(
                Incoming(chat, text, pressed=picked is not None)
            )
        for reply in replies:
            if reply.kind == HANDOFF_SENT and reply.id:
                # The answer will come back in this thread (see `deliver`).
                thread = {"subject": mail.subject, "references": list(thread_ids(mail))}
                await self.storage.handoffs.set_handoff_thread(reply.id, chat, thread)
        await self.storage.inbox.save_email_choices(
            chat, render.options_of(replies), render.by_number(replies)
        )
        return replies

    def chat_only(self, text: str) -> bool:
        """Whether `text` starts a conversation that needs a signed-in chat (the notification)."""
        if text.strip().startswith("/"):
            return split_command(text)[0] in CHAT_ONLY
        knowledge = self.conversation.knowledge
        result = knowledge.index.search(text)
        best = result.best
        if result.decision != "answer" or best is None or best.id not in knowledge.actions:
            return False
        return split_command(knowledge.actions[best.id].command)[0] in CHAT_ONLY

    def chat_only_reply(self) -> Reply:
        board = self.settings.board
        return Reply(
            "If a child is in immediate danger, call 999. If you are worried about a child now, "
            "refer to children's social care (out of hours, the Emergency Duty Team) or the "
            "police (101 when it is not an emergency), and tell your designated safeguarding "
            "lead. A notification to the partnership never replaces an urgent referral.\n\n"
            "The significant incident notification is not taken by email: your agency's "
            "Liaison Officer fills it in through the assistant's chat (Telegram), after "
            f"signing in there. For help with it, contact the {board.short_name} at "
            f"{self.settings.partnership_email}.",
            kind="chat_only",
            title="Notifications are made in the chat, not by email",
        )

    async def _outsider(self, mail: InboundEmail) -> str:
        if self.email.outsiders != "notice":
            return "ignored"
        day_ago = self.clock() - 86400
        if await self.storage.inbox.count_inbox(mail.sender, "noticed", day_ago):
            return "ignored"
        board, contact = self.settings.board, self.settings.partnership_email
        notice = Reply(
            f"This address answers questions from practitioners in the {board.name}'s partner "
            "agencies, writing from their work email. Your address is not one of them, so I "
            f"can't answer here. Please contact the partnership at {contact}. If a "
            "child is in immediate danger, call 999.",
            kind="outsider",
        )
        await self.reply(mail, [notice])
        return "noticed"

    # --- sending -----------------------------------------------------------------------------

    def own(self, seed: str) -> str:
        """`seed` of a derived Message-ID, made this partnership's: the same email in two
        partnerships' mailboxes gets two answers with two ids. (The default partnership's ids
        stay as they were before there were several, so an answer in flight keeps its id.)"""
        settings = self.settings
        if settings.partnership == settings.default_partnership:
            return seed
        return f"{settings.partnership}|{seed}"

    def footer(self) -> str:
        board = self.settings.board
        return (
            f"The {board.short_name} assistant answers by email automatically. Reply to ask "
            f"another question. If a child is in immediate danger, call 999. To reach a person: "
            f"{self.settings.partnership_email}."
        )

    def compose(
        self,
        to: str,
        subject: str,
        replies: list[Reply],
        message_id: str,
        in_reply_to: str | None = None,
        references: tuple[str, ...] = (),
    ) -> OutgoingEmail:
        return OutgoingEmail(
            to=(to,),
            subject=subject,
            text=render.to_text(replies, self.footer()),
            html=render.to_html(replies, self.footer()),
            message_id=message_id,
            in_reply_to=in_reply_to,
            references=references,
            auto_submitted="auto-replied" if in_reply_to else "auto-generated",
            # A briefing's Word document goes as an attachment.
            attachments=tuple(
                Attachment.from_bytes(f.filename, f.content_type, f.data)
                for r in replies
                for f in r.files
            ),
        )

    async def reply(self, mail: InboundEmail, replies: list[Reply]) -> None:
        """Queue the answer to `mail`, in its thread. Its Message-ID is derived from the inbound
        one, so answering the same email twice queues one email."""
        subject = mail.subject or "Your question"
        if not subject.lower().startswith("re:"):
            subject = f"Re: {subject}"
        seed = hashlib.sha256(self.own(mail.message_id).encode()).hexdigest()[:32]
        references = thread_ids(mail)[-MAX_REFERENCES:]
        outgoing = self.compose(
            mail.sender,
            subject,
            replies,
            make_message_id(f"reply.{seed}", message_id_domain(self.settings.mail), derived=True),
            in_reply_to=mail.message_id if MESSAGE_ID.fullmatch(mail.message_id) else None,
            references=references,
        )
        await self.storage.outbox.enqueue_email(outgoing, chat_of(mail.sender), "email_reply")
        self.conversation.wake_outbox()

    async def deliver(self, chat: str, replies: list[Reply]) -> bool:
        """Send news nobody just asked for (a hand-off's outcome) to any chat."""
        address = address_of(chat)
        if address is None:
            push = self.conversation.push
            if push is None:
                return False
            await push(chat, replies)
            return True
        first = replies[0]
        seed = hashlib.sha256(self.own(f"{chat}|{first.kind}|{first.id}").encode()).hexdigest()[:32]
        subject = first.title or f"Your question {first.id or ''}".strip()
        handoff = await self.storage.handoffs.handoff_by_reference(first.id) if first.id else None
        thread = handoff.thread if handoff is not None and handoff.chat == chat else {}
        references = tuple(thread.get("references", ()))[-MAX_REFERENCES:]
        if references:
            subject = thread.get("subject") or subject
            subject = subject if subject.lower().startswith("re:") else f"Re: {subject}"
        outgoing = self.compose(
            address,
            subject,
            replies,
            make_message_id(f"news.{seed}", message_id_domain(self.settings.mail), derived=True),
            in_reply_to=references[-1] if references else None,
            references=references,
        )
        await self.storage.outbox.enqueue_email(outgoing, chat, "email_news")
        self.conversation.wake_outbox()
        return True


def thread_ids(mail: InboundEmail) -> tuple[str, ...]:
    """The Message-IDs a reply to `mail` refers to, the email's own last: only well-formed
    ones (a sender's odd id must not stop the reply being built)."""
    ids = (*mail.references, mail.message_id)
    return tuple(i for i in dict.fromkeys(ids) if MESSAGE_ID.fullmatch(i))


def make_source(settings: Settings) -> MailboxSource:
    """The configured mailbox source (IMAP or Microsoft Graph)."""
    email = settings.email
    assert email is not None
    if email.source == "graph":
        from bot.channels.email.graph import GraphSource
        from bot.mail.oauth import GRAPH_SCOPE, AppTokens

        return GraphSource(email, AppTokens(email, settings.oauth_client_secret, GRAPH_SCOPE))
    from bot.channels.email.sources import ImapSource
    from bot.mail.oauth import OUTLOOK_SCOPE, AppTokens

    token = (
        AppTokens(email, settings.oauth_client_secret, OUTLOOK_SCOPE)
        if email.imap_login == "xoauth2"
        else None
    )
    return ImapSource(email, settings.email_password, token)


def make_email_channel(assistant: Assistant, source: MailboxSource | None = None) -> EmailChannel:
    """The email channel of a built assistant (`source` replaces the configured one in tests)."""
    return EmailChannel(
        assistant.conversation,
        assistant.storage,
        assistant.settings,
        source or make_source(assistant.settings),
        lambda: assistant.access.registry,
    )
