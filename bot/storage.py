"""All SQL lives here (aiosqlite): the schema and its migrations, and one method per query.

One database file holds conversation state, unanswered questions and, in later migrations, the
notifications, their email outbox and the audit trail. Each write commits at once, so whatever
a method has returned survives a crash.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite

# Append-only: each entry moves the schema from version i to i + 1. Never edit a shipped one.
MIGRATIONS: list[str] = [
    # 1: conversation state and the questions the knowledge base could not answer
    """
    CREATE TABLE sessions (
        chat TEXT PRIMARY KEY,
        flow TEXT,
        step TEXT,
        data TEXT NOT NULL DEFAULT '{}',
        updated_at REAL NOT NULL
    );
    CREATE TABLE unanswered (
        id INTEGER PRIMARY KEY,
        chat TEXT NOT NULL,
        question TEXT NOT NULL,
        asked_at REAL NOT NULL
    );
    """,
]


@dataclass
class Session:
    """One chat's place in a conversation: which flow, which step, and the flow's own data."""

    chat: str
    flow: str | None = None
    step: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    updated_at: float = 0.0

    def reset(self) -> None:
        self.flow, self.step, self.data = None, None, {}


class Storage:
    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db

    @classmethod
    async def open(cls, path: str | Path) -> Storage:
        """Open (creating if needed) the database at `path` (":memory:" for a throwaway one)."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(str(path), isolation_level=None)
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA foreign_keys=ON")
        await db.execute("PRAGMA busy_timeout=5000")
        storage = cls(db)
        await storage.migrate()
        return storage

    async def close(self) -> None:
        await self.db.close()

    async def schema_version(self) -> int:
        async with self.db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self) -> None:
        version = await self.schema_version()
        if version > len(MIGRATIONS):
            raise RuntimeError(
                f"database schema version {version} is newer than this program ({len(MIGRATIONS)})"
            )
        for number, script in enumerate(MIGRATIONS[version:], version + 1):
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                for statement in script.split(";"):
                    if statement.strip():
                        await self.db.execute(statement)
                await self.db.execute(f"PRAGMA user_version = {number}")
                await self.db.execute("COMMIT")
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise

    # --- sessions -------------------------------------------------------------------------

    async def load_session(self, chat: str) -> Session:
        async with self.db.execute(
            "SELECT flow, step, data, updated_at FROM sessions WHERE chat = ?", (chat,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return Session(chat)
        return Session(chat, row["flow"], row["step"], json.loads(row["data"]), row["updated_at"])

    async def save_session(self, session: Session) -> None:
        session.updated_at = time.time()
        await self.db.execute(
            "INSERT INTO sessions (chat, flow, step, data, updated_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(chat) DO UPDATE SET flow = excluded.flow, step = excluded.step,"
            " data = excluded.data, updated_at = excluded.updated_at",
            (
                session.chat,
                session.flow,
                session.step,
                json.dumps(session.data),
                session.updated_at,
            ),
        )

    async def delete_idle_sessions(self, flow: str, older_than: float) -> int:
        """Forget `flow` state (drafts) untouched since `older_than`; returns how many."""
        cursor = await self.db.execute(
            "UPDATE sessions SET flow = NULL, step = NULL, data = '{}'"
            " WHERE flow = ? AND updated_at < ?",
            (flow, older_than),
        )
        return cursor.rowcount

    # --- unanswered questions -------------------------------------------------------------

    async def record_unanswered(self, chat: str, question: str) -> None:
        await self.db.execute(
            "INSERT INTO unanswered (chat, question, asked_at) VALUES (?, ?, ?)",
            (chat, question[:500], time.time()),
        )

    async def unanswered(self, limit: int = 50) -> list[tuple[str, float]]:
        async with self.db.execute(
            "SELECT question, asked_at FROM unanswered ORDER BY id DESC LIMIT ?", (limit,)
        ) as cursor:
            return [(row["question"], row["asked_at"]) for row in await cursor.fetchall()]
