"""The safety route where practitioners enter the learning side: a live concern typed during
sign-in gets the route (and the sign-in carries on), /notify says before sign-in that it is not
an urgent referral, and /privacy says what is kept of questions and emails."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.core.replies import Reply
from config.settings import EmailSettings, Settings
from tests.conftest import Chat
from tests.signin_support import REGISTRY, SLO, Mailbox

CONCERN = "a 7 year old just told me her stepdad hits her"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    path = tmp_path / "liaison_officers.yaml"
    path.write_text(REGISTRY, encoding="utf-8")
    return dataclasses.replace(settings, registry_file=str(path))


def kinds(replies: list[Reply]) -> list[str]:
    return [r.kind for r in replies]


async def test_notify_says_it_is_not_an_urgent_referral_before_sign_in(chat: Chat) -> None:
    await chat.say("/notify")
    assert chat.text.index("does not replace an urgent referral") < chat.text.index(
        "What is your work email address?"
    )
    assert "In immediate danger call 999" in chat.text


@pytest.mark.parametrize("step", ["email", "code"])
async def test_a_live_concern_during_sign_in_gets_the_route_then_the_step_again(
    chat: Chat, step: str
) -> None:
    await chat.say("/signin")
    if step == "code":
        await chat.say(SLO)
    await chat.say(CONCERN)
    assert kinds(chat.replies)[0] == "urgent"
    assert "999" in chat.replies[0].text
    expected = "the code from the email" if step == "code" else "What is your work email address?"
    assert "Your sign-in is still open" in chat.replies[-1].text
    assert expected in chat.replies[-1].text


@pytest.fixture
def mailbox(chat: Chat) -> Mailbox:
    return Mailbox(chat.assistant)


async def test_sign_in_goes_on_after_the_route(chat: Chat, mailbox: Mailbox) -> None:
    await chat.say("/notify")
    await chat.say(CONCERN)
    assert kinds(chat.replies)[0] == "urgent"
    await chat.say(SLO)
    await chat.say(await mailbox.code_for(SLO))
    assert "signed in" in chat.text


async def test_privacy_says_what_is_kept_of_questions_and_eml_files(chat: Chat) -> None:
    await chat.say("/privacy")
    assert "names and personal details" in chat.text
    assert "never kept" in chat.text
    assert ".eml files" in chat.text
    assert "By email" not in chat.text  # no email channel configured here


async def test_privacy_with_the_email_channel_names_the_inbox_and_hand_offs(
    settings: Settings, tmp_path: Path
) -> None:
    from bot.app import build_assistant

    with_email = dataclasses.replace(settings, email=EmailSettings())
    assistant = await build_assistant(with_email, database=str(tmp_path / "e.sqlite"))
    try:
        chat = Chat(assistant)
        await chat.say("/privacy")
        assert "the emails I receive are kept for 7 days" in chat.text
        assert "Ask the partnership" in chat.text
    finally:
        await assistant.close()
