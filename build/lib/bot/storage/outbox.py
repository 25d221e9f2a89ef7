"""The email outbox: queue, claim (one worker per row), deliver, retry, fail."""

from __future__ import annotations

import json
import time

from bot.mail.message import OutgoingEmail
from bot.storage.audit import AuditStore
from bot.storage.base import Store, json_overwrite
from bot.storage.records import OUTBOX_COLUMNS, OutboxItem, outbox_item
from bot.storage.scoped import PartnershipDb


class OutboxStore(Store):
    def __init__(self, db: PartnershipDb, audit: AuditStore) -> None:
        super().__init__(db)
        self.audit = audit

    async def insert_email(
        self, email: OutgoingEmail, chat: str | None, kind: str, reference: str | None, now: float
    ) -> int:
        rows = await self.db.write_returning(
            "INSERT INTO outbox (partnership, kind, chat, reference, message_id, email,"
            " created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                self.partnership,
                kind,
                chat,
                reference,
                email.message_id,
                json.dumps(email.to_json()),
                now,
                now,
            ),
        )
        return int(rows[0]["id"])

    async def enqueue_email(
        self, email: OutgoingEmail, chat: str | None = None, kind: str = "other"
    ) -> int:
        """Queue an email for the outbox worker; returns its outbox id.

        Idempotent on the Message-ID (which must be unique): queueing the same email twice
        returns the first one's id.
        """
        async with self.db.transaction():
            # Two instances queueing the same email: the second waits, then finds the first's.
            await self.db.serialize(f"outbox:{email.message_id}")
            row = await self.db.fetchone(
                "SELECT id FROM outbox WHERE partnership = ? AND message_id = ?",
                (self.partnership, email.message_id),
            )
            if row is not None:
                return int(row["id"])
            return await self.insert_email(email, chat, kind, None, time.time())

    async def claim_next_email(
        self, now: float, lease: float, due_by: float | None = None
    ) -> OutboxItem | None:
        """Claim the next email due for sending, or None.

        Due: queued or retrying with its time come by `due_by` (default `now`), or claimed more
        than `lease` seconds ago by a worker that never finished (it crashed). The claim is one
        statement, so two workers can never claim the same row; with PostgreSQL it skips rows
        another instance is claiming at that moment instead of waiting for them.
        """
        rows = await self.db.write_returning(
            "UPDATE outbox SET status = 'sending', claimed_at = ?, attempts = attempts + 1"
            " WHERE partnership = ? AND id = (SELECT id FROM outbox WHERE partnership = ?"
            "  AND ((status IN ('queued', 'retrying') AND next_attempt_at <= ?)"
            "  OR (status = 'sending' AND claimed_at <= ?))"
            f"  ORDER BY next_attempt_at, id LIMIT 1{self.db.skip_locked})"
            f" RETURNING {OUTBOX_COLUMNS}",
            (
                now,
                self.partnership,
                self.partnership,
                now if due_by is None else due_by,
                now - lease,
            ),
        )
        return outbox_item(rows[0]) if rows else None

    async def mark_email_sent(self, outbox_id: int, now: float) -> None:
        async with self.db.transaction():
            # A sign-in email's body holds the code, which is kept only as a hash: blank it.
            await self.db.execute(
                "UPDATE outbox SET status = 'sent', sent_at = ?, claimed_at = NULL,"
                " last_error = NULL, email = CASE kind WHEN 'signin' THEN"
                f" {json_overwrite(self.db, 'email', {'text': ''})} ELSE email END"
                " WHERE partnership = ? AND id = ?",
                (now, self.partnership, outbox_id),
            )
            await self.audit.delivery(outbox_id, "delivered", now)

    async def mark_email_retry(self, outbox_id: int, next_attempt_at: float, error: str) -> None:
        """Record a transient failure (error type and code only) and when to try again."""
        await self.db.execute(
            "UPDATE outbox SET status = 'retrying', next_attempt_at = ?, claimed_at = NULL,"
            " last_error = ? WHERE partnership = ? AND id = ? AND status = 'sending'",
            (next_attempt_at, error, self.partnership, outbox_id),
        )

    async def mark_email_failed(self, outbox_id: int, error: str, now: float) -> None:
        """Record a permanent failure: not retried until someone queues it again, and counted
        as reported."""
        async with self.db.transaction():
            await self.db.execute(
                "UPDATE outbox SET status = 'failed', claimed_at = NULL, last_error = ?,"
                " failure_reported_at = COALESCE(failure_reported_at, ?)"
                " WHERE partnership = ? AND id = ?",
                (error, now, self.partnership, outbox_id),
            )
            await self.audit.delivery(outbox_id, "delivery_failed", now)

    async def failed_emails(self, limit: int = 50) -> list[OutboxItem]:
        """Emails refused for good, newest first (the admins' /outbox list)."""
        rows = await self.db.fetch(
            f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE partnership = ? AND status = 'failed'"
            " ORDER BY id DESC LIMIT ?",
            (self.partnership, limit),
        )
        return [outbox_item(row) for row in rows]

    async def requeue_failed_email(self, reference: str, now: float, who: str | None) -> bool:
        """Queue a refused email again, found by its reference (a notification's, or an email's
        human reference such as CODE-2026-0003). False if no refused email has it."""
        async with self.db.transaction():
            rows = await self.db.fetch(
                f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE partnership = ?"
                " AND status = 'failed' ORDER BY id",
                (self.partnership,),
            )
            wanted = reference.strip().upper()
            item = next(
                (i for i in map(outbox_item, rows) if i.human_reference.upper() == wanted), None
            )
            if item is None:
                return False
            # failure_reported_at is cleared so that a new failure is reported again; the
            # attempt count starts again so the backoff does too.
            await self.db.execute(
                "UPDATE outbox SET status = 'queued', next_attempt_at = ?, attempts = 0,"
                " failure_reported_at = NULL"
                " WHERE partnership = ? AND id = ? AND status = 'failed'",
                (now, self.partnership, item.id),
            )
            await self.audit.audit(
                "requeued", item.chat, who=who or "console", reference=item.human_reference, at=now
            )
        return True

    async def overdue_emails(self, created_before: float) -> list[OutboxItem]:
        """Undelivered emails queued before `created_before` whose failure is not yet reported."""
        rows = await self.db.fetch(
            f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE partnership = ?"
            " AND status IN ('queued', 'sending', 'retrying')"
            " AND failure_reported_at IS NULL AND created_at <= ? ORDER BY id",
            (self.partnership, created_before),
        )
        return [outbox_item(row) for row in rows]

    async def mark_failure_reported(self, outbox_id: int, now: float) -> None:
        await self.db.execute(
            "UPDATE outbox SET failure_reported_at = ? WHERE partnership = ? AND id = ?",
            (now, self.partnership, outbox_id),
        )

    async def outbox_deadlines(self) -> tuple[float | None, float | None, float | None]:
        """(earliest retry time, oldest claim, oldest unreported undelivered email's creation)."""
        p = self.partnership
        row = await self.db.fetchone(
            "SELECT"
            " (SELECT MIN(next_attempt_at) FROM outbox WHERE partnership = ?"
            "  AND status IN ('queued', 'retrying')),"
            " (SELECT MIN(claimed_at) FROM outbox WHERE partnership = ? AND status = 'sending'),"
            " (SELECT MIN(created_at) FROM outbox WHERE partnership = ?"
            "  AND status IN ('queued', 'sending', 'retrying') AND failure_reported_at IS NULL)",
            (p, p, p),
        )
        return (row[0], row[1], row[2]) if row else (None, None, None)

    async def outbox_has(self, message_id: str) -> bool:
        rows = await self.db.fetch(
            "SELECT 1 FROM outbox WHERE partnership = ? AND message_id = ?",
            (self.partnership, message_id),
        )
        return bool(rows)

    async def outbox_backlog(self) -> tuple[int, float | None]:
        """(emails not yet delivered nor failed, the creation time of the oldest of them)."""
        row = await self.db.fetchone(
            "SELECT COUNT(*), MIN(created_at) FROM outbox"
            " WHERE partnership = ? AND status IN ('queued', 'sending', 'retrying')",
            (self.partnership,),
        )
        return (int(row[0]), row[1]) if row else (0, None)
