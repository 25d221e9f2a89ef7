"""The assistant's storage: every store (bot/stores/) over one database, SQLite or PostgreSQL.

Each store holds the SQL of one job (sessions, outbox, notifications, sign-in, audit, retention,
private messages, the email inbox, hand-offs). `Storage` is the thin facade the rest of the
assistant uses; a part that needs only one job can take that store alone. The connection, its
lock and its transactions are `bot.database` (SQLite) or `bot.postgres` (PostgreSQL): no
statement is ever left half-read, and none joins another task's transaction. Whatever a method
has returned has been committed, so it survives a crash.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.database import open_database
from bot.stores.handoffs import HandoffStore
from bot.stores.inbox import InboxStore
from bot.stores.notifications import NotificationStore
from bot.stores.private import PrivateMessageStore
from bot.stores.questions import QuestionStore
from bot.stores.records import (
    OUTBOX_COLUMNS,
    AuditEvent,
    Handoff,
    NotificationStatus,
    OutboxItem,
    Session,
    SigninCode,
)
from bot.stores.retention import RetentionStore
from bot.stores.schema import MIGRATIONS, MigrationError, migrate, schema_version
from bot.stores.sessions import SessionStore
from bot.stores.signin import SigninStore

__all__ = [
    "MIGRATIONS",
    "OUTBOX_COLUMNS",
    "AuditEvent",
    "Handoff",
    "MigrationError",
    "NotificationStatus",
    "OutboxItem",
    "Session",
    "SigninCode",
    "Storage",
]


class Storage(
    SessionStore,
    QuestionStore,
    NotificationStore,
    SigninStore,
    RetentionStore,
    PrivateMessageStore,
    InboxStore,
    HandoffStore,
):
    @classmethod
    async def open(cls, target: str | Path) -> Storage:
        """Open (creating if needed) the database: a SQLite path (":memory:" for a throwaway
        one) or a postgresql:// URL.

        Raises MigrationError (or DatabaseError) with a message for the operator when the
        database cannot be used; the connection is closed then, so the process can exit.
        """
        db = await open_database(target)
        storage = cls(db)
        try:
            await storage.migrate()
        except BaseException:
            await db.close()
            raise
        return storage

    async def close(self) -> None:
        await self.db.close()

    async def schema_version(self) -> int:
        return await schema_version(self.db)

    async def migrate(self) -> None:
        await migrate(self.db)

    @asynccontextmanager
    async def chat_lock(self, chat: str) -> AsyncIterator[None]:
        """Held around the handling of one message, across processes (PostgreSQL)."""
        async with self.db.chat_lock(chat):
            yield

    # --- health checks for /readyz (bot/web.py); they change no data -----------------------

    async def check_writable(self) -> None:
        """Take the write lock and let it go, writing nothing. Raises when the database cannot
        be written, such as "database is locked" while another process holds it; a read alone
        would still succeed then (WAL), though every save would fail."""
        async with self.db.transaction():
            pass
