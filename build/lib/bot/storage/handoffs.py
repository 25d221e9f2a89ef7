"""Questions handed to the partnership's staff, under references Q-<year>-<NNNN>."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.storage.base import Store
from bot.storage.records import Handoff, handoff


class HandoffStore(Store):
    async def open_handoff(
        self, chat: str, question: str, token: str, domain: str, thread: dict[str, Any]
    ) -> Handoff:
        """Store a question for the partnership under the next Q-<year>-<NNNN>.

        The number is picked and inserted in one transaction that no other writer shares (the
        write lock, or `serialize` with PostgreSQL), so two processes cannot take the same one.
        The Message-ID is the reference plus `token` (random), so a reply can be matched to it
        and nobody can guess it.
        """
        now = time.time()
        year = time.localtime(now).tm_year
        async with self.db.transaction():
            await self.db.serialize("handoffs")
            row = await self.db.fetchone(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM handoffs"
                " WHERE partnership = ? AND year = ?",
                (self.partnership, year),
            )
            number = int(row[0]) if row else 1
            reference = f"Q-{year}-{number:04d}"
            rows = await self.db.write_returning(
                "INSERT INTO handoffs (partnership, reference, year, number, chat, question,"
                " message_id, thread, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
                (
                    self.partnership,
                    reference,
                    year,
                    number,
                    chat,
                    question,
                    f"<{reference}.{token}@{domain}>",
                    json.dumps(thread),
                    now,
                ),
            )
        return handoff(rows[0])

    async def handoff_by_message_ids(self, ids: list[str]) -> Handoff | None:
        if not ids:
            return None
        marks = ", ".join("?" * len(ids))
        rows = await self.db.fetch(
            f"SELECT * FROM handoffs WHERE partnership = ? AND message_id IN ({marks}) LIMIT 1",
            [self.partnership, *ids],
        )
        return handoff(rows[0]) if rows else None

    async def handoff_by_reference(self, reference: str) -> Handoff | None:
        rows = await self.db.fetch(
            "SELECT * FROM handoffs WHERE partnership = ? AND reference = ?",
            (self.partnership, reference),
        )
        return handoff(rows[0]) if rows else None

    async def handoffs(self, status: str) -> list[Handoff]:
        rows = await self.db.fetch(
            "SELECT * FROM handoffs WHERE partnership = ? AND status = ? ORDER BY id",
            (self.partnership, status),
        )
        return [handoff(row) for row in rows]

    async def finish_handoff(self, handoff_id: int, status: str, answer: str | None) -> bool:
        """Answer or close an open hand-off; False if it was no longer open (exactly once)."""
        changed = await self.db.execute(
            "UPDATE handoffs SET status = ?, answer = ?, finished_at = ?"
            " WHERE partnership = ? AND id = ? AND status = 'open'",
            (status, answer, time.time(), self.partnership, handoff_id),
        )
        return changed == 1

    async def handoffs_to_tell(self) -> list[Handoff]:
        """Answered or closed hand-offs whose person has not been told yet."""
        rows = await self.db.fetch(
            "SELECT * FROM handoffs WHERE partnership = ? AND status != 'open'"
            " AND told_at IS NULL ORDER BY id",
            (self.partnership,),
        )
        return [handoff(row) for row in rows]

    @asynccontextmanager
    async def take_handoff_to_tell(self, handoff_id: int) -> AsyncIterator[bool]:
        """Hold a hand-off against every other instance while its person is told; yields
        whether they still need telling (another instance may have told them meanwhile)."""
        async with self.db.chat_lock(f"handoff:{handoff_id}"):
            row = await self.db.fetchone(
                "SELECT told_at FROM handoffs WHERE partnership = ? AND id = ?",
                (self.partnership, handoff_id),
            )
            yield row is not None and row["told_at"] is None

    async def mark_handoff_told(self, handoff_id: int) -> bool:
        changed = await self.db.execute(
            "UPDATE handoffs SET told_at = ? WHERE partnership = ? AND id = ? AND told_at IS NULL",
            (time.time(), self.partnership, handoff_id),
        )
        return changed == 1

    async def mark_handoff_reminded(self, handoff_id: int) -> None:
        await self.db.execute(
            "UPDATE handoffs SET reminded_at = ? WHERE partnership = ? AND id = ?",
            (time.time(), self.partnership, handoff_id),
        )

    async def set_handoff_thread(self, reference: str, chat: str, thread: dict[str, Any]) -> None:
        """Remember the email thread a hand-off was asked in, so the answer joins it."""
        await self.db.execute(
            "UPDATE handoffs SET thread = ? WHERE partnership = ? AND reference = ? AND chat = ?",
            (json.dumps(thread), self.partnership, reference, chat),
        )

    async def forget_handoffs(self, told_before: float) -> int:
        """Blank the question and answer of hand-offs settled before `told_before`; the
        reference, chat and timestamps stay for the record."""
        changed = await self.db.execute(
            "UPDATE handoffs SET question = '', answer = NULL"
            " WHERE partnership = ? AND told_at < ? AND (question != '' OR answer IS NOT NULL)",
            (self.partnership, told_before),
        )
        return changed
