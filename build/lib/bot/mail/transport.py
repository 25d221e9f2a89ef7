"""Transports: SMTP (aiosmtplib), or .eml files in a folder when no server is configured, and
how their errors are sorted (permanent or worth a retry)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import tempfile
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import Protocol

from bot.mail.message import BuiltMessage
from config.private import private_folder
from config.settings import Secret, Settings, SmtpSettings

log = logging.getLogger(__name__)


class Transport(Protocol):
    """Delivers one message. Raises on failure; `is_permanent` sorts the errors."""

    def describe(self) -> str: ...

    async def send(self, message: BuiltMessage, name: str) -> None:
        """Deliver `message` to its envelope's recipients; `name` (a reference) labels it where
        a transport stores files."""
        ...


class SmtpTransport:
    """Sends through an SMTP server with aiosmtplib: STARTTLS, implicit TLS or plain."""

    def __init__(
        self,
        smtp: SmtpSettings,
        password: Secret,
        ca_file: Path | None = None,
        oauth_token: Callable[[], Awaitable[str]] | None = None,
    ) -> None:
        self.smtp = smtp
        self._password = password
        self._ca_file = ca_file
        # XOAUTH2 (Microsoft 365, where basic authentication is being retired): a fresh token
        # per connection, in place of the password.
        self._oauth_token = oauth_token

    def describe(self) -> str:
        login = " with login" if self.smtp.username else ""
        if self.smtp.username and self._oauth_token is not None:
            login = " with XOAUTH2 login"
        return f"SMTP {self.smtp.host}:{self.smtp.port} ({self.smtp.security}{login})"

    async def send(self, message: BuiltMessage, name: str) -> None:
        import aiosmtplib  # here: `ask` and a bot without SMTP never need it (a tenth of a second)

        smtp = self.smtp
        if not message.envelope_to:
            raise ValueError("an email needs its envelope's recipients")
        errors, _ = await aiosmtplib.send(
            message,
            # Always given: aiosmtplib would otherwise read them from the To, Cc and Bcc headers.
            sender=message.envelope_from,
            recipients=list(message.envelope_to),
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username or None,
            password=(
                self._password.reveal() if smtp.username and self._oauth_token is None else None
            ),
            oauth_token_generator=self._oauth_token if smtp.username else None,
            timeout=smtp.timeout_seconds,
            use_tls=smtp.security == "tls",
            # True, not None: with "starttls" configured, a server that does not offer it is an
            # error rather than a silent fall-back to plain text.
            start_tls=smtp.security == "starttls",
            cert_bundle=str(self._ca_file) if self._ca_file else None,
        )
        if errors:
            # Some recipients (not all) were refused; the others have the message. Addresses
            # are personal data, so only the count is logged.
            log.warning("email %s: %d recipient(s) refused by the server", name, len(errors))


def eml_path(settings: Settings, name: str) -> Path | None:
    """Where the .eml file for `name` is written when no SMTP server is configured, else None."""
    if settings.smtp.host:
        return None
    return eml_file(settings, name)


def eml_file(settings: Settings, name: str) -> Path:
    """<outbox_dir>/<name>.eml: an email as a file (no SMTP server, or a refused email's copy)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "email"
    return settings.path(settings.mail.outbox_dir) / f"{safe}.eml"


async def write_eml(path: Path, message: EmailMessage) -> None:
    """Write `message` to `path` atomically, readable by the owner only."""
    await asyncio.to_thread(_write_atomically, path, message.as_bytes(policy=SMTP_POLICY))


class FolderTransport:
    """Writes each message as <outbox_dir>/<name>.eml: mail works on a fresh clone, no server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def describe(self) -> str:
        return f"writing .eml files to {self.settings.path(self.settings.mail.outbox_dir)}"

    async def send(self, message: BuiltMessage, name: str) -> None:
        await write_eml(eml_file(self.settings, name), message)


def _write_atomically(path: Path, data: bytes) -> None:
    # A reader (or a crash) never sees half a file; a resend replaces it with the same bytes.
    # The folder holds notification content and sign-in codes: the owner's only (mkstemp makes
    # the file 0600).
    private_folder(path.parent, ours=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def make_transport(settings: Settings) -> Transport:
    if settings.smtp.host:
        ca_file = settings.path(settings.smtp.ca_file) if settings.smtp.ca_file else None
        oauth_token = None
        if settings.email is not None and settings.email.smtp_login == "xoauth2":
            from bot.mail.oauth import OUTLOOK_SCOPE, AppTokens  # only when configured

            oauth_token = AppTokens(settings.email, settings.oauth_client_secret, OUTLOOK_SCOPE)
        return SmtpTransport(settings.smtp, settings.smtp_password, ca_file, oauth_token)
    return FolderTransport(settings)


def is_permanent(exc: BaseException) -> bool:
    """True when retrying cannot help: the server refused the sender, recipients or content."""
    import aiosmtplib

    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(r.code >= 500 for r in exc.recipients)
    if isinstance(
        exc,
        aiosmtplib.SMTPSenderRefused | aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError,
    ):
        return exc.code >= 500
    # Everything else (connection, timeout, TLS, a refused login, a 4xx) can be fixed by waiting
    # or by the administrator correcting the configuration, after which the retry succeeds.
    return False


# What a failed attempt means for the people waiting on the email (/status, the reports).
REFUSED_FOR_NOW = "refused for now"  # the server answered 4xx: a temporary refusal
REFUSED = "refused"  # the server answered 5xx
UNREACHABLE = "unreachable"  # no answer: connection refused, timeout, TLS


def failure_of(error: str | None) -> str:
    """REFUSED_FOR_NOW, REFUSED or UNREACHABLE, from a recorded error (`describe_error`'s
    "SMTPDataError 451"): a server that answered 451 was reached, and said "not now"."""
    code = error.rsplit(" ", 1)[-1] if error else ""
    if not code.isdigit():
        return UNREACHABLE
    return REFUSED_FOR_NOW if code.startswith("4") else REFUSED


def failure_words(error: str | None) -> str:
    """The state in words a person reads: 'the mail server refused it for now (451)'."""
    if (error or "").startswith("invalid email"):
        return "it could not be made into an email (the server log says why)"
    failure = failure_of(error)
    if failure == UNREACHABLE:
        return "the mail server could not be reached"
    code = (error or "").rsplit(" ", 1)[-1]
    if failure == REFUSED_FOR_NOW:
        return f"the mail server refused it for now ({code}, a temporary refusal)"
    return f"the mail server refused it ({code})"


def describe_error(exc: BaseException) -> str:
    """The error's type and SMTP code: server messages can quote addresses, so never the text."""
    import aiosmtplib

    code = getattr(exc, "code", None)
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        code = exc.recipients[0].code
    return f"{type(exc).__name__} {code}" if isinstance(code, int) else type(exc).__name__
