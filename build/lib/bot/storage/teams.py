"""The Teams channel's conversation references: how to reach a Teams chat later, unasked.

A proactive message (a hand-off's answer, a notification's receipt) goes to a Teams chat
through the Bot Connector with the conversation's reference (its service URL, the
conversation's and the bot's ids), which only an incoming message gives. So each message's
reference is kept, per chat, and forgotten once the chat has been idle for `REFERENCE_DAYS`.
"""

from __future__ import annotations

import json
from typing import Any

from bot.storage.base import Store

# A chat unused this long is no longer reached proactively (a hand-off closes after 14 days
# and an outbox failure is reported within hours, so nothing waits longer than this).
REFERENCE_DAYS = 30.0


class TeamsStore(Store):
    async def remember(self, chat: str, reference: dict[str, Any], now: float) -> None:
        """Keep `chat`'s latest reference (written before its message is handled)."""
        await self.db.execute(
            "INSERT INTO teams_conversations (partnership, chat, reference, updated_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT(partnership, chat) DO UPDATE SET"
            " reference = excluded.reference, updated_at = excluded.updated_at",
            (self.partnership, chat, json.dumps(reference, separators=(",", ":")), now),
        )

    async def reference(self, chat: str) -> dict[str, Any] | None:
        row = await self.db.fetchone(
            "SELECT reference FROM teams_conversations WHERE partnership = ? AND chat = ?",
            (self.partnership, chat),
        )
        return json.loads(row["reference"]) if row is not None else None

    async def forget(self, idle_since: float) -> int:
        """Forget the references of chats idle since before `idle_since`; returns how many."""
        return await self.db.execute(
            "DELETE FROM teams_conversations WHERE partnership = ? AND updated_at < ?",
            (self.partnership, idle_since),
        )
