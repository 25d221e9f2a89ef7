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
        p = self.partnership
        await self.db.execute(
            "INSERT INTO audit (partnership, at, event, chat, who, reference) VALUES"
            " (?, ?, ?, ?, COALESCE(?, (SELECT email FROM slo_links"
            "  WHERE partnership = ? AND chat = ?)), ?)",
            (p, time.time() if at is None else at, event, chat, who, p, chat, reference),
        )

    async def count_audit(self, chat: str, events: tuple[str, ...], since: float) -> int:
        """How many of `events` the chat had since `since` (rate limits)."""
        marks = ", ".join("?" * len(events))
        row = await self.db.fetchone(
            "SELECT COUNT(*) FROM audit WHERE partnership = ? AND chat = ? AND at >= ?"
            f" AND event IN ({marks})",
            (self.partnership, chat, since, *events),
        )
        return int(row[0]) if row else 0

    async def delivery(self, outbox_id: int, event: str, now: float) -> None:
        """Audit what became of a notification's email; `who` is whoever submitted it."""
        p = self.partnership
        await self.db.execute(
            "INSERT INTO audit (partnership, at, event, chat, who, reference)"
            " SELECT o.partnership, CAST(? AS DOUBLE PRECISION), CAST(? AS TEXT), o.chat,"
            " (SELECT a.who FROM audit a WHERE a.partnership = ? AND a.event = 'submitted'"
            "  AND a.reference = o.reference ORDER BY a.id LIMIT 1), o.reference"
            " FROM outbox o WHERE o.partnership = ? AND o.id = ? AND o.kind = 'notification'",
            (now, event, p, p, outbox_id),
        )

    async def audit_events(self, limit: int = 100) -> list[AuditEvent]:
        """The latest events, newest first."""
        rows = await self.db.fetch(
            "SELECT at, event, chat, who, reference FROM audit WHERE partnership = ?"
            " ORDER BY id DESC LIMIT ?",
            (self.partnership, limit),
        )
        return [AuditEvent(r["at"], r["event"], r["chat"], r["who"], r["reference"]) for r in rows]
