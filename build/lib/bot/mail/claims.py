"""Which outbox rows this process has claimed, so a shutdown can hand them back at once.

The outbox worker claims a row (status "sending") before it sends. If the process stops in
the middle, the claim would block that email until its lease runs out (minutes). On SIGTERM,
`serve` waits a little for the send in progress, stops the worker, and releases what is still
claimed: the row becomes due again now, for the next start or another instance.

It wraps the outbox store the worker uses, forwarding everything and noting claims as they are
made and finished; the rest of the assistant keeps the plain store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from bot.mail.outbox import Outbox
    from bot.storage import OutboxItem
    from bot.storage.outbox import OutboxStore

log = logging.getLogger(__name__)

RELEASED = "released at shutdown"


class ClaimLedger:
    def __init__(self, rows: OutboxStore) -> None:
        self.rows = rows
        self.claimed: set[int] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.rows, name)

    async def claim_next_email(self, *args: Any, **kwargs: Any) -> OutboxItem | None:
        item = await self.rows.claim_next_email(*args, **kwargs)
        if item is not None:
            self.claimed.add(item.id)
        return item

    async def mark_email_sent(self, outbox_id: int, now: float) -> None:
        await self.rows.mark_email_sent(outbox_id, now)
        self.claimed.discard(outbox_id)

    async def mark_email_retry(self, outbox_id: int, next_attempt_at: float, error: str) -> None:
        await self.rows.mark_email_retry(outbox_id, next_attempt_at, error)
        self.claimed.discard(outbox_id)

    async def mark_email_failed(self, outbox_id: int, error: str, now: float) -> None:
        await self.rows.mark_email_failed(outbox_id, error, now)
        self.claimed.discard(outbox_id)

    async def release(self) -> int:
        """Make every row still claimed by this process due again now; returns how many."""
        released = 0
        for outbox_id in sorted(self.claimed):
            # Only rows still "sending" change, so a row another worker finished stays as it is.
            await self.rows.mark_email_retry(outbox_id, time.time(), RELEASED)
            released += 1
        self.claimed.clear()
        return released


def track_claims(outbox: Outbox) -> ClaimLedger:
    """Put a ledger between the outbox worker and its storage (before the worker starts)."""
    ledger = ClaimLedger(outbox.rows)
    outbox.rows = cast("OutboxStore", ledger)
    return ledger


async def stop_outbox(outbox: Outbox, ledger: ClaimLedger, grace_seconds: float) -> int:
    """Let a send in progress finish (up to `grace_seconds`), stop the worker, release the rest."""
    deadline = time.monotonic() + grace_seconds
    while ledger.claimed and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await outbox.stop()
    released = await ledger.release()
    if released:
        log.info("released %d outbox claim(s) at shutdown", released)
    return released
