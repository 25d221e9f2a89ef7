"""The web chat: what each conversation shows, numbered in order, and what browsers sent.

A conversation's messages are numbered by its row in web_conversations, whose `last_seq` only
grows (an open page that has shown up to 12 asks for what comes after 12, and that stays true
whatever was deleted meanwhile). A browser's message is written to web_inbound before the
browser is told it arrived; the pair (conversation, client id) is unique, so a send retried
after a lost acknowledgement is recognised and handled once. Its text is blanked once handled.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from bot.storage.base import Store
from bot.storage.records import WebInbound, WebMessage

# A conversation's row (its numbering) is kept this long after its last message, so a page left
# open over a weekend still asks for the right numbers; its messages go much sooner.
CONVERSATION_DAYS = 30.0


class WebStore(Store):
    async def receive(
        self, chat: str, client_id: str, text: str, label: str | None, pressed: bool, now: float
    ) -> bool:
        """Record a browser's message as pending (committed when this returns); False if the
        conversation already sent one with this client id."""
        # RETURNING reads the outcome with the statement (one call to the database's thread,
        # where execute() and its rowcount take two): a message is stored on every send.
        stored = await self.db.write_returning(
            "INSERT INTO web_inbound"
            " (partnership, chat, client_id, text, label, pressed, received_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
            (self.partnership, chat, client_id, text, label, int(pressed), now),
        )
        return len(stored) == 1

    async def pending(self) -> list[WebInbound]:
        """Every message received but not yet handled (a crash between the two), oldest first."""
        rows = await self.db.fetch(
            "SELECT chat, client_id, text, label, pressed FROM web_inbound"
            " WHERE partnership = ? AND status = 'pending' ORDER BY id",
            (self.partnership,),
        )
        return [
            WebInbound(r["chat"], r["client_id"], r["text"], r["label"], bool(r["pressed"]))
            for r in rows
        ]

    async def is_pending(self, chat: str, client_id: str) -> bool:
        row = await self.db.fetch_point(
            "SELECT status FROM web_inbound WHERE partnership = ? AND chat = ? AND client_id = ?",
            (self.partnership, chat, client_id),
        )
        return row is not None and row["status"] == "pending"

    async def finish(self, chat: str, client_id: str) -> None:
        """Mark a message handled and forget what it said (its key stays, against a retry)."""
        await self.db.write_returning(
            "UPDATE web_inbound SET status = 'done', text = '', label = NULL"
            " WHERE partnership = ? AND chat = ? AND client_id = ? RETURNING id",
            (self.partnership, chat, client_id),
        )

    async def append(
        self, chat: str, rows: Sequence[tuple[str, dict[str, object], bool]], now: float
    ) -> list[WebMessage]:
        """Add (role, body, private) rows after the conversation's last, in one transaction
        (or in the caller's). The row lock on the conversation numbers concurrent appends
        one after the other, on PostgreSQL as on SQLite."""
        if not rows:
            return []
        async with self.db.transaction():
            counted = await self.db.write_returning(
                "INSERT INTO web_conversations (partnership, chat, last_seq, active_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT(partnership, chat) DO UPDATE SET"
                " last_seq = web_conversations.last_seq + excluded.last_seq,"
                " active_at = excluded.active_at"
                " RETURNING last_seq",
                (self.partnership, chat, len(rows), now),
            )
            first = int(counted[0]["last_seq"]) - len(rows) + 1
            messages = [
                WebMessage(first + i, role, body, private)
                for i, (role, body, private) in enumerate(rows)
            ]
            await self.db.executemany(
                "INSERT INTO web_messages (partnership, chat, seq, role, body, private, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (self.partnership, chat, m.seq, m.role, json.dumps(m.body), int(m.private), now)
                    for m in messages
                ],
            )
        return messages

    async def forget_private(self, chat: str) -> int:
        """Delete the conversation's private messages (a form's questions and answers)."""
        return await self.db.execute(
            "DELETE FROM web_messages WHERE partnership = ? AND chat = ? AND private = 1",
            (self.partnership, chat),
        )

    async def messages(self, chat: str, after: int, limit: int) -> list[WebMessage]:
        """The conversation's messages numbered after `after`, oldest first, at most `limit`."""
        rows = await self.db.fetch(
            "SELECT seq, role, body, private FROM web_messages"
            " WHERE partnership = ? AND chat = ? AND seq > ? ORDER BY seq LIMIT ?",
            (self.partnership, chat, after, limit),
        )
        return [
            WebMessage(int(r["seq"]), r["role"], json.loads(r["body"]), bool(r["private"]))
            for r in rows
        ]

    async def last_seq(self, chat: str) -> int:
        """The number of the conversation's last message (0 before its first)."""
        row = await self.db.fetch_point(
            "SELECT last_seq FROM web_conversations WHERE partnership = ? AND chat = ?",
            (self.partnership, chat),
        )
        return int(row["last_seq"]) if row else 0

    async def delete_idle(self, messages_before: float, conversations_before: float) -> int:
        """Retention: the messages of conversations idle since `messages_before`, handled
        inbound keys from before it, and conversations idle since `conversations_before`.
        Returns how many messages went."""
        async with self.db.transaction():
            deleted = await self.db.execute(
                "DELETE FROM web_messages WHERE partnership = ? AND chat IN"
                " (SELECT chat FROM web_conversations WHERE partnership = ? AND active_at < ?)",
                (self.partnership, self.partnership, messages_before),
            )
            await self.db.execute(
                "DELETE FROM web_inbound"
                " WHERE partnership = ? AND status != 'pending' AND received_at < ?",
                (self.partnership, messages_before),
            )
            await self.db.execute(
                "DELETE FROM web_conversations WHERE partnership = ? AND active_at < ?",
                (self.partnership, conversations_before),
            )
        return deleted
