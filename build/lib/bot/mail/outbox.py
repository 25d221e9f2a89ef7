"""Email: the message builder, two transports (SMTP, .eml folder) and the outbox worker.

An email is queued in the `outbox` table (for a notification, in the same transaction that stores
the notification) and delivered later by `Outbox`, so a submit never waits on the mail server
and nothing queued is lost to a crash or an outage.

Delivery guarantees. The worker claims a row (status "sending", a lease of `claim_lease`
seconds) before it sends and marks it "sent" after the transport succeeds, so two workers, a
double wake-up or a retry never send the same row twice. One window remains: a crash after the
server accepted the message but before the row was marked sent. The claim then expires and the
row is sent again, on purpose (losing a notification is worse than repeating it), with the same
Message-ID and Date, so the receiving mail system and mail clients can recognise the duplicate.

Failures. Connection errors, timeouts, TLS or login problems and 4xx replies are transient:
the row is retried with exponential backoff (mail.retry_initial_seconds doubling up to
mail.retry_max_seconds), forever. A 5xx refusal of the sender, the recipients or the content is
permanent: retrying cannot help until a person fixes the cause. Such an email is kept as an .eml
file in mail.outbox_dir, and the chat that queued it and the signed-in administrators are told;
`/outbox retry REF` (or `main.py outbox retry REF`) queues it again after the fix. A transient
failure lasting longer than mail.report_failure_after_minutes after queueing is reported once to
the chat that queued the email (through `Conversation.push`). Both are logged for the board
(reference and error type only). A notification's chat is also told when the mail server has
accepted it, as the Submit reply promised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bot.core.background import BackgroundTask
from bot.core.replies import Reply
from bot.mail.message import build_message
from bot.mail.transport import (
    Transport,
    describe_error,
    eml_file,
    failure_words,
    is_permanent,
    write_eml,
)
from config.settings import Settings

if TYPE_CHECKING:
    from bot.core.conversation import Conversation
    from bot.storage import OutboxItem, Storage
    from bot.storage.outbox import OutboxStore

log = logging.getLogger(__name__)

# aiosmtplib's timeout bounds each step (connect, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA); a whole
# send is bounded by this many timeouts, and a claim outlives it by one more.
SEND_DEADLINE_TIMEOUTS = 4
# The worker sleeps until the next retry or report is due, but looks at least this often, so
# rows queued by another process on the same database are not left waiting.
IDLE_POLL_SECONDS = 60.0
# Never spin: a wait is at least this long even when something is due right away.
MIN_WAIT_SECONDS = 0.02


class Outbox(BackgroundTask):
    """Delivers the queued emails in the background; `wake()` makes it look at once."""

    name = "outbox"

    def __init__(
        self,
        storage: Storage,
        transport: Transport,
        settings: Settings,
        conversation: Conversation | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        # The worker needs the outbox's rows only; claims.py may put a ledger in between.
        self.rows: OutboxStore = storage.outbox
        self.transport = transport
        self.settings = settings
        self.conversation = conversation
        self.clock = clock
        self._wake = asyncio.Event()
        # Set by build_assistant: the chats of signed-in board administrators, who are told of
        # every refused email so they can fix the cause and queue it again (/outbox).
        self.admin_chats: Callable[[], Awaitable[list[str]]] | None = None

    @property
    def send_deadline(self) -> float:
        return self.settings.smtp.timeout_seconds * SEND_DEADLINE_TIMEOUTS

    @property
    def claim_lease(self) -> float:
        """How long a claimed row is left alone before it is taken to be abandoned (a crash)."""
        return self.send_deadline + self.settings.smtp.timeout_seconds

    def wake(self) -> None:
        """Look at the queue now (called after a submit) rather than at the next due time."""
        self._wake.set()

    async def run(self) -> None:
        log.info("outbox worker started: %s", self.transport.describe())
        while True:
            try:
                await self.run_once()
                delay = await self._seconds_until_due()
            except Exception as exc:  # e.g. the database is locked: keep the worker alive
                log.error("outbox worker error: %s", type(exc).__name__)
                delay = self.settings.mail.retry_initial_seconds
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(delay, MIN_WAIT_SECONDS))

    async def run_once(self) -> int:
        """Send every email that is due, then report overdue failures; returns the number sent."""
        # Cleared before looking, so a wake() that arrives while we work is not lost.
        self._wake.clear()
        # Only what was due when the pass began: a row that fails now is retried in a later
        # pass, never in a loop within this one (which would hold up the failure reports).
        started = self.clock()
        sent = 0
        while item := await self.rows.claim_next_email(
            self.clock(), self.claim_lease, due_by=started
        ):
            sent += await self._deliver(item)
        await self._report_overdue()
        return sent

    async def _deliver(self, item: OutboxItem) -> int:
        try:
            message = build_message(item.email, self.settings.mail.from_address, item.created_at)
        except ValueError as exc:
            await self._failed_permanently(item, f"invalid email: {exc}")
            return 0
        try:
            async with asyncio.timeout(self.send_deadline):
                await self.transport.send(message, item.label)
        except Exception as exc:
            if is_permanent(exc):
                await self._failed_permanently(item, describe_error(exc))
            else:
                await self._retry_later(item, describe_error(exc))
            return 0
        await self.rows.mark_email_sent(item.id, self.clock())
        log.info("email %s sent (attempt %d)", item.label, item.attempts)
        if item.kind == "notification":
            # The Submit reply promised this news: the mail server has taken the email.
            if item.failure_reported_at is not None:
                news = f"Good news: your notification {item.label} has now reached {MAIL_SERVER}."
            else:
                news = (
                    f"Your notification {item.label} has reached {MAIL_SERVER}, which delivers it "
                    "to the partnership's inbox."
                )
            await self._push(item, news)
        elif item.failure_reported_at is not None:
            await self._push(item, f"Good news: {_what(item)} has now been sent.")
        return 1

    async def _retry_later(self, item: OutboxItem, error: str) -> None:
        mail = self.settings.mail
        delay = min(mail.retry_initial_seconds * 2 ** (item.attempts - 1), mail.retry_max_seconds)
        delay = max(delay, MIN_WAIT_SECONDS)
        await self.rows.mark_email_retry(item.id, self.clock() + delay, error)
        log.warning(
            "email %s not sent (attempt %d, %s); retrying in %.3g s",
            item.label,
            item.attempts,
            error,
            delay,
        )

    async def _failed_permanently(self, item: OutboxItem, error: str) -> None:
        """Record the refusal, keep a copy as an .eml file, tell the chat and the administrators.

        Refused for good means a person must act (a relay setting, a wrong address): the copy
        lets the board read it at once, and `/outbox retry` queues it again after the fix.
        """
        await self.rows.mark_email_failed(item.id, error, self.clock())
        copy = await self._save_copy(item)
        reference = item.human_reference
        log.error(
            "BOARD ATTENTION: email %s (%s) was refused and will not be retried until it is "
            "queued again: %s",
            reference,
            item.kind,
            error,
        )
        contact = self.settings.partnership_email
        if item.kind == "notification":
            text = (
                f"Your notification {reference} could not be delivered to the partnership by "
                f"email: {failure_words(error)}. It is saved here, and the partnership's "
                "administrators have been told, so they can send it again once the problem is "
                f"fixed. If it is urgent, contact the partnership at {contact}, quoting "
                f"{reference}."
            )
        else:
            text = (
                f"{_sentence(_what(item))} could not be delivered: {failure_words(error)}. "
                f"Please check the address, or contact the partnership at {contact}, quoting "
                f"{reference}."
            )
        await self._push(item, text)
        where = f" A copy is saved as {copy}." if copy is not None else ""
        await self._tell_admins(
            f"Board attention: the email {reference} ({KIND_NAMES.get(item.kind, 'email')}) was "
            f"refused by the mail server ({error}) and will not be retried by itself.{where} "
            f"Once the cause is fixed, send it again with /outbox retry {reference} (or "
            f"python main.py outbox retry {reference}).",
            item,
        )

    async def _save_copy(self, item: OutboxItem) -> Path | None:
        """Write the refused email to the .eml folder (kept, like the folder transport's files,
        until retention removes it); None if it cannot be built or written."""
        try:
            message = build_message(item.email, self.settings.mail.from_address, item.created_at)
            path = eml_file(self.settings, item.label)
            await write_eml(path, message)
        except (ValueError, OSError, UnicodeError) as exc:
            log.error("no .eml copy of refused email %s: %s", item.label, type(exc).__name__)
            return None
        return path

    async def _tell_admins(self, text: str, item: OutboxItem) -> None:
        push = self.conversation.push if self.conversation is not None else None
        if push is None or self.admin_chats is None:
            return
        try:
            chats = await self.admin_chats()
        except Exception as exc:
            log.warning("could not list administrators' chats: %s", type(exc).__name__)
            return
        for chat in chats:
            try:
                await push(chat, [Reply(text, kind="delivery", id=item.human_reference)])
            except Exception as exc:  # one unreachable chat must not stop the others
                log.warning("could not tell chat %s about email %s", chat, type(exc).__name__)

    async def _report_overdue(self) -> None:
        minutes = self.settings.mail.report_failure_after_minutes
        now = self.clock()
        for item in await self.rows.overdue_emails(now - minutes * 60):
            await self.rows.mark_failure_reported(item.id, now)
            log.error(
                "BOARD ATTENTION: email %s (%s) still undelivered after %g minutes "
                "(%d attempts, last error %s); retrying continues",
                item.label,
                item.kind,
                minutes,
                item.attempts,
                item.last_error or "none",
            )
            await self._push(
                item,
                f"{_sentence(_what(item))} has not reached {_where(item)} yet: for more than "
                f"{minutes:g} minutes, {failure_words(item.last_error)}. It is saved and I keep "
                "trying. If it is urgent, contact the partnership at "
                f"{self.settings.partnership_email} and quote {item.human_reference}.",
            )

    async def _push(self, item: OutboxItem, text: str) -> None:
        """Tell the chat that queued the email, if it has one and a channel can reach it."""
        push = self.conversation.push if self.conversation is not None else None
        if item.chat is None or push is None:
            return
        try:
            await push(item.chat, [Reply(text, kind="delivery", id=item.reference)])
        except Exception as exc:  # a channel outage must not stop the mail
            log.warning(
                "could not tell chat %s about email %s: %s",
                item.chat,
                item.label,
                type(exc).__name__,
            )

    async def _seconds_until_due(self) -> float:
        """Seconds until the next retry, expired claim or failure report, at most IDLE_POLL."""
        retry_at, claimed_at, unreported_since = await self.rows.outbox_deadlines()
        candidates = [self.clock() + IDLE_POLL_SECONDS]
        if retry_at is not None:
            candidates.append(retry_at)
        if claimed_at is not None:
            candidates.append(claimed_at + self.claim_lease)
        if unreported_since is not None:
            candidates.append(
                unreported_since + self.settings.mail.report_failure_after_minutes * 60
            )
        return max(0.0, min(candidates) - self.clock())


MAIL_SERVER = "the partnership's mail server"
# What each kind of email is, for people (/outbox, the admins' notice, the staff page).
KIND_NAMES = {
    "notification": "a notification",
    "signin": "a sign-in code",
    "handoff": "a question for the partnership",
    "email_reply": "an answer by email",
    "email_news": "news by email (a hand-off's answer)",
}


def _what(item: OutboxItem) -> str:
    """The email as its chat knows it, naming who it was for."""
    if item.kind == "notification":
        return f"your notification {item.label}"
    to = ", ".join(item.email.to)
    if item.kind == "signin":
        return f"the email with your sign-in code to {to} ({item.human_reference})"
    return f"the email {item.human_reference} to {to}"


def refused_line(item: OutboxItem) -> str:
    """One refused email as /outbox and `main.py outbox` list it (no addresses, no content)."""
    queued = time.strftime("%d %b %Y %H:%M", time.localtime(item.created_at))
    what = KIND_NAMES.get(item.kind, "an email")
    return f"{item.human_reference}: {what}, queued {queued}, refused ({item.last_error})"


def _where(item: OutboxItem) -> str:
    return "the partnership" if item.kind == "notification" else "its recipient"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
