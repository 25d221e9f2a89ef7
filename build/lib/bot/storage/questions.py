"""The questions the knowledge base could not answer (no personal data kept)."""

from __future__ import annotations

import time

from bot.storage.base import Store


class QuestionStore(Store):
    async def record_unanswered(self, chat: str, question: str) -> None:
        # Text that is not valid Unicode (a lone surrogate from an undecodable console byte)
        # cannot be stored as UTF-8: keep what can be read rather than fail the reply.
        text = question[:500].encode("utf-8", "replace").decode("utf-8")
        await self.db.execute(
            "INSERT INTO unanswered (partnership, chat, question, asked_at) VALUES (?, ?, ?, ?)",
            (self.partnership, chat, text, time.time()),
        )

    async def delete_unanswered(self, asked_before: float) -> int:
        return await self.db.execute(
            "DELETE FROM unanswered WHERE partnership = ? AND asked_at < ?",
            (self.partnership, asked_before),
        )

    async def unanswered(self, limit: int = 50) -> list[tuple[str, float]]:
        rows = await self.db.fetch(
            "SELECT question, asked_at FROM unanswered WHERE partnership = ?"
            " ORDER BY id DESC LIMIT ?",
            (self.partnership, limit),
        )
        return [(row["question"], row["asked_at"]) for row in rows]
