"""Significant incident notifications: stored with their email in one transaction."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from bot.mail.message import OutgoingEmail
from bot.storage.audit import AuditStore
from bot.storage.base import Store
from bot.storage.outbox import OutboxStore
from bot.storage.records import NotificationStatus, notification_status
from bot.storage.scoped import PartnershipDb


class NotificationStore(Store):
    def __init__(self, db: PartnershipDb, outbox: OutboxStore, audit: AuditStore) -> None:
        super().__init__(db)
        self.outbox = outbox
        self.audit = audit

    async def submit_notification(
        self,
        chat: str,
        draft_key: str,
        agency: str,
        answers: dict[str, Any],
        make_email: Callable[[str], OutgoingEmail],
    ) -> tuple[str, bool]:
        """Store a notification and queue its email in one transaction: (reference, created).

        The reference is the next SIN-<year>-<NNNN> of the current year, chosen under the write
        lock and returned only once the transaction that stores it has committed: a reference
        (or the Message-ID `make_email` gives it) is never handed out twice. Idempotent on
        `draft_key`: if that draft was already submitted (a double tap, a retry after a
        timeout), its reference is returned with False and nothing new is stored or queued.
        Raises TransactionFailed (nothing stored) when the database cannot save it.
        """
        now = time.time()
        year = time.localtime(now).tm_year
        async with self.db.transaction():
            # SQLite's write lock already keeps other writers out; PostgreSQL needs this lock
            # so that two instances cannot both read the same highest number.
            await self.db.serialize("notifications")
            reference = await self._notification_reference(draft_key)
            if reference is not None:
                return reference, False
            number = await self._next_notification_number(year)
            reference = f"SIN-{year}-{number:04d}"
            # Pure (builds text): if it raises, the transaction rolls back and nothing is kept.
            email = make_email(reference)
            outbox_id = await self.outbox.insert_email(email, chat, "notification", reference, now)
            await self.db.execute(
                "INSERT INTO notifications (partnership, reference, year, number, draft_key,"
                " chat, agency, answers, created_at, outbox_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self.partnership,
                    reference,
                    year,
                    number,
                    draft_key,
                    chat,
                    agency,
                    json.dumps(answers),
                    now,
                    outbox_id,
                ),
            )
            await self.audit.audit("submitted", chat, reference=reference, at=now)
        return reference, True

    async def _notification_reference(self, draft_key: str) -> str | None:
        row = await self.db.fetchone(
            "SELECT reference FROM notifications WHERE partnership = ? AND draft_key = ?",
            (self.partnership, draft_key),
        )
        return str(row["reference"]) if row else None

    async def _next_notification_number(self, year: int) -> int:
        row = await self.db.fetchone(
            "SELECT COALESCE(MAX(number), 0) + 1 FROM notifications"
            " WHERE partnership = ? AND year = ?",
            (self.partnership, year),
        )
        return int(row[0]) if row else 1

    async def notifications_for(self, chat: str) -> list[NotificationStatus]:
        """The chat's notifications, newest first, with the state of their email."""
        rows = await self.db.fetch(
            "SELECT n.reference, n.agency, n.created_at, o.status, o.attempts, o.sent_at,"
            " o.last_error FROM notifications n JOIN outbox o ON o.partnership = n.partnership"
            " AND o.id = n.outbox_id WHERE n.partnership = ? AND n.chat = ?"
            " ORDER BY n.created_at DESC, n.id DESC",
            (self.partnership, chat),
        )
        return [notification_status(r) for r in rows]
