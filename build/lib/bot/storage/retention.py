"""Retention: personal data deleted once it is no longer needed."""

from __future__ import annotations

from bot.storage.base import Store, json_overwrite

# What of a delivered notification's email is blanked: everything that could name a child.
BLANKED: dict[str, object] = {
    "text": "",
    "html": None,
    "cc": [],
    "reply_to": None,
    "attachments": [],
}


class RetentionStore(Store):
    async def forget_delivered_content(self, sent_before: float) -> int:
        """Delete the content of notifications delivered before `sent_before`; returns how many.

        Kept: the reference, agency, timestamps and delivery state (and the email's recipients,
        subject and Message-ID, which name no child). Gone: the answers, the email's body and
        the copy to the SLO.
        """
        async with self.db.transaction():
            p = self.partnership
            forgotten = await self.db.execute(
                "UPDATE notifications SET answers = '{}' WHERE partnership = ?"
                " AND answers != '{}' AND outbox_id IN (SELECT id FROM outbox"
                "  WHERE partnership = ? AND status = 'sent' AND sent_at < ?)",
                (p, p, sent_before),
            )
            await self.db.execute(
                f"UPDATE outbox SET email = {json_overwrite(self.db, 'email', BLANKED)}"
                " WHERE partnership = ? AND kind = 'notification' AND status = 'sent'"
                " AND sent_at < ?",
                (p, sent_before),
            )
        return forgotten

    async def delete_signin_emails(self, created_before: float) -> int:
        """Delete sign-in emails queued before `created_before` (their code has expired).

        One still being sent is left to finish; the next run takes it.
        """
        return await self.db.execute(
            "DELETE FROM outbox WHERE partnership = ? AND kind = 'signin'"
            " AND status != 'sending' AND created_at < ?",
            (self.partnership, created_before),
        )

    async def outbox_labels(self) -> set[str]:
        """The file labels (`OutboxItem.label`) of every email still on record."""
        rows = await self.db.fetch(
            "SELECT id, reference FROM outbox WHERE partnership = ?", (self.partnership,)
        )
        return {row["reference"] or f"mail-{row['id']}" for row in rows}

    async def delivered_labels(self, sent_before: float) -> set[str]:
        """Labels of emails whose content retention has removed (delivered before the time)."""
        rows = await self.db.fetch(
            "SELECT id, reference FROM outbox WHERE partnership = ? AND status = 'sent'"
            " AND sent_at < ?",
            (self.partnership, sent_before),
        )
        return {row["reference"] or f"mail-{row['id']}" for row in rows}
