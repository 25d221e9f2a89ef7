"""Where inbound email comes from: the `MailboxSource` interface and its IMAP implementation
(Microsoft Graph is in graph.py).

A source hands over new (unread) mail as raw bytes and marks it read when told to. The channel
records each Message-ID in the inbox table before it acknowledges, so mail acknowledged but not
yet answered survives a crash, and mail fetched twice is answered once.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from imap_tools import AND, BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted

from config.settings import EmailSettings, Secret

# Mail read in one poll; the rest waits for the next one, so one flood cannot stall the channel.
FETCH_LIMIT = 50
IMAP_TIMEOUT_SECONDS = 60.0

TokenSource = Callable[[], Awaitable[str]]


@dataclass(frozen=True)
class RawEmail:
    key: str  # the source's own id (an IMAP UID, a Graph message id), for `acknowledge`
    data: bytes  # the whole message (RFC 5322)


class MailboxSource(Protocol):
    def describe(self) -> str: ...

    async def fetch(self) -> list[RawEmail]:
        """New mail not yet acknowledged, oldest first."""
        ...

    async def acknowledge(self, keys: list[str]) -> None:
        """Mark these messages read: they are recorded and will not be fetched again."""
        ...


class ImapSource:
    """Polls one IMAP folder for unseen mail; imap-tools (blocking) runs in a worker thread.

    A connection per poll: a long-lived one would need keep-alives and reconnection logic, and a
    poll a minute costs little.
    """

    def __init__(
        self,
        settings: EmailSettings,
        password: Secret,
        token: TokenSource | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self._password = password
        self._token = token
        self._ssl_context = ssl_context

    def describe(self) -> str:
        s = self.settings
        return f"IMAP {s.imap_host}:{s.imap_port} ({s.imap_security}, {s.imap_login} login)"

    async def fetch(self) -> list[RawEmail]:
        token = await self._token() if self._token and self.settings.imap_login == "xoauth2" else ""
        return await asyncio.to_thread(self._fetch, token)

    async def acknowledge(self, keys: list[str]) -> None:
        if keys:
            token = (
                await self._token() if self._token and self.settings.imap_login == "xoauth2" else ""
            )
            await asyncio.to_thread(self._acknowledge, token, keys)

    def _connect(self, token: str) -> BaseMailBox:
        s = self.settings
        mailbox: BaseMailBox
        if s.imap_security == "tls":
            mailbox = MailBox(
                s.imap_host, s.imap_port, IMAP_TIMEOUT_SECONDS, ssl_context=self._ssl_context
            )
        elif s.imap_security == "starttls":
            mailbox = MailBoxStartTls(
                s.imap_host, s.imap_port, IMAP_TIMEOUT_SECONDS, ssl_context=self._ssl_context
            )
        else:
            mailbox = MailBoxUnencrypted(s.imap_host, s.imap_port, IMAP_TIMEOUT_SECONDS)
        if s.imap_login == "xoauth2":
            return mailbox.xoauth2(s.imap_username, token, s.imap_folder)
        return mailbox.login(s.imap_username, self._password.reveal(), s.imap_folder)

    def _fetch(self, token: str) -> list[RawEmail]:
        with self._connect(token) as mailbox:
            return [
                RawEmail(message.uid or "", message.obj.as_bytes())
                for message in mailbox.fetch(
                    AND(seen=False), mark_seen=False, limit=FETCH_LIMIT, bulk=True
                )
                if message.uid
            ]

    def _acknowledge(self, token: str, keys: list[str]) -> None:
        with self._connect(token) as mailbox:
            mailbox.flag(keys, "\\Seen", True)
