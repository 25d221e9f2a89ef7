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
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

from config.addresses import is_email
from config.settings import MailSettings

MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")


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
