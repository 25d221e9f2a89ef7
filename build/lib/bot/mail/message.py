"""An email as the outbox stores it (`OutgoingEmail`), and how it becomes a MIME message.

The bottom of the mail room: storage keeps these, composers (the notification, sign-in codes,
replies by email) make them, transports send what `build_message` builds.
"""

from __future__ import annotations

import base64
import email.utils
import re
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from typing import Any

from bot.mail.headers import set_header, structured, text
from config.addresses import is_email
from config.settings import MailSettings

# What an email cannot carry: lone surrogates (from undecodable input, e.g. a console in another
# encoding) cannot be written as UTF-8 at all, and control characters (other than tab and line
# breaks) can be refused by mail servers, mean nothing in an answer, and a NUL cannot even be
# stored in PostgreSQL.
BROKEN_TEXT = re.compile("[\ud800-\udfff]")
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# No encoded word ("=?") either: the id is written into headers as it is.
MESSAGE_ID = re.compile(r"<(?![^<>]*=\?)[!-;=?A-~]+@[!-;=?A-~]+>")


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


def _address(value: str) -> str:
    """One plain address ('name@example.org'); anything else (a list, a header) is refused."""
    value = value.strip()
    # The same rule as the registry and the form (which refuses encoded words too), and ASCII:
    # the address is written into the header as it is, never parsed.
    if not is_email(value) or not value.isascii():
        raise ValueError("not a single email address")
    return value


def _addresses(values: Sequence[str]) -> list[str]:
    # The same address twice (the SLO is also a board address) would be delivered twice.
    unique = dict.fromkeys(v.strip().lower() for v in values)
    return [_address(v) for v in unique]


class BuiltMessage(EmailMessage):
    """A MIME message and the envelope it is sent with. The envelope comes from the stored
    email, never from reading the message's own headers back."""

    envelope_from: str = ""
    envelope_to: tuple[str, ...] = ()


def build_message(
    email_: OutgoingEmail, from_address: str, date: float | None = None
) -> BuiltMessage:
    """The MIME message for `email_`, every header set as text, never parsed (`headers.py`).

    User text can never add a header: a subject is text to be encoded, so an encoded word
    typed into it stays literal and no line break survives in any decoded form; every address
    must be exactly one address; Message-IDs must look like one. `date` (seconds since the
    epoch, default now) lets a resend be identical to the first send. Raises ValueError when the
    email cannot be built.
    """
    if not email_.to:
        raise ValueError("an email needs at least one recipient")
    if not MESSAGE_ID.fullmatch(email_.message_id):
        raise ValueError("the Message-ID must look like <id@domain>")
    message = BuiltMessage()
    message["From"] = from_address
    to = _addresses(email_.to)
    set_header(message, "To", structured(to, ", "))
    cc = [a for a in _addresses(email_.cc) if a not in to]
    if cc:
        set_header(message, "Cc", structured(cc, ", "))
    if email_.reply_to:
        set_header(message, "Reply-To", structured([_address(email_.reply_to)]))
    set_header(message, "Subject", text(email_.subject))
    message["Date"] = email.utils.formatdate(date, localtime=True)
    set_header(message, "Message-ID", structured([email_.message_id]))
    _set_thread_headers(message, email_)
    message.set_content(email_.text)
    if email_.html is not None:
        message.add_alternative(email_.html, subtype="html")
    for attachment in email_.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.content(), maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    # Given to the mail server explicitly: what the message's headers say is never re-read.
    message.envelope_from = _address(from_address) if is_email(from_address) else from_address
    message.envelope_to = (*to, *cc)
    return message


def _set_thread_headers(message: EmailMessage, email_: OutgoingEmail) -> None:
    """Threading, and the marks that stop mail loops: every email we send says it was sent
    automatically, so well-behaved auto-responders (and our own email channel) never answer it."""
    ids = [i for i in (email_.in_reply_to, *email_.references) if i]
    if any(not MESSAGE_ID.fullmatch(i) for i in ids):
        raise ValueError("In-Reply-To and References must be Message-IDs")
    if email_.in_reply_to:
        set_header(message, "In-Reply-To", structured([email_.in_reply_to]))
    if email_.references:
        set_header(message, "References", structured(list(email_.references)))
    if email_.auto_submitted not in ("auto-generated", "auto-replied"):
        raise ValueError("Auto-Submitted must be auto-generated or auto-replied")
    message["Auto-Submitted"] = email_.auto_submitted
    # Exchange: no out-of-office or delivery receipts back to the assistant.
    message["X-Auto-Response-Suppress"] = "All"
