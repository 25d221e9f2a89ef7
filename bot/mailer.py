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
import base64
import contextlib
import email.utils
import logging
import os
import re
import secrets
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import aiosmtplib

from bot.background import BackgroundTask
from bot.replies import Reply
from config.addresses import is_email
from config.settings import MailSettings, Secret, Settings, SmtpSettings

if TYPE_CHECKING:  # storage and conversation import this module; avoid an import cycle
    from bot.conversation import Conversation
    from bot.storage import OutboxItem, Storage

log = logging.getLogger(__name__)

MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
# aiosmtplib's timeout bounds each step (connect, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA); a whole
# send is bounded by this many timeouts, and a claim outlives it by one more.
SEND_DEADLINE_TIMEOUTS = 4
# The worker sleeps until the next retry or report is due, but looks at least this often, so
# rows queued by another process on the same database are not left waiting.
IDLE_POLL_SECONDS = 60.0
# Never spin: a wait is at least this long even when something is due right away.
MIN_WAIT_SECONDS = 0.02


@dataclass(frozen=True)
class Attachment:
    """A file sent with an email; `data` is base64 text, so the outbox can store it as JSON."""

    filename: str
    content_type: str  # "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    data: str

    @classmethod
    def from_bytes(cls, filename: str, content_type: str, content: bytes) -> Attachment:
        return cls(filename, content_type, base64.b64encode(content).decode("ascii"))

    def content(self) -> bytes:
        return base64.b64decode(self.data)


@dataclass(frozen=True)
class OutgoingEmail:
    """An email as the outbox stores it; `build_message` turns it into a MIME message."""

    to: tuple[str, ...]
    subject: str
    text: str  # plain-text body
    html: str | None  # HTML alternative (already escaped by the composer), or None
    message_id: str  # full "<...@...>" id, derived from the reference for notifications
    cc: tuple[str, ...] = ()
    reply_to: str | None = None
    # Threading (a reply by email, a hand-off reminder): the Message-IDs this one answers.
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    # RFC 3834: "auto-replied" for an answer to a message, "auto-generated" for everything else.
    auto_submitted: str = "auto-generated"
    attachments: tuple[Attachment, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OutgoingEmail:
        return cls(
            to=tuple(data["to"]),
            subject=data["subject"],
            text=data["text"],
            html=data["html"],
            message_id=data["message_id"],
            cc=tuple(data.get("cc", ())),
            reply_to=data.get("reply_to"),
            in_reply_to=data.get("in_reply_to"),
            references=tuple(data.get("references", ())),
            auto_submitted=data.get("auto_submitted", "auto-generated"),
            attachments=tuple(Attachment(**a) for a in data.get("attachments", ())),
        )


def message_id_domain(mail: MailSettings) -> str:
    """The domain of our Message-IDs: mail.message_id_domain, else the From address's domain."""
    return mail.message_id_domain or mail.from_address


def make_message_id(local_part: str, domain: str, *, derived: bool = False) -> str:
    """'<local_part.RANDOM@domain>' (`domain` may be an address: its domain is used).

    The random part makes it unique across databases: a reset database or a test system sharing
    the From address hands out the same reference again, and a receiving system may drop a
    message whose Message-ID it has seen as a duplicate. The id is stored with the queued email,
    so a resend after a crash still carries the same one.

    `derived=True` leaves the random part out, for a `local_part` that is already unique and
    must come out the same every time (a reply named after the email it answers: processing
    that email again after a crash then yields the same id, which the outbox refuses twice).
    """
    domain = domain.rpartition("@")[2].strip(" >") or "localhost"
    if derived:
        return f"<{local_part}@{domain}>"
    return f"<{local_part}.{secrets.token_hex(8)}@{domain}>"


def _address(value: str) -> Address:
    """One plain address ('name@example.org'); anything else (a list, a header) is refused."""
    value = value.strip()
    if not is_email(value):  # the same rule as the registry and the form
        raise ValueError("not a single email address")
    try:
        return Address(addr_spec=value)
    except Exception as exc:  # the parser raises several types; callers need one
        raise ValueError("not a single email address") from exc


def _addresses(values: Sequence[str]) -> list[Address]:
    # The same address twice (the SLO is also a board address) would be delivered twice.
    unique = dict.fromkeys(v.strip().lower() for v in values)
    return [_address(v) for v in unique]


def build_message(
    email_: OutgoingEmail, from_address: str, date: float | None = None
) -> EmailMessage:
    """The MIME message for `email_`, headers set through the email API.

    User text can never add a header: the subject's line breaks are folded to spaces, every
    address must be exactly one address, and EmailMessage itself refuses a header value with a
    line break. `date` (seconds since the epoch, default now) lets a resend be identical to the
    first send. Raises ValueError when the email cannot be built.
    """
    if not email_.to:
        raise ValueError("an email needs at least one recipient")
    if not MESSAGE_ID.fullmatch(email_.message_id):
        raise ValueError("the Message-ID must look like <id@domain>")
    message = EmailMessage()
    message["From"] = from_address
    message["To"] = _addresses(email_.to)
    cc = [a for a in _addresses(email_.cc) if a.addr_spec.lower() not in _lowered(email_.to)]
    if cc:
        message["Cc"] = cc
    if email_.reply_to:
        message["Reply-To"] = _address(email_.reply_to)
    message["Subject"] = " ".join(email_.subject.split())
    message["Date"] = email.utils.formatdate(date, localtime=True)
    message["Message-ID"] = email_.message_id
    _set_thread_headers(message, email_)
    message.set_content(email_.text)
    if email_.html is not None:
        message.add_alternative(email_.html, subtype="html")
    for attachment in email_.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.content(), maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return message


def _set_thread_headers(message: EmailMessage, email_: OutgoingEmail) -> None:
    """Threading, and the marks that stop mail loops: every email we send says it was sent
    automatically, so well-behaved auto-responders (and our own email channel) never answer it."""
    ids = [i for i in (email_.in_reply_to, *email_.references) if i]
    if any(not MESSAGE_ID.fullmatch(i) for i in ids):
        raise ValueError("In-Reply-To and References must be Message-IDs")
    if email_.in_reply_to:
        message["In-Reply-To"] = email_.in_reply_to
    if email_.references:
        message["References"] = " ".join(email_.references)
    if email_.auto_submitted not in ("auto-generated", "auto-replied"):
        raise ValueError("Auto-Submitted must be auto-generated or auto-replied")
    message["Auto-Submitted"] = email_.auto_submitted
    # Exchange: no out-of-office or delivery receipts back to the assistant.
    message["X-Auto-Response-Suppress"] = "All"


def _lowered(values: Sequence[str]) -> set[str]:
    return {v.strip().lower() for v in values}


# --- transports ---------------------------------------------------------------------------


class Transport(Protocol):
    """Delivers one message. Raises on failure; `is_permanent` sorts the errors."""

    def describe(self) -> str: ...

    async def send(self, message: EmailMessage, name: str) -> None:
        """Deliver `message`; `name` (a reference) labels it where a transport stores files."""
        ...


class SmtpTransport:
    """Sends through an SMTP server with aiosmtplib: STARTTLS, implicit TLS or plain."""

    def __init__(
        self,
        smtp: SmtpSettings,
        password: Secret,
        ca_file: Path | None = None,
        oauth_token: Callable[[], Awaitable[str]] | None = None,
    ) -> None:
        self.smtp = smtp
        self._password = password
        self._ca_file = ca_file
        # XOAUTH2 (Microsoft 365, where basic authentication is being retired): a fresh token
        # per connection, in place of the password.
        self._oauth_token = oauth_token

    def describe(self) -> str:
        login = " with login" if self.smtp.username else ""
        if self.smtp.username and self._oauth_token is not None:
            login = " with XOAUTH2 login"
        return f"SMTP {self.smtp.host}:{self.smtp.port} ({self.smtp.security}{login})"

    async def send(self, message: EmailMessage, name: str) -> None:
        smtp = self.smtp
        errors, _ = await aiosmtplib.send(
            message,
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username or None,
            password=(
                self._password.reveal() if smtp.username and self._oauth_token is None else None
            ),
            oauth_token_generator=self._oauth_token if smtp.username else None,
            timeout=smtp.timeout_seconds,
            use_tls=smtp.security == "tls",
            # True, not None: with "starttls" configured, a server that does not offer it is an
            # error rather than a silent fall-back to plain text.
            start_tls=smtp.security == "starttls",
            cert_bundle=str(self._ca_file) if self._ca_file else None,
        )
        if errors:
            # Some recipients (not all) were refused; the others have the message. Addresses
            # are personal data, so only the count is logged.
            log.warning("email %s: %d recipient(s) refused by the server", name, len(errors))


def eml_path(settings: Settings, name: str) -> Path | None:
    """Where the .eml file for `name` is written when no SMTP server is configured, else None."""
    if settings.smtp.host:
        return None
    return eml_file(settings, name)


def eml_file(settings: Settings, name: str) -> Path:
    """<outbox_dir>/<name>.eml: an email as a file (no SMTP server, or a refused email's copy)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "email"
    return settings.path(settings.mail.outbox_dir) / f"{safe}.eml"


async def write_eml(path: Path, message: EmailMessage) -> None:
    """Write `message` to `path` atomically, readable by the owner only."""
    await asyncio.to_thread(_write_atomically, path, message.as_bytes(policy=SMTP_POLICY))


class FolderTransport:
    """Writes each message as <outbox_dir>/<name>.eml: mail works on a fresh clone, no server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def describe(self) -> str:
        return f"writing .eml files to {self.settings.path(self.settings.mail.outbox_dir)}"

    async def send(self, message: EmailMessage, name: str) -> None:
        await write_eml(eml_file(self.settings, name), message)


def _write_atomically(path: Path, data: bytes) -> None:
    # A reader (or a crash) never sees half a file; a resend replaces it with the same bytes.
    # The folder holds notification content and sign-in codes: the owner's only (mkstemp makes
    # the file 0600).
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def make_transport(settings: Settings) -> Transport:
    if settings.smtp.host:
        ca_file = settings.path(settings.smtp.ca_file) if settings.smtp.ca_file else None
        oauth_token = None
        if settings.email is not None and settings.email.smtp_login == "xoauth2":
            from bot.email.oauth import OUTLOOK_SCOPE, AppTokens  # only when configured

            oauth_token = AppTokens(settings.email, settings.oauth_client_secret, OUTLOOK_SCOPE)
        return SmtpTransport(settings.smtp, settings.smtp_password, ca_file, oauth_token)
    return FolderTransport(settings)


def is_permanent(exc: BaseException) -> bool:
    """True when retrying cannot help: the server refused the sender, recipients or content."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(r.code >= 500 for r in exc.recipients)
    if isinstance(
        exc,
        aiosmtplib.SMTPSenderRefused | aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError,
    ):
        return exc.code >= 500
    # Everything else (connection, timeout, TLS, a refused login, a 4xx) can be fixed by waiting
    # or by the administrator correcting the configuration, after which the retry succeeds.
    return False


def describe_error(exc: BaseException) -> str:
    """The error's type and SMTP code: server messages can quote addresses, so never the text."""
    code = getattr(exc, "code", None)
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        code = exc.recipients[0].code
    return f"{type(exc).__name__} {code}" if isinstance(code, int) else type(exc).__name__


# --- the outbox worker --------------------------------------------------------------------


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
        self.storage = storage
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
        while item := await self.storage.claim_next_email(
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
        await self.storage.mark_email_sent(item.id, self.clock())
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
        await self.storage.mark_email_retry(item.id, self.clock() + delay, error)
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
        await self.storage.mark_email_failed(item.id, error, self.clock())
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
                f"email: "
                f"{MAIL_SERVER} refused it. It is saved here, and the partnership's administrators "
                "have been told, so they can send it again once the problem is fixed. If it is "
                f"urgent, contact the partnership at {contact}, quoting {reference}."
            )
        else:
            text = (
                f"{_sentence(_what(item))} could not be delivered: the mail server refused it. "
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
        for item in await self.storage.overdue_emails(now - minutes * 60):
            await self.storage.mark_failure_reported(item.id, now)
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
                f"{_sentence(_what(item))} has not reached {_where(item)} yet: sending has been "
                f"failing for more than {minutes:g} minutes. It is saved and I keep trying. If it "
                f"is urgent, contact the partnership at {self.settings.partnership_email} and "
                f"quote "
                f"{item.human_reference}.",
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
        retry_at, claimed_at, unreported_since = await self.storage.outbox_deadlines()
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
KIND_NAMES = {"notification": "a notification", "signin": "a sign-in code"}


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
