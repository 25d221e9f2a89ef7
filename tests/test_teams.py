"""The Microsoft Teams channel (bot/channels/teams/, docs/teams.md), through the Microsoft 365
Agents SDK's own code: the token check, conversations with a loopback Bot Connector receiving
the replies, group chats, proactive news, and the Entra identity standing for the code."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest

from bot.app import build_assistant
from bot.assistant import Assistant
from bot.core.replies import Incoming, Reply
from config.settings import Settings
from tests.teams_support import (
    APP_ID,
    BOT_TOKEN,
    FakeMicrosoft,
    Keys,
    TeamsUser,
    connector_claims,
    fake_microsoft,
    served,
    teams_settings,
    texts,
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeMicrosoft]:
    async with fake_microsoft() as fake:
        yield fake


@pytest.fixture
async def teams_assistant(settings: Settings, fake: FakeMicrosoft) -> AsyncIterator[Assistant]:
    assistant = await build_assistant(teams_settings(settings, fake))
    yield assistant
    await assistant.close()


@pytest.fixture
async def user(teams_assistant: Assistant, fake: FakeMicrosoft) -> AsyncIterator[TeamsUser]:
    async with served(teams_assistant) as (service, base):
        yield TeamsUser(service, base, fake)


def unsigned(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]


async def test_a_signed_message_is_answered_with_the_typing_indicator_first(
    user: TeamsUser, fake: FakeMicrosoft
) -> None:
    sent = await user.say("what is an SCR")
    assert [s.type for s in sent][0] == "typing"
    messages = [s for s in sent if s.type == "message"]
    assert messages and "review" in texts(messages).lower()
    # The replies go to the person's conversation, as replies to their message, with the bot's
    # own token from the login endpoint.
    assert {s.conversation for s in sent} == {user.conversation}
    assert all(s.authorization == f"Bearer {BOT_TOKEN}" for s in sent)
    assert fake.token_requests[0]["client_id"] == APP_ID


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(
            lambda f: f.keys.sign(
                connector_claims(f.url, exp=int(time.time()) - 3600, nbf=int(time.time()) - 7200)
            ),
            id="expired",
        ),
        pytest.param(
            lambda f: f.keys.sign(connector_claims(f.url, aud="another-app")), id="wrong-audience"
        ),
        pytest.param(
            lambda f: f.keys.sign(connector_claims(f.url, iss="https://issuer.example")),
            id="wrong-issuer",
        ),
        pytest.param(lambda f: unsigned(connector_claims(f.url)), id="unsigned"),
        pytest.param(lambda f: Keys("test-key").sign(connector_claims(f.url)), id="another-key"),
        pytest.param(lambda f: "", id="no-token"),
    ],
)
async def test_a_request_without_a_valid_token_gets_401_and_reaches_no_handler(
    user: TeamsUser, fake: FakeMicrosoft, teams_assistant: Assistant, token: Any
) -> None:
    response = await user.post(user.activity("what is an SCR"), token=token(fake))
    assert response.status_code == 401
    assert fake.sent == []
    rows = await teams_assistant.storage.db.fetch("SELECT * FROM incoming", ())
    assert rows == []


async def core_replies(assistant: Assistant, text: str) -> list[Reply]:
    """What the core says to `text` in a chat of its own (the mechanics to compare with)."""
    return await assistant.conversation.handle(Incoming(f"test:{time.monotonic_ns()}", text))


def shown(reply: Reply) -> str:
    """A reply as Teams shows it: its title on a line of its own, then its text."""
    return f"{reply.title}\n{reply.text}" if reply.title else reply.text


async def test_buttons_are_card_actions_that_send_their_data_back(user: TeamsUser) -> None:
    sent = await user.say("/reviews")
    card = [s for s in sent if s.buttons][-1]
    label, data = next(iter(card.buttons.items()))
    answer = await user.press(label)
    expected = await core_replies(user.service.assistant, data)
    assert texts(answer) == "\n".join(shown(r) for r in expected)


async def test_a_report_is_a_link_that_opens_the_document(user: TeamsUser) -> None:
    knowledge = user.service.assistant.conversation.knowledge
    report = next(r for r in knowledge.reports.values() if r.url)
    expected = await core_replies(user.service.assistant, report.title)
    assert report.url in {link.url for r in expected for link in r.links}
    sent = await user.say(report.title)
    assert {(link.label, link.url) for r in expected for link in r.links} == {
        item for s in sent for item in s.links.items()
    }


async def test_a_live_concern_gets_the_safety_route_first(user: TeamsUser) -> None:
    concern = "a 7 year old just told me her stepdad hits her"
    expected = await core_replies(user.service.assistant, concern)
    assert expected[0].kind == "urgent"
    messages = [s for s in await user.say(concern) if s.type == "message"]
    assert messages[0].text == shown(expected[0])
    assert "999" in messages[0].text


async def test_in_a_group_chat_only_a_mention_is_answered_and_notify_moves_to_a_personal_chat(
    user: TeamsUser,
) -> None:
    group = TeamsUser(
        user.service, user.base, user.fake, conversation="19:group@thread.v2", kind="groupChat"
    )
    assert await group.say("what is an SCR") == []
    answered = await group.say("what is an SCR", mention=True)
    assert "review" in texts(answered).lower()
    moved = await group.say("/notify", mention=True)
    assert "personal chat" in texts(moved)
    assert any(
        url.startswith("https://teams.microsoft.com/l/chat/0/0?users=28%3A")
        for s in moved
        for url in s.links.values()
    )
    session = await user.service.assistant.storage.sessions.load_session("teams:19:group@thread.v2")
    assert session.flow is None  # no sign-in or form was opened in the group
