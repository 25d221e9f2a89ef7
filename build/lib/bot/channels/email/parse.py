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
from email.message import EmailMessage, MIMEPart
from typing import Any

from mailparser_reply import EmailReplyParser

MESSAGE_IDS = re.compile(r"<[^<>\s]+>")
# Tags whose content is not text a person wrote.
_HIDDEN = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BREAKS = re.compile(r"<\s*(br|/p|/div|/li|/tr|/h\d)\b[^>]*>", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")
TEXT_LIMIT = 4000  # characters of an email's new text kept (a staff answer can be long)
# Characters of a body looked at: a 5 MB email's question is in its first lines, and quote and
# signature detection over megabytes of padding would take seconds.
SCAN_LIMIT = 64_000
# The question: the first paragraphs that hold words, within this many characters.
QUESTION_PARAGRAPHS = 5
QUESTION_LIMIT = 2000
LONGEST_WORD = 40  # longer "words" are encoded data or padding, not language
_REPLY_PARSER = EmailReplyParser(languages=["en"])
# Lines that end what a person wrote: a sign-off, then their name and details below it.
SIGN_OFFS = frozenset(
    (
        "thanks", "thank you", "many thanks", "thanks again", "thanks very much",
        "thank you very much", "with thanks", "regards", "kind regards", "best regards",
        "warm regards", "warmest regards", "with regards", "with kind regards", "many regards",
        "thanks and regards", "thanks & regards", "best", "best wishes", "with best wishes",
        "all the best", "cheers", "yours", "yours sincerely", "yours faithfully", "sincerely",
        "respectfully", "take care", "speak soon",
    )
)  # fmt: skip
SIGNATURE_LINES = 12  # a signature block is at most this many lines
_SENT_FROM = re.compile(r"^(sent from my |get outlook for )", re.IGNORECASE)
_PARAGRAPHS = re.compile(r"\n\s*\n")
_RE_PREFIX = re.compile(r"^\s*((re|fwd?|aw|sv)\s*:\s*)+", re.IGNORECASE)


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
        text=latest_text(body_text(message)[:SCAN_LIMIT], _sender_name(message))[:TEXT_LIMIT],
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
    content = _decoded(part)
    if part.get_content_type() == "text/html":
        content = content[: SCAN_LIMIT * 4]  # markup is bulky; the text is at the top
        content = _TAGS.sub("", _BREAKS.sub("\n", _HIDDEN.sub("", content)))
        content = html.unescape(content)
    return content.replace("\r\n", "\n")


def _decoded(part: MIMEPart) -> str:
    """A text part's content. A charset Python does not know (a typo, a vendor's name) would
    lose the whole email: the bytes are read as UTF-8 then, or as Windows-1252, which maps
    every byte (ASCII, which most questions are, reads the same in all three)."""
    try:
        content = part.get_content()
        if isinstance(content, str):
            return content
    except (LookupError, ValueError, UnicodeError):  # an unknown charset, a broken encoding
        pass
    try:
        raw = part.get_payload(decode=True)
    except Exception:  # a broken transfer encoding
        return ""
    if not isinstance(raw, bytes):
        return ""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def latest_text(text: str, sender_name: str = "") -> str:
    """The newest part of an email: without the quoted history and the signature (the
    parser's, and a sign-off with the lines under it, or the sender's name closing it)."""
    try:
        replies = _REPLY_PARSER.read(text=text).replies
    except Exception:  # the parser is heuristic; a failure must not lose the email
        replies = []
    body = replies[0].body if replies else text
    lines = [line for line in body.splitlines() if not line.lstrip().startswith(">")]
    return "\n".join(without_signature(lines, sender_name)).strip()


def without_signature(lines: list[str], sender_name: str = "") -> list[str]:
    """`lines` without a closing signature: from a sign-off ("Kind regards", "Thanks"), a
    "Sent from my phone" line, or a line that is the sender's name, in the last
    SIGNATURE_LINES lines, to the end. What comes before it is kept, and never cut to nothing."""
    names = {_folded(sender_name), _folded(sender_name.split(" ")[0])} - {""}
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    start = max(0, len(lines) - SIGNATURE_LINES)
    for index in range(start, len(lines)):
        line = lines[index].strip()
        folded = _folded(line)
        if folded in SIGN_OFFS or folded in names or _SENT_FROM.match(line):
            if any(x.strip() for x in lines[:index]):
                return lines[:index]
            return lines
    return lines


def _folded(text: str) -> str:
    """A line as sign-offs are compared: lower case, no punctuation at either end."""
    return text.strip().strip(",.!-–—:;").strip().lower()


def question_of(mail: InboundEmail) -> str:
    """What the person asks: the first paragraphs of the new text that hold words (not the
    padding, the quoted history or the signature), or, when the body says nothing, the
    subject (without its Re:)."""
    kept: list[str] = []
    for paragraph in _PARAGRAPHS.split(mail.text):
        words = [word for word in paragraph.split() if len(word) <= LONGEST_WORD]
        if not any(any(c.isalnum() for c in word) for word in words):
            continue  # padding: dashes, dots, one endless "word"
        if len(words) >= 10 and len(set(words)) == 1:
            continue  # padding: one word over and over
        kept.append(" ".join(words))
        if len(kept) == QUESTION_PARAGRAPHS:
            break
    question = "\n\n".join(kept)[:QUESTION_LIMIT]
    return question or _RE_PREFIX.sub("", mail.subject).strip()


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


def _sender_name(message: EmailMessage) -> str:
    """The From header's display name ("Sam Staff"), which often closes a signature."""
    name, _ = email.utils.parseaddr(_header(message, "From"))
    return " ".join(name.split())


def _made_up_id(raw: bytes) -> str:
    # The same email delivered twice has the same hash, so it is still processed once.
    return f"<sha256.{hashlib.sha256(raw).hexdigest()[:32]}@no-message-id>"
