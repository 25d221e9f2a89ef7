"""Chat messages to delete after a submission (Telegram)."""

from __future__ import annotations

from bot.storage.base import Store


class PrivateMessageStore(Store):
    async def remember_private_messages(self, chat: str, refs: list[str], now: float) -> None:
        await self.db.executemany(
            "INSERT INTO private_messages (partnership, chat, message_ref, recorded_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(self.partnership, chat, ref, now) for ref in refs],
        )

    async def take_private_messages(self, chat: str) -> list[str]:
        """The chat's recorded message refs, forgotten as they are returned."""
        rows = await self.db.write_returning(
            "DELETE FROM private_messages WHERE partnership = ? AND chat = ? RETURNING message_ref",
            (self.partnership, chat),
        )
        return [str(row["message_ref"]) for row in rows]

    async def forget_private_messages(self, older_than: float) -> int:
        return await self.db.execute(
            "DELETE FROM private_messages WHERE partnership = ? AND recorded_at < ?",
            (self.partnership, older_than),
        )
