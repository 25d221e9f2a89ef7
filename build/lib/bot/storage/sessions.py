"""Conversation state: one row per chat (its flow, step and the flow's data)."""

from __future__ import annotations

import json
import time

from bot.storage.base import Store
from bot.storage.records import Session


class SessionStore(Store):
    async def load_session(self, chat: str) -> Session:
        row = await self.db.fetch_point(
            "SELECT flow, step, data, updated_at FROM sessions WHERE partnership = ? AND chat = ?",
            (self.partnership, chat),
        )
        if row is None:
            session = Session(chat)
        else:
            session = Session(
                chat, row["flow"], row["step"], json.loads(row["data"]), row["updated_at"]
            )
        session.stored = session.snapshot()
        return session

    async def save_session(self, session: Session) -> None:
        """Write the session, unless it is as it was loaded (then nothing is written, and its
        `updated_at`, which times out idle drafts, stays that of its last change)."""
        snapshot = session.snapshot()
        if snapshot == session.stored:
            return
        session.updated_at = time.time()
        await self.db.execute(
            "INSERT INTO sessions (partnership, chat, flow, step, data, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(partnership, chat) DO UPDATE SET"
            " flow = excluded.flow, step = excluded.step, data = excluded.data,"
            " updated_at = excluded.updated_at",
            (
                self.partnership,
                session.chat,
                session.flow,
                session.step,
                json.dumps(session.data),
                session.updated_at,
            ),
        )
        session.stored = snapshot

    async def delete_idle_sessions(self, flow: str, older_than: float) -> int:
        """Forget `flow` state (drafts) untouched since `older_than`; returns how many."""
        return await self.db.execute(
            "UPDATE sessions SET flow = NULL, step = NULL, data = '{}'"
            " WHERE partnership = ? AND flow = ? AND updated_at < ?",
            (self.partnership, flow, older_than),
        )

    async def clear_flow(self, chat: str, flow: str) -> bool:
        """Forget `chat`'s state in `flow` (its draft), if it is in that flow."""
        changed = await self.db.execute(
            "UPDATE sessions SET flow = NULL, step = NULL, data = '{}'"
            " WHERE partnership = ? AND chat = ? AND flow = ?",
            (self.partnership, chat, flow),
        )
        return changed > 0
