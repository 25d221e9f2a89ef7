"""Email delivery through the outbox: a real aiosmtpd server on 127.0.0.1 (plain, STARTTLS with
login, implicit TLS; certificates from a throwaway trustme CA), the .eml folder, real SQLite
files, and the channels' push of failure reports (console, and Telegram over the fake Bot API).

Time-dependent behaviour (backoff, claim expiry, the failure report) is driven by a fake clock
handed to the Outbox; only the "server down, then up" test runs the real worker loop, with
retries in fractions of a second, and it waits for outcomes, never for a fixed time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import html
import io
import logging
import re
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from bot.assistant import Assistant
from bot.channels.console import run_console
from bot.core.replies import Incoming, Reply
from bot.mail.message import OutgoingEmail, build_message, make_message_id
from bot.mail.outbox import Outbox
from bot.mail.transport import SmtpTransport, eml_path, make_transport
from bot.ops.logs import setup_logging
from bot.storage import Storage
from config.settings import Secret, Settings
from tests.telegram_support import TelegramHarness

SLO = "slo@agency.example.org"
CHILD = "Zebedee Quillfeather-7731"
ANSWERS = {"agency": "Example Health Trust", "child_name": CHILD, "slo_email": SLO}


# --- a real SMTP server -------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Recorder:
    """aiosmtpd handler: records every message it accepts; can refuse all recipients."""

    received: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    refuse_recipients: bool = False

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.refuse_recipients:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 Message accepted for delivery"

    def authenticator(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"assistant",
            b"s3cret",
        )
        if ok:
            self.logins.append(data.login.decode())
        # handled=False: the server itself answers a failure with 535.
        return AuthResult(success=ok, handled=False)


def base_id(message_id: object) -> str:
    """A Message-ID without its random part: '<SIN-2026-0001.1a2b...@x>' -> '<SIN-2026-0001@x>'."""
    value = str(message_id)
    assert re.fullmatch(r"<[^<>@]+\.[0-9a-f]{16}@[^<>@]+>", value), value
    return re.sub(r"\.[0-9a-f]{16}@", "@", value)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def smtp_server(recorder: Recorder, port: int | None = None, **options: Any) -> Iterator[int]:
    """An aiosmtpd server on 127.0.0.1 (in its own thread) for the block; yields its port."""
    port = port or free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


# --- helpers ------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Pushed:
    """Stands in for the conversation: records what the outbox pushes to chats."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    async def push(self, chat: str, replies: list[Reply]) -> None:
        self.messages.extend((chat, reply.text) for reply in replies)


def with_smtp(settings: Settings, port: int, **smtp: Any) -> Settings:
    """`settings` sending to 127.0.0.1:`port`, with retries in fractions of a second."""
    smtp.setdefault("security", "none")
    return dataclasses.replace(
        settings,
        smtp=dataclasses.replace(
            settings.smtp, host="127.0.0.1", port=port, timeout_seconds=5.0, **smtp
        ),
        mail=dataclasses.replace(settings.mail, retry_initial_seconds=0.05, retry_max_seconds=0.2),
    )


def composer(
    settings: Settings, agency: str = "Example Health Trust"
) -> Callable[[str], OutgoingEmail]:
    """Builds the email the way the notification form does (handlers/notification/flow.py)."""

    def make(reference: str) -> OutgoingEmail:
        return OutgoingEmail(
            to=settings.mail.board_addresses,
            subject=f"Significant incident notification {reference} from {agency}",
            text=f"Child's name: {CHILD}\nAgency: {agency}\n",
            html=f"<p>Child's name: {html.escape(CHILD)}</p><p>Agency: {html.escape(agency)}</p>",
            message_id=make_message_id(reference, settings.mail.from_address),
            cc=(SLO,),
            reply_to=SLO,
        )

    return make


async def submit(
    storage: Storage,
    settings: Settings,
    draft: str = "draft-1",
    chat: str = "test:1",
    agency: str = "Example Health Trust",
) -> str:
    reference, created = await storage.notifications.submit_notification(
        chat, draft, agency, ANSWERS, composer(settings, agency)
    )
    assert created
    return reference


async def delivery(storage: Storage, reference: str, chat: str = "test:1") -> str:
    states = {n.reference: n.delivery for n in await storage.notifications.notifications_for(chat)}
    return states[reference]


async def eventually(condition: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Wait until `condition()` holds (checked every few milliseconds); fail after `within` s."""
    deadline = time.monotonic() + within
    while not await condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


@pytest.fixture
async def storage(settings: Settings) -> Any:
    storage = await Storage.open(settings.database)
    yield storage
    await storage.close()


def outbox(
    storage: Storage,
    settings: Settings,
    pushed: Pushed | None = None,
    clock: Callable[[], float] = time.time,
) -> Outbox:
    return Outbox(storage, make_transport(settings), settings, pushed, clock)  # type: ignore[arg-type]


# --- SMTP delivery ------------------------------------------------------------------------


async def test_plain_smtp_delivers_the_notification_email(
    storage: Storage, settings: Settings
) -> None:
    recorder = Recorder()
    with smtp_server(recorder) as port:
        settings = with_smtp(settings, port)
        reference = await submit(storage, settings)
        assert reference == f"SIN-{time.localtime().tm_year}-0001"
        assert await delivery(storage, reference) == "queued"
        assert await outbox(storage, settings).run_once() == 1

    [received] = recorder.received
    assert received.mail_from == settings.mail.from_address
    assert sorted(received.rcpt_tos) == sorted([*settings.mail.board_addresses, SLO])
    message = received.message
    # strip(): Python's parser keeps the blank of a folded first line; mail clients drop it.
    assert (
        message["Subject"].strip()
        == f"Significant incident notification {reference} from Example Health Trust"
    )
    assert message["To"] == ", ".join(settings.mail.board_addresses)
    assert message["Cc"] == SLO
    assert message["Reply-To"] == SLO
    assert base_id(message["Message-ID"]) == f"<{reference}@example.org>"
    text = message.get_body(("plain",))
    html_part = message.get_body(("html",))
    assert text is not None and html_part is not None
    assert CHILD in text.get_content()
    assert html.escape(CHILD) in html_part.get_content()
    assert CHILD not in message["Subject"]
    assert await delivery(storage, reference) == "sent"


async def test_starttls_with_login(
    storage: Storage, settings: Settings, server_tls: ssl.SSLContext, ca_file: str
) -> None:
    recorder = Recorder()
    options: dict[str, Any] = {
        "tls_context": server_tls,
        "require_starttls": True,
        "auth_required": True,
        "auth_require_tls": True,
        "authenticator": recorder.authenticator,
    }
    with smtp_server(recorder, **options) as port:
        settings = with_smtp(
            settings, port, security="starttls", username="assistant", ca_file=ca_file
        )
        reference = await submit(storage, settings)
        clock = FakeClock()

        # A wrong password is a configuration problem: retried, not given up.
        wrong = dataclasses.replace(settings, smtp_password=Secret("wrong"))
        assert await outbox(storage, wrong, clock=clock).run_once() == 0
        assert await delivery(storage, reference) == "retrying"

        # Once the administrator sets the right one, the retry goes through.
        right = dataclasses.replace(settings, smtp_password=Secret("s3cret"))
        clock.advance(60)
        assert await outbox(storage, right, clock=clock).run_once() == 1

    assert recorder.logins == ["assistant"]
    [received] = recorder.received
    assert base_id(received.message["Message-ID"]) == f"<{reference}@example.org>"
    assert await delivery(storage, reference) == "sent"


async def test_untrusted_certificate_is_refused(
    storage: Storage, settings: Settings, server_tls: ssl.SSLContext
) -> None:
    recorder = Recorder()
    with smtp_server(recorder, tls_context=server_tls, require_starttls=True) as port:
        # No ca_file: the throwaway CA is not among the system's trusted ones.
        settings = with_smtp(settings, port, security="starttls")
        reference = await submit(storage, settings)
        assert await outbox(storage, settings).run_once() == 0
    assert recorder.received == []
    assert await delivery(storage, reference) == "retrying"


async def test_implicit_tls(
    storage: Storage, settings: Settings, server_tls: ssl.SSLContext, ca_file: str
) -> None:
    recorder = Recorder()
    with smtp_server(recorder, ssl_context=server_tls) as port:
        settings = with_smtp(settings, port, security="tls", ca_file=ca_file)
        reference = await submit(storage, settings)
        assert await outbox(storage, settings).run_once() == 1
    [received] = recorder.received
    assert base_id(received.message["Message-ID"]) == f"<{reference}@example.org>"


async def test_smtp_down_then_up_delivers_exactly_once(
    storage: Storage, settings: Settings
) -> None:
    """The real worker loop: no server, retries, a failure report, then the server comes up."""
    port = free_port()  # nothing listens here yet
    settings = with_smtp(settings, port)
    settings = dataclasses.replace(
        settings, mail=dataclasses.replace(settings.mail, report_failure_after_minutes=0.002)
    )
    pushed = Pushed()
    worker = outbox(storage, settings, pushed)
    worker.start()
    recorder = Recorder()
    try:
        reference = await submit(storage, settings)
        worker.wake()

        async def reported() -> bool:
            return any("has not reached the partnership yet" in text for _, text in pushed.messages)

        await eventually(reported)
        assert await delivery(storage, reference) == "retrying"
        assert recorder.received == []

        with smtp_server(recorder, port=port):

            async def sent() -> bool:
                return await delivery(storage, reference) == "sent"

            await eventually(sent)
            # Another look at the queue finds nothing more to send.
            assert await worker.run_once() == 0
    finally:
        await worker.stop()

    assert len(recorder.received) == 1
    chats = {chat for chat, _ in pushed.messages}
    texts = [text for _, text in pushed.messages]
    assert chats == {"test:1"}
    assert len(texts) == 2  # reported once, however many retries failed
    assert reference in texts[0]
    good_news = f"Good news: your notification {reference} has now reached the partnership's"
    assert texts[1] == f"{good_news} mail server."


async def test_permanent_refusal_is_reported_at_once_and_not_retried(
    storage: Storage, settings: Settings
) -> None:
    recorder = Recorder(refuse_recipients=True)
    pushed = Pushed()
    with smtp_server(recorder) as port:
        settings = with_smtp(settings, port)
        reference = await submit(storage, settings)
        clock = FakeClock()
        worker = outbox(storage, settings, pushed, clock)
        assert await worker.run_once() == 0
        assert await delivery(storage, reference) == "failed"
        [(chat, text)] = pushed.messages
        assert chat == "test:1"
        assert reference in text and "could not be delivered" in text
        assert settings.partnership_email in text

        recorder.refuse_recipients = False
        clock.advance(24 * 3600)
        assert await worker.run_once() == 0
    assert recorder.received == []
    assert len(pushed.messages) == 1


# --- nothing twice, nothing lost ----------------------------------------------------------


async def test_double_submit_makes_one_notification_and_one_email(
    storage: Storage, settings: Settings
) -> None:
    make = composer(settings)
    first = await storage.notifications.submit_notification(
        "test:1", "draft-1", "Agency", ANSWERS, make
    )
    again = await storage.notifications.submit_notification(
        "test:1", "draft-1", "Agency", ANSWERS, make
    )
    # Two taps arriving together (two chats' handlers run concurrently).
    together = await asyncio.gather(
        storage.notifications.submit_notification("test:1", "draft-2", "Agency", ANSWERS, make),
        storage.notifications.submit_notification("test:1", "draft-2", "Agency", ANSWERS, make),
    )
    year = time.localtime().tm_year
    assert first == (f"SIN-{year}-0001", True)
    assert again == (f"SIN-{year}-0001", False)
    assert sorted(created for _, created in together) == [False, True]
    assert {reference for reference, _ in together} == {f"SIN-{year}-0002"}
    assert [n.reference for n in await storage.notifications.notifications_for("test:1")] == [
        f"SIN-{year}-0002",
        f"SIN-{year}-0001",
    ]

    recorder = Recorder()
    with smtp_server(recorder) as port:
        assert await outbox(storage, with_smtp(settings, port)).run_once() == 2
    assert sorted(base_id(r.message["Message-ID"]) for r in recorder.received) == [
        f"<SIN-{year}-0001@example.org>",
        f"<SIN-{year}-0002@example.org>",
    ]


async def test_pending_mail_resumes_after_a_restart(settings: Settings) -> None:
    storage = await Storage.open(settings.database)
    waiting = await submit(storage, settings, "draft-1")
    # The other was being sent when the process died: claimed, never marked sent.
    in_flight = await submit(storage, settings, "draft-2")
    lease = outbox(storage, settings).claim_lease
    claimed = await storage.outbox.claim_next_email(time.time(), lease)
    assert claimed is not None and claimed.reference == waiting
    await storage.close()

    storage = await Storage.open(settings.database)
    try:
        recorder = Recorder()
        with smtp_server(recorder) as port:
            settings = with_smtp(settings, port)
            clock = FakeClock()
            worker = outbox(storage, settings, clock=clock)
            # A fresh claim might belong to a live worker: left alone until its lease expires.
            assert await worker.run_once() == 1
            assert [base_id(r.message["Message-ID"]) for r in recorder.received] == [
                f"<{in_flight}@example.org>"
            ]
            clock.advance(worker.claim_lease + 1)
            assert await worker.run_once() == 1
            assert await worker.run_once() == 0
        assert sorted(base_id(r.message["Message-ID"]) for r in recorder.received) == sorted(
            [f"<{in_flight}@example.org>", f"<{waiting}@example.org>"]
        )
        assert {n.delivery for n in await storage.notifications.notifications_for("test:1")} == {
            "sent"
        }
    finally:
        await storage.close()


# --- headers ------------------------------------------------------------------------------


async def test_user_text_cannot_add_headers(storage: Storage, settings: Settings) -> None:
    agency = "Agency\r\nBcc: evil@attacker.example\r\nX-Injected: yes"
    recorder = Recorder()
    with smtp_server(recorder) as port:
        settings = with_smtp(settings, port)
        reference = await submit(storage, settings, agency=agency)
        assert await outbox(storage, settings).run_once() == 1
    [received] = recorder.received
    assert "evil@attacker.example" not in received.rcpt_tos
    message = received.message
    assert message["Bcc"] is None and message["X-Injected"] is None
    assert message["Subject"] == (
        f"Significant incident notification {reference} from "
        "Agency Bcc: evil@attacker.example X-Injected: yes"
    )
    headers = received.raw.split(b"\r\n\r\n", 1)[0]
    assert b"\nBcc:" not in headers and b"\nX-Injected:" not in headers


def test_an_address_must_be_one_address() -> None:
    base = OutgoingEmail(
        ("board@example.org",), "Subject", "text", None, "<SIN-2026-0001@example.org>"
    )
    for bad in (
        "slo@example.org\r\nBcc: evil@attacker.example",
        "a@example.org, b@example.org",
        "no address",
    ):
        with pytest.raises(ValueError):
            build_message(dataclasses.replace(base, cc=(bad,)), "assistant@example.org")
        with pytest.raises(ValueError):
            build_message(dataclasses.replace(base, reply_to=bad), "assistant@example.org")
    with pytest.raises(ValueError):
        build_message(
            dataclasses.replace(base, message_id="<x>\r\nBcc: evil@attacker.example"),
            "a@example.org",
        )


async def test_an_unbuildable_email_fails_and_is_reported(
    storage: Storage, settings: Settings
) -> None:
    def make(reference: str) -> OutgoingEmail:
        slo = "slo@example.org\r\nBcc: evil@attacker.example"
        return dataclasses.replace(composer(settings)(reference), cc=(slo,), reply_to=slo)

    reference, _ = await storage.notifications.submit_notification(
        "test:1", "draft-1", "Agency", ANSWERS, make
    )
    pushed = Pushed()
    assert await outbox(storage, settings, pushed).run_once() == 0
    assert await delivery(storage, reference) == "failed"
    assert [reference in text for _, text in pushed.messages] == [True]
    assert not Path(settings.mail.outbox_dir).exists()


# --- the .eml folder ----------------------------------------------------------------------


async def test_without_smtp_each_email_is_an_eml_file(storage: Storage, settings: Settings) -> None:
    assert not settings.smtp.host  # the embedded default
    reference = await submit(storage, settings)
    note = OutgoingEmail(("someone@example.org",), "Your code", "123456", None, "<c1@example.org>")
    mail_id = await storage.outbox.enqueue_email(note, chat="test:1", kind="signin")
    assert await storage.outbox.enqueue_email(note) == mail_id  # same Message-ID: queued once
    assert await outbox(storage, settings).run_once() == 2

    path = eml_path(settings, reference)
    assert path == Path(settings.mail.outbox_dir) / f"{reference}.eml"
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert base_id(message["Message-ID"]) == f"<{reference}@example.org>"
    assert message["Cc"] == SLO
    body = message.get_body(("plain",))
    assert body is not None and CHILD in body.get_content()
    other = email.message_from_bytes(
        (Path(settings.mail.outbox_dir) / f"mail-{mail_id}.eml").read_bytes()
    )
    assert other["Subject"] == "Your code"
    assert await delivery(storage, reference) == "sent"
    assert sorted(p.name for p in Path(settings.mail.outbox_dir).iterdir()) == sorted(
        [f"{reference}.eml", f"mail-{mail_id}.eml"]
    )


async def test_the_wired_outbox_sends_as_soon_as_it_is_woken(assistant: Assistant) -> None:
    settings = assistant.settings
    first = OutgoingEmail(("board@example.org",), "First", "text", None, "<first@example.org>")
    first_path = eml_path(settings, f"mail-{await assistant.storage.outbox.enqueue_email(first)}")
    assistant.outbox.start()

    async def first_written() -> bool:
        return first_path is not None and first_path.exists()

    await eventually(first_written)
    # The worker has sent what there was; give it a moment to go back to sleep (idle poll: a
    # minute), so that only wake() can bring it back within the test's patience.
    await asyncio.sleep(0.05)
    reference = await submit(assistant.storage, settings)
    assistant.conversation.wake_outbox()
    path = eml_path(settings, reference)
    assert path is not None

    async def written() -> bool:
        return path.exists()

    await eventually(written, within=5.0)


# --- failure reports reach the chat -------------------------------------------------------


async def test_failure_report_reaches_the_telegram_chat(
    assistant: Assistant, telegram: TelegramHarness
) -> None:
    settings = with_smtp(assistant.settings, free_port())  # nothing listens there
    worker = assistant.outbox
    worker.transport = SmtpTransport(settings.smtp, Secret(""))
    reference = await submit(assistant.storage, settings, chat="telegram:42")
    worker.clock = clock = FakeClock()

    assert await worker.run_once() == 0
    assert telegram.api.method_calls("sendMessage") == []
    clock.advance(settings.mail.report_failure_after_minutes * 60 + 1)
    await worker.run_once()
    clock.advance(3600)
    await worker.run_once()

    [message] = telegram.api.method_calls("sendMessage")
    assert message["chat_id"] == 42
    assert reference in message["text"]
    assert "has not reached the partnership yet" in message["text"]
    assert await delivery(assistant.storage, reference, "telegram:42") == "retrying"


async def test_console_prints_pushed_news(assistant: Assistant) -> None:
    out = io.StringIO()
    await run_console(assistant.conversation, stdin=io.StringIO(""), stdout=out)
    push = assistant.conversation.push
    assert push is not None
    before = out.getvalue()
    await push("console:local", [Reply("Your notification SIN-2026-0001 has now been delivered.")])
    await push("telegram:42", [Reply("Not for this console.")])
    shown = out.getvalue()[len(before) :]
    assert "SIN-2026-0001 has now been delivered" in shown
    assert "Not for this console" not in shown


async def test_logs_name_references_not_people(storage: Storage, settings: Settings) -> None:
    """With the production logging set-up at DEBUG, mail logs carry references, not people."""
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers, root.level
    setup_logging(dataclasses.replace(settings, log_level="DEBUG"), stream)
    try:
        recorder = Recorder(refuse_recipients=True)  # the server's refusal quotes the address
        with smtp_server(recorder) as port:
            settings = with_smtp(settings, port)
            refused = await submit(storage, settings, "draft-1")
            await outbox(storage, settings, Pushed()).run_once()
            recorder.refuse_recipients = False
            sent = await submit(storage, settings, "draft-2")
            await outbox(storage, settings, Pushed()).run_once()
    finally:
        root.handlers, root.level = handlers, level
    logged = stream.getvalue()
    assert f"email {refused} (notification) was refused" in logged
    assert f"email {sent} sent" in logged
    assert SLO not in logged and CHILD not in logged and "agency.example.org" not in logged


# --- what /status and the reports call a failure ------------------------------------------


@dataclass
class RefusingRecorder(Recorder):
    """Answers every recipient with `reply` (a 4xx or 5xx line)."""

    reply: str = "451 4.3.0 Try again later"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        return self.reply


@pytest.mark.parametrize(
    ("server", "status", "report"),
    [
        (
            "451 4.3.0 Try again later",
            "not sent yet: the mail server refused it for now (451, a temporary refusal); "
            "I keep trying",
            "the mail server refused it for now (451",
        ),
        (
            None,
            "not sent yet: the mail server could not be reached; I keep trying",
            "the mail server could not be reached",
        ),
        (
            "550 5.1.1 No such mailbox",
            "not sent: the mail server refused it (550). The partnership's administrators",
            "could not be delivered to the partnership by email: the mail server refused it (550)",
        ),
    ],
)
async def test_status_and_reports_name_the_real_state(
    assistant: Assistant, server: str | None, status: str, report: str
) -> None:
    """A server that answered 451 was reached and said "not now"; one that never answered
    could not be reached; 550 is a refusal."""
    storage, settings = assistant.storage, assistant.settings
    pushed = Pushed()
    clock = FakeClock()
    port = free_port()
    settings = with_smtp(settings, port)
    reference = await submit(storage, settings)
    worker = outbox(storage, settings, pushed, clock)

    async def attempts() -> None:
        assert await worker.run_once() == 0
        clock.advance(settings.mail.report_failure_after_minutes * 60 + 1)
        assert await worker.run_once() == 0  # tried again, and reported overdue

    if server is None:
        await attempts()  # nothing listens on the port
    else:
        with smtp_server(RefusingRecorder(reply=server), port=port):
            await attempts()
    [said] = await assistant.conversation.handle(Incoming("test:1", "/status"))
    assert f"{reference}, submitted " in said.text
    assert status in said.text, said.text
    assert any(report in text for _, text in pushed.messages), pushed.messages
