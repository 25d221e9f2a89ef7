"""Long polling, and starting and stopping the flow of updates in either mode.

Why not python-telegram-bot's Updater: it confirms updates to Telegram (the next getUpdates
moves the offset past them) as soon as they are in its in-memory queue, so a process killed in
the next few milliseconds lost them for good, and Telegram never sends a confirmed update again.
Here a batch is stored first (`Intake.receive`, committed), and only then does the offset move;
if storing fails, the same batch is fetched again. Webhook mode follows the same rule in
bot/server.py: 200 only once the update is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal

from telegram.error import RetryAfter, TelegramError, TimedOut
from telegram.ext import Application

from bot.assistant import Assistant
from bot.channels.intake import Intake
from bot.channels.telegram import ALLOWED_UPDATES, TelegramChannel, arrival_of, build_application
from bot.channels.telegram_http import AssistantBot
from bot.core.background import BackgroundTask
from config.settings import TelegramSettings

log = logging.getLogger(__name__)

RETRY_MIN_SECONDS = 1.0
RETRY_MAX_SECONDS = 60.0
# After a getUpdates answered at once with nothing, the next waits this long, doubling with
# each such answer up to the longest (`Poller.run` says why).
FIRST_PAUSE = 0.05
LONGEST_PAUSE = 1.0
# Messages handed out and not yet handled, past which the next getUpdates waits (`backlog`),
# looking again this often.
MOST_WAITING = 200
BACKLOG_CHECK = 0.02
# On shutdown, updates being handled get this long to finish; the rest stay stored.
DRAIN_SECONDS = 10.0


class Poller(BackgroundTask):
    """getUpdates in a loop: store each batch, then move the offset, then hand it out.

    Two waits keep it from running ahead of what it is for. Long polling asks the server to
    hold getUpdates until an update arrives or the timeout passes, so an idle bot asks once per
    timeout; a server that answers at once instead (an emulator, a proxy, a Bot API server
    misbehaving) turned the loop into a spin: 1,500 polls a second, half a core, doing nothing.
    After such an answer the next poll waits `FIRST_PAUSE`, doubling with each empty answer up
    to `LONGEST_PAUSE`; any update, or a poll the server held, ends the pause. A message then
    waits at most `LONGEST_PAUSE` longer, and only on a server that breaks the contract.
    And in a burst, polling ran far ahead of handling: 10,000 updates fetched at once held
    45 MB until the process ended, while Telegram keeps what is not yet fetched for a day.
    While more than `MOST_WAITING` messages wait to be handled, the next poll waits. Both
    waits come after the last batch was stored, before the next getUpdates confirms it: a
    process killed while waiting is sent that batch again, and each update is recognised by
    its update_id, so nothing is lost or handled twice.
    """

    name = "telegram-polling"

    def __init__(self, bot: AssistantBot, intake: Intake, telegram: TelegramSettings) -> None:
        super().__init__()
        self.bot = bot
        self.intake = intake
        self.telegram = telegram
        self.offset: int | None = None  # the first update_id not yet stored
        self.pause = 0.0  # before the next poll: the server answered the last ones at once

    async def run(self) -> None:
        await self._no_webhook()
        log.info("Telegram bot started (long polling)")
        delay = RETRY_MIN_SECONDS
        loop = asyncio.get_running_loop()
        held_for = self.telegram.poll_timeout_seconds
        while True:
            if self.pause:
                await asyncio.sleep(self.pause)
            while self.intake.waiting > MOST_WAITING:
                await asyncio.sleep(BACKLOG_CHECK)
            started = loop.time()
            try:
                # As Telegram sent them: stored as they are, a text message read from them.
                updates = await self.bot.get_updates_json(
                    self.offset, dt.timedelta(seconds=held_for), ALLOWED_UPDATES
                )
            except RetryAfter as exc:  # Telegram's own flood control: wait as told
                await asyncio.sleep(_seconds(exc.retry_after))
                continue
            except TimedOut:  # the long poll outlived its read timeout: ask again
                self.pause = 0.0  # it was held
                continue
            except TelegramError as exc:  # a network error, a conflict: back off
                log.warning("getUpdates failed (%s); retrying in %g s", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                continue
            delay = RETRY_MIN_SECONDS
            at_once = loop.time() - started < held_for / 2
            self.pause = next_pause(self.pause) if at_once and not updates else 0.0
            if updates:
                try:
                    new = await self.intake.receive([arrival_of(u, self.bot) for u in updates])
                except Exception as exc:  # not stored: not confirmed either, fetched again
                    log.error("updates not stored (%s); fetching them again", type(exc).__name__)
                    await asyncio.sleep(RETRY_MIN_SECONDS)
                    continue
                self.offset = int(updates[-1]["update_id"]) + 1  # confirmed by the next poll
                self.intake.dispatch(new)
            if self.telegram.poll_interval_seconds:
                await asyncio.sleep(self.telegram.poll_interval_seconds)

    async def _no_webhook(self) -> None:
        """getUpdates refuses to run while a webhook is set: remove it (as PTB's Updater did),
        keeping the updates Telegram holds."""
        delay = RETRY_MIN_SECONDS
        while True:
            try:
                await self.bot.delete_webhook(drop_pending_updates=False)
                return
            except TelegramError as exc:
                log.warning(
                    "deleteWebhook failed (%s); retrying in %g s", type(exc).__name__, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)

    async def stop(self) -> None:
        """Stop polling; confirm to Telegram what was stored (else it is fetched again at the
        next start, and recognised then)."""
        await super().stop()
        if self.offset is not None:
            with contextlib.suppress(TelegramError):
                await self.bot.get_updates(
                    offset=self.offset, timeout=0, allowed_updates=ALLOWED_UPDATES
                )


def next_pause(pause: float) -> float:
    """The pause after another getUpdates answered at once with nothing."""
    return min(LONGEST_PAUSE, max(FIRST_PAUSE, pause * 2))


def _seconds(value: object) -> float:
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]


def intake_of(application: Application) -> Intake:
    channel: TelegramChannel = application.bot_data["channel"]
    assert channel.intake is not None
    return channel.intake


def start_updates(application: Application, assistant: Assistant, polling: bool) -> Poller | None:
    """Start handling updates (the Application is started): first what an earlier run left,
    then what arrives; with `polling`, start long polling too (returned, to stop it)."""
    intake = intake_of(application)
    intake.start()
    if not polling:
        return None
    bot = application.bot
    assert isinstance(bot, AssistantBot)  # build_application's
    poller = Poller(bot, intake, assistant.settings.telegram)
    poller.start()
    return poller


async def stop_updates(application: Application, poller: Poller | None) -> None:
    """Stop fetching, let the updates being handled finish (briefly), stop the intake."""
    if poller is not None:
        await poller.stop()
    intake = intake_of(application)
    await intake.drain(DRAIN_SECONDS)
    await intake.stop()


async def run_polling(assistant: Assistant) -> None:
    """Long polling until interrupted (Ctrl+C or SIGTERM), in the caller's event loop."""
    application = build_application(assistant)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with application:
        channel: TelegramChannel = application.bot_data["channel"]
        await channel.post_init(application)  # Application.post_init runs only under run_*()
        await application.start()
        poller = start_updates(application, assistant, polling=True)
        await stop.wait()
        await channel.stop()
        await stop_updates(application, poller)
        await application.stop()
