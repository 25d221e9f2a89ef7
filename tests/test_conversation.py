"""The conversation core's guarantees: errors apologise without leaking, commands route,
one chat's messages are handled one at a time, and Telegram's message limit is respected."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.assistant import Assistant
from bot.channels.telegram import TEXT_LIMIT, split_html, to_html
from bot.core.conversation import Context
from bot.core.replies import Incoming, Reply
from tests.conftest import Chat


async def test_unknown_command(chat: Chat) -> None:
    replies = await chat.say("/frobnicate now")
    assert "I don't know the command /frobnicate" in replies[0].text


async def test_command_with_bot_suffix_and_case(chat: Chat) -> None:
    replies = await chat.say("/Reviews@test_assistant_bot")
    assert replies[0].id == "review-types"


async def test_start_and_help_list_commands(chat: Chat) -> None:
    start = (await chat.say("/start"))[0].text
    help_text = (await chat.say("/help"))[0].text
    for command in ("/reviews", "/reports", "/help"):
        assert command in start
        assert command in help_text
    assert chat.assistant.settings.partnership_email in start


async def test_cancel_with_nothing_in_progress(chat: Chat) -> None:
    replies = await chat.say("/cancel")
    assert replies[0].kind == "cancelled"


async def test_error_apologises_and_logs_no_content(
    assistant: Assistant, chat: Chat, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(ctx: Context, arg: str) -> list[Reply]:
        raise ValueError(f"bad value {arg}")

    assistant.conversation.add_command("broken", broken)
    caplog.set_level(logging.DEBUG)
    replies = await chat.say("/broken Jane Doe 01/02/2020")
    assert replies[0].kind == "error"
    assert "something went wrong" in replies[0].text
    assert "ValueError" in caplog.text
    assert "Jane" not in caplog.text
    # the conversation goes on
    assert (await chat.say("what is an scr"))[0].id == "serious-case-review"


async def test_one_chat_at_a_time(assistant: Assistant) -> None:
    order: list[str] = []

    async def slow(ctx: Context, arg: str) -> list[Reply]:
        order.append(f"start {arg}")
        await asyncio.sleep(0.05)
        order.append(f"end {arg}")
        return [Reply(arg)]

    assistant.conversation.add_command("slow", slow)
    handle = assistant.conversation.handle
    await asyncio.gather(handle(Incoming("c", "/slow 1")), handle(Incoming("c", "/slow 2")))
    assert order == ["start 1", "end 1", "start 2", "end 2"]
    order.clear()
    await asyncio.gather(handle(Incoming("a", "/slow a")), handle(Incoming("b", "/slow b")))
    assert order[:2] == ["start a", "start b"], "different chats run concurrently"


def test_long_replies_split_under_telegram_limit() -> None:
    text = ("A & B < C. " * 40 + "\n") * 30  # about 13,000 characters, escaping makes it longer
    chunks = split_html(to_html(Reply(text, title="Long <title>")))
    assert len(chunks) > 3
    assert all(len(chunk) <= TEXT_LIMIT for chunk in chunks)
    assert chunks[0].startswith("<b>Long &lt;title&gt;</b>")
    joined = "\n".join(chunks)
    assert joined.count("&amp;") == text.count("&")
    assert "&am\n" not in joined


def test_one_huge_line_is_split_too() -> None:
    chunks = split_html("x" * 10_000)
    assert [len(c) for c in chunks] == [TEXT_LIMIT, TEXT_LIMIT, 10_000 - 2 * TEXT_LIMIT]
