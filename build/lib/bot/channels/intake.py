"""Durable incoming messages for a chat channel: nothing acknowledged is lost, nothing is handled
twice. Telegram uses it (webhook and polling); the web chat and Teams are meant to, unchanged.

A channel that receives messages does three things with an `Intake`:

1. `await intake.receive([Arrival(key, chat, payload)])` before it acknowledges them (returns
   200 to the webhook, moves the polling offset). When it returns, they are committed; if it
   raises, the channel must not acknowledge (the sender will send them again).
2. `intake.dispatch(new)`: each is handled in a task of its own, after any message of the same
   chat received earlier and not yet handled (left by a process that died, or still on its
   way: per chat, order is kept). `handle(received)`, the channel's, turns it into an
   `Incoming` with `receipt=(channel, key)`; the conversation marks it handled in the
   transaction of its own changes and returns [] if it was handled before.
3. Once the replies are sent, the channel calls `intake.answered(key)`.

What a process leaves behind, another pass finds (`sweep`, at start and every
incoming.sweep_seconds): a message still pending after incoming.lease_seconds is handled by
whoever looks (at once when a process starts; taking one another instance is still working on
is harmless, since the conversation checks under the chat lock that it is still pending), and
replies still unsent after incoming.reply_lease_seconds are sent again (`resend`). That is the
one place a message can be repeated: replies sent just before a crash, and not yet marked
sent, are sent again; the turn itself never runs twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from itertools import groupby

from bot.core.background import BackgroundTask
from bot.storage.incoming import IncomingStore
from bot.storage.records import Arrival, Received
from config.settings import IncomingSettings

log = logging.getLogger(__name__)

# A reply that could not be sent after this many passes is given up (the chat blocked the bot,
# or was deleted); the log says so.
MAX_RESENDS = 5

Handle = Callable[[Received], Awaitable[None]]


def process_name() -> str:
    """Who holds a claim: this host and process (for the record; leases do the work)."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Intake(BackgroundTask):
    """One channel's incoming messages: stored, handled in order per chat, answered."""

    name = "intake"

    def __init__(
        self,
        channel: str,
        store: IncomingStore,
        settings: IncomingSettings,
        handle: Handle,
        resend: Handle,
        *,
        concurrency: int = 64,
        single_process: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.channel = channel
        self.store = store
        self.settings = settings
        self.handle = handle
        self.resend = resend
        # SQLite serves one process: at its start, whatever is left was left by a dead one.
        self.single_process = single_process
        self.clock = clock
        self.owner = process_name()
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        # Messages whose replies went out but whose mark could not be written (the database
        # was down): marked by the next sweep, rather than sent again.
        self._sent: set[str] = set()
        # Chats with messages a dead process left (found by the start's sweep). Elsewhere, in
        # one process (SQLite), a chat's messages reach its lock in the order they arrived;
        # with several (PostgreSQL) another may have died holding an earlier one: look always.
        self._left: set[str] = set()

    # --- receiving --------------------------------------------------------------------------

    async def receive(self, arrivals: Sequence[Arrival]) -> list[Received]:
        """Store what arrived (committed on return: the channel may acknowledge it then);
        returns the messages not received before."""
        return await self.store.receive(self.channel, arrivals, self.owner, self.clock())

    def dispatch(self, received: Sequence[Received]) -> None:
        """Handle each message in a task of its own (at most `concurrency` at once)."""
        for message in received:
            self._spawn(self._in_order([message]))

    def _spawn(self, work: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _in_order(self, messages: list[Received]) -> None:
        """Handle `messages` (of one chat, oldest first), each after any earlier message of its
        chat still pending."""
        async with self._slots:
            for message in messages:
                try:
                    if message.chat and (not self.single_process or message.chat in self._left):
                        for earlier in await self.store.earlier_pending(
                            self.channel, message.chat, message.id
                        ):
                            await self.handle(earlier)
                    await self.handle(message)
                except Exception as exc:  # the database is down: the row stays, a sweep retries
                    log.error(
                        "%s message %s not handled yet: %s",
                        self.channel,
                        message.key,
                        type(exc).__name__,
                    )

    @property
    def waiting(self) -> int:
        """How many handlings are under way or waiting for a slot (one per message received;
        one per chat for what a sweep found): the poller's backlog."""
        return len(self._tasks)

    async def answered(self, key: str) -> None:
        """The replies to message `key` are sent: mark it so. If the database cannot be
        written now, the mark waits in memory for the next sweep (a restart in between sends
        them again: the one repeat there can be)."""
        try:
            await self.store.answered(self.channel, key)
        except Exception as exc:
            log.warning(
                "%s message %s: answered, not yet marked: %s",
                self.channel,
                key,
                type(exc).__name__,
            )
            self._sent.add(key)

    async def drain(self, timeout: float) -> None:
        """Wait (up to `timeout` seconds) for the messages being handled; what is left stays
        stored for the next start."""
        tasks = list(self._tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    # --- what was left ----------------------------------------------------------------------

    async def run(self) -> None:
        starting = True
        while True:
            try:
                await self.sweep(starting=starting)
                starting = False
            except Exception as exc:  # the database is down: look again later
                log.error("%s: left messages not looked at: %s", self.channel, type(exc).__name__)
            await asyncio.sleep(self.settings.sweep_seconds)

    async def sweep(self, starting: bool = False) -> tuple[int, int]:
        """Handle the messages left pending, and send again the replies left unsent; returns
        (how many messages, how many replies). `starting`: this process has just started."""
        for key in list(self._sent):  # replies sent while the database was down
            await self.store.answered(self.channel, key)
            self._sent.discard(key)
        now = self.clock()
        settings = self.settings
        pending = await self.store.take(
            self.channel,
            "pending",
            now if starting else now - settings.lease_seconds,
            self.owner,
            now,
        )
        if pending:
            log.warning(
                "%s: %d message(s) left unhandled; handling them now", self.channel, len(pending)
            )
            for chat, messages in groupby(
                sorted(pending, key=lambda m: (m.chat, m.id)), lambda m: m.chat
            ):
                if chat:
                    self._spawn(self._in_order(list(messages)))
                else:
                    self.dispatch(list(messages))
        unsent = await self.store.take(
            self.channel,
            "handled",
            now if starting and self.single_process else now - settings.reply_lease_seconds,
            self.owner,
            now,
        )
        for message in unsent:
            await self._send_again(message)
        await self.store.forget(now - settings.keep_hours * 3600)
        return len(pending), len(unsent)

    async def _send_again(self, message: Received) -> None:
        if message.attempts > MAX_RESENDS:
            log.error(
                "%s message %s: replies not delivered after %d tries; given up",
                self.channel,
                message.key,
                message.attempts - 1,
            )
            await self.store.answered(self.channel, message.key)
            return
        try:
            await self.resend(message)
        except Exception as exc:  # the channel is down: the next pass tries again
            log.warning(
                "%s message %s: replies not sent again yet: %s",
                self.channel,
                message.key,
                type(exc).__name__,
            )
            return
        await self.answered(message.key)
        log.info("%s message %s: replies sent again", self.channel, message.key)

    async def stop(self) -> None:
        await super().stop()
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks, return_exceptions=True)
