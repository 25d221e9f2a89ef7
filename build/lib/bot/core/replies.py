"""Channel-neutral messages: what a user sent (`Incoming`) and what the assistant says (`Reply`).

Adapters turn a channel's input into an `Incoming` and render each `Reply`; nothing else in the
core knows which channel a conversation happens on.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

# The kind of the reply that confirms a submitted notification. A channel that can delete
# messages (Telegram) clears the form's private messages when it sees it, and keeps this one.
SUBMITTED = "submitted"
# The kind of the reply confirming a question handed to the partnership; its id is the reference.
HANDOFF_SENT = "handoff_sent"
# The reply to a message about one particular child or family (knowledge/casework.py): the
# assistant says it cannot see cases or act for anyone, rather than answering a topic.
CASEWORK = "casework"
# The kind of the safety route's reply (handlers/safety.py): a child may be at risk.
URGENT = "urgent"
# The id of a fallback that declined a question as not ours (knowledge/decline.py), + its kind.
DECLINED_ID = "decline:"
# A message answered with one of these kinds was about a child at risk or one particular case:
# what the user said is never kept (not as an unanswered question, not in a web page's history).
UNKEPT_KINDS = frozenset((URGENT, CASEWORK))
# Telegram carries at most this many bytes of a button's data (callback_data); longer data is
# refused, so every flow keeps its button data within it.
BUTTON_DATA_LIMIT = 64


@dataclass(frozen=True)
class Button:
    """An option the user can choose. Choosing it sends `data` back as if the user typed it."""

    label: str
    data: str


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class File:
    """A document sent with a reply (a briefing as .docx): Telegram sends it, the console saves
    it, email attaches it."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Reply:
    """One message from the assistant.

    `kind` and `id`/`ids` describe what the message is (an answer, a report, a list of choices...)
    for `ask --json` and for tests; channels only render `title`, `text`, `buttons` and `links`.
    `private` marks a message that carries form content, which Telegram may delete after submission.
    `expects_text` marks a question answered by typing (a date, an age): there a bare number is
    the answer, so the console does not take it for the number of a button. `files` are
    documents that go with it (a briefing), each channel delivering them its own way.
    """

    text: str
    kind: str = "info"
    title: str | None = None
    id: str | None = None
    ids: tuple[str, ...] = ()
    buttons: tuple[Button, ...] = ()
    links: tuple[Link, ...] = ()
    private: bool = False
    expects_text: bool = False
    files: tuple[File, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The reply as JSON (by hand: dataclasses.asdict costs ten times as much, on every
        message whose replies are kept until sent)."""
        return {
            "text": self.text,
            "kind": self.kind,
            "title": self.title,
            "id": self.id,
            "ids": list(self.ids),
            "buttons": [{"label": b.label, "data": b.data} for b in self.buttons],
            "links": [{"label": link.label, "url": link.url} for link in self.links],
            "private": self.private,
            "expects_text": self.expects_text,
            # A briefing's .docx travels with its reply when the reply waits to be sent.
            "files": [
                {
                    "filename": f.filename,
                    "content_type": f.content_type,
                    "data": base64.b64encode(f.data).decode("ascii"),
                }
                for f in self.files
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reply:
        """A reply stored with `to_json` (replies kept until they are sent)."""
        return cls(
            **{
                **data,
                "ids": tuple(data.get("ids", ())),
                "buttons": tuple(Button(**b) for b in data.get("buttons", ())),
                "links": tuple(Link(**link) for link in data.get("links", ())),
                "files": tuple(
                    File(f["filename"], f["content_type"], base64.b64decode(f["data"]))
                    for f in data.get("files", ())
                ),
            }
        )


@dataclass(frozen=True)
class Incoming:
    """One message from a user.

    `chat` is the channel-qualified conversation key ("telegram:42", "console:local"); `text` is
    what was typed, or a pressed button's data. `message_ref` is the channel's own id for the
    message, kept only so an adapter can delete it later. `receipt` (channel, key), given only
    for a message stored as it arrived (bot/storage/incoming.py), names it: the turn then marks
    it handled in the same transaction as its own changes, and one handled before is not
    handled again.
    """

    chat: str
    text: str
    pressed: bool = False
    message_ref: str | None = None
    user_name: str | None = field(default=None, repr=False)
    receipt: tuple[str, str] | None = None
    # An address the channel has verified is the person's own (Teams: their Entra ID identity,
    # with teams.entra_signin on): a registered SLO's may stand for the emailed code.
    verified_email: str | None = field(default=None, repr=False)
