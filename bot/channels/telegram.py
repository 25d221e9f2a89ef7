"""The Telegram channel: python-telegram-bot's Application around the conversation core.

Holds no feature logic: an Update becomes an `Incoming`, each `Reply` becomes an HTML message
(all text escaped) with inline buttons. Commands arrive as plain text messages, so the core
sees "/report pelka" exactly as the console does.

Every update, from the webhook (bot/server.py) or from polling (bot/channels/telegram_polling.py),
is stored before Telegram is told it arrived, and handled through `Intake`
(bot/channels/intake.py): the Application's handlers see it with its receipt, the conversation
marks it handled in its own transaction, and `answer` marks it answered once the replies are
sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import html
import logging
import time
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any

from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputFile,
    InputTextMessageContent,
    Update,
)
from telegram.constants import MessageLimit, ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot.assistant import Assistant
from bot.channels.intake import Intake
from bot.channels.private_messages import PrivateMessages
from bot.channels.telegram_http import AiohttpRequest, AssistantBot
from bot.core.conversation import sent_later
from bot.core.numbers import is_ascii_digits
from bot.core.replies import BUTTON_DATA_LIMIT, Incoming, Reply
from bot.ops.metrics import Metrics
from bot.storage import Arrival, Received
from knowledge.loader import Report
from knowledge.report_lookup import find_reports, report_facts, where_to_find

log = logging.getLogger(__name__)

TEXT_LIMIT = MessageLimit.MAX_TEXT_LENGTH  # 4096 characters after entity parsing
DELETE_LIMIT = 100  # message ids one deleteMessages call accepts
COMMANDS_RETRY_MAX_SECONDS = 600.0
ALLOWED_UPDATES = ["message", "callback_query", "inline_query"]
CHANNEL = "telegram"  # the channel's name in the store of incoming messages
# Links in replies are sources, listed as buttons: no preview. (LinkPreviewOptions' JSON: the
# object costs 15 microseconds a message to build and turn back into this.)
NO_PREVIEW = {"is_disabled": True}


def chat_key(chat_id: int) -> str:
    return f"telegram:{chat_id}"


def text_message(payload: dict[str, Any]) -> tuple[int, int, str] | None:
    """(chat id, message id, text) of an update that is a text message and nothing else, as
    Telegram sent it; None for any other (PTB reads those). What the Application's
    MessageHandler(filters.TEXT) takes, read without building PTB's Update (0.1-0.16 ms of
    CPU an update: about a hundred attributes set one by one)."""
    message = payload.get("message")
    if len(payload) != 2 or "update_id" not in payload or not isinstance(message, dict):
        return None
    chat, text, message_id = message.get("chat"), message.get("text"), message.get("message_id")
    if not isinstance(chat, dict) or not isinstance(text, str) or not text:
        return None
    chat_id = chat.get("id")
    if type(chat_id) is not int or type(message_id) is not int:
        return None
    return chat_id, message_id, text


def arrival_of(payload: dict[str, Any], bot: Bot) -> Arrival:
    """An update as Telegram sent it (polling) as the store keeps it: a text message read
    as it is (`text_message`), any other through PTB's Update."""
    found = text_message(payload)
    if found is None:
        return arrival(Update.de_json(payload, bot), payload)
    return Arrival(str(payload["update_id"]), chat_key(found[0]), payload)


def arrival(update: Update, payload: dict[str, Any] | None = None) -> Arrival:
    """An update as the store of incoming messages keeps it, keyed by its update_id; `payload`
    is the JSON Telegram sent (by webhook), else the update's own."""
    chat = update.effective_chat
    return Arrival(
        str(update.update_id),
        chat_key(chat.id) if chat is not None else "",
        payload if payload is not None else update.to_dict(),
        original=update,
    )


# Set while a stored update goes through the Application (`process_stored`): its key.
_stored: ContextVar[str | None] = ContextVar("stored_update", default=None)


def to_incoming(update: Update) -> Incoming | None:
    """What the conversation is given for an update (a text message or a pressed button; with
    its receipt when it was stored as it arrived), or None for an update it does not handle
    (an inline query, a photo)."""
    chat = update.effective_chat
    if chat is None:
        return None
    key = _stored.get()
    receipt = (CHANNEL, key) if key == str(update.update_id) else None
    query = update.callback_query
    if query is not None:
        return Incoming(chat_key(chat.id), query.data or "", pressed=True, receipt=receipt)
    message = update.effective_message
    if message is None or message.text is None:
        return None
    return Incoming(
        chat_key(chat.id), message.text, message_ref=str(message.message_id), receipt=receipt
    )


def split_html(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split escaped HTML text into chunks under `limit`, at line breaks where possible.

    Only the first chunk carries a <b> title, which stays whole, and an escaped entity
    (&amp;) is never cut in two.
    """
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            cut = limit
            amp = line.rfind("&", 0, cut)
            if amp != -1 and line.find(";", amp, cut) == -1:
                cut = amp
            space = line.rfind(" ", 0, cut)
            if space > limit // 2:
                cut = space
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:cut])
            line = line[cut:].lstrip(" ")
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current or not chunks:
        chunks.append(current)
    return chunks


def keyboard(reply: Reply) -> dict[str, Any] | None:
    """The reply's links and buttons as an inline keyboard, in the Bot API's own JSON form
    (what InlineKeyboardMarkup.to_dict() gives): building PTB's button objects only for PTB
    to turn them straight back into this cost more than the rest of sending a reply."""
    rows = [[{"text": link.label, "url": link.url}] for link in reply.links]
    for button in reply.buttons:
        # Long data would be refused by Telegram; the label is accepted as typed text instead.
        data = button.data if len(button.data.encode()) <= BUTTON_DATA_LIMIT else button.label[:60]
        rows.append([{"callback_data": data, "text": button.label}])
    return {"inline_keyboard": rows} if rows else None


def to_html(reply: Reply) -> str:
    body = html.escape(reply.text, quote=False)
    return f"<b>{html.escape(reply.title, quote=False)}</b>\n{body}" if reply.title else body


def inline_article(report: Report, contact_email: str) -> InlineQueryResultArticle:
    """One document as an inline result; choosing it posts its title and link (or who to ask
    for a copy), with a button that opens it."""
    title = html.escape(report.title, quote=False)
    text = f"<b>{title}</b>\n{html.escape(where_to_find(report, contact_email), quote=False)}"
    button = [[InlineKeyboardButton("Open the document", url=report.url)]] if report.url else []
    return InlineQueryResultArticle(
        id=report.id,
        title=report.title,
        description=report_facts(report),
        input_message_content=InputTextMessageContent(text, parse_mode=ParseMode.HTML),
        reply_markup=InlineKeyboardMarkup(button) if button else None,
    )


class TelegramChannel:
    def __init__(self, assistant: Assistant, metrics: Metrics | None = None) -> None:
        self.assistant = assistant
        self.private = PrivateMessages(assistant.storage)
        self.metrics = metrics or Metrics()
        self._commands_task: asyncio.Task[None] | None = None
        # Set by build_application: stores and hands out the updates (webhook and polling).
        self.intake: Intake | None = None

    async def handle(self, incoming: Incoming) -> list[Reply]:
        """The core's replies to `incoming`, counted and timed for /metrics."""
        started = time.perf_counter()
        replies = await self.assistant.conversation.handle(incoming)
        self.metrics.observe_turn(replies, time.perf_counter() - started)
        return replies

    async def send(self, bot: Bot, chat_id: int, replies: Sequence[Reply]) -> list[int]:
        """Send replies; the keyboard goes with the last chunk of each. Returns message ids."""
        return [i for ids in await self.send_each(bot, chat_id, replies) for i in ids]

    async def send_each(self, bot: Bot, chat_id: int, replies: Sequence[Reply]) -> list[list[int]]:
        """Send replies; returns the message ids of each (a long reply takes several)."""
        sent: list[list[int]] = []
        for reply in replies:
            sent.append([])
            chunks = split_html(to_html(reply))
            for i, chunk in enumerate(chunks):
                # The Bot API's own parameters, in their JSON form (see `keyboard`).
                extra: dict[str, Any] = {"link_preview_options": NO_PREVIEW}
                if i == len(chunks) - 1 and (markup := keyboard(reply)) is not None:
                    extra["reply_markup"] = markup
                if isinstance(bot, AssistantBot):  # without PTB's Message (AssistantBot says why)
                    sent[-1].append(await bot.send_html(chat_id, chunk, extra))
                    continue
                message = await bot.send_message(
                    chat_id=chat_id, text=chunk, parse_mode=ParseMode.HTML, api_kwargs=extra
                )
                sent[-1].append(message.message_id)
            for file in reply.files:  # a briefing: the document itself, to open or forward
                document = InputFile(file.data, filename=file.filename)
                message = await bot.send_document(chat_id=chat_id, document=document)
                sent[-1].append(message.message_id)
        return sent

    async def answer(
        self, bot: Bot, chat_id: int, incoming: Incoming, replies: list[Reply]
    ) -> None:
        """Send the replies to `incoming`; after a submission, delete the form's messages.
        A stored update is then marked answered (until then, its replies are kept)."""
        sent = await self.send_each(bot, chat_id, replies)
        if incoming.receipt is not None and replies and self.intake is not None:
            await self.intake.answered(incoming.receipt[1])
        if not self.assistant.settings.telegram.delete_form_messages:
            return
        refs = await self.private.after_turn(
            incoming.chat, incoming.message_ref, replies, [[str(i) for i in ids] for ids in sent]
        )
        ids = sorted({int(ref) for ref in refs if is_ascii_digits(ref, 12)})
        for start in range(0, len(ids), DELETE_LIMIT):
            try:
                await bot.delete_messages(chat_id, ids[start : start + DELETE_LIMIT])
            except TelegramError as exc:  # too old, already gone...: the reference stays anyway
                log.warning("chat %s: form messages not deleted: %s", chat_id, type(exc).__name__)

    async def push(self, bot: Bot, chat: str, replies: list[Reply]) -> None:
        """Send messages nobody asked for (mail news) to a "telegram:<id>" chat; others ignored."""
        channel, _, chat_id = chat.partition(":")
        if channel == "telegram" and is_ascii_digits(chat_id.removeprefix("-"), 20):
            await self.send(bot, int(chat_id), replies)

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        incoming = to_incoming(update)
        chat = update.effective_chat
        if incoming is None or chat is None:
            return
        replies = await self.handle(incoming)
        await self.answer(context.bot, chat.id, incoming, replies)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        incoming = to_incoming(update)
        chat = update.effective_chat
        if query is None or incoming is None or chat is None:
            return
        replies = await self.handle(incoming)
        if replies:  # [] when this update was handled before, and its query answered then
            try:
                await query.answer()
            except TelegramError as exc:  # pressed before a restart: too old to answer now
                log.info("button press not acknowledged: %s", type(exc).__name__)
        await self.answer(context.bot, chat.id, incoming, replies)

    async def process_stored(self, application: Application, received: Received) -> None:
        """Handle a stored update through the Application's handlers (`Intake`'s `handle`).
        An update the conversation does not take (an inline query) is done once they ran."""
        if received.payload is None:
            return
        found = text_message(received.payload)
        if found is not None:
            await self.on_text(application.bot, received.key, *found)
            return
        update = received.original
        if not isinstance(update, Update):  # from the store: parsed again
            update = Update.de_json(received.payload, application.bot)
        token = _stored.set(received.key)
        try:
            await application.process_update(update)
        finally:
            _stored.reset(token)
        if to_incoming(update) is None:
            await self.assistant.storage.incoming.settle(CHANNEL, received.key, time.time())

    async def resend(self, bot: Bot, received: Received) -> None:
        """Send the kept replies of an update handled by a process that died before sending
        them (`Intake`'s `resend`)."""
        replies, message_ref = sent_later(received.replies or {})
        _, _, chat_id = received.chat.partition(":")
        if not replies or not is_ascii_digits(chat_id.removeprefix("-"), 20):
            return
        incoming = Incoming(
            received.chat, "", message_ref=message_ref, receipt=(CHANNEL, received.key)
        )
        await self.answer(bot, int(chat_id), incoming, replies)

    async def on_inline(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Inline mode ("@bot pelka" in any chat): the matching documents; choosing one posts
        its title and link there. Only documents, never topics; the query is not logged."""
        query = update.inline_query
        if query is None:
            return
        reports = find_reports(self.assistant.conversation.knowledge, query.query)
        contact = self.assistant.settings.partnership_email
        # A short cache: after /reload the new catalogue shows within a minute.
        await query.answer([inline_article(r, contact) for r in reports], cache_time=60)

    async def on_text(self, bot: Bot, key: str, chat_id: int, message_id: int, text: str) -> None:
        """A stored text message (`text_message`), handled as `on_message` handles it through
        the Application, without PTB's Update and dispatch; an error as `on_error` has it."""
        incoming = Incoming(
            chat_key(chat_id), text, message_ref=str(message_id), receipt=(CHANNEL, key)
        )
        try:
            replies = await self.handle(incoming)
            await self.answer(bot, chat_id, incoming, replies)
        except Exception as exc:
            await self.apologise(bot, chat_id, exc)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        await self.apologise(context.bot, chat.id if chat is not None else None, context.error)

    async def apologise(self, bot: Bot, chat_id: int | None, error: object) -> None:
        """Log a handler's error, and tell the chat something went wrong."""
        # Only the error's type: its message could hold user text, or a token in a URL.
        log.error("Telegram handler error: %s", type(error).__name__)
        if chat_id is not None:
            try:
                await bot.send_message(
                    chat_id,
                    "Sorry, something went wrong on my side. Please try again, or type /help.",
                )
            except Exception as exc:  # the apology itself failed: nothing more to do
                log.error("could not send the apology: %s", type(exc).__name__)

    async def post_init(self, application: Application) -> None:
        """Register the command menu; if Telegram cannot be reached, keep trying in the
        background rather than refuse to start (the bot works without its menu)."""
        if not await self.register_commands(application.bot):
            self._commands_task = asyncio.create_task(
                self._retry_commands(application.bot), name="set-my-commands"
            )

    async def register_commands(self, bot: Bot) -> bool:
        menu = self.assistant.conversation.menu
        try:
            await bot.set_my_commands([BotCommand(name, desc) for name, desc in menu])
        except Exception as exc:  # network trouble or a Bot API error: not worth stopping for
            log.warning("command menu not registered: %s; retrying later", type(exc).__name__)
            return False
        return True

    async def _retry_commands(self, bot: Bot) -> None:
        delay = self.assistant.settings.telegram.commands_retry_seconds
        while True:
            await asyncio.sleep(delay)
            if await self.register_commands(bot):
                log.info("command menu registered")
                return
            delay = min(delay * 2, COMMANDS_RETRY_MAX_SECONDS)

    async def stop(self) -> None:
        """Stop the background menu registration, if it is still trying."""
        task, self._commands_task = self._commands_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def build_application(
    assistant: Assistant,
    rate_limit: bool | None = None,
    metrics: Metrics | None = None,
) -> Application:
    """The Application, wired: every text (commands included) and every button to the core.

    `rate_limit` defaults to the telegram.rate_limit setting. Updates are handled concurrently
    (telegram.concurrent_updates at once): one chat waiting on the Bot API or on the rate
    limiter no longer holds up the others, and the core's per-chat lock keeps each chat in
    order. Updates come from the webhook or from our own polling (telegram_polling.py), both
    through the channel's `Intake`, never from PTB's Updater, which would confirm an update to
    Telegram before it is stored.
    """
    settings = assistant.settings
    telegram = settings.telegram
    channel = TelegramChannel(assistant, metrics)
    limiter = None
    if telegram.rate_limit if rate_limit is None else rate_limit:
        limiter = AIORateLimiter(
            overall_max_rate=telegram.rate_limit_per_second,
            overall_time_period=1,
            group_max_rate=telegram.rate_limit_per_group_minute,
            group_time_period=60,
            max_retries=telegram.rate_limit_max_retries,
        )
    # Built here, not by the builder, for its own send (AssistantBot); as the builder would.
    bot = AssistantBot(
        settings.telegram_token.reveal(),
        base_url=telegram.base_url,
        base_file_url=telegram.base_file_url,
        request=AiohttpRequest(telegram.max_requests),
        # One long poll at a time; PTB adds the poll's own timeout to the read timeout.
        get_updates_request=AiohttpRequest(1),
        # AIORateLimiter's type parameter (per-request retry data) is not the bot's.
        rate_limiter=limiter,  # type: ignore[arg-type]
    )
    builder = ApplicationBuilder().bot(bot).concurrent_updates(telegram.concurrent_updates)
    application = builder.updater(None).build()
    application.bot_data["channel"] = channel
    storage = assistant.storage
    channel.intake = Intake(
        CHANNEL,
        storage.incoming,
        settings.incoming,
        functools.partial(channel.process_stored, application),
        functools.partial(channel.resend, application.bot),
        concurrency=telegram.concurrent_updates,
        single_process=storage.db.dialect == "sqlite",
    )
    assistant.conversation.push = functools.partial(channel.push, application.bot)
    application.add_handler(MessageHandler(filters.TEXT, channel.on_message))
    application.add_handler(CallbackQueryHandler(channel.on_button))
    application.add_handler(InlineQueryHandler(channel.on_inline))
    application.add_error_handler(channel.on_error)
    return application
