"""An inbound email as the channel needs it: who, what, which thread, and whether a person wrote
it. Parsing never raises on bad mail: whatever cannot be read is left empty, and an email with
no usable sender or text is ignored by the channel."""

from __future__ import annotations

import email
import email.policy
import email.utils
import hashlib
import html
import re
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from typing import Any

from mailparser_reply import EmailReplyParser

MESSAGE_IDS = re.compile(r"<[^<>\s]+>")
# Tags whose content is not text a person wrote.
_HIDDEN = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BREAKS = re.compile(r"<\s*(br|/p|/div|/li|/tr|/h\d)\b[^>]*>", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")
TEXT_LIMIT = 4000  # characters of a question we read; more is never a question
_REPLY_PARSER = EmailReplyParser(languages=["en"])


@dataclass(frozen=True)
class InboundEmail:
    message_id: str  # "<...>"; made from the content's hash when the sender gave none
    sender: str  # the From address, lowercased; "" when there is none
    subject: str
    text: str  # the new text only: quoted history and signature removed
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    automatic: str | None  # why this is not from a person (auto-reply, bounce, list), or None

    def thread_ids(self) -> list[str]:
        """Every Message-ID this email answers, the direct parent first."""
        return list(dict.fromkeys([*self.in_reply_to, *reversed(self.references)]))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InboundEmail:
        return cls(
            data["message_id"],
            data["sender"],
            data["subject"],
            data["text"],
            tuple(data["in_reply_to"]),
            tuple(data["references"]),
            data["automatic"],
        )


def parse_email(raw: bytes) -> InboundEmail:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    message_id = _ids(message, "Message-ID")
    return InboundEmail(
        message_id=message_id[0] if message_id else _made_up_id(raw),
        sender=_sender(message),
        subject=" ".join(_header(message, "Subject").split()),
        text=latest_text(body_text(message))[:TEXT_LIMIT],
        in_reply_to=tuple(_ids(message, "In-Reply-To")),
        references=tuple(_ids(message, "References")),
        automatic=automatic(message),
    )


def automatic(message: EmailMessage) -> str | None:
    """Why `message` was not written by a person for us to answer, or None.

    RFC 3834 (Auto-Submitted), the de facto X-Autoreply / X-Autorespond and Precedence headers,
    mailing-list headers (RFC 2369), and delivery or read reports (RFC 3464, 8098). Answering any
    of them risks a loop with another robot, or mail to a whole list.
    """
    submitted = _header(message, "Auto-Submitted").lower().split(";")[0].strip()
    if submitted and submitted != "no":
        return "auto-submitted"
    if _header(message, "X-Autoreply") or _header(message, "X-Autorespond"):
        return "auto-reply"
    if _header(message, "Precedence").lower() in ("bulk", "list", "junk", "auto_reply"):
        return "precedence"
    if _header(message, "List-Id") or _header(message, "List-Unsubscribe"):
        return "mailing list"
    content_type = message.get_content_type()
    report = str(message.get_param("report-type", "", header="content-type") or "").lower()
    if content_type == "multipart/report" or report in (
        "delivery-status",
        "disposition-notification",
    ):
        return "report"
    if any(
        part.get_content_type() in ("message/delivery-status", "message/disposition-notification")
        for part in message.walk()
    ):
        return "report"
    if _sender(message).split("@")[0] in ("mailer-daemon", "postmaster"):
        return "bounce"
    # Return-Path <> is how bounces and other automatic mail are sent (RFC 5321 4.5.5).
    if _header(message, "Return-Path").strip() == "<>":
        return "null sender"
    return None


def body_text(message: EmailMessage) -> str:
    """The plain-text body, or the HTML body turned into text."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset or a broken encoding
        return ""
    if not isinstance(content, str):
        return ""
    if part.get_content_type() == "text/html":
        content = _TAGS.sub("", _BREAKS.sub("\n", _HIDDEN.sub("", content)))
        content = html.unescape(content)
    return content.replace("\r\n", "\n")


def latest_text(text: str) -> str:
    """The newest part of an email: without the quoted history and the signature."""
    try:
        replies = _REPLY_PARSER.read(text=text).replies
    except Exception:  # the parser is heuristic; a failure must not lose the email
        replies = []
    body = replies[0].body if replies else text
    lines = [line for line in body.splitlines() if not line.lstrip().startswith(">")]
    return "\n".join(lines).strip()


def _header(message: EmailMessage, name: str) -> str:
    try:
        return str(message.get(name, "") or "")
    except Exception:  # a malformed header the policy cannot parse
        return ""


def _ids(message: EmailMessage, name: str) -> list[str]:
    return MESSAGE_IDS.findall(_header(message, name))


def _sender(message: EmailMessage) -> str:
    _, address = email.utils.parseaddr(_header(message, "From"))
    return address.strip().lower() if "@" in address else ""


def _made_up_id(raw: bytes) -> str:
    # The same email delivered twice has the same hash, so it is still processed once.
    return f"<sha256.{hashlib.sha256(raw).hexdigest()[:32]}@no-message-id>"
