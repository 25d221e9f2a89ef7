"""Incoming chat messages, kept from the moment a channel receives them until they are answered.

The rule, the same for every chat channel (Telegram now; the web chat and Teams when they come):
a message is written here before the channel acknowledges it (the webhook's 200, the polling
offset), its handling marks it handled in the transaction of the conversation's own changes
(bot/core/conversation.py), and its replies are kept until they are sent. A process that dies
at any point leaves a row another pass takes up again (bot/channels/intake.py):

    pending  ──the conversation's turn commits──>  handled  ──replies sent──>  answered

Each message is keyed by its channel and the channel's own id for it, so one received twice is
stored once. What a person wrote (`payload`) is erased when it is handled, and the replies when
they are sent; the bare row stays a day (as long as Telegram keeps an update) to recognise a
repeat, then goes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot.storage.base import Store
from bot.storage.records import INCOMING_COLUMNS, Arrival, Received, received

# How many stale rows one pass takes; the next pass takes the rest.
TAKE_LIMIT = 500


class IncomingStore(Store):
    async def receive(
        self, channel: str, arrivals: Sequence[Arrival], owner: str, now: float
    ) -> list[Received]:
        """Store each arrival not stored before, all in one transaction (committed when this
        returns: only then may the channel acknowledge them); returns the new ones."""
        returned = await self.db.write_each_returning(
            "INSERT INTO incoming (partnership, channel, message_key, chat, payload, owner,"
            " claimed_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (partnership, channel, message_key) DO NOTHING RETURNING id",
            [
                (self.partnership, channel, a.key, a.chat, json.dumps(a.payload), owner, now, now)
                for a in arrivals
            ],
        )
        new = [
            Received(
                int(rows[0]["id"]),
                channel,
                a.key,
                a.chat,
                "pending",
                a.payload,
                None,
                0,
                a.original,
            )
            for a, rows in zip(arrivals, returned, strict=True)
            if rows
        ]
        return new

    async def handled(self, channel: str, key: str, replies: dict[str, Any], now: float) -> bool:
        """Mark a pending message handled, with what to send (call it inside the transaction of
        the turn's own changes). Its text goes; with nothing to send it is answered at once.
        False when it was not pending (handled before: the caller undoes its turn)."""
        status = "handled" if replies.get("replies") else "answered"
        changed = await self.db.execute(
            "UPDATE incoming SET status = ?, payload = NULL, replies = ?, claimed_at = ?,"
            " done_at = ? WHERE partnership = ? AND channel = ? AND message_key = ?"
            " AND status = 'pending'",
            (
                status,
                json.dumps(replies) if status == "handled" else None,
                now,
                now,
                self.partnership,
                channel,
                key,
            ),
        )
        return changed == 1

    async def answered(self, channel: str, key: str) -> None:
        """The replies have been sent (or given up on): forget them."""
        await self.db.execute(
            "UPDATE incoming SET status = 'answered', replies = NULL"
            " WHERE partnership = ? AND channel = ? AND message_key = ? AND status = 'handled'",
            (self.partnership, channel, key),
        )

    async def settle(self, channel: str, key: str, now: float) -> None:
        """A message that needs no turn of the conversation (an inline query, a photo): done."""
        await self.db.execute(
            "UPDATE incoming SET status = 'answered', payload = NULL, done_at = ?"
            " WHERE partnership = ? AND channel = ? AND message_key = ? AND status = 'pending'",
            (now, self.partnership, channel, key),
        )

    async def earlier_pending(self, channel: str, chat: str, before: int) -> list[Received]:
        """The chat's messages received before row `before` and not yet handled, oldest first:
        they must be handled first (left by a process that died, or still on their way)."""
        rows = await self.db.fetch(
            f"SELECT {INCOMING_COLUMNS} FROM incoming WHERE partnership = ? AND channel = ?"
            " AND chat = ? AND status = 'pending' AND id < ? ORDER BY id",
            (self.partnership, channel, chat, before),
        )
        return [received(row) for row in rows]

    async def take(
        self, channel: str, status: str, claimed_before: float, owner: str, now: float
    ) -> list[Received]:
        """Claim the rows in `status` held since before `claimed_before` (their process died,
        or is that slow), oldest first: pending ones to handle, handled ones to answer."""
        rows = await self.db.write_returning(
            "UPDATE incoming SET owner = ?, claimed_at = ?, attempts = attempts + 1"
            " WHERE partnership = ? AND id IN (SELECT id FROM incoming WHERE partnership = ?"
            " AND channel = ? AND status = ? AND claimed_at <= ?"
            f" ORDER BY id LIMIT {TAKE_LIMIT}{self.db.skip_locked})"
            f" RETURNING {INCOMING_COLUMNS}",
            (owner, now, self.partnership, self.partnership, channel, status, claimed_before),
        )
        return sorted((received(row) for row in rows), key=lambda r: r.id)

    async def forget(self, received_before: float) -> int:
        """Delete answered rows received before `received_before`; returns how many."""
        return await self.db.execute(
            "DELETE FROM incoming WHERE partnership = ? AND status = 'answered'"
            " AND received_at < ?",
            (self.partnership, received_before),
        )

    async def counts(self, channel: str) -> dict[str, int]:
        """How many rows of `channel` are in each status (tests, the campaign)."""
        rows = await self.db.fetch(
            "SELECT status, COUNT(*) AS n FROM incoming WHERE partnership = ? AND channel = ?"
            " GROUP BY status",
            (self.partnership, channel),
        )
        return {str(row["status"]): int(row["n"]) for row in rows}
