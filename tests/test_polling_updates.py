"""Long polling takes updates as Telegram sent them: each batch stored as it came, a text
message read straight from it and answered as the Application would answer it, and any
other update (a button, a photo) through python-telegram-bot's Update and handlers."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from bot.assistant import Assistant
from bot.channels.telegram import build_application, text_message
from bot.channels.telegram_polling import start_updates, stop_updates
from tests.telegram_support import FakeBotApi, TelegramHarness, start_harness
from tests.test_concurrency import a_message, use_api, wait_for


def message_of(chat: int, text: str) -> dict[str, Any]:
    return a_message(chat, text)  # typed for the changes below


def test_a_text_message_is_read_from_the_update_as_sent() -> None:
    update: dict[str, Any] = {"update_id": 9, **a_message(31, "what is an SCR?")}
    assert text_message(update) == (31, 1, "what is an SCR?")
    button = {"update_id": 9, "callback_query": {"id": "1", "data": "more"}}
    edited = {"update_id": 9, "edited_message": update["message"]}
    photo = {"update_id": 9, "message": {**update["message"], "text": None, "photo": []}}
    empty = {"update_id": 9, "message": {**update["message"], "text": ""}}
    odd_chat = {"update_id": 9, "message": {**update["message"], "chat": {"id": "31"}}}
    for other in (button, edited, photo, empty, odd_chat, {**update, "extra": 1}):
        assert text_message(other) is None, other  # left to PTB's Update and handlers


async def polled(assistant: Assistant, api: FakeBotApi, replies: int) -> None:
    """Poll `api` with the assistant until `replies` messages were sent."""
    use_api(assistant, api, poll_timeout_seconds=1.0, rate_limit=False)
    application = build_application(assistant)
    async with application:
        await application.start()
        poller = start_updates(application, assistant, polling=True)
        await wait_for(lambda: len(api.method_calls("sendMessage")) >= replies, "the replies")
        await stop_updates(application, poller)
        await application.stop()


async def test_a_batch_is_stored_as_sent_and_each_kind_answered(
    assistant: Assistant, api: FakeBotApi
) -> None:
    photo: dict[str, Any] = message_of(33, "")
    photo["message"] = {k: v for k, v in photo["message"].items() if k != "text"} | {
        "photo": [{"file_id": "p", "file_unique_id": "u", "width": 1, "height": 1}]
    }
    button: dict[str, Any] = {
        "callback_query": {
            "id": "7",
            "from": {"id": 32, "is_bot": False, "first_name": "Sam"},
            "chat_instance": "c",
            "data": "/help",
            "message": {
                **message_of(32, "x")["message"],
                "from": {"id": 1, "is_bot": True, "first_name": "Bot"},
            },
        }
    }
    for update in (a_message(31, "what is an SCR?"), button, photo):
        api.queue_update(update)
    await polled(assistant, api, replies=2)
    by_chat = {call["chat_id"]: call["text"] for call in api.method_calls("sendMessage")}
    assert by_chat[31].startswith("<b>Serious case review")
    assert 32 in by_chat  # the button, through PTB's CallbackQueryHandler
    assert api.method_calls("answerCallbackQuery")
    counts = await assistant.storage.incoming.counts("telegram")
    assert counts == {"answered": 3}  # the photo too: nothing to answer, settled


async def test_a_text_message_is_answered_as_the_application_answers_it(
    assistant: Assistant, api: FakeBotApi
) -> None:
    api.queue_update(a_message(31, "what is a rapid review"))
    await polled(assistant, api, replies=1)
    [polled_reply] = api.method_calls("sendMessage")
    other = FakeBotApi()
    await other.start()
    try:
        harness: TelegramHarness = await start_harness(assistant, other)
        [through_ptb] = await harness.send_text(31, "what is a rapid review")
        await harness.app.shutdown()
    finally:
        await other.stop()
    assert list(polled_reply.items()) == list(through_ptb.items())


async def test_a_reply_that_fails_is_apologised_for_without_details(
    assistant: Assistant, api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    api.fail_sends = 1
    caplog.set_level(logging.DEBUG, logger="bot")
    api.queue_update(a_message(31, "what is an SCR, asks Jane Doe"))
    started = time.monotonic()
    await polled(assistant, api, replies=2)
    assert time.monotonic() - started < 30
    texts = [call["text"] for call in api.method_calls("sendMessage")]
    assert texts[-1].startswith("Sorry, something went wrong")
    assert "BadRequest" in caplog.text and "Jane" not in caplog.text
