"""The email channel end to end: a real IMAP server (pymap) holds the assistant's mailbox, a
real SMTP server (aiosmtpd) receives what the outbox sends, on a real SQLite file."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import build_assistant
from config.settings import Secret, Settings
from tests.email_support import (
    ASSISTANT,
    PRACTITIONER,
    EmailWorld,
    Mailbox,
    email_settings,
    html_of,
    reply_to,
    text_of,
    written,
)
from tests.test_mailer import Recorder, smtp_server


@pytest.fixture
async def world(
    settings: Settings, imap_mailbox: Mailbox, smtp_recorder: Recorder
) -> AsyncIterator[EmailWorld]:
    configured = email_settings(settings, imap_mailbox, smtp_recorder.port)  # type: ignore[attr-defined]
    assistant = await build_assistant(configured)
    yield EmailWorld(assistant, imap_mailbox, smtp_recorder)
    await assistant.close()


async def test_question_by_email_answered_in_thread(world: EmailWorld) -> None:
    question = written(PRACTITIONER, "What is an SCR?\n\nThanks\n--\nJane Doe\nDSL", "SCR?")
    sent = await world.send(question)
    assert len(sent) == 1
    answer = sent[0]
    assert answer["To"] == PRACTITIONER
    assert answer["From"] == ASSISTANT
    assert answer["Subject"] == "Re: SCR?"
    assert answer["In-Reply-To"] == question["Message-ID"]
    assert question["Message-ID"] in answer["References"]
    assert answer["Auto-Submitted"] == "auto-replied"
    assert "serious case review" in text_of(answer).lower()
    assert "serious case review" in html_of(answer).lower()
    assert "<h3>" in html_of(answer)
    assert world.mailbox.unseen() == 0, "the email is marked read once recorded"


async def test_choices_become_a_numbered_list_answered_by_number(world: EmailWorld) -> None:
    [listing] = await world.send(written(PRACTITIONER, "/reviews", "Reviews"))
    text = text_of(listing)
    assert "Reply with the number or the words of your choice:" in text
    line = next(x for x in text.splitlines() if "Rapid review" in x)
    number = line.strip().split(".")[0]
    [answer] = await world.send(reply_to(listing, PRACTITIONER, number))
    assert text_of(answer).startswith("RAPID REVIEW")


async def test_auto_replies_bounces_lists_and_our_own_mail_are_ignored(
    world: EmailWorld,
) -> None:
    ignored = [
        written(PRACTITIONER, "I am out of the office", Auto_Submitted="auto-replied"),
        written(PRACTITIONER, "Away until Monday", X_Autoreply="yes"),
        written(PRACTITIONER, "What is an SCR?", Precedence="bulk"),
        written(PRACTITIONER, "What is an SCR?", List_Id="<news.nhs.net>"),
        written("mailer-daemon@nhs.net", "Undeliverable: what is an SCR"),
        written(ASSISTANT, "What is an SCR?"),  # the assistant writing to itself
    ]
    for message in ignored:
        assert await world.send(message) == [], message["Subject"]
    # A delivery-status report from an ordinary-looking address (RFC 3464).
    bounce = (
        f"From: Mail System <postbox@nhs.net>\r\nTo: {ASSISTANT}\r\n"
        "Subject: Delivery Status Notification (Failure)\r\nMessage-ID: <dsn.1@nhs.net>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;"
        ' boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nWhat is an SCR?\r\n'
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; nhs.net\r\n"
        "\r\nFinal-Recipient: rfc822; x@nhs.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "\r\n--b--\r\n"
    ).encode()
    world.mailbox.deliver(bounce)
    assert await world.turn() == []
    # Our own answer coming back (a forwarding rule, a copy to the mailbox) is not answered.
    [answer] = await world.send(written(PRACTITIONER, "What is an SCR?"))
    assert await world.send(answer) == []
    assert await world.turn() == []


async def test_sender_outside_allowed_domains_gets_one_notice_a_day(world: EmailWorld) -> None:
    [notice] = await world.send(written("someone@gmail.com", "What is an SCR?"))
    assert "not one of them" in text_of(notice)
    assert "serious case review" not in text_of(notice).lower()
    assert await world.send(written("someone@gmail.com", "What about a rapid review?")) == []
    # A school's subdomain is allowed by "*.sch.uk".
    [answer] = await world.send(written("head@oakwood.beds.sch.uk", "What is an SCR?"))
    assert "serious case review" in text_of(answer).lower()


async def test_outsiders_ignored_when_configured(
    settings: Settings, imap_mailbox: Mailbox, smtp_recorder: Recorder
) -> None:
    configured = email_settings(
        settings,
        imap_mailbox,
        smtp_recorder.port,  # type: ignore[attr-defined]
        outsiders="ignore",
    )
    assistant = await build_assistant(configured)
    try:
        world = EmailWorld(assistant, imap_mailbox, smtp_recorder)
        assert await world.send(written("someone@gmail.com", "What is an SCR?")) == []
    finally:
        await assistant.close()


async def test_same_message_id_twice_answered_once(world: EmailWorld) -> None:
    question = written(PRACTITIONER, "What is an SCR?")
    world.mailbox.deliver(question)
    world.mailbox.deliver(question)
    assert len(await world.turn()) == 1
    world.mailbox.deliver(question)  # delivered again later, after the answer
    assert await world.turn() == []


async def test_notification_by_email_gets_safety_route_and_pointer_to_chat(
    world: EmailWorld,
) -> None:
    [reply] = await world.send(written(PRACTITIONER, "I need to report a significant incident"))
    text = text_of(reply)
    assert "999" in text
    assert "assistant's chat" in text and "/notify" not in text, "email words, not commands"
    assert "partnership@bedford.gov.uk" in text
    assert "email address" not in text.lower(), "no sign-in or form by email"


async def test_empty_or_html_only_email(world: EmailWorld) -> None:
    message = written(PRACTITIONER, "placeholder")
    message.clear_content()
    message.set_content("<p>What is an <b>SCR</b>?</p>", subtype="html")
    [answer] = await world.send(message)
    assert "serious case review" in text_of(answer).lower()


def test_settings_email_section_turns_the_channel_on(tmp_path: Path) -> None:
    from config.settings import SettingsError, load_settings

    path = tmp_path / "s.yaml"
    path.write_text("email:\n  allowed_domains: [nhs.net]\n  own_addresses: []\n")
    loaded = load_settings(path, environ={"EMAIL_PASSWORD": "pw"})
    assert loaded.email is not None
    assert loaded.email.allowed_domains == ("nhs.net",)
    assert loaded.email_password.reveal() == "pw"
    path.write_text("log_level: INFO\n")
    assert load_settings(path, environ={}).email is None
    path.write_text("email:\n  source: pop3\n")
    with pytest.raises(SettingsError, match=r"email\.source"):
        load_settings(path, environ={})


async def test_smtp_xoauth2_login(settings: Settings) -> None:
    """The outbox logs in with XOAUTH2 (a bearer token, no password) when configured."""
    import base64

    from aiosmtpd.smtp import AuthResult

    from bot.mail.message import OutgoingEmail, build_message
    from bot.mail.transport import SmtpTransport

    class OAuthRecorder(Recorder):
        tokens: list[str]

        async def auth_XOAUTH2(self, server: object, args: list[str]) -> AuthResult:
            decoded = base64.b64decode(args[1]).decode()
            self.tokens.append(decoded)
            return AuthResult(success="auth=Bearer token-1" in decoded)

    smtp_recorder = OAuthRecorder()
    smtp_recorder.tokens = []
    calls = 0

    async def token() -> str:
        nonlocal calls
        calls += 1
        return "token-1"

    with smtp_server(smtp_recorder, auth_require_tls=False) as port:
        smtp = dataclasses.replace(
            settings.smtp, host="127.0.0.1", port=port, security="none", username=ASSISTANT
        )
        transport = SmtpTransport(smtp, Secret(""), oauth_token=token)
        assert "XOAUTH2" in transport.describe()
        email_ = OutgoingEmail((PRACTITIONER,), "Hello", "Text", None, "<x.1@bbscp.example.org>")
        await transport.send(build_message(email_, ASSISTANT), "x")
    assert calls == 1
    assert smtp_recorder.tokens == [f"user={ASSISTANT}\x01auth=Bearer token-1\x01\x01"]
    assert len(smtp_recorder.received) == 1
