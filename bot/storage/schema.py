"""The schema: one list of migrations, written once and applied to either backend.

SQLite keeps the version in `PRAGMA user_version`; PostgreSQL in a one-row table. The scripts
are written in SQLite's types; `postgres_ddl` maps the few that differ (an autoincrementing
INTEGER PRIMARY KEY, REAL, which is single precision in PostgreSQL) so one list serves both.
"""

from __future__ import annotations

import re

import aiosqlite

from bot.storage.interface import DatabaseError, Db
from bot.storage.sqlite import Database

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
    # 2: sign-in (chat -> SLO links, hashed one-time codes, lockouts), the audit trail, and the
    # Telegram messages to delete once a notification is submitted
    """
    CREATE TABLE slo_links (
        chat TEXT PRIMARY KEY,
        email TEXT NOT NULL,
        linked_at REAL NOT NULL
    );
    CREATE TABLE signin_codes (
        id INTEGER PRIMARY KEY,
        chat TEXT NOT NULL,
        email TEXT NOT NULL,
        salt TEXT NOT NULL,
        code_hash TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        state TEXT NOT NULL DEFAULT 'active'
    );
    CREATE INDEX signin_codes_by_chat ON signin_codes (chat);
    CREATE TABLE signin_lockouts (
        chat TEXT PRIMARY KEY,
        failures INTEGER NOT NULL DEFAULT 0,
        locked_until REAL
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        event TEXT NOT NULL,
        chat TEXT,
        who TEXT,
        reference TEXT
    );
    CREATE TABLE private_messages (
        chat TEXT NOT NULL,
        message_ref TEXT NOT NULL,
        recorded_at REAL NOT NULL,
        PRIMARY KEY (chat, message_ref)
    );
    """,
    # 3: significant incident notifications and the outbox of emails waiting to be delivered.
    # outbox.status: queued | sending (claimed by a worker) | retrying | sent | failed.
    """
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        chat TEXT,
        reference TEXT,
        message_id TEXT NOT NULL UNIQUE,
        email TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'queued',
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        next_attempt_at REAL NOT NULL,
        claimed_at REAL,
        sent_at REAL,
        last_error TEXT,
        failure_reported_at REAL
    );
    CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
    CREATE TABLE notifications (
        id INTEGER PRIMARY KEY,
        reference TEXT NOT NULL UNIQUE,
        year INTEGER NOT NULL,
        number INTEGER NOT NULL,
        draft_key TEXT NOT NULL UNIQUE,
        chat TEXT NOT NULL,
        agency TEXT NOT NULL,
        answers TEXT NOT NULL,
        created_at REAL NOT NULL,
        outbox_id INTEGER NOT NULL REFERENCES outbox (id),
        UNIQUE (year, number)
    );
    CREATE INDEX notifications_by_chat ON notifications (chat, created_at);
    """,
    # 4: the email channel and the hand-off to the partnership. inbox: each inbound Message-ID
    # once (status pending | answered | ignored | noticed | staff), the parsed email kept only
    # until it is answered. email_choices: the options last offered to an email chat, so a reply
    # "2" picks the second. handoffs: questions sent to the partnership's staff
    # (status open | answered | closed; told_at: when the person was given the outcome).
    """
    CREATE TABLE inbox (
        id INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL UNIQUE,
        sender TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        mail TEXT NOT NULL DEFAULT '{}',
        received_at REAL NOT NULL,
        done_at REAL
    );
    CREATE INDEX inbox_by_sender ON inbox (sender, status, received_at);
    CREATE INDEX inbox_by_status ON inbox (status);
    CREATE TABLE email_choices (
        chat TEXT PRIMARY KEY,
        buttons TEXT NOT NULL,
        by_number INTEGER NOT NULL
    );
    CREATE TABLE handoffs (
        id INTEGER PRIMARY KEY,
        reference TEXT NOT NULL UNIQUE,
        year INTEGER NOT NULL,
        number INTEGER NOT NULL,
        chat TEXT NOT NULL,
        question TEXT NOT NULL,
        message_id TEXT NOT NULL UNIQUE,
        thread TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'open',
        answer TEXT,
        created_at REAL NOT NULL,
        reminded_at REAL,
        finished_at REAL,
        told_at REAL,
        UNIQUE (year, number)
    );
    CREATE INDEX handoffs_by_status ON handoffs (status);
    """,
    # 5: durable incoming messages (bot/storage/incoming.py), for every chat channel: written
    # before the channel acknowledges them, handled once (status pending | handled | answered).
    # payload: the message as received, kept until it is handled; replies: what to send,
    # kept until sent; claimed_at/owner: which process holds it, and since when (leases).
    # registry_in_use: which registry of liaison officers the processes on this database use
    # (its fingerprint and counts, no names), and who put it in use.
    """
    CREATE TABLE incoming (
        id INTEGER PRIMARY KEY,
        channel TEXT NOT NULL,
        message_key TEXT NOT NULL,
        chat TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'pending',
        payload TEXT,
        replies TEXT,
        owner TEXT NOT NULL,
        claimed_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        received_at REAL NOT NULL,
        done_at REAL,
        UNIQUE (channel, message_key)
    );
    CREATE INDEX incoming_open ON incoming (channel, status, claimed_at);
    CREATE INDEX incoming_by_chat ON incoming (channel, chat, status, id);
    CREATE TABLE registry_in_use (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        fingerprint TEXT NOT NULL,
        officers INTEGER NOT NULL,
        administrators INTEGER NOT NULL,
        adopted_at REAL NOT NULL,
        adopted_by TEXT NOT NULL
    );
    """,
]


class MigrationError(DatabaseError):
    """The schema could not be brought up to date; the program must not run on it."""


def postgres_ddl(script: str) -> str:
    """A migration written for SQLite, in PostgreSQL's types."""
    script = script.replace(
        "INTEGER PRIMARY KEY", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    )
    script = re.sub(r"\bINTEGER\b", "BIGINT", script)
    return re.sub(r"\bREAL\b", "DOUBLE PRECISION", script)


def statements(script: str) -> list[str]:
    return [s for s in script.split(";") if s.strip()]


async def schema_version(db: Db) -> int:
    if isinstance(db, Database):
        row = await db.fetchone("PRAGMA user_version")
        return int(row[0]) if row else 0
    row = await db.fetchone("SELECT to_regclass('schema_version') IS NOT NULL")
    if not row or not row[0]:
        return 0
    row = await db.fetchone("SELECT version FROM schema_version")
    return int(row[0]) if row else 0


def _check_version(version: int) -> None:
    if version > len(MIGRATIONS):
        raise MigrationError(
            f"the database's schema version {version} is newer than this program "
            f"({len(MIGRATIONS)}): run the newer version, or restore a backup"
        )


async def migrate(db: Db) -> None:
    """Bring the schema up to date, under a lock no other process can share.

    The version is read again once the lock is held: another process starting on the same
    new database may have migrated it meanwhile, and must not be migrated over.
    """
    if await schema_version(db) == len(MIGRATIONS):
        return
    try:
        if isinstance(db, Database):
            async with db.exclusive():
                version = await schema_version(db)
                _check_version(version)
                for number, script in enumerate(MIGRATIONS[version:], version + 1):
                    for statement in statements(script):
                        await db.execute(statement)
                    await db.execute(f"PRAGMA user_version = {number}")
            return
        # PostgreSQL: DDL is transactional, so the whole update stands or falls together.
        async with db.transaction():
            await db.serialize("schema")
            await db.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            version = await schema_version(db)
            _check_version(version)
            for script in MIGRATIONS[version:]:
                for statement in statements(postgres_ddl(script)):
                    await db.execute(statement)
            await db.execute("DELETE FROM schema_version")
            await db.execute("INSERT INTO schema_version (version) VALUES (?)", (len(MIGRATIONS),))
    except MigrationError:
        raise
    except (DatabaseError, aiosqlite.Error) as exc:
        raise MigrationError(f"could not update the database schema: {exc}") from exc
    except Exception as exc:  # asyncpg's errors
        if type(exc).__module__.startswith("asyncpg"):
            raise MigrationError(f"could not update the database schema: {exc}") from exc
        raise
