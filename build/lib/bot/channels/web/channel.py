"""The web chat's messages: in from browsers, through the core, out as numbered messages.

A message from a browser is written to the store before the browser hears that it arrived;
one with a client id the conversation has used already (a send retried after a lost
acknowledgement) is not handled again. Each conversation's messages are then handled one at a
time, in the order they arrived, by a worker task of the channel (not of the socket: a page
that closes does not stop its message). The turn's record goes in the same transaction as the
session (`Conversation.handle(record=...)`): the user's message, the replies, numbered after
the conversation's last, and the inbound message marked done. Then every page of that
conversation is woken; each reads what comes after the last number it has shown, so a reply
is shown once and in order on every page, a reconnecting page gets what it missed, and a new
page or tab gets the conversation so far.

Private messages (a form's questions and answers, a sign-in's address) are deleted from the
conversation's history once the notification is submitted, as Telegram deletes them from the
chat. What a live concern said is never kept: the pages show that a message was sent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.assistant import Assistant
from bot.channels.web.guard import CHAT_PREFIX
from bot.channels.web.render import reply_body, user_body
from bot.core.replies import SUBMITTED, UNKEPT_KINDS, Incoming, Reply
from bot.ops.metrics import Metrics
from bot.storage.records import WebMessage

log = logging.getLogger(__name__)

# A new page shows at most this many of the conversation's latest messages.
HISTORY_LIMIT = 200
# What one read gives a page that is catching up; it reads again for the rest.
BATCH = 100
# A turn whose record could not be written (the database was busy) is tried again this often.
RETRY_DELAYS = (0.5, 2.0, 8.0)
START = "/start"


@dataclass(frozen=True)
class Sent:
    """A message from a browser: typed text, or a pressed button's data and its label."""

    client_id: str
    text: str
    pressed: bool = False
    label: str | None = None


# The greeting a new conversation gets when its first page opens (no client message).
GREETING = Sent(client_id="", text=START)


class WebChannel:
    def __init__(
        self,
        assistant: Assistant,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.assistant = assistant
        self.store = assistant.storage.web
        self.metrics = metrics or Metrics()
        self.clock = clock
        self._queues: dict[str, list[Sent]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._pages: dict[str, set[asyncio.Event]] = {}
        # The latest messages this process added to each chat a page watches: a page that had
        # shown everything before them is sent them without reading the store again.
        self._recent: dict[str, list[WebMessage]] = {}
        # Set when the server starts to stop: long polls answer at once instead of holding
        # the shutdown for their whole wait.
        self.closing = False

    # --- in ---------------------------------------------------------------------------------

    async def receive(self, chat: str, sent: Sent) -> bool:
        """Record a browser's message (committed before this returns, so the browser may be
        told it arrived) and queue it for handling; False if it was received before."""
        new = await self.store.receive(
            chat, sent.client_id, sent.text, sent.label, sent.pressed, self.clock()
        )
        if new:
            self._queue(chat, sent)
        return new

    def greet(self, chat: str) -> None:
        """A page of a conversation with nothing in it yet opened: it gets the greeting (once,
        however many pages open: the worker looks again before greeting)."""
        self._queue(chat, GREETING)

    async def start(self) -> None:
        """Handle what was received but not handled before the last stop (a crash)."""
        pending = await self.store.pending()
        for item in pending:
            self._queue(item.chat, Sent(item.client_id, item.text, item.pressed, item.label))
        if pending:
            log.info("web chat: handling %d message(s) received before the restart", len(pending))

    async def stop(self) -> None:
        """Let the messages already received be handled (shutdown waits for them)."""
        while self._workers:
            await asyncio.gather(*list(self._workers.values()), return_exceptions=True)

    def _queue(self, chat: str, sent: Sent) -> None:
        self._queues.setdefault(chat, []).append(sent)
        if chat not in self._workers:
            self._workers[chat] = asyncio.create_task(self._work(chat), name="web-chat-turns")

    async def _work(self, chat: str) -> None:
        """Handle the chat's queued messages one at a time, in the order they came."""
        queue = self._queues[chat]
        try:
            while queue:
                await self._turn(chat, queue.pop(0))
        finally:
            del self._workers[chat]
            del self._queues[chat]

    async def _turn(self, chat: str, sent: Sent) -> None:
        # Against every other instance on a shared database (PostgreSQL; SQLite has one): the
        # message is looked up again under the lock, so one that another instance has handled
        # meanwhile (its restart found it pending while this one was answering) is not handled
        # twice. The core takes the chat's own lock inside this one.
        async with self.assistant.storage.db.chat_lock(f"web-turn:{chat}"):
            if sent is GREETING:
                if await self.store.last_seq(chat) != 0:
                    return  # another page of the conversation opened first
            elif not await self.store.is_pending(chat, sent.client_id):
                return
            await self._handle(chat, sent)

    async def _handle(self, chat: str, sent: Sent) -> None:
        incoming = Incoming(chat, sent.text, pressed=sent.pressed)
        appended: list[WebMessage] = []

        async def record(replies: list[Reply]) -> None:
            appended[:] = await self._record(chat, sent, replies)

        for delay in (*RETRY_DELAYS, None):
            started = time.perf_counter()
            try:
                replies = await self.assistant.conversation.handle(incoming, record=record)
            except Exception as exc:  # the record could not be written: nothing was kept
                if delay is None:
                    # It stays pending in the store and is handled at the next start.
                    log.error("web chat %s: message not handled: %s", chat, type(exc).__name__)
                    return
                await asyncio.sleep(delay)
                continue
            self.metrics.observe_turn(replies, time.perf_counter() - started)
            break
        self._wake(chat, appended)

    async def _record(self, chat: str, sent: Sent, replies: list[Reply]) -> list[WebMessage]:
        """The turn as the conversation's pages show it, inside the turn's transaction."""
        private = any(r.private for r in replies)
        rows: list[tuple[str, dict[str, object], bool]] = []
        if sent is not GREETING:
            kept = not any(r.kind in UNKEPT_KINDS for r in replies)
            shown = sent.label if sent.pressed and sent.label else sent.text
            rows.append(("user", user_body(shown, sent.client_id, kept), private))
        reply_to = sent.client_id or None
        rows += [
            ("assistant", reply_body(r, reply_to, last=i == len(replies) - 1), r.private)
            for i, r in enumerate(replies)
        ]
        appended = await self.store.append(chat, rows, self.clock())
        if sent is not GREETING:
            await self.store.finish(chat, sent.client_id)
        if any(r.kind == SUBMITTED for r in replies):
            await self.store.forget_private(chat)
        return appended

    # --- out --------------------------------------------------------------------------------

    async def push(self, chat: str, replies: list[Reply]) -> None:
        """News nobody asked for (a hand-off's answer) for a web chat; other chats ignored."""
        if not chat.startswith(CHAT_PREFIX):
            return
        rows = [
            ("assistant", reply_body(r, None, last=i == len(replies) - 1), r.private)
            for i, r in enumerate(replies)
        ]
        self._wake(chat, await self.store.append(chat, rows, self.clock()))

    def close_pages(self) -> None:
        """The server is stopping: every page waiting for news is answered now."""
        self.closing = True
        for pages in self._pages.values():
            for event in pages:
                event.set()

    def _wake(self, chat: str, appended: list[WebMessage]) -> None:
        pages = self._pages.get(chat)
        if not pages or not appended:
            return
        self._recent[chat] = appended
        for event in pages:
            event.set()

    def watch(self, chat: str) -> asyncio.Event:
        """An event set whenever `chat` has new messages (until `unwatch`)."""
        event = asyncio.Event()
        self._pages.setdefault(chat, set()).add(event)
        return event

    def unwatch(self, chat: str, event: asyncio.Event) -> None:
        pages = self._pages.get(chat)
        if pages is not None:
            pages.discard(event)
            if not pages:
                del self._pages[chat]
                self._recent.pop(chat, None)

    async def after(self, chat: str, seq: int) -> list[WebMessage]:
        return await self.store.messages(chat, seq, BATCH)

    async def wait(
        self, chat: str, seq: int, event: asyncio.Event, timeout: float
    ) -> list[WebMessage]:
        """The messages after `seq`; when there are none yet, wait up to `timeout` seconds for
        some. The event is cleared before looking, so news meanwhile is not missed. The store
        is read unless this process knows the page is up to date; after a wake-up, the
        latest messages come from memory when they follow on from `seq`; after the timeout,
        the store is read again (news another instance added, on a shared database)."""
        event.clear()
        recent = self._recent.get(chat)
        if recent is None or recent[-1].seq != seq:
            messages = await self.after(chat, seq)
            if messages or self.closing:
                return messages
        elif self.closing:
            return []
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return await self.after(chat, seq)
        recent = self._recent.get(chat)
        if recent and recent[0].seq == seq + 1:
            return list(recent)
        return await self.after(chat, seq)
