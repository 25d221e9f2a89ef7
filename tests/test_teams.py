"""The Microsoft Teams channel (bot/channels/teams/, docs/teams.md), through the Microsoft 365
Agents SDK's own code: the token check, conversations with a loopback Bot Connector receiving
the replies, group chats, proactive news, and the Entra identity standing for the code."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import re
import shutil
import time
import zipfile
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import trustme
from cryptography import x509

from bot.app import build_assistant
from bot.assistant import Assistant
from bot.channels.email.channel import make_email_channel
from bot.channels.teams.auth import TokenCheck
from bot.cli.main import teams_app
from bot.cli.packs import TEAMS_APP, teams_app_problems
from bot.core.replies import Incoming, Reply
from bot.ops.logs import setup_logging
from bot.ops.retention import DAY, apply_retention
from config import teams_manifest
from config.settings import Secret, Settings
from tests import teams_support
from tests.cli import _logging_restored
from tests.conftest import EmptyDatabase
from tests.email_support import PARTNERSHIP, Mailbox, email_settings, reply_to
from tests.form_fixture import with_fixture_form
from tests.signin_support import SLO, fill_form
from tests.teams_support import (
    APP_ID,
    BOT_TOKEN,
    TENANT,
    FakeMicrosoft,
    Keys,
    Sent,
    TeamsUser,
    connector_claims,
    fake_microsoft,
    served,
    teams_settings,
    texts,
)
from tests.test_handoff import UNANSWERABLE
from tests.test_mailer import Recorder


@pytest.fixture(autouse=True)
def keys_of_its_own() -> None:
    """Each test's Keys are different from one another (tests/teams_support.py)."""
    teams_support.new_test()


@pytest.fixture
async def fake() -> AsyncIterator[FakeMicrosoft]:
    async with fake_microsoft() as fake:
        yield fake


@pytest.fixture
async def teams_assistant(
    settings: Settings, fake: FakeMicrosoft, empty_database: EmptyDatabase
) -> AsyncIterator[Assistant]:
    await empty_database.copy_for(settings)
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
    assert sent[0].type == "typing"
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


async def test_tokens_naming_made_up_keys_do_not_make_the_keys_be_fetched_each_time(
    user: TeamsUser, fake: FakeMicrosoft
) -> None:
    # Anyone can send them; a fetch each time would hold real requests behind it. PyJWT's JWK
    # client has a cooldown since 2.15 (pyproject.toml): this guards against losing it.
    assert await user.say("what is an SCR")  # the real key: the set is read once
    fetched = fake.key_requests
    for n in range(5):
        junk = Keys(f"made-up-{n}").sign(connector_claims(fake.url))
        response = await user.post(user.activity("hello"), token=junk)
        assert response.status_code == 401
    assert fake.key_requests <= fetched + 1
    assert await user.say("what is an SCR")  # and the real key still opens the door


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


def smtp_to(settings: Settings, port: int) -> Settings:
    return dataclasses.replace(
        settings,
        smtp=dataclasses.replace(
            settings.smtp, host="127.0.0.1", port=port, security="none", timeout_seconds=5
        ),
    )


async def until(condition: Any, seconds: float = 20.0) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        assert time.monotonic() < deadline, "gave up waiting"
        await asyncio.sleep(0.02)
    return found


def emails(recorder: Recorder, to: str | None = None, subject: str = "") -> list[EmailMessage]:
    return [
        r.message
        for r in recorder.received
        if (to is None or to in [a.lower() for a in r.rcpt_tos])
        and subject in str(r.message["Subject"])
    ]


async def fill_the_form(user: TeamsUser) -> list[Sent]:
    """Answer the open form up to its summary, as a person in Teams would."""

    def last() -> tuple[str, dict[str, str]]:
        latest = user.fake.messages(user.conversation)[-1]
        return latest.text, latest.buttons

    async def press(data: str) -> None:
        label = next(label for label, value in last()[1].items() if value == data)
        await user.press(label)

    form = user.service.assistant.conversation.knowledge.form
    await fill_form(form, last, user.say, press, {})
    return user.fake.messages(user.conversation)


async def test_the_whole_notification_form_ends_in_exactly_one_email_and_a_receipt_in_teams(
    settings: Settings, fake: FakeMicrosoft, smtp_recorder: Recorder, tmp_path: Path
) -> None:
    port = smtp_recorder.port  # type: ignore[attr-defined]
    configured = teams_settings(smtp_to(with_fixture_form(settings, tmp_path), port), fake)
    assistant = await build_assistant(configured)
    try:
        async with served(assistant) as (service, base):
            user = TeamsUser(service, base, fake)
            await user.say("/notify")
            await user.say(SLO)
            code_email = await until(lambda: emails(smtp_recorder, SLO))
            code = re.findall(r"\b\d{6}\b", code_email[0].get_body(("plain",)).get_content())[0]
            await user.say(code)
            await fill_the_form(user)
            submitted = await user.press("Submit")
            reference = re.findall(r"SIN-\d{4}-\d{4}", texts(submitted))[0]
            # The receipt: the mail server has the notification, told in Teams, unasked.
            receipt = await until(
                lambda: [s for s in fake.messages(user.conversation) if "has reached" in s.text]
            )
            assert reference in receipt[0].text and receipt[0].reply_to is None
            await asyncio.sleep(0.3)  # nothing more comes
            assert len(emails(smtp_recorder, subject=reference)) == 1
            assert len([s for s in fake.messages() if "has reached" in s.text]) == 1
    finally:
        await assistant.close()


async def test_an_slo_whose_teams_identity_is_registered_starts_notify_without_a_code(
    settings: Settings, fake: FakeMicrosoft, tmp_path: Path
) -> None:
    configured = teams_settings(with_fixture_form(settings, tmp_path), fake, entra_signin=True)
    assistant = await build_assistant(configured)
    try:
        async with served(assistant) as (service, base):
            slo = TeamsUser(service, base, fake)
            fake.members[slo.user_id] = {"id": slo.user_id, "userPrincipalName": SLO.upper()}
            started = await slo.say("/notify")
            # The form itself, at once: no address asked, no code emailed.
            form = assistant.conversation.knowledge.form
            assert form.title in texts(started) and "Start" in started[-1].buttons
            assert (await assistant.storage.signin.linked_email(slo.conversation_chat)) == SLO
            # Anyone else (an unregistered identity, or none) signs in by code, as before.
            other = TeamsUser(service, base, fake)
            fake.members[other.user_id] = {"id": other.user_id, "email": "someone@example.org"}
            assert "sign in" in texts(await other.say("/notify")).lower()
            nobody = TeamsUser(service, base, fake)
            assert "sign in" in texts(await nobody.say("/notify")).lower()
    finally:
        await assistant.close()


async def test_without_the_setting_a_teams_identity_does_not_stand_for_the_code(
    user: TeamsUser, fake: FakeMicrosoft
) -> None:
    fake.members[user.user_id] = {"id": user.user_id, "userPrincipalName": SLO}
    assert "sign in" in texts(await user.say("/notify")).lower()
    assert fake.member_requests == []  # not even looked up


async def test_the_partnerships_answer_to_a_handed_off_question_arrives_once_after_an_outage(
    settings: Settings, fake: FakeMicrosoft, imap_mailbox: Mailbox, smtp_recorder: Recorder
) -> None:
    port = smtp_recorder.port  # type: ignore[attr-defined]
    configured = teams_settings(email_settings(settings, imap_mailbox, port), fake)
    assistant = await build_assistant(configured)
    email = make_email_channel(assistant)
    email.start()
    try:
        async with served(assistant) as (service, base):
            user = TeamsUser(service, base, fake)
            await user.say(UNANSWERABLE)
            await user.press("Ask the partnership")
            receipt = await user.press("Send")
            reference = re.findall(r"Q-\d{4}-\d{4}", texts(receipt))[0]
            question = await until(lambda: emails(smtp_recorder, PARTNERSHIP, reference))
            imap_mailbox.deliver(reply_to(question[0], PARTNERSHIP, "Renew it online."))
            # Teams is down when the answer comes: it is kept, and tried again.
            fake.refuse_sends = True
            email.wake()
            handoffs = assistant.storage.handoffs
            await until(lambda: fake.refused)
            assert [h.reference for h in await handoffs.handoffs_to_tell()] == [reference]
            fake.refuse_sends = False
            email.wake()
            relayed = await until(
                lambda: [
                    s for s in fake.messages(user.conversation) if "Renew it online." in s.text
                ]
            )
            assert relayed[0].reply_to is None  # news, not a reply to anything they said
            email.wake()
            await asyncio.sleep(0.5)
            assert len([s for s in fake.messages() if "Renew it online." in s.text]) == 1
    finally:
        await email.stop()
        await assistant.close()


# --- the Teams app's manifest (deploy/teams/) ------------------------------------------------


def test_the_shipped_manifest_and_icons_validate_for_every_shipped_partnership(
    settings: Settings,
) -> None:
    assert (TEAMS_APP / "manifest.json").is_file()
    assert teams_app_problems(settings, "") == []
    with_app = dataclasses.replace(
        settings, endpoints=dataclasses.replace(settings.endpoints, teams_app_id=APP_ID)
    )
    assert teams_app_problems(with_app, "") == []


def test_a_broken_manifest_is_named_problem_by_problem(tmp_path: Path) -> None:
    folder = tmp_path / "teams"
    shutil.copytree(TEAMS_APP, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["name"]["short"] = "{{short_name}} " + "x" * 40
    manifest["bots"][0]["botId"] = "another"
    manifest["validDomains"] = ["https://www.example.org/path"]
    manifest["developer"]["privacyUrl"] = "{{privacy}}"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "outline.png").write_bytes((folder / "color.png").read_bytes())
    values = teams_manifest.values_for(APP_ID, "Test Partnership", "TSCP", "https://t.example")
    found = "\n".join(teams_manifest.problems(folder, values))
    assert "name.short: 45 characters, Teams allows 30" in found
    assert "bots[1].botId: must be the app's id" in found
    assert "validDomains: expected host names" in found
    assert "{{privacy}}: no value for this placeholder" in found
    assert "icons.outline: outline.png: 192x192, Teams wants 32x32" in found


def test_teams_app_writes_the_package_to_upload(settings: Settings, tmp_path: Path) -> None:
    with_app = dataclasses.replace(
        settings, endpoints=dataclasses.replace(settings.endpoints, teams_app_id=APP_ID)
    )
    out = tmp_path / "app.zip"
    assert teams_app(with_app, out) == 0
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["id"] == manifest["bots"][0]["botId"] == APP_ID
    assert manifest["name"]["short"].startswith(settings.board.short_name)
    assert "{{" not in json.dumps(manifest)


async def test_an_activity_acknowledged_before_a_crash_is_answered_at_the_next_start(
    settings: Settings, fake: FakeMicrosoft
) -> None:
    configured = teams_settings(settings, fake)
    first = await build_assistant(configured)
    try:
        async with served(first) as (service, base):
            user = TeamsUser(service, base, fake)
            teams = service.served[configured.partnership].teams
            assert teams is not None
            token = fake.keys.sign(connector_claims(fake.url))
            body = json.dumps(user.activity("what is an SCR")).encode()
            # Stored (Teams would have had its 202), and the process dies before handling it.
            claims = await teams.check.claims(f"Bearer {token}")
            assert claims is not None and await teams.accept(claims, body)
    finally:
        await first.close()
    assert fake.messages() == []
    second = await build_assistant(configured)
    try:
        async with served(second):
            answered = await until(lambda: fake.messages(user.conversation))
            assert "review" in answered[0].text.lower()
    finally:
        await second.close()


async def test_the_log_names_nothing_said_no_one_and_no_secret(
    teams_assistant: Assistant, fake: FakeMicrosoft
) -> None:
    stream = io.StringIO()
    with _logging_restored():
        setup_logging(teams_assistant.settings, stream)
        logging.getLogger().setLevel(logging.DEBUG)
        async with served(teams_assistant) as (service, base):
            user = TeamsUser(service, base, fake, name="Jane Smith")
            await user.say("my colleague Alex Example asked about an SCR")
            refused = await user.post(user.activity("hello"), token=unsigned({"aud": APP_ID}))
            assert refused.status_code == 401
    log = stream.getvalue()
    assert "Teams request refused" in log
    for secret in ("Jane Smith", "Alex Example", "teams-app-secret", BOT_TOKEN, user.user_id):
        assert secret not in log, secret


async def test_the_bot_can_prove_itself_by_certificate_instead_of_a_secret(
    settings: Settings, fake: FakeMicrosoft, tmp_path: Path
) -> None:
    rsa = trustme.KeyType.RSA  # Entra ID's assertions are RS256
    leaf = trustme.CA(key_type=rsa).issue_cert("assistant.example.org", key_type=rsa)
    pem = tmp_path / "teams-app.pem"
    pem.write_bytes(leaf.private_key_and_cert_chain_pem.bytes())
    fake.certificate = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes())
    configured = teams_settings(settings, fake, certificate_file=str(pem))
    configured = dataclasses.replace(configured, teams_app_password=Secret(""))
    assert configured.teams_enabled
    assistant = await build_assistant(configured)
    try:
        async with served(assistant) as (service, base):
            sent = await TeamsUser(service, base, fake).say("what is an SCR")
            assert "review" in texts(sent).lower()
            assert "client_secret" not in fake.token_requests[0]
            assert all(s.authorization == f"Bearer {BOT_TOKEN}" for s in sent)
    finally:
        await assistant.close()


async def test_a_conversation_reference_is_forgotten_after_a_month_without_a_message(
    user: TeamsUser, teams_assistant: Assistant
) -> None:
    await user.say("what is an SCR")
    storage = teams_assistant.storage
    assert await storage.teams.reference(user.conversation_chat) is not None
    soon = await apply_retention(storage, teams_assistant.settings, time.time() + 29 * DAY)
    assert soon.teams_references == 0
    later = await apply_retention(storage, teams_assistant.settings, time.time() + 31 * DAY)
    assert later.teams_references == 1
    assert await storage.teams.reference(user.conversation_chat) is None
    with pytest.raises(LookupError):  # news for it can no longer be delivered, and says so
        await user.service.served[teams_assistant.settings.partnership].teams.push(  # type: ignore[union-attr]
            user.conversation_chat, [Reply("news")]
        )


async def test_the_sdks_validator_itself_refuses_another_apps_token(
    teams_assistant: Assistant, fake: FakeMicrosoft
) -> None:
    """The route already refuses a token for an app it does not serve; the check behind it
    (the SDK's JwtTokenValidator, keys from the configured address) refuses it too."""
    check = TokenCheck(APP_ID, teams_assistant.settings.teams)
    valid = fake.keys.sign(connector_claims(fake.url))
    assert (await check.claims(f"Bearer {valid}")) is not None
    other = fake.keys.sign(connector_claims(fake.url, aud="another-app"))
    assert await check.claims(f"Bearer {other}") is None
    assert await check.claims(valid) is None  # not a bearer token
    assert fake.key_requests >= 1  # the keys came from the configured address


async def test_a_request_too_large_is_refused_unread_and_bad_json_named(user: TeamsUser) -> None:
    huge = user.activity("x" * (300 * 1024))
    assert (await user.post(huge)).status_code == 413
    token = user.fake.keys.sign(connector_claims(user.fake.url))
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{user.base}/api/messages",
            content=b"{not json",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 400
    # Without a valid token, even a huge request gets 401.
    assert (
        await user.post(huge, token=unsigned(connector_claims(user.fake.url)))
    ).status_code == 401
    assert user.fake.sent == []


@pytest.mark.parametrize(
    "claims",
    [
        # An Entra-issued token of the bot's own tenant (any app registered there can get one
        # for the bot's app id): it names no service URL.
        pytest.param(
            lambda f: {
                **connector_claims(f.url, iss=f"https://sts.windows.net/{TENANT}/", tid=TENANT),
                "serviceurl": None,
            },
            id="no-service-url",
        ),
        pytest.param(lambda f: connector_claims(f.url), id="another-service-url"),
    ],
)
async def test_replies_never_go_to_a_service_url_the_token_does_not_name(
    user: TeamsUser, fake: FakeMicrosoft, teams_assistant: Assistant, claims: Any
) -> None:
    async with fake_microsoft() as elsewhere:
        token = fake.keys.sign({k: v for k, v in claims(fake).items() if v is not None})
        activity = {**user.activity("what is an SCR"), "serviceUrl": elsewhere.url}
        response = await user.post(activity, token=token)
        assert response.status_code == 401
        teams = user.service.served[teams_assistant.settings.partnership].teams
        assert teams is not None
        await teams.intake.drain(20)
        # The bot's token never went there, and nothing was stored to be handled later.
        assert elsewhere.sent == [] and elsewhere.member_requests == []
        assert await teams_assistant.storage.db.fetch("SELECT * FROM incoming", ()) == []


@pytest.mark.parametrize("command", ["/notify@Safeguarding", "/SignIn@bot"])
async def test_a_personal_command_written_as_the_core_reads_it_still_moves_to_a_personal_chat(
    user: TeamsUser, command: str
) -> None:
    """The core reads "/notify@Name" as /notify: so must the rule that keeps it out of groups."""
    group = TeamsUser(
        user.service, user.base, user.fake, conversation="19:other@thread.v2", kind="groupChat"
    )
    moved = await group.say(command, mention=True)
    assert "personal chat" in texts(moved)
    session = await user.service.assistant.storage.sessions.load_session(group.conversation_chat)
    assert session.flow is None


async def test_only_teams_itself_vouches_for_an_identity(
    settings: Settings, fake: FakeMicrosoft, tmp_path: Path
) -> None:
    """The same Azure Bot also answers its other channels (Web Chat, Direct Line), whose
    senders choose who they say they are: their member look-up stands for no one."""
    configured = teams_settings(with_fixture_form(settings, tmp_path), fake, entra_signin=True)
    assistant = await build_assistant(configured)
    try:
        async with served(assistant) as (service, base):
            web = TeamsUser(service, base, fake)
            fake.members[web.user_id] = {"id": web.user_id, "userPrincipalName": SLO}
            activity = web.activity("/notify", channelId="directline")
            del activity["conversation"]["conversationType"]
            assert "sign in" in texts(await web.send(activity)).lower()
            assert await assistant.storage.signin.linked_email(web.conversation_chat) is None
            assert fake.member_requests == []
    finally:
        await assistant.close()
