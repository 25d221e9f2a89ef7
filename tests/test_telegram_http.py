"""The Bot API's HTTP client (bot/channels/telegram_http.py), through python-telegram-bot's real
`Bot` and real HTTP to a small server on 127.0.0.1. The conversation tests (test_telegram.py and the
others using FakeBotApi) run every chat through this client as well."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from telegram import Bot
from telegram.error import BadRequest, NetworkError, TimedOut

from bot.channels.telegram_http import AiohttpRequest, AssistantBot
from tests.telegram_support import BOT_USER, TOKEN, TelegramHarness

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def message(chat_id: int, text: str) -> dict[str, Any]:
    return {"message_id": 1, "date": 0, "chat": {"id": chat_id, "type": "private"}, "text": text}


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """Starts a Bot API stand-in answering every method with `handler`; returns its base URL."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/bot"

    yield start
    for runner in runners:
        await runner.cleanup()


async def bot_at(base_url: str, request: AiohttpRequest) -> Bot:
    bot = Bot(TOKEN, base_url=base_url, request=request)
    await bot.initialize()
    return bot


def get_me(request: web.Request) -> web.Response | None:
    return ok(BOT_USER) if request.match_info["method"] == "getMe" else None


async def test_parameters_go_as_json_with_nested_objects(serve) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        if (answer := get_me(request)) is not None:
            return answer
        seen.append((request.content_type, await request.json()))
        return ok(message(42, "hi"))

    bot = await bot_at(await serve(handler), AiohttpRequest(2))
    keyboard = {"inline_keyboard": [[{"text": "More", "callback_data": "/topic more"}]]}
    sent = await bot.send_message(
        42, "<b>hi</b>", parse_mode="HTML", api_kwargs={"reply_markup": keyboard}
    )
    await bot.shutdown()
    assert sent.text == "hi" and sent.chat_id == 42
    content_type, params = seen[0]
    assert content_type == "application/json"
    assert params == {
        "chat_id": 42,
        "text": "<b>hi</b>",
        "parse_mode": "HTML",
        "reply_markup": keyboard,
    }


async def test_a_file_goes_as_multipart(serve) -> None:
    seen: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.StreamResponse:
        if (answer := get_me(request)) is not None:
            return answer
        form = await request.post()
        upload = form["document"]
        assert isinstance(upload, web.FileField)
        seen.update(chat=form["chat_id"], name=upload.filename, body=upload.file.read())
        return ok(message(7, ""))

    bot = await bot_at(await serve(handler), AiohttpRequest(2))
    await bot.send_document(7, b"%PDF-1.4 notification", filename="SIN-1.pdf")
    await bot.shutdown()
    assert seen == {"chat": "7", "name": "SIN-1.pdf", "body": b"%PDF-1.4 notification"}


async def test_telegram_errors_come_through_as_ptb_raises_them(serve) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        if (answer := get_me(request)) is not None:
            return answer
        error = {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
        return web.json_response(error, status=400)

    bot = await bot_at(await serve(handler), AiohttpRequest(2))
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(1, "x")
    await bot.shutdown()


async def test_a_slow_answer_times_out(serve) -> None:
    # The answer comes only once the client has given up (not after a fixed 2 s, which the
    # server's shutdown then waited out).
    given_up = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        if (answer := get_me(request)) is not None:
            return answer
        with contextlib.suppress(TimeoutError):  # a client that never gave up fails the test
            await asyncio.wait_for(given_up.wait(), 5)
        return ok(message(1, "late"))

    bot = await bot_at(await serve(handler), AiohttpRequest(2))
    try:
        with pytest.raises(TimedOut):
            await bot.send_message(1, "x", read_timeout=0.2)
    finally:
        given_up.set()
    await bot.shutdown()


async def test_no_server_is_a_network_error_without_the_token() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    request = AiohttpRequest(1)
    await request.initialize()
    with pytest.raises(NetworkError) as raised:
        await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe")
    await request.shutdown()
    assert not isinstance(raised.value, TimedOut)
    assert TOKEN not in str(raised.value) and TOKEN.split(":")[1] not in str(raised.value)


async def test_at_most_limit_requests_are_in_flight_and_none_is_dropped(serve) -> None:
    in_flight, most = 0, 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal in_flight, most
        if (answer := get_me(request)) is not None:
            return answer
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        return ok(message(1, "ok"))

    bot = await bot_at(await serve(handler), AiohttpRequest(3))
    # 30 sends at once take 0.2 s for a slot: longer than PTB's pool timeout, and none fails.
    sent = await asyncio.gather(
        *(bot.send_message(1, str(n), pool_timeout=0.05) for n in range(30))
    )
    await bot.shutdown()
    assert len(sent) == 30
    assert most == 3


async def test_unusable_before_initialize_and_again_after_shutdown(serve) -> None:
    request = AiohttpRequest(1)
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:1/x", "POST")

    async def handler(request: web.Request) -> web.StreamResponse:
        return ok(BOT_USER)

    url = await serve(handler)
    for _ in range(2):
        await request.initialize()
        assert await request.post(f"{url}{TOKEN}/getMe") == BOT_USER
        await request.shutdown()
    with pytest.raises(ValueError):
        AiohttpRequest(0)


async def test_the_application_uses_it_with_the_setting(assistant) -> None:
    from bot.channels.telegram import build_application
    from config.settings import Secret

    telegram = dataclasses.replace(assistant.settings.telegram, max_requests=5)
    assistant.settings = dataclasses.replace(
        assistant.settings, telegram_token=Secret(TOKEN), telegram=telegram
    )
    bot = build_application(assistant).bot
    assert isinstance(bot.request, AiohttpRequest) and bot.request.limit == 5
    # Long polling has its own client: one poll at a time.
    updates_request = bot._request[0]
    assert isinstance(updates_request, AiohttpRequest) and updates_request.limit == 1


def test_the_proxy_comes_from_the_environment_once_per_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("https_proxy", "http://proxy.council.example:3128")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    request = AiohttpRequest(1)
    assert request._proxy(f"https://api.telegram.org/bot{TOKEN}/getMe") == (
        "http://proxy.council.example:3128"
    )
    assert request._proxy("http://127.0.0.1:8081/bot/getMe") is None
    monkeypatch.delenv("https_proxy")
    # Looked up once: the environment is not read again for every message.
    assert request._proxy("https://api.telegram.org/bot/sendMessage") is not None


async def test_requests_go_through_the_proxy_from_the_environment(
    serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Bot API's address has no server; the proxy named in the environment answers."""
    targets: list[str] = []

    async def proxy(request: web.Request) -> web.StreamResponse:
        targets.append(str(request.url))
        return ok(BOT_USER)

    # A forward proxy gets the full address in the request line; this one answers for it.
    proxy_url = (await serve(proxy)).removesuffix("/bot")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nobody = probe.getsockname()[1]
    monkeypatch.setenv("http_proxy", proxy_url)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    request = AiohttpRequest(1)
    await request.initialize()
    try:
        assert await request.post(f"http://127.0.0.1:{nobody}/bot{TOKEN}/getMe") == BOT_USER
    finally:
        await request.shutdown()
    assert targets == [f"http://127.0.0.1:{nobody}/bot{TOKEN}/getMe"]


async def test_send_html_sends_what_send_message_sends_and_gives_its_id(
    telegram: TelegramHarness,
) -> None:
    """The assistant's replies skip PTB's Message (AssistantBot): the request is the one PTB's
    send_message makes, parameter for parameter and in order, and the id is the message's."""
    bot = telegram.app.bot
    assert isinstance(bot, AssistantBot)
    extra = {
        "link_preview_options": {"is_disabled": True},
        "reply_markup": {"inline_keyboard": [[{"text": "More", "callback_data": "more"}]]},
    }
    for kwargs in (extra, {"link_preview_options": {"is_disabled": True}}):
        message = await bot.send_message(
            chat_id=5, text="<b>Rapid review</b>\nA review.", parse_mode="HTML", api_kwargs=kwargs
        )
        sent_id = await bot.send_html(5, "<b>Rapid review</b>\nA review.", kwargs)
        by_ptb, ours = telegram.api.method_calls("sendMessage")[-2:]
        assert list(ours.items()) == list(by_ptb.items())
        assert sent_id == message.message_id + 1  # the next message of the chat
