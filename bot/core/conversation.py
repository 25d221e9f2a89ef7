"""The conversation core: Incoming -> list[Reply], the same for every channel.

It loads the chat's session, routes the message (a command, an answer to the flow in progress,
or a free question), applies a flow's `Turn` to the session (`apply`, the one place a flow's
step changes), saves the session, and returns the replies. Messages of one chat are
handled one at a time (a lock per chat); different chats run concurrently. An unexpected error
is logged without the message's content and the user gets an apology, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from bot.core.controls import Said, read, split_command
from bot.core.flow import Turn
from bot.core.replies import Incoming, Reply
from bot.core.usage import Usage
from bot.storage import Storage
from bot.storage.records import Session
from config.settings import Settings
from knowledge.loader import Knowledge
from knowledge.per_message import one_message

log = logging.getLogger(__name__)

SORRY = (
    "Sorry, something went wrong on my side. Your earlier answers are saved. "
    "Please try again, or type /help."
)


@dataclass
class Context:
    """What a handler gets for one message. `session` is saved after the handler returns."""

    incoming: Incoming
    session: Session
    knowledge: Knowledge
    storage: Storage
    settings: Settings
    conversation: Conversation

    @property
    def chat(self) -> str:
        return self.incoming.chat

    async def run_command(self, text: str) -> list[Reply]:
        """Run a command as if the user typed it (buttons and actions start flows this way)."""
        return await self.conversation.run_command(self, text)

    async def answer_question(self, text: str) -> list[Reply] | None:
        """A confident knowledge-base answer to `text`, or None (used in the middle of flows)."""
        return await self.conversation.answer_question(self, text)

    def apply(self, flow_name: str, turn: Turn) -> list[Reply]:
        """Apply a turn of `flow_name` (a command that enters or re-asks a flow)."""
        return self.conversation.apply(self.session, flow_name, turn)


Command = Callable[[Context, str], Awaitable[list[Reply]]]
FreeText = Callable[[Context, str], Awaitable[list[Reply]]]
Answerer = Callable[[Context, str], Awaitable[list[Reply] | None]]
# A lock on one chat held across processes (Storage.chat_lock).
SharedLock = Callable[[str], AbstractAsyncContextManager[None]]
# Which replies of a turn are private, from the flow the chat was in before and after it.
Privacy = Callable[[str | None, str | None, list[Reply]], list[Reply]]
# A channel's record of a turn (the web chat's numbered messages), written in the same
# transaction as the session, so a crash keeps both or neither.
Record = Callable[[list[Reply]], Awaitable[None]]


class Flow(Protocol):
    """A multi-step conversation (the form, the threshold guide, sign-in, a hand-off).

    While `session.flow == name`, every message that is not a global command goes to `handle`,
    and so do the commands listed in `commands` (such as /cancel or /back). `command` is the
    flow's own, which its buttons send (`Said.pressed`). `handle` returns a `Turn`, which the
    core applies.
    """

    name: str
    command: str
    commands: frozenset[str]

    async def handle(self, ctx: Context, said: Said) -> Turn: ...


@runtime_checkable
class Ending(Protocol):
    """A flow that keeps something of its session when it ends (the form remembers which
    drafts were submitted); any other flow's session is simply reset."""

    def end(self, session: Session) -> None: ...


@runtime_checkable
class Resumable(Protocol):
    """A flow the safety route may interrupt: after the route, `resume` picks up where the user
    was (the threshold check asks its question again). A flow without it (the notification
    form, whose answers describe an incident by design) is never screened for live concerns."""

    async def resume(self, ctx: Context) -> list[Reply]: ...


@runtime_checkable
class Described(Protocol):
    """A flow that can say what it is ("a notification draft") and ask its current step again,
    for another command that must not throw it away (`Conversation.in_progress`)."""

    title: str

    async def current(self, ctx: Context) -> list[Reply]: ...


@dataclass
class _ChatLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # holding or waiting


class ChatLocks:
    """One lock per chat, kept only while a message of that chat is handled or waiting.

    Without pruning, the table would grow by one lock per chat ever seen. A lock is dropped only
    when nobody holds it or waits for it, so a chat's messages still go strictly one at a time:
    the next message of that chat simply makes a fresh lock.
    """

    def __init__(self, shared: SharedLock | None = None) -> None:
        self._locks: dict[str, _ChatLock] = {}
        # Behind the in-process lock, one all instances share (a PostgreSQL advisory lock):
        # taken only once this process's turn has come, so it holds one connection per chat.
        self._shared = shared

    def __len__(self) -> int:
        return len(self._locks)

    @asynccontextmanager
    async def hold(self, chat: str) -> AsyncIterator[None]:
        entry = self._locks.get(chat)
        if entry is None:
            entry = self._locks[chat] = _ChatLock()
        entry.users += 1  # counted before waiting, so the lock is not dropped under a waiter
        try:
            async with entry.lock:
                if self._shared is None:
                    yield
                else:
                    async with self._shared(chat):
                        yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._locks[chat]


def _do_nothing() -> None:
    """The default `outbox_waker`, before an outbox is wired."""


class HandledBefore(Exception):
    """A stored message's turn found it no longer pending: its changes are rolled back."""


# Inside a stored message's turn: the wake-ups of the outbox asked for, done after the commit.
_AFTER_COMMIT: ContextVar[list[bool] | None] = ContextVar("after_commit", default=None)


def to_send(incoming: Incoming, replies: list[Reply]) -> dict[str, Any]:
    """What a handled message keeps until its replies are sent: the replies, and the message's
    own id (a channel that deletes form messages needs it)."""
    return {"replies": [r.to_json() for r in replies], "message_ref": incoming.message_ref}


def sent_later(stored: dict[str, Any]) -> tuple[list[Reply], str | None]:
    """The replies and message id `to_send` kept."""
    return [Reply.from_json(r) for r in stored.get("replies", ())], stored.get("message_ref")


class Conversation:
    def __init__(
        self,
        knowledge: Knowledge,
        storage: Storage,
        settings: Settings,
        free_text: FreeText,
        answerer: Answerer,
    ) -> None:
        self.knowledge = knowledge
        self.storage = storage
        self.settings = settings
        self.commands: dict[str, Command] = {}
        self.menu: list[tuple[str, str]] = []  # (command without "/", description) for menus
        self.flows: dict[str, Flow] = {}
        self._free_text = free_text
        self._answerer = answerer
        self.locks = ChatLocks(storage.chat_lock)
        # Set by the channel that runs: sends messages the user did not ask for (a mail failure).
        self.push: Callable[[str, list[Reply]], Awaitable[None]] | None = None
        # Set by build_assistant to the outbox's wake(); handlers call `wake_outbox()`.
        self.outbox_waker: Callable[[], None] = _do_nothing
        # Set by wire(): the safety route for a message that is a live concern, else None.
        self.safety: Answerer | None = None
        # Set by wire(): THE rule marking a turn's replies private (handlers/privacy.py).
        self.privacy: Privacy | None = None
        # Set by the installation serving several partnerships (bot/installation.py): re-read
        # them and start the new ones, for an installation administrator's /reload; the lines
        # say what changed.
        self.reload_installation: Callable[[], Awaitable[list[str]]] | None = None
        # Turns counted for the staff page's charts (numbers only).
        self.usage = Usage()

    def add_command(self, name: str, handler: Command, description: str | None = None) -> None:
        """Register `/name`; with a description it is also listed in /help and Telegram's menu."""
        self.commands[f"/{name}"] = handler
        if description:
            self.menu.append((name, description))

    def add_flow(self, flow: Flow) -> None:
        self.flows[flow.name] = flow

    async def in_progress(self, ctx: Context, then: str) -> list[Reply]:
        """For a command that would discard the active flow: what is in progress, how to stop
        it (`then`: what to do after), and the step it is at, asked again."""
        flow = self.flows.get(ctx.session.flow or "")
        what = flow.title if isinstance(flow, Described) else "something else"
        text = f"You have {what} in progress. Finish it, or type /cancel to stop it, then {then}."
        if not isinstance(flow, Described):
            return [Reply(text, kind="busy")]
        return [Reply(f"{text} Where you were:", kind="busy"), *await flow.current(ctx)]

    def replace_knowledge(self, knowledge: Knowledge) -> None:
        """Swap in a freshly validated knowledge base (/reload); conversations carry on."""
        self.knowledge = knowledge

    def wake_outbox(self) -> None:
        """Have the outbox look at its queue now (a submitted email goes out at once). Inside a
        stored message's turn, once the turn has committed: until then the outbox would not
        see the email, and would sleep until its next due time."""
        woken = _AFTER_COMMIT.get()
        if woken is None:
            self.outbox_waker()
        else:
            woken.append(True)

    async def handle(self, incoming: Incoming, record: Record | None = None) -> list[Reply]:
        """The replies to `incoming`; [] for a stored message handled before (by this process
        before a restart, or by another instance): it is never handled twice. With `record`,
        the channel's record of the turn is written in the session's transaction (and alone,
        with the apology, after an error). The turn is counted for the charts (usage.py)."""
        replies = await self._handle(incoming, record)
        if self.usage.due():
            await self.usage.flush(self.storage)
        return replies

    async def _handle(self, incoming: Incoming, record: Record | None) -> list[Reply]:
        async with self.locks.hold(incoming.chat):
            receipt = incoming.receipt
            session = await self.storage.sessions.load_session(incoming.chat)
            ctx = Context(incoming, session, self.knowledge, self.storage, self.settings, self)
            try:
                if receipt is None:
                    return await self._turn(ctx, record)
                return await self._stored_turn(ctx, receipt, record)
            except HandledBefore:
                log.info("chat %s: message %s was handled before", incoming.chat, receipt)
                return []
            except Exception as exc:  # the conversation must survive any bug
                # The message text and exception message may hold personal data: log neither.
                frames = "".join(traceback.format_tb(exc.__traceback__))
                log.error(
                    "error handling a message in chat %s: %s\n%s",
                    incoming.chat,
                    type(exc).__name__,
                    frames,
                )
                replies = [Reply(SORRY, kind="error")]
                if receipt is not None:
                    await self._handled_anyway(receipt, incoming, replies)
                if record is not None:
                    await record(replies)  # a failure here is the channel's to report
                return replies

    async def _turn(self, ctx: Context, record: Record | None = None) -> list[Reply]:
        """Route the message; save the session only if that succeeded, so an error leaves the
        user where they were. The channel's `record` of it goes in the same transaction."""
        with one_message():  # the safety screen and the matcher embed the text once
            replies = await self._private(ctx)
        if record is None:
            await self.storage.sessions.save_session(ctx.session)
        else:
            async with self.storage.db.transaction():
                await self.storage.sessions.save_session(ctx.session)
                await record(replies)
        return replies

    async def _stored_turn(
        self, ctx: Context, receipt: tuple[str, str], record: Record | None = None
    ) -> list[Reply]:
        """The turn of a stored incoming message: everything it changes, and the mark that it
        was handled (with the replies to send), in one transaction. A crash before the commit
        leaves nothing of it, and the message pending; after it, the message handled once."""
        # Outside the transaction: right after start the model may take seconds to load, and
        # on SQLite the transaction holds the one writer (every other chat would wait).
        await self.knowledge.semantic.ready()
        woken: list[bool] = []
        token = _AFTER_COMMIT.set(woken)
        try:
            # On SQLite it begins with the turn's first write: a turn that writes nothing (a
            # question answered) holds no lock, and its mark is one statement on its own.
            async with self.storage.db.transaction_on_write() as written:
                replies = await self._turn(ctx, record)
                if written.begun:
                    await self._mark_handled(ctx, receipt, replies)
            if not written.begun:
                await self._mark_handled(ctx, receipt, replies)
        finally:
            _AFTER_COMMIT.reset(token)
        if woken:
            self.outbox_waker()
        return replies

    async def _mark_handled(
        self, ctx: Context, receipt: tuple[str, str], replies: list[Reply]
    ) -> None:
        """Under the chat lock, which every instance takes: whoever had it before us has
        committed whatever it did with this message. If it is no longer pending, HandledBefore
        undoes this turn."""
        if not await self.storage.incoming.handled(
            *receipt, to_send(ctx.incoming, replies), time.time()
        ):
            raise HandledBefore

    async def _handled_anyway(
        self, receipt: tuple[str, str], incoming: Incoming, replies: list[Reply]
    ) -> None:
        """A turn that failed changed nothing: mark its message handled with the apology, so a
        message that always fails is not tried for ever. If even that cannot be written (the
        database is down), it stays pending and is handled again later."""
        try:
            await self.storage.incoming.handled(*receipt, to_send(incoming, replies), time.time())
        except Exception as exc:
            log.error(
                "chat %s: message %s left to handle again: %s",
                incoming.chat,
                receipt[1],
                type(exc).__name__,
            )

    async def safety_route(self, chat: str, text: str) -> list[Reply] | None:
        """The safety route if `text` is a live concern, else None, without a turn: nothing is
        loaded, stored or changed. For a channel that will not answer `text` otherwise (email
        from a sender over the hourly limit): a live concern is always answered."""
        if self.safety is None:
            return None
        ctx = Context(
            Incoming(chat, text), Session(chat), self.knowledge, self.storage, self.settings, self
        )
        with one_message():
            return await self.safety(ctx, text)

    async def _private(self, ctx: Context) -> list[Reply]:
        """The turn's replies, marked private by the one rule wired in (`privacy`)."""
        before = ctx.session.flow
        replies = await self._route(ctx)
        self.usage.count(ctx.chat, replies, in_flow=before is not None)
        if self.privacy is None:
            return replies
        return self.privacy(before, ctx.session.flow, replies)

    async def _route(self, ctx: Context) -> list[Reply]:
        text = ctx.incoming.text.strip()
        flow = self.flows.get(ctx.session.flow or "")
        if text.startswith("/"):
            name, _ = split_command(text)
            if flow is not None and name in flow.commands:
                return await self.step(ctx, flow, text)
            return await self.run_command(ctx, text)
        if not text:
            return [Reply("Please type a message, or /help to see what I can do.", kind="help")]
        urgent = await self._screen(ctx, flow, text)
        if urgent is not None:
            return urgent
        if flow is not None:
            return await self.step(ctx, flow, text)
        return await self._free_text(ctx, text)

    async def step(self, ctx: Context, flow: Flow, text: str) -> list[Reply]:
        """The flow in progress handles `text`, read once into `Said`; its turn is applied."""
        return self.apply(ctx.session, flow.name, await flow.handle(ctx, read(text, flow.command)))

    def apply(self, session: Session, flow_name: str, turn: Turn) -> list[Reply]:
        """THE place a flow's step changes: to the turn's next step, or out of the flow. A turn
        that ends a flow the chat is no longer in (sign-in that handed the chat to the form)
        leaves the chat where it is."""
        if turn.next_step is not None:
            session.flow, session.step = flow_name, turn.next_step
        elif session.flow == flow_name:
            flow = self.flows.get(flow_name)
            if isinstance(flow, Ending):
                flow.end(session)
            else:
                session.reset()
        return list(turn.replies)

    async def _screen(self, ctx: Context, flow: Flow | None, text: str) -> list[Reply] | None:
        """Safety comes before matching: a live concern gets the safety route at once, outside
        flows and inside any flow that can resume after it. Never stored, never matched."""
        if self.safety is None or ctx.incoming.pressed:
            return None
        if flow is not None and not isinstance(flow, Resumable):
            return None
        replies = await self.safety(ctx, text)
        if replies is None or flow is None:
            return replies
        assert isinstance(flow, Resumable)
        return [*replies, *await flow.resume(ctx)]

    async def run_command(self, ctx: Context, text: str) -> list[Reply]:
        name, arg = split_command(text)
        handler = self.commands.get(name)
        if handler is None:
            return [
                Reply(
                    f"I don't know the command {name}. Type /help to see what I can do.",
                    kind="help",
                )
            ]
        return await handler(ctx, arg)

    async def answer_question(self, ctx: Context, text: str) -> list[Reply] | None:
        return await self._answerer(ctx, text)
