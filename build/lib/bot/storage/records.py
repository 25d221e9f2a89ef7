"""The records the stores return, and how a row becomes one."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where an outbox row is read: the email library is not cheap
    from bot.mail.message import OutgoingEmail


@dataclass
class Session:
    """One chat's place in a conversation: which flow, which step, and the flow's own data."""

    chat: str
    flow: str | None = None
    step: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0
    # (flow, step, data as JSON) as last loaded or saved: a save that would write the same
    # is skipped (most messages, questions answered outside any flow, change nothing).
    # A Session built by hand (or copied with dataclasses.replace) has none: it is written.
    stored: tuple[str | None, str | None, str] | None = field(
        default=None, init=False, compare=False, repr=False
    )

    def snapshot(self) -> tuple[str | None, str | None, str]:
        return (self.flow, self.step, json.dumps(self.data))

    def reset(self) -> None:
        self.flow, self.step, self.data = None, None, {}


OUTBOX_COLUMNS = (
    "id, kind, chat, reference, email, attempts, created_at, last_error, failure_reported_at,"
    " status"
)


@dataclass(frozen=True)
class SigninCode:
    """A stored sign-in code: only its salted hash, never the code itself."""

    id: int
    email: str
    salt: str
    code_hash: str
    expires_at: float
    state: str  # active | used | replaced


@dataclass(frozen=True)
class AuditEvent:
    at: float
    event: str
    chat: str | None
    who: str | None
    reference: str | None


@dataclass(frozen=True)
class NotificationStatus:
    """A submitted notification as /status and the staff page's list show it: enough to tell
    cases apart, nothing about the child."""

    reference: str
    agency: str
    created_at: float
    delivery: str  # queued | sent | retrying | failed
    sent_at: float | None
    last_error: str | None = None  # the last failed attempt's error type and SMTP code


@dataclass(frozen=True)
class OutboxItem:
    """A queued email as the outbox worker sees it."""

    id: int
    kind: str
    chat: str | None
    reference: str | None
    email: OutgoingEmail
    attempts: int
    created_at: float
    last_error: str | None
    failure_reported_at: float | None
    status: str = "sending"

    @property
    def label(self) -> str:
        """How logs and .eml files name the email: its reference, or its outbox id."""
        return self.reference or f"mail-{self.id}"

    @property
    def human_reference(self) -> str:
        """How people name it (messages, /outbox retry): a notification's reference, or a
        reference in the same style for other emails, e.g. CODE-2026-0003 for a sign-in code."""
        if self.reference:
            return self.reference
        prefix = "CODE" if self.kind == "signin" else "MAIL"
        return f"{prefix}-{time.localtime(self.created_at).tm_year}-{self.id:04d}"


def outbox_item(row: Any) -> OutboxItem:
    from bot.mail.message import OutgoingEmail

    return OutboxItem(
        row["id"],
        row["kind"],
        row["chat"],
        row["reference"],
        OutgoingEmail.from_json(json.loads(row["email"])),
        row["attempts"],
        row["created_at"],
        row["last_error"],
        row["failure_reported_at"],
        row["status"],
    )


def delivery(status: str, attempts: int) -> str:
    """The outbox status as users see it: a first attempt in progress is still "queued"."""
    if status == "sending":
        return "queued" if attempts <= 1 else "retrying"
    return status


def notification_status(r: Any) -> NotificationStatus:
    """A notification joined with its outbox row (reference, agency, created_at, status,
    attempts, sent_at, last_error), as /status and the staff page show it."""
    return NotificationStatus(
        r["reference"],
        r["agency"],
        r["created_at"],
        delivery(r["status"], r["attempts"]),
        r["sent_at"],
        r["last_error"],
    )


@dataclass(frozen=True)
class Handoff:
    """A question handed to the partnership's staff (handlers/handoff.py)."""

    id: int
    reference: str  # Q-<year>-<NNNN>
    chat: str  # where the person asked ("telegram:42", "email:name@nhs.net")
    question: str
    message_id: str  # of the email to the partnership; staff replies point to it
    thread: dict[str, Any]  # an email asker's message ids and subject, to answer in thread
    status: str  # open | answered | closed
    answer: str | None
    created_at: float
    reminded_at: float | None
    finished_at: float | None
    told_at: float | None


def handoff(row: Any) -> Handoff:
    return Handoff(
        row["id"],
        row["reference"],
        row["chat"],
        row["question"],
        row["message_id"],
        json.loads(row["thread"]),
        row["status"],
        row["answer"],
        row["created_at"],
        row["reminded_at"],
        row["finished_at"],
        row["told_at"],
    )


@dataclass(frozen=True)
class WebMessage:
    """One message of a web conversation, as its pages show it: `seq` orders it (numbers are
    never reused, though some may be missing once private messages are deleted), `role` is
    "user" or "assistant", `body` what the page draws (bot/channels/web/render.py)."""

    seq: int
    role: str
    body: dict[str, Any]
    private: bool = False


@dataclass(frozen=True)
class WebInbound:
    """A message a browser sent, recorded before it was acknowledged and not yet handled."""

    chat: str
    client_id: str
    text: str
    label: str | None
    pressed: bool


@dataclass(frozen=True)
class Arrival:
    """A message a channel has received and not yet acknowledged: its own key for it (Telegram's
    update_id), the conversation it belongs to ("" for none), and the message as received."""

    key: str
    chat: str
    payload: dict[str, Any]
    # The channel's own parsed object for it (a PTB Update), so a message received and handled
    # in one process is not parsed twice; never stored.
    original: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Received:
    """An incoming message as stored (bot/storage/incoming.py)."""

    id: int  # arrival order
    channel: str
    key: str
    chat: str
    status: str  # pending | handled | answered
    payload: dict[str, Any] | None  # until handled
    replies: dict[str, Any] | None  # once handled, until sent: {"replies": [...], ...}
    attempts: int
    original: Any = field(default=None, compare=False, repr=False)  # see Arrival


INCOMING_COLUMNS = "id, channel, message_key, chat, status, payload, replies, attempts"


def received(row: Any) -> Received:
    return Received(
        row["id"],
        row["channel"],
        row["message_key"],
        row["chat"],
        row["status"],
        json.loads(row["payload"]) if row["payload"] is not None else None,
        json.loads(row["replies"]) if row["replies"] is not None else None,
        row["attempts"],
    )


@dataclass(frozen=True)
class RegistryInUse:
    """Which registry of liaison officers the processes on a database use, without names."""

    fingerprint: str
    officers: int
    administrators: int
    adopted_at: float
    adopted_by: str  # "the first start", "chat telegram:42 (/reload)", "the command line"
