"""The Telegram adapter, through python-telegram-bot's real Application and real HTTP requests
to a fake Bot API on 127.0.0.1 (reached through the configured base URL)."""

from __future__ import annotations

import dataclasses
import io
import json
import logging

import pytest

from bot.ops.logs import setup_logging
from tests.telegram_support import TOKEN, TelegramHarness, buttons_of


async def test_question_gets_html_answer_over_http(telegram: TelegramHarness) -> None:
    sent = await telegram.send_text(42, "what is an SCR?")
    assert len(sent) == 1
    message = sent[0]
    assert message["chat_id"] == 42
    assert message["parse_mode"] == "HTML"
    assert message["link_preview_options"] == {"is_disabled": True}  # sources are buttons
    assert message["text"].startswith("<b>Serious case review")
    assert "rapid review" in message["text"].lower()
    labels = [b["text"] for b in buttons_of(message)]
    assert any(b.get("url", "").startswith("https://") for b in buttons_of(message))
    assert any("Rapid review" in label for label in labels)


async def test_button_press_runs_its_data(telegram: TelegramHarness) -> None:
    first = await telegram.send_text(7, "/reviews")
    data = next(b["callback_data"] for b in buttons_of(first[0]) if "Rapid" in b["text"])
    sent = await telegram.press(7, data)
    assert sent[0]["text"].startswith("<b>Rapid review")
    assert telegram.api.method_calls("answerCallbackQuery"), "the button spinner must be stopped"


async def test_commands_menu_registered(telegram: TelegramHarness) -> None:
    channel = telegram.app.bot_data["channel"]
    await channel.post_init(telegram.app)
    commands = telegram.api.method_calls("setMyCommands")[-1]["commands"]
    names = [c["command"] for c in commands]
    assert {"start", "help", "reviews", "cancel"} <= set(names)


async def test_user_text_is_escaped(telegram: TelegramHarness) -> None:
    # The unknown-command reply repeats what was typed: Telegram must get it as text, not HTML.
    sent = await telegram.send_text(9, "/<i>&amp")
    assert "I don't know the command /&lt;i&gt;&amp;amp" in sent[0]["text"]


async def test_token_and_messages_kept_out_of_logs(telegram: TelegramHarness) -> None:
    stream = io.StringIO()
    handler = setup_logging(telegram.app_settings, stream)
    try:
        await telegram.send_text(5, "hello, my secret question about Jane")
        logging.getLogger("httpx").warning("HTTP Request: POST %s/bot%s/x", "http://h", TOKEN)
    finally:
        logging.getLogger().removeHandler(handler)
    assert TOKEN not in stream.getvalue()
    assert "**********" in stream.getvalue()
    assert "Jane" not in stream.getvalue()


async def test_rate_limiter_on_by_default(assistant) -> None:
    from telegram.ext import AIORateLimiter

    from bot.channels.telegram import build_application
    from config.settings import Secret

    assistant.settings = dataclasses.replace(assistant.settings, telegram_token=Secret(TOKEN))
    application = build_application(assistant)
    assert isinstance(application.bot.rate_limiter, AIORateLimiter)


async def test_error_handler_logs_and_apologises_without_details(
    telegram: TelegramHarness, caplog: pytest.LogCaptureFixture
) -> None:
    """A failure in the adapter itself (here Telegram refusing the reply) reaches PTB's error
    handler: it logs the error's type only and tells the user something went wrong."""
    telegram.api.fail_sends = 1
    caplog.set_level(logging.DEBUG, logger="bot")
    sent = await telegram.send_text(11, "what is an SCR, asks Jane Doe")
    assert sent[-1]["text"].startswith("Sorry, something went wrong")
    assert "BadRequest" in caplog.text
    assert "Jane" not in caplog.text
    assert "Bad Request: test" not in caplog.text


def test_keyboard_is_what_ptb_would_send() -> None:
    """The keyboard is built in the Bot API's JSON form, not from PTB's objects: it must be
    exactly what InlineKeyboardMarkup would have sent (links first, then buttons; data too
    long for Telegram replaced by the label)."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup

    from bot.channels.telegram import keyboard
    from bot.core.replies import Button, Link, Reply

    reply = Reply(
        "text",
        buttons=(Button("Mère «x»", "/topic a"), Button("Long " * 20, "/others " + "x" * 80)),
        links=(Link("Guidance", "https://example.org/a?b=1&c"),),
    )
    expected = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("Guidance", url="https://example.org/a?b=1&c")],
            [InlineKeyboardButton("Mère «x»", callback_data="/topic a")],
            [InlineKeyboardButton("Long " * 20, callback_data=("Long " * 20)[:60])],
        ]
    ).to_dict()
    assert json.dumps(keyboard(reply)) == json.dumps(expected)
    assert keyboard(Reply("no buttons")) is None
