"""Channel-neutral messages: what a user sent (`Incoming`) and what the assistant says (`Reply`).

Adapters turn a channel's input into an `Incoming` and render each `Reply`; nothing else in the
core knows which channel a conversation happens on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class Incoming:
    """One message from a user.

    `chat` is the channel-qualified conversation key ("telegram:42", "console:local"); `text` is
    what was typed, or a pressed button's data. `message_ref` is the channel's own id for the
    message, kept only so an adapter can delete it later.
    """

    chat: str
    text: str
    pressed: bool = False
    message_ref: str | None = None
    user_name: str | None = field(default=None, repr=False)
