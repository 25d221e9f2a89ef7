"""Running for real: chats handled concurrently but each in order, the rate limiter's settings,
long polling with the configured timeout, and a command menu that failed at start-up retried."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import pytest
from telegram.ext import AIORateLimiter, Application

from bot.assistant import Assistant
from bot.channels import telegram_polling
from bot.channels.telegram import TelegramChannel, build_application
from bot.channels.telegram_polling import start_updates, stop_updates
from bot.core.conversation import Context
from bot.core.replies import Incoming, Reply
from config.settings import Secret, SettingsError, load_settings
from tests.telegram_support import TOKEN, FakeBotApi


async def wait_for(condition, what: str, seconds: float = 10.0) -> None:
    """Wait until `condition()` holds; fails naming `what` (a bound, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        await asyncio.sleep(0.01)


def use_api(assistant: Assistant, api: FakeBotApi, **telegram: object) -> None:
    """Point the assistant at the fake Bot API, with these telegram settings."""
    settings = assistant.settings
    assistant.settings = dataclasses.replace(
        settings,
        telegram=dataclasses.replace(
            settings.telegram,
            base_url=api.base_url,
            base_file_url=f"http://127.0.0.1:{api.port}/file/bot",
            **telegram,  # type: ignore[arg-type]
        ),
        telegram_token=Secret(TOKEN),
    )


async def test_one_chat_in_order_chats_side_by_side_and_idle_locks_dropped(
    assistant: Assistant,
) -> None:
    events: list[str] = []

    async def slow(ctx: Context, arg: str) -> list[Reply]:
        events.append(f"start {arg}")
        await asyncio.sleep(0.01)  # a handler waiting on I/O: another chat may run meanwhile
        events.append(f"end {arg}")
        return [Reply(f"done {arg}")]

    conversation = assistant.conversation
    conversation.add_command("slow", slow)
    turns = [Incoming("test:a", f"/slow a{i}") for i in range(3)] + [Incoming("test:b", "/slow b")]
    replies = await asyncio.gather(*(conversation.handle(turn) for turn in turns))

    assert [r[0].text for r in replies] == ["done a0", "done a1", "done a2", "done b"]
    chat_a = [e for e in events if " a" in e]
    assert chat_a == ["start a0", "end a0", "start a1", "end a1", "start a2", "end a2"]
    assert events.index("start b") < events.index("end a0"), "chat b waited for chat a"
    assert len(conversation.locks) == 0, "locks of idle chats are kept"
    # A chat seen before works as usual with a fresh lock.
    again = await conversation.handle(Incoming("test:a", "/slow a3"))
    assert again[0].text == "done a3"


async def test_rate_limiter_follows_settings(assistant: Assistant, api: FakeBotApi) -> None:
    use_api(assistant, api, rate_limit=False)
    assert build_application(assistant).bot.rate_limiter is None
    use_api(assistant, api, rate_limit=True, rate_limit_per_second=5.0)
    limiter = build_application(assistant).bot.rate_limiter
    assert isinstance(limiter, AIORateLimiter)
    assert limiter._base_limiter is not None and limiter._base_limiter.max_rate == 5.0


async def test_updates_handled_concurrently_as_configured(
    assistant: Assistant, api: FakeBotApi
) -> None:
    use_api(assistant, api, concurrent_updates=7)
    application = build_application(assistant)
    assert application.update_processor.max_concurrent_updates == 7


async def test_polling_with_configured_timeout_answers(
    assistant: Assistant, api: FakeBotApi
) -> None:
    use_api(assistant, api, poll_timeout_seconds=1.0, rate_limit=False)
    application = build_application(assistant)
    api.queue_update(
        {
            "message": {
                "message_id": 1,
                "date": int(time.time()),
                "chat": {"id": 31, "type": "private"},
                "from": {"id": 31, "is_bot": False, "first_name": "Sam"},
                "text": "what is an SCR?",
            }
        }
    )
    async with application:
        await application.start()
        poller = start_updates(application, assistant, polling=True)
        await wait_for(lambda: api.method_calls("sendMessage"), "the reply")
        await stop_updates(application, poller)
        await application.stop()
    reply = api.method_calls("sendMessage")[0]
    assert reply["chat_id"] == 31
    assert reply["text"].startswith("<b>Serious case review")
    assert api.method_calls("getUpdates")[0]["timeout"] == 1


def a_message(chat: int, text: str) -> dict[str, object]:
    return {
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": chat, "type": "private"},
            "from": {"id": chat, "is_bot": False, "first_name": "Sam"},
            "text": text,
        }
    }


async def test_a_server_answering_polls_at_once_is_not_polled_in_a_spin(
    assistant: Assistant, api: FakeBotApi
) -> None:
    """Against a server that answers every getUpdates at once with nothing, the bot pauses
    between polls, longer after each empty answer, instead of asking again at once (it asked
    over a thousand times a second). An update that arrives is still answered, and the pauses
    start again from the shortest."""
    api.instant_polls = True
    use_api(assistant, api, poll_timeout_seconds=10.0, rate_limit=False)
    application = build_application(assistant)
    async with application:
        await application.start()
        poller = start_updates(application, assistant, polling=True)
        await wait_for(lambda: api.method_calls("getUpdates"), "the first poll")
        first = len(api.method_calls("getUpdates"))
        await asyncio.sleep(2.0)
        # Pauses of 0.05, 0.1, 0.2, 0.4, 0.8 and then 1 s: at most 6 more polls in 2 s, however
        # fast the machine (a slower one polls less). A spin makes hundreds.
        assert len(api.method_calls("getUpdates")) - first <= 7
        api.queue_update(a_message(31, "what is an SCR?"))
        await wait_for(lambda: api.method_calls("sendMessage"), "the reply")
        answered_at = len(api.method_calls("getUpdates"))
        await asyncio.sleep(0.6)
        # After the update the pauses start from the shortest again (0.05, 0.1, 0.2...), not
        # from a second.
        assert len(api.method_calls("getUpdates")) - answered_at >= 2
        await stop_updates(application, poller)
        await application.stop()
    assert api.method_calls("sendMessage")[0]["chat_id"] == 31
    # Every poll but the last (at shutdown, confirming what was stored) asked to be held.
    assert all(call["timeout"] == 10 for call in api.method_calls("getUpdates")[:-1])


async def test_polling_waits_while_handling_is_behind(
    assistant: Assistant, api: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While more messages wait to be handled than the limit, the next getUpdates waits (in a
    burst, polling ran ahead and held every fetched update in memory); once handling catches
    up, the rest is fetched and every message is answered."""
    monkeypatch.setattr(telegram_polling, "MOST_WAITING", 2)
    api.send_delay = 0.3  # each reply takes a while to send: handling falls behind
    use_api(assistant, api, poll_timeout_seconds=10.0, rate_limit=False)
    application = build_application(assistant)
    for chat in range(41, 46):
        api.queue_update(a_message(chat, "what is an SCR?"))
    async with application:
        await application.start()
        poller = start_updates(application, assistant, polling=True)
        await wait_for(lambda: api.method_calls("getUpdates"), "the first poll")
        for chat in range(46, 51):
            api.queue_update(a_message(chat, "what is an SCR?"))
        await wait_for(lambda: len(api.method_calls("getUpdates")) >= 2, "the second poll")
        # Five fetched, and at most two may wait: the next poll came only after three (or
        # more) were answered. Without the limit it came at once, before any reply was sent.
        assert len(api.delivered) >= 3
        await wait_for(lambda: len(api.delivered) >= 10, "every reply")
        await stop_updates(application, poller)
        await application.stop()
    assert sorted(reply["chat_id"] for reply in api.delivered) == list(range(41, 51))


async def test_failed_command_menu_is_retried_in_the_background(
    assistant: Assistant, api: FakeBotApi
) -> None:
    use_api(assistant, api, commands_retry_seconds=0.01)
    api.fail_methods["setMyCommands"] = 2
    application: Application = build_application(assistant, rate_limit=False)
    channel: TelegramChannel = application.bot_data["channel"]
    async with application:
        await channel.post_init(application)  # does not raise: start-up carries on
        await wait_for(lambda: len(api.method_calls("setMyCommands")) == 3, "a third attempt")
        await channel.stop()
    names = [c["command"] for c in api.method_calls("setMyCommands")[-1]["commands"]]
    assert "help" in names
    assert api.fail_methods["setMyCommands"] == 0


def test_telegram_settings_checked(tmp_path: Path) -> None:
    file = tmp_path / "settings.yaml"
    file.write_text("telegram:\n  mode: hook\n  webhook_url: http://example.org/x\n")
    with pytest.raises(SettingsError) as error:
        load_settings(file, environ={"TELEGRAM_WEBHOOK_SECRET": "has spaces"})
    message = str(error.value)
    assert "telegram.mode: must be polling or webhook, not 'hook'" in message
    assert "telegram.webhook_url: Telegram only posts to https://" in message
    assert "TELEGRAM_WEBHOOK_SECRET: 1 to 256 characters" in message
    assert "has spaces" not in message, "a secret is never shown"
    file.write_text("telegram:\n  mode: webhook\n")
    settings = load_settings(file, environ={"TELEGRAM_WEBHOOK_SECRET": "a-Good_secret1"})
    assert settings.webhook_secret.reveal() == "a-Good_secret1"
    assert "a-Good_secret1" not in repr(settings)


async def test_reload_does_not_hold_up_other_chats(
    assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While /reload parses the knowledge base (seconds for a large catalogue), other chats
    are still answered: the parsing runs in a worker thread, not on the event loop."""
    import threading

    import handlers.admin
    from bot.core.loading import Loaded, load_all
    from config.settings import Settings
    from tests.conftest import Chat
    from tests.signin_support import Mailbox, sign_in

    admin = Chat(assistant, "test:admin")
    await sign_in(admin, Mailbox(assistant), "board.admin@example.org")
    parsing, finish = threading.Event(), threading.Event()

    def slow_load(settings: Settings) -> Loaded:
        parsing.set()
        # On the event loop this would freeze every chat until the test gave up.
        assert finish.wait(timeout=10), "the loop was blocked while parsing"
        return load_all(settings)

    monkeypatch.setattr(handlers.admin, "load_all", slow_load)
    reload = asyncio.create_task(admin.say("/reload"))
    await wait_for(parsing.is_set, "the reload to start parsing")
    other = Chat(assistant, "test:other")
    await asyncio.wait_for(other.say("what is an SCR?"), 5)
    assert "Serious case review" in other.text
    finish.set()
    await reload
    assert "Reloaded:" in admin.text, admin.text
