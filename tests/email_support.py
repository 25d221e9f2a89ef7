"""A real IMAP server (pymap's in-memory backend, in a subprocess on a free loopback port), a
real SMTP server (aiosmtpd) receiving what the outbox sends, and helpers that write emails the
way people and robots do.

pymap has no SMTP side: mail "arrives" by IMAP APPEND to the assistant's INBOX, which is what a
mail server's delivery does too.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import email.utils
import itertools
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage

from imap_tools import AND, MailBoxUnencrypted

from bot.assistant import Assistant
from bot.channels.email.channel import EmailChannel, make_email_channel
from config.settings import EmailSettings, Secret, Settings
from tests.test_mailer import Recorder, free_port

# pymap's own command, except that the demo account's password is hashed with 1,000 PBKDF2 rounds
# instead of 500,000: every poll logs in, and at 0.12 s a login that was most of the email
# tests' time. The server is otherwise pymap as installed.
PYMAP_LAUNCHER = (
    "import functools, sys, pysasl.hashing as h;"
    "h.BuiltinHash.__init__ = functools.partialmethod(h.BuiltinHash.__init__, rounds=1000);"
    "from pymap.main import main; sys.argv[0] = 'pymap'; sys.exit(main())"
)
USER, PASSWORD = "demouser", "demopass"  # pymap's dict backend's built-in account
ASSISTANT = "assistant@bbscp.example.org"
PARTNERSHIP = "partnership@bedford.gov.uk"
STAFF = "sam.staff@bedford.gov.uk"
PRACTITIONER = "jane.doe@nhs.net"
_ids = itertools.count(1)


def start_pymap() -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", PYMAP_LAUNCHER, "--host", "127.0.0.1", "--port", str(port), "dict"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process, port
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("pymap did not start") from None
            time.sleep(0.05)


class ImapServer:
    """One pymap server for the whole test session; each test gets its own folder on it, so tests
    share the start-up (about a second) but never see each other's mail."""

    def __init__(self) -> None:
        self.process, self.port = start_pymap()
        self._folders = itertools.count(1)
        self._client: MailBoxUnencrypted | None = None

    def client(self) -> MailBoxUnencrypted:
        """One logged-in connection for the tests' own deliveries, instead of a login per email."""
        if self._client is None:
            self._client = MailBoxUnencrypted("127.0.0.1", self.port).login(USER, PASSWORD)
        return self._client

    def new_mailbox(self) -> Mailbox:
        folder = f"Test{next(self._folders)}"
        self.client().folder.create(folder)
        return Mailbox(self, folder)

    def stop(self) -> None:
        if self._client is not None:
            self._client.logout()
        self.process.kill()
        self.process.wait()


@dataclasses.dataclass
class Mailbox:
    """The assistant's mailbox: one folder of its own on the shared pymap server."""

    server: ImapServer
    folder: str

    @property
    def port(self) -> int:
        return self.server.port

    def deliver(self, message: EmailMessage | bytes) -> None:
        raw = message if isinstance(message, bytes) else message.as_bytes()
        self.server.client().append(raw, self.folder, flag_set=[])

    def unseen(self) -> int:
        # A fresh login: the count must come from the server as the assistant left it.
        with MailBoxUnencrypted("127.0.0.1", self.port).login(USER, PASSWORD, self.folder) as box:
            return len(list(box.fetch(AND(seen=False), mark_seen=False)))


def pymap_server() -> Iterator[ImapServer]:
    server = ImapServer()
    try:
        yield server
    finally:
        server.stop()


def email_settings(
    settings: Settings, mailbox: Mailbox, smtp_port: int, **email: object
) -> Settings:
    return dataclasses.replace(
        settings,
        contacts=dataclasses.replace(
            settings.contacts,
            partnership=dataclasses.replace(settings.contacts.partnership, email=PARTNERSHIP),
        ),
        mail=dataclasses.replace(settings.mail, from_address=ASSISTANT),
        smtp=dataclasses.replace(
            settings.smtp, host="127.0.0.1", port=smtp_port, security="none", timeout_seconds=5
        ),
        email=dataclasses.replace(
            EmailSettings(
                imap_host="127.0.0.1",
                imap_port=mailbox.port,
                imap_folder=mailbox.folder,
                imap_security="none",
                imap_username=USER,
                staff_addresses=(STAFF,),
            ),
            **email,  # type: ignore[arg-type]
        ),
        email_password=Secret(PASSWORD),
    )


def written(
    sender: str,
    text: str,
    subject: str = "A question",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    **headers: str,
) -> EmailMessage:
    """An email as a person's mail program writes it (extra headers: X_Autoreply="yes")."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ASSISTANT
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate()
    message["Message-ID"] = message_id or f"<m{next(_ids)}.{time.time_ns()}@mail.example.net>"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return message


def reply_to(original: EmailMessage, sender: str, text: str) -> EmailMessage:
    """A reply in the thread of `original`, quoting it below, as mail programs do."""
    quoted = "\n".join(f"> {line}" for line in text_of(original).splitlines())
    body = f"{text}\n\nOn {original['Date']}, {original['From']} wrote:\n{quoted}\n"
    subject = str(original["Subject"])
    return written(
        sender,
        body,
        subject=subject if subject.lower().startswith("re:") else f"Re: {subject}",
        in_reply_to=str(original["Message-ID"]),
    )


class EmailWorld:
    """The assistant with its email channel, its mailbox on pymap, and what SMTP received."""

    def __init__(self, assistant: Assistant, mailbox: Mailbox, recorder: Recorder) -> None:
        self.assistant = assistant
        self.mailbox = mailbox
        self.recorder = recorder
        self.channel: EmailChannel = make_email_channel(assistant)
        self._seen = 0
        self.inbound_ids: list[str] = []  # Message-IDs of the emails delivered with `send`

    async def turn(self) -> list[EmailMessage]:
        """Read the mailbox, answer, deliver the outbox; the emails sent in this turn."""
        await self.channel.poll_once()
        await self.assistant.outbox.run_once()
        new = self.recorder.received[self._seen :]
        self._seen = len(self.recorder.received)
        return [r.message for r in new]

    async def send(self, message: EmailMessage) -> list[EmailMessage]:
        self.inbound_ids.append(str(message["Message-ID"]))
        self.mailbox.deliver(message)
        return await self.turn()


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def html_of(message: EmailMessage) -> str:
    body = message.get_body(("html",))
    assert body is not None
    return str(body.get_content())


def parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed
