"""The web chat's server side, over real HTTP and real WebSockets on loopback: what a page
is sent, in what order and how often, who may connect, and what is kept (the browser's own
side is tests/test_webchat_browser.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import re
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from bot.app import build_assistant
from bot.assistant import Assistant
from bot.channels.email.channel import make_email_channel
from bot.channels.web.guard import COOKIE, Guard, RateLimiter, chat_for
from bot.core.replies import Incoming, Reply
from bot.ops.logs import setup_logging
from bot.ops.retention import apply_retention
from config.settings import Settings, SettingsError, WebSettings, load_settings
from tests.cli import _logging_restored
from tests.email_support import PARTNERSHIP, Mailbox, email_settings, reply_to
from tests.test_handoff import UNANSWERABLE
from tests.test_mailer import Recorder
from tests.web_support import new_page, served_web

LIVE_CONCERN = "a 7 year old just told me her stepdad hits her"


def cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={token}"}


def with_web(settings: Settings, **web: object) -> Settings:
    return dataclasses.replace(settings, web=dataclasses.replace(settings.web, **web))  # type: ignore[arg-type]


async def core_reply(assistant: Assistant, text: str) -> list[Reply]:
    """What the conversation core answers, in a chat of its own: what a page must show."""
    return await assistant.conversation.handle(Incoming(f"expected:{time.monotonic()}", text))


async def test_a_page_is_greeted_answered_and_shown_each_message_once(
    assistant: Assistant,
) -> None:
    expected = await core_reply(assistant, "what is an SCR")
    async with served_web(assistant) as (_, base):
        page = new_page(base)
        await page.connect()
        await page.until(lambda: page.messages)  # a new conversation is greeted
        assert page.messages[0]["role"] == "assistant"
        replies = await page.ask("what is an SCR")
        assert [(r["title"], r["text"]) for r in replies] == [(e.title, e.text) for e in expected]
        assert replies[0]["buttons"] == [
            {"label": b.label, "data": b.data} for b in expected[0].buttons
        ]
        # The user's own message is in the conversation too, before its replies.
        user = [m for m in page.messages if m["role"] == "user"]
        assert [m["body"]["text"] for m in user] == ["what is an SCR"]
        numbers = [m["seq"] for m in page.messages]
        assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
        await page.close()
        assert page.duplicates == 0


async def test_a_reconnecting_page_gets_what_it_missed_and_a_new_page_the_history(
    assistant: Assistant,
) -> None:
    async with served_web(assistant) as (_, base):
        page = new_page(base)
        await page.connect()
        await page.until(lambda: page.messages)
        await page.ask("what is a rapid review")
        shown = page.shown
        await page.close()
        # Another tab of the same conversation asks while this page is away.
        tab = new_page(base, page.token)
        await tab.connect()
        await tab.until(lambda: tab.shown == shown)
        assert [m["seq"] for m in tab.messages] == [m["seq"] for m in page.messages]
        await tab.ask("what is a SILP")
        await tab.close()
        # The page comes back: it is sent exactly what came after what it had shown.
        await page.connect()
        await page.until(lambda: page.shown == tab.shown)
        await page.close()
        assert [m["seq"] for m in page.messages] == [m["seq"] for m in tab.messages]
        assert page.duplicates == 0 and tab.duplicates == 0


async def test_a_send_retried_with_the_same_id_is_handled_once(assistant: Assistant) -> None:
    async with served_web(assistant) as (_, base):
        page = new_page(base)
        await page.connect()
        await page.until(lambda: page.messages)
        first = await page.send("what is an SCR", client_id="retry-0001")
        again = await page.send("what is an SCR", client_id="retry-0001")
        await page.until(lambda: len([e for e in page.events if e["type"] == "received"]) == 2)
        await page.until(lambda: any(r["last"] for r in page.replies_to(first)))
        await asyncio.sleep(0.2)  # time for a second handling to show, if there were one
        assert first == again
        assert len([m for m in page.messages if m["role"] == "user"]) == 1
        assert sum(r["last"] for r in page.replies_to(first)) == 1
        await page.close()


async def test_the_conversation_survives_a_server_restart(settings: Settings) -> None:
    assistant = await build_assistant(settings)
    async with served_web(assistant) as (_, base):
        page = new_page(base)
        await page.connect()
        await page.until(lambda: page.messages)
        await page.ask("/threshold")
        step = page.messages[-1]["body"]["text"]
    await page.close()
    await assistant.close()
    # A new process on the same database and port: the page reconnects where it was.
    assistant = await build_assistant(settings)
    port = int(base.rsplit(":", 1)[1])
    async with served_web(assistant, port) as (_, again):
        assert again == base
        shown = page.shown
        await page.connect()
        replies = await page.ask("/threshold back")  # the flow is still open at its step
        await page.close()
    await assistant.close()
    assert all(m["seq"] > shown for m in page.messages[-len(replies) - 1 :])
    assert page.duplicates == 0
    assert step  # the step before the restart was asked


async def test_a_message_received_before_a_crash_is_handled_at_the_next_start(
    assistant: Assistant,
) -> None:
    """Stored, acknowledged, then the process died before handling it: the next start
    answers it, and the page that reconnects is shown the answer."""
    token = new_page("").token
    chat = chat_for(token)
    await assistant.storage.web.receive(chat, "before-crash-1", "what is an SCR", None, False, 1.0)
    async with served_web(assistant) as (_, base):
        page = new_page(base, token)
        await page.connect()
        await page.until(lambda: page.replies_to("before-crash-1"))
        await page.close()
    assert await assistant.storage.web.pending() == []


async def test_only_the_chats_own_pages_and_the_configured_sites_may_connect(
    settings: Settings,
) -> None:
    allowed = "https://www.partnership.example.org"
    assistant = await build_assistant(with_web(settings, origins=(allowed,)))
    try:
        async with served_web(assistant) as (_, base):
            cases = ((base, True), (allowed, True), ("https://evil.example", False))
            for origin, accepted in cases:
                page = new_page(base, origin=origin)
                if accepted:
                    await page.connect()
                    await page.until(lambda p=page: p.messages)  # type: ignore[misc]
                    await page.close()
                else:
                    with pytest.raises(websockets.InvalidStatus) as refused:
                        await page.connect()
                    assert refused.value.response.status_code == 403
            async with httpx.AsyncClient(base_url=base) as http:
                for path in ("/widget.js", "/chat", "/chat/static/panel.js"):
                    foreign = await http.get(path, headers={"Referer": "https://evil.example/x"})
                    assert foreign.status_code == 403, path
                    ours = await http.get(path, headers={"Referer": f"{allowed}/page"})
                    assert ours.status_code == 200, path
                    assert ours.headers["x-content-type-options"] == "nosniff"
                panel = await http.get("/chat")
                policy = panel.headers["content-security-policy"]
                assert f"frame-ancestors 'self' {allowed}" in policy
                assert "script-src 'self'" in policy and "unsafe" not in policy
                given = panel.headers["set-cookie"]
                for attribute in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/chat"):
                    assert attribute in given
                sent = await http.post(
                    "/chat/api/send",
                    json={"id": "abcdefgh", "text": "hi"},
                    headers={"Origin": "https://evil.example", **cookie(new_page("").token)},
                )
                assert sent.status_code == 403
    finally:
        await assistant.close()


async def test_one_conversation_cannot_be_read_with_another_id(assistant: Assistant) -> None:
    async with served_web(assistant) as (_, base):
        mine = new_page(base)
        await mine.connect()
        await mine.until(lambda: mine.messages)
        await mine.ask("what is an SCR, asks Quentin-4217")
        await mine.close()
        async with httpx.AsyncClient(base_url=base) as http:
            # Another id, waiting for its own greeting: nothing of the first conversation.
            other = await http.get(
                "/chat/api/messages?after=0&wait=5", headers=cookie(new_page("").token)
            )
            theirs = json.dumps(other.json())
            assert other.json()["messages"], "the other conversation was not greeted"
            assert "Quentin-4217" not in theirs
            ours = await http.get("/chat/api/messages?after=0", headers=cookie(mine.token))
            assert "Quentin-4217" in json.dumps(ours.json())
            refused = await http.get("/chat/api/messages?after=0", headers=cookie("short"))
            assert refused.status_code == 401
    # The database and the logs know the conversation by a hash of its id, never the id.
    rows = await assistant.storage.db.fetch("SELECT chat FROM web_conversations")
    assert chat_for(mine.token) in [r["chat"] for r in rows]
    assert mine.token not in json.dumps([r["chat"] for r in rows])


async def test_too_long_and_too_fast_are_refused_with_the_reason(settings: Settings) -> None:
    assistant = await build_assistant(
        with_web(settings, max_message_chars=50, messages_per_minute=3)
    )
    try:
        async with served_web(assistant) as (_, base):
            page = new_page(base)
            await page.connect()
            await page.until(lambda: page.messages)
            long_id = await page.send("x" * 51)
            await page.until(lambda: page.events)
            refusal = page.events[-1]
            assert refusal == {
                "type": "refused",
                "id": long_id,
                "reason": "Your message is 51 characters long; the limit is 50. Please "
                "shorten it, or send it in parts.",
            }
            for _ in range(3):
                await page.ask("hello")
            fast = await page.send("hello")
            await page.until(lambda: page.events[-1].get("id") == fast)
            assert page.events[-1]["type"] == "refused"
            assert "faster than I can take them" in page.events[-1]["reason"]
            await page.close()
        # Neither refused message was stored or handled.
        users = await assistant.storage.db.fetch("SELECT COUNT(*) FROM web_inbound")
        assert users[0][0] == 3
    finally:
        await assistant.close()


async def test_the_plain_http_fallback_carries_the_same_conversation(
    assistant: Assistant,
) -> None:
    token = new_page("").token
    async with served_web(assistant) as (_, base), httpx.AsyncClient(base_url=base) as http:
        cookies = cookie(token)
        greeting = await http.get("/chat/api/messages?after=0&wait=5", headers=cookies)
        shown = greeting.json()["messages"][-1]["seq"]
        sent = await http.post(
            "/chat/api/send",
            json={"type": "say", "id": "http-0001", "text": "what is an SCR"},
            headers={"Origin": base, **cookies},
        )
        assert sent.json() == {"type": "received", "id": "http-0001"}
        found: list[dict[str, Any]] = []
        while not any(m["body"].get("last") for m in found if m["role"] == "assistant"):
            answer = await http.get(f"/chat/api/messages?after={shown}&wait=5", headers=cookies)
            found += answer.json()["messages"]
            shown = found[-1]["seq"] if found else shown
        assert found[0]["body"] == {"text": "what is an SCR", "client_id": "http-0001"}
        assert found[1]["body"]["reply_to"] == "http-0001"


async def test_a_live_concern_is_answered_and_not_kept(assistant: Assistant) -> None:
    expected = await core_reply(assistant, LIVE_CONCERN)
    async with served_web(assistant) as (_, base):
        page = new_page(base)
        await page.connect()
        await page.until(lambda: page.messages)
        replies = await page.ask(LIVE_CONCERN)
        await page.close()
    assert replies[0]["kind"] == "urgent" == expected[0].kind
    assert replies[0]["text"] == expected[0].text
    user = next(m for m in page.messages if m["role"] == "user")
    assert user["body"]["text"] is None
    everything = await assistant.storage.db.fetch("SELECT * FROM web_messages")
    everything += await assistant.storage.db.fetch("SELECT * FROM web_inbound")
    assert "stepdad" not in json.dumps([dict(r) for r in everything])


async def test_news_for_a_web_chat_reaches_its_pages(assistant: Assistant) -> None:
    """A hand-off's answer arrives later, through Conversation.push."""
    async with served_web(assistant) as (_, base):
        page = new_page(base)
        await page.connect()
        await page.until(lambda: page.messages)
        push = assistant.conversation.push
        assert push is not None
        await push(chat_for(page.token), [Reply("The partnership answered: yes.")])
        await page.until(lambda: page.messages[-1]["body"]["text"].startswith("The partnership"))
        await page.close()


async def test_retention_deletes_idle_conversations(assistant: Assistant) -> None:
    web = assistant.storage.web
    await web.append("web:old", [("assistant", {"text": "old"}, False)], now=1000.0)
    await web.append("web:new", [("assistant", {"text": "new"}, False)], now=time.time())
    await apply_retention(assistant.storage, assistant.settings, time.time())
    assert await web.messages("web:old", 0, 10) == []
    assert [m.body for m in await web.messages("web:new", 0, 10)] == [{"text": "new"}]
    assert await web.last_seq("web:old") == 0  # idle past the numbering's 30 days too


def test_web_settings_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(
        "web:\n"
        "  colour: '#ffdd00'\n"
        "  accent: '#1d4f91'\n"
        "  origins: ['https://ok.example.org', 'https://bad.example.org/path', 'x; y']\n"
        "  cookie_samesite: sometimes\n"
        "  trusted_proxies: ['10.0.0.0/8', 'proxy.example.org']\n",
        encoding="utf-8",
    )
    with pytest.raises(SettingsError) as error:
        load_settings(path, environ={})
    message = str(error.value)
    assert "web.colour: #ffdd00 against #ffffff has a contrast of 1.35:1" in message
    assert "web.accent: #1d4f91 against #0b0c0c" in message
    assert "'https://bad.example.org/path' is not an origin" in message
    assert "'x; y' is not an origin" in message
    assert "'https://ok.example.org'" not in message
    assert "web.cookie_samesite: must be Strict, Lax, None, not 'sometimes'" in message
    assert "'proxy.example.org' is not an address or a network" in message


def test_the_pack_gives_the_colours(tmp_path: Path) -> None:
    from config.settings import ROOT

    packs = tmp_path / "packs"
    pack = packs / "bedford-borough"
    pack.mkdir(parents=True)
    shipped = (ROOT / "knowledge/partnerships/bedford-borough/partnership.yaml").read_text()
    (pack / "partnership.yaml").write_text(
        shipped + "branding:\n  colour: '#003078'\n  logo: x.png\n", encoding="utf-8"
    )
    path = tmp_path / "settings.yaml"
    path.write_text(f"partnerships_dir: {packs}\n", encoding="utf-8")
    with pytest.raises(SettingsError) as error:
        load_settings(path, environ={})
    assert "branding.logo: unknown field (known: colour, accent)" in str(error.value)
    (pack / "partnership.yaml").write_text(
        shipped + "branding:\n  colour: '#003078'\n", encoding="utf-8"
    )
    web = load_settings(path, environ={}).web
    assert web.main_colour == "#003078" and web.accent_colour == WebSettings().accent_colour


def test_client_addresses_are_believed_only_from_trusted_proxies() -> None:
    from starlette.requests import Request

    def request(peer: str, forwarded: str) -> Request:
        headers = [(b"x-forwarded-for", forwarded.encode()), (b"host", b"a.example")]
        scope = {"type": "http", "client": (peer, 1), "headers": headers, "path": "/"}
        return Request(scope)

    guard = Guard(WebSettings(trusted_proxies=("10.0.0.0/8",)))
    assert guard.client_address(request("10.0.0.5", "203.0.113.9, 10.0.0.7")) == "203.0.113.9"
    assert guard.client_address(request("198.51.100.1", "203.0.113.9")) == "198.51.100.1"


def test_the_rate_limiter_refills_evenly() -> None:
    now = [0.0]
    limiter = RateLimiter(2, 60, clock=lambda: now[0])
    assert limiter.allow("a") and limiter.allow("a") and not limiter.allow("a")
    assert limiter.allow("b")
    now[0] = 30.0  # half a minute: one more
    assert limiter.allow("a") and not limiter.allow("a")


async def test_the_log_names_no_address_and_nothing_said(assistant: Assistant) -> None:
    """What `serve` logs while a page talks: no network address, no message, no token."""
    stream = io.StringIO()
    with _logging_restored():
        setup_logging(assistant.settings, stream)
        logging.getLogger().setLevel(logging.DEBUG)
        async with served_web(assistant) as (_, base):
            page = new_page(base)
            await page.connect()
            await page.until(lambda: page.messages)
            await page.ask("my colleague Jane Smith asked about an SCR")
            await page.close()
            refused = new_page(base, origin="https://evil.example")
            with pytest.raises(websockets.InvalidStatus):
                await refused.connect()
    log = stream.getvalue()
    assert "web chat: a socket from another site was refused" in log
    assert not re.search(r"127\.0\.0\.1:\d+ -", log), "a client's address is logged"
    for secret in ("Jane", "Smith", page.token):
        assert secret not in log, secret


async def test_a_question_handed_to_the_partnership_is_answered_on_the_page(
    settings: Settings, imap_mailbox: Mailbox, smtp_recorder: Recorder
) -> None:
    """ "Ask the partnership" from the web chat: the question goes by email, a staff member
    answers by email, and the answer appears in the conversation (serve's installation runs
    the partnership's email channel beside the web chat, bot/installation.py)."""
    port = smtp_recorder.port  # type: ignore[attr-defined]
    assistant = await build_assistant(email_settings(settings, imap_mailbox, port))
    email = make_email_channel(assistant)
    email.start()
    try:
        async with served_web(assistant) as (_, base):
            page = new_page(base)
            await page.connect()
            await page.until(lambda: page.messages)

            async def press(replies: list[dict[str, Any]], label: str) -> list[dict[str, Any]]:
                button = next(b for r in replies for b in r["buttons"] if label in b["label"])
                return await page.ask(button["data"], pressed=True, label=button["label"])

            offered = await page.ask(UNANSWERABLE)
            confirm = await press(offered, "Ask the partnership")
            receipt = await press(confirm, "Send")
            reference = re.findall(r"Q-\d{4}-\d{4}", " ".join(r["text"] for r in receipt))[0]
            deadline = time.monotonic() + 20
            while not (questions := to_partnership(smtp_recorder, reference)):
                assert time.monotonic() < deadline, "the question was not emailed"
                await asyncio.sleep(0.05)
            imap_mailbox.deliver(reply_to(questions[0], PARTNERSHIP, "Renew it online."))
            email.wake()
            await page.until(lambda: "Renew it online." in page.messages[-1]["body"]["text"])
            await page.close()
    finally:
        await email.stop()
        await assistant.close()


def to_partnership(recorder: Recorder, reference: str) -> list[EmailMessage]:
    return [
        r.message
        for r in recorder.received
        if PARTNERSHIP in r.rcpt_tos and reference in str(r.message["Subject"])
    ]


async def test_new_conversations_from_one_address_are_limited(settings: Settings) -> None:
    assistant = await build_assistant(with_web(settings, ip_new_conversations_per_hour=2))
    try:
        async with served_web(assistant) as (_, base):
            pages = [new_page(base) for _ in range(3)]
            for page in pages[:2]:
                await page.connect()
                await page.until(lambda p=page: p.messages)  # type: ignore[misc]
                await page.close()
            third = pages[2]
            await third.connect()
            assert third._reader is not None
            await third._reader  # the server closes it
            assert third.socket.close_code == 4029
            assert "Too many new conversations" in third.socket.close_reason
            # A conversation that exists is not new: its pages still open.
            again = new_page(base, pages[0].token)
            await again.connect()
            await again.until(lambda: again.messages)
            await again.close()
    finally:
        await assistant.close()


async def test_a_page_ahead_of_its_conversation_starts_again(assistant: Assistant) -> None:
    """The page shows more than the conversation has (its database was replaced): it is told
    to clear what it shows, and is given the conversation from its start."""
    async with served_web(assistant) as (_, base):
        page = new_page(base)
        page.shown = 57
        await page.connect()
        await page.until(lambda: page.events)
        assert page.events[0] == {"type": "reset"}
        await page.until(lambda: page.messages)
        assert page.messages[0]["seq"] == 1 and page.messages[0]["role"] == "assistant"
        await page.close()
