"""The assistant's storage: every store (bot/storage/) over one database, SQLite or PostgreSQL.

Each store holds the SQL of one job (sessions, outbox, notifications, sign-in, audit, retention,
private messages, the email inbox, incoming chat messages, hand-offs, the web chat, the staff
page, Teams' conversation references), for one partnership (bot/storage/scoped.py). `Storage`
is the thin facade the rest of the assistant uses; a part that needs only one job can take that
store alone. The connection, its lock and its transactions are `bot.storage.sqlite` (SQLite) or
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
from bot.storage.scoped import PartnershipDb, UnscopedStatement
from bot.storage.sessions import SessionStore
from bot.storage.signin import SigninStore
from bot.storage.sqlite import Database
from bot.storage.staff import StaffStore
from bot.storage.teams import TeamsStore
from bot.storage.web import WebStore
from config.settings import DEFAULT_PARTNERSHIP

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
    "UnscopedStatement",
]


async def open_database(target: str | Path) -> Db:
    """A SQLite file path (or ":memory:"), or a postgresql:// URL without its password."""
    if is_postgres_url(target):
        from bot.storage.postgres import PostgresDatabase  # asyncpg only when it is used

        return await PostgresDatabase.open(str(target))
    return await Database.open(target)


class Storage:
    """Every store of one partnership over one database. A store that needs another's statements
    inside its own transaction is given that store (a notification queues its email and audits
    it). Every store reads and writes only `partnership`'s rows (bot/storage/scoped.py); the
    others' are reached through `for_partnership`, never through this one."""

    def __init__(self, db: Db, partnership: str = DEFAULT_PARTNERSHIP, owner: bool = True) -> None:
        # The whole database: its schema and health (and tests' own inspection), never a store's.
        self.db = db
        self.partnership = partnership
        self._owner = owner  # closes the database; a view for another partnership does not
        scoped = PartnershipDb(db, partnership)
        self.audit = AuditStore(scoped)
        self.sessions = SessionStore(scoped)
        self.questions = QuestionStore(scoped)
        self.outbox = OutboxStore(scoped, self.audit)
        self.notifications = NotificationStore(scoped, self.outbox, self.audit)
        self.signin = SigninStore(scoped, self.audit)
        self.retention = RetentionStore(scoped)
        self.private = PrivateMessageStore(scoped)
        self.inbox = InboxStore(scoped)
        self.incoming = IncomingStore(scoped)
        self.handoffs = HandoffStore(scoped)
        self.web = WebStore(scoped)
        self.staff = StaffStore(scoped)
        self.teams = TeamsStore(scoped)

    def for_partnership(self, partnership: str) -> Storage:
        """The same database, seen by another partnership's stores. Closing it leaves the
        database open: the storage that opened it closes it."""
        return Storage(self.db, partnership, owner=False)

    @classmethod
    async def open(
        cls,
        target: str | Path,
        partnership: str = DEFAULT_PARTNERSHIP,
        default_partnership: str | None = None,
    ) -> Storage:
        """Open (creating if needed) the database: a SQLite path (":memory:" for a throwaway
        one) or a postgresql:// URL, as `partnership`'s storage. A database from before there
        were partnerships gives its rows to `default_partnership` (the installation's default,
        which is `partnership` unless given) as it is upgraded.

        Raises MigrationError (or DatabaseError) with a message for the operator when the
        database cannot be used; the connection is closed then, so the process can exit.
        """
        db = await open_database(target)
        storage = cls(db, partnership)
        try:
            await migrate(db, default_partnership or partnership)
        except BaseException:
            await db.close()
            raise
        return storage

    async def close(self) -> None:
        if self._owner:
            await self.db.close()

    async def schema_version(self) -> int:
        return await schema_version(self.db)

    @asynccontextmanager
    async def chat_lock(self, chat: str) -> AsyncIterator[None]:
        """Held around the handling of one message of this partnership's `chat`, across
        processes (PostgreSQL)."""
        async with self.sessions.db.chat_lock(chat):
            yield

    # --- health checks for /readyz (bot/server.py); they change no data -----------------------

    async def check_writable(self) -> None:
        """Take the write lock and let it go, writing nothing. Raises when the database cannot
        be written, such as "database is locked" while another process holds it; a read alone
        would still succeed then (WAL), though every save would fail."""
        async with self.db.transaction():
            pass
