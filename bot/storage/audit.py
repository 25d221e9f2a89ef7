"""The audit trail: who did what, when; never form content."""

from __future__ import annotations

import time

from bot.storage.base import Store
from bot.storage.records import AuditEvent


class AuditStore(Store):
    async def audit(
        self,
        event: str,
        chat: str | None = None,
        who: str | None = None,
        reference: str | None = None,
        at: float | None = None,
    ) -> None:
        """Record an event. Without `who`, the address the chat is signed in with is used."""
        await self.db.execute(
            "INSERT INTO audit (at, event, chat, who, reference) VALUES"
            " (?, ?, ?, COALESCE(?, (SELECT email FROM slo_links WHERE chat = ?)), ?)",
            (time.time() if at is None else at, event, chat, who, chat, reference),
        )

    async def count_audit(self, chat: str, events: tuple[str, ...], since: float) -> int:
        """How many of `events` the chat had since `since` (rate limits)."""
        marks = ", ".join("?" * len(events))
        row = await self.db.fetchone(
            f"SELECT COUNT(*) FROM audit WHERE chat = ? AND at >= ? AND event IN ({marks})",
            (chat, since, *events),
        )
        return int(row[0]) if row else 0

    async def delivery(self, outbox_id: int, event: str, now: float) -> None:
        """Audit what became of a notification's email; `who` is whoever submitted it."""
        await self.db.execute(
            "INSERT INTO audit (at, event, chat, who, reference)"
            " SELECT CAST(? AS DOUBLE PRECISION), CAST(? AS TEXT), o.chat,"
            " (SELECT a.who FROM audit a WHERE a.event = 'submitted'"
            "  AND a.reference = o.reference ORDER BY a.id LIMIT 1), o.reference"
            " FROM outbox o WHERE o.id = ? AND o.kind = 'notification'",
            (now, event, outbox_id),
        )

    async def audit_events(self, limit: int = 100) -> list[AuditEvent]:
        """The latest events, newest first."""
        rows = await self.db.fetch(
            "SELECT at, event, chat, who, reference FROM audit ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [AuditEvent(r["at"], r["event"], r["chat"], r["who"], r["reference"]) for r in rows]
