"""The email channel's inbox (each Message-ID once) and the choices offered by email."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.storage.base import Store

# What became of an email not answered (over the hourly limit, or it could not be processed):
# its subject and question are kept for staff (/unanswered) for as long as the inbox keeps it.
LEFT_UNANSWERED = ("limited", "limit_notice", "failed")


class InboxStore(Store):
    async def receive_email(self, message_id: str, sender: str, mail: dict[str, Any]) -> bool:
        """Record an inbound email as pending; False if its Message-ID was seen before."""
        changed = await self.db.execute(
            "INSERT INTO inbox (partnership, message_id, sender, mail, received_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (self.partnership, message_id, sender, json.dumps(mail), time.time()),
        )
        return changed == 1

    @asynccontextmanager
    async def take_email(self, message_id: str) -> AsyncIterator[bool]:
        """Hold an inbound email against every other instance while it is dealt with; yields
        whether it is still pending (another instance may have answered it meanwhile). A
        process that dies lets go (PostgreSQL ends its session), and the email stays pending."""
        async with self.db.chat_lock(f"inbox:{message_id}"):
            row = await self.db.fetchone(
                "SELECT status FROM inbox WHERE partnership = ? AND message_id = ?",
                (self.partnership, message_id),
            )
            yield row is not None and row["status"] == "pending"

    async def pending_emails(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(Message-ID, sender, parsed email) of every email received but not yet dealt with."""
        rows = await self.db.fetch(
            "SELECT message_id, sender, mail FROM inbox WHERE partnership = ?"
            " AND status = 'pending' ORDER BY id",
            (self.partnership,),
        )
        return [(r["message_id"], r["sender"], json.loads(r["mail"])) for r in rows]

    async def finish_email(
        self, message_id: str, status: str, keep: dict[str, Any] | None = None
    ) -> None:
        """Mark an inbound email dealt with (`status`) and forget its content, all but `keep`
        (what staff must see of an email left unanswered)."""
        await self.db.execute(
            "UPDATE inbox SET status = ?, mail = ?, done_at = ?"
            " WHERE partnership = ? AND message_id = ?",
            (status, json.dumps(keep or {}), time.time(), self.partnership, message_id),
        )

    async def received_times(self, sender: str, status: str, since: float) -> list[float]:
        """When the emails from `sender` that ended as `status` since `since` arrived, oldest
        first (when the hourly limit lets the sender be answered again)."""
        rows = await self.db.fetch(
            "SELECT received_at FROM inbox WHERE partnership = ? AND sender = ? AND status = ?"
            " AND received_at >= ? ORDER BY received_at",
            (self.partnership, sender, status, since),
        )
        return [float(row["received_at"]) for row in rows]

    async def unanswered_emails(self, limit: int = 50) -> list[tuple[str, float, dict[str, Any]]]:
        """(sender, received, what was kept) of the emails left unanswered (LEFT_UNANSWERED),
        newest first: staff see them in /unanswered."""
        marks = ", ".join("?" for _ in LEFT_UNANSWERED)
        rows = await self.db.fetch(
            f"SELECT sender, received_at, mail FROM inbox WHERE partnership = ?"
            f" AND status IN ({marks}) ORDER BY received_at DESC LIMIT ?",
            (self.partnership, *LEFT_UNANSWERED, limit),
        )
        return [(r["sender"], float(r["received_at"]), json.loads(r["mail"])) for r in rows]

    async def count_inbox(self, sender: str, status: str, since: float) -> int:
        """How many emails from `sender` ended as `status` since `since` (rate limits)."""
        rows = await self.db.fetch(
            "SELECT COUNT(*) FROM inbox WHERE partnership = ? AND sender = ? AND status = ?"
            " AND received_at >= ?",
            (self.partnership, sender, status, since),
        )
        return int(rows[0][0]) if rows else 0

    async def delete_inbox(self, received_before: float) -> int:
        changed = await self.db.execute(
            "DELETE FROM inbox WHERE partnership = ? AND status != 'pending' AND received_at < ?",
            (self.partnership, received_before),
        )
        return changed

    async def save_email_choices(
        self, chat: str, buttons: list[list[str]], by_number: bool
    ) -> None:
        await self.db.execute(
            "INSERT INTO email_choices (partnership, chat, buttons, by_number) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(partnership, chat) DO UPDATE SET buttons = excluded.buttons,"
            " by_number = excluded.by_number",
            (self.partnership, chat, json.dumps(buttons), int(by_number)),
        )

    async def email_choices(self, chat: str) -> tuple[list[list[str]], bool]:
        """The [label, data] pairs last offered to `chat`, and whether a number picks one."""
        rows = await self.db.fetch(
            "SELECT buttons, by_number FROM email_choices WHERE partnership = ? AND chat = ?",
            (self.partnership, chat),
        )
        row = rows[0] if rows else None
        return (json.loads(row["buttons"]), bool(row["by_number"])) if row else ([], True)
