"""The assistant's storage: every store (bot/storage/) over one database, SQLite or PostgreSQL.

Each store holds the SQL of one job (sessions, outbox, notifications, sign-in, audit, retention,
private messages, the email inbox, incoming chat messages, hand-offs). `Storage` is the thin
facade the rest of the assistant uses; a part that needs only one job can take that store
alone. The connection, its lock and its transactions are `bot.storage.sqlite` (SQLite) or
`bot.storage.postgres` (PostgreSQL): no statement is ever left half-read, and none joins another
task's transaction. Whatever a method has returned has been committed, so it survives a crash.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.storage.audit import AuditStore
from bot.storage.handoffs import HandoffStore
from bot.storage.inbox import InboxStore
from bot.storage.incoming import IncomingStore
from bot.storage.interface import Db, is_postgres_url
from bot.storage.notifications import NotificationStore
from bot.storage.outbox import OutboxStore
from bot.storage.private import PrivateMessageStore
from bot.storage.questions import QuestionStore
from bot.storage.records import (
    OUTBOX_COLUMNS,
    Arrival,
    AuditEvent,
    Handoff,
    NotificationStatus,
    OutboxItem,
    Received,
    Session,
    SigninCode,
)
from bot.storage.retention import RetentionStore
from bot.storage.schema import MIGRATIONS, MigrationError, migrate, schema_version
from bot.storage.sessions import SessionStore
from bot.storage.signin import SigninStore
from bot.storage.sqlite import Database

__all__ = [
    "MIGRATIONS",
    "OUTBOX_COLUMNS",
    "Arrival",
    "AuditEvent",
    "Handoff",
    "MigrationError",
    "NotificationStatus",
    "OutboxItem",
    "Received",
    "Session",
    "SigninCode",
    "Storage",
]


async def open_database(target: str | Path) -> Db:
    """A SQLite file path (or ":memory:"), or a postgresql:// URL without its password."""
    if is_postgres_url(target):
        from bot.storage.postgres import PostgresDatabase  # asyncpg only when it is used

        return await PostgresDatabase.open(str(target))
    return await Database.open(target)


class Storage:
    """Every store over one database. A store that needs another's statements inside its own
    transaction is given that store (a notification queues its email and audits it)."""

    def __init__(self, db: Db) -> None:
        self.db = db
        self.audit = AuditStore(db)
        self.sessions = SessionStore(db)
        self.questions = QuestionStore(db)
        self.outbox = OutboxStore(db, self.audit)
        self.notifications = NotificationStore(db, self.outbox, self.audit)
        self.signin = SigninStore(db, self.audit)
        self.retention = RetentionStore(db)
        self.private = PrivateMessageStore(db)
        self.inbox = InboxStore(db)
        self.incoming = IncomingStore(db)
        self.handoffs = HandoffStore(db)

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

    # --- health checks for /readyz (bot/server.py); they change no data -----------------------

    async def check_writable(self) -> None:
        """Take the write lock and let it go, writing nothing. Raises when the database cannot
        be written, such as "database is locked" while another process holds it; a read alone
        would still succeed then (WAL), though every save would fail."""
        async with self.db.transaction():
            pass
