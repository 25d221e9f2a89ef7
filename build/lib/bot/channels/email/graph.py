"""Microsoft Graph: read one shared mailbox's Inbox by delta query, with app-only credentials.

For Microsoft 365 tenants where IMAP is switched off. No public URL is needed (no webhooks):
each poll asks Graph for what changed since the last one (the deltaLink), takes the unread
messages, downloads each as MIME ($value) for the same parser as IMAP, and marks them read once
the channel has recorded them.

A deltaLink can expire or be refused: Graph answers 410 Gone, and the client must start a full
sync again. That sync returns every unread message of the Inbox again; the inbox table (each
Message-ID once) makes that harmless.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import httpx

from bot.channels.email.sources import FETCH_LIMIT, RawEmail, TokenSource
from config.settings import EmailSettings

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 30.0
MAX_PAGES = 100  # one poll never follows nextLinks forever


class GraphError(Exception):
    """Graph refused a request; the message holds the status code only."""


class GraphSource:
    def __init__(self, settings: EmailSettings, token: TokenSource) -> None:
        self.settings = settings
        self._token = token
        self.delta_link: str | None = None  # in memory: after a restart, one full sync

    def describe(self) -> str:
        return f"Microsoft Graph delta of {self.settings.graph_mailbox}"

    @property
    def _mailbox_url(self) -> str:
        base = self.settings.graph_base_url.rstrip("/")
        return f"{base}/users/{quote(self.settings.graph_mailbox, safe='@.')}"

    def _initial_url(self) -> str:
        return f"{self._mailbox_url}/mailFolders/inbox/messages/delta?$select=isRead"

    async def _client(self) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {await self._token()}"}
        return httpx.AsyncClient(headers=headers, timeout=TIMEOUT_SECONDS)

    async def fetch(self) -> list[RawEmail]:
        async with await self._client() as client:
            unread, delta_link = await self._changes(client)
            fetched = []
            for message_id in unread[:FETCH_LIMIT]:
                response = await client.get(f"{self._mailbox_url}/messages/{message_id}/$value")
                if response.status_code == 404:  # deleted since the delta was taken
                    continue
                _check(response)
                fetched.append(RawEmail(message_id, response.content))
        # Moved on only when every message of this round is in hand: a failure above means
        # the same round is asked for again at the next poll. Beyond FETCH_LIMIT, the next
        # poll starts again from the same delta and takes the rest.
        if len(unread) <= FETCH_LIMIT:
            self.delta_link = delta_link
        return fetched

    async def _changes(self, client: httpx.AsyncClient) -> tuple[list[str], str | None]:
        """The unread messages among the changes, and the deltaLink for next time."""
        url = self.delta_link or self._initial_url()
        unread: dict[str, None] = {}
        resynced = False
        for _ in range(MAX_PAGES):
            response = await client.get(url)
            if response.status_code == 410 and not resynced:
                log.warning("Graph delta expired (410): full sync of the mailbox")
                self.delta_link, url, unread, resynced = None, self._initial_url(), {}, True
                continue
            _check(response)
            page = response.json()
            for item in page.get("value", []):
                if "@removed" in item:
                    unread.pop(item.get("id", ""), None)
                elif item.get("isRead") is False and item.get("id"):
                    unread[item["id"]] = None
                elif item.get("id"):
                    unread.pop(item["id"], None)
            if "@odata.nextLink" in page:
                url = page["@odata.nextLink"]
                continue
            return list(unread), page.get("@odata.deltaLink")
        raise GraphError("too many delta pages in one poll")

    async def acknowledge(self, keys: list[str]) -> None:
        if not keys:
            return
        async with await self._client() as client:
            for message_id in keys:
                response = await client.patch(
                    f"{self._mailbox_url}/messages/{message_id}", json={"isRead": True}
                )
                if response.status_code != 404:
                    _check(response)


def _check(response: httpx.Response) -> None:
    # Graph's error body can quote addresses or subjects: only the status goes into the error.
    if response.status_code >= 400:
        raise GraphError(f"Graph answered {response.status_code}")
