"""The schema: one list of migrations, written once and applied to either backend.

SQLite keeps the version in `PRAGMA user_version`; PostgreSQL in a one-row table. The scripts
are written in SQLite's types; `postgres_ddl` maps the few that differ (an autoincrementing
INTEGER PRIMARY KEY, REAL, which is single precision in PostgreSQL) so one list serves both. A
change the two backends make differently (migration 5) gives each its own script.

Every table belongs to a partnership: its first column is `partnership TEXT NOT NULL` (no
default, so a row can never be written without one) and its keys and unique constraints start
with it. A new table does the same; tests/test_partnership_storage.py fails for one that does
not, and the stores' guard (bot/storage/scoped.py) refuses a statement that does not name it.
"""

from __future__ import annotations

import re

import aiosqlite

from bot.storage.interface import DatabaseError, Db
from bot.storage.sqlite import Database
from config.validation import ID_CHARS

# Append-only: each entry moves the schema from version i to i + 1. Never edit a shipped one.
# An entry is one script for both backends, or {backend: the name of its script below}.
MIGRATIONS: list[str | dict[str, str]] = [
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
    # 5: several partnerships in one database. Every row gets its partnership; a database from
    # before gives each of its rows to the default partnership (DEFAULT_PARTNERSHIP below).
    # References, reference numbers, chats and inbound Message-IDs are unique per partnership.
    {"sqlite": "migration_5_sqlite", "postgresql": "migration_5_postgresql"},
    # 6: the web chat, each row its partnership's. web_conversations: each conversation's last
    # sequence number (never reused, so an open page's place stays valid) and last activity;
    # web_messages: what the conversation shows, in order, kept for a reload or another tab;
    # web_inbound: each message a browser sent, written before it is acknowledged and handled
    # once (a retried send with the same client id is recognised), its text blanked once handled.
    """
    CREATE TABLE web_conversations (
        partnership TEXT NOT NULL,
        chat TEXT NOT NULL,
        last_seq INTEGER NOT NULL DEFAULT 0,
        active_at REAL NOT NULL,
        PRIMARY KEY (partnership, chat)
    );
    CREATE INDEX web_conversations_by_activity ON web_conversations (partnership, active_at);
    CREATE TABLE web_messages (
        partnership TEXT NOT NULL,
        chat TEXT NOT NULL,
        seq INTEGER NOT NULL,
        role TEXT NOT NULL,
        body TEXT NOT NULL,
        private INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        PRIMARY KEY (partnership, chat, seq)
    );
    CREATE TABLE web_inbound (
        id INTEGER PRIMARY KEY,
        partnership TEXT NOT NULL,
        chat TEXT NOT NULL,
        client_id TEXT NOT NULL,
        text TEXT NOT NULL,
        label TEXT,
        pressed INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL DEFAULT 'pending',
        received_at REAL NOT NULL,
        UNIQUE (partnership, chat, client_id)
    );
    CREATE INDEX web_inbound_by_status ON web_inbound (partnership, status);
    """,
    # 7: durable incoming messages (bot/storage/incoming.py), for every chat channel: written
    # before the channel acknowledges them, handled once (status pending | handled | answered).
    # payload: the message as received, kept until it is handled; replies: what to send,
    # kept until sent; claimed_at/owner: which process holds it, and since when (leases).
    # registry_in_use: which registry of liaison officers each partnership's processes on this
    # database use (its fingerprint and counts, no names), and who put it in use.
    """
    CREATE TABLE incoming (
        id INTEGER PRIMARY KEY,
        partnership TEXT NOT NULL,
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
        UNIQUE (partnership, channel, message_key)
    );
    CREATE INDEX incoming_open ON incoming (partnership, channel, status, claimed_at);
    CREATE INDEX incoming_by_chat ON incoming (partnership, channel, chat, status, id);
    CREATE TABLE registry_in_use (
        partnership TEXT NOT NULL PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        officers INTEGER NOT NULL,
        administrators INTEGER NOT NULL,
        adopted_at REAL NOT NULL,
        adopted_by TEXT NOT NULL
    );
    """,
    # 8: the staff page (bot/channels/staff/). staff_sessions: a signed-in browser, by the
    # SHA-256 of its cookie's token (the key opens nothing), with its CSRF token and expiry;
    # suggestions: "this question should have been topic X", for the knowledge editors;
    # usage_counts: turns per day, channel, reply kind and topic or report id, counts only
    # (no text, no chat), for the charts.
    """
    CREATE TABLE staff_sessions (
        partnership TEXT NOT NULL,
        token_hash TEXT NOT NULL,
        email TEXT NOT NULL,
        csrf TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        PRIMARY KEY (partnership, token_hash)
    );
    CREATE TABLE suggestions (
        id INTEGER PRIMARY KEY,
        partnership TEXT NOT NULL,
        question TEXT NOT NULL,
        topic TEXT NOT NULL,
        who TEXT NOT NULL,
        at REAL NOT NULL
    );
    CREATE TABLE usage_counts (
        partnership TEXT NOT NULL,
        day TEXT NOT NULL,
        channel TEXT NOT NULL,
        kind TEXT NOT NULL,
        item TEXT NOT NULL,
        turns INTEGER NOT NULL,
        PRIMARY KEY (partnership, day, channel, kind, item)
    );
    """,
    # 9: the Teams channel's conversation references (bot/storage/teams.py): where a Teams
    # chat's news (a hand-off's answer, a notification's receipt) is sent later, unasked.
    # reference: the Bot Connector's ConversationReference as JSON (service URL, conversation,
    # the bot's and the person's Teams ids); kept while the chat is used, for CONVERSATION_DAYS.
    """
    CREATE TABLE teams_conversations (
        partnership TEXT NOT NULL,
        chat TEXT NOT NULL,
        reference TEXT NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (partnership, chat)
    );
    CREATE INDEX teams_conversations_by_age ON teams_conversations (partnership, updated_at);
    """,
]

# Where a migration's script names the partnership that owns the rows already there.
DEFAULT_PARTNERSHIP = ":default_partnership"

# Migration 5 as each table is afterwards: (table, its columns and keys, its indexes).
_TABLES_5 = (
    (
        "sessions",
        """chat TEXT NOT NULL, flow TEXT, step TEXT, data TEXT NOT NULL DEFAULT '{}',
        updated_at REAL NOT NULL, PRIMARY KEY (partnership, chat)""",
        (),
    ),
    (
        "unanswered",
        "id INTEGER PRIMARY KEY, chat TEXT NOT NULL, question TEXT NOT NULL,"
        " asked_at REAL NOT NULL",
        (),
    ),
    (
        "slo_links",
        "chat TEXT NOT NULL, email TEXT NOT NULL, linked_at REAL NOT NULL,"
        " PRIMARY KEY (partnership, chat)",
        (),
    ),
    (
        "signin_codes",
        """id INTEGER PRIMARY KEY, chat TEXT NOT NULL, email TEXT NOT NULL, salt TEXT NOT NULL,
        code_hash TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL,
        state TEXT NOT NULL DEFAULT 'active'""",
        ("signin_codes_by_chat ON signin_codes (partnership, chat)",),
    ),
    (
        "signin_lockouts",
        "chat TEXT NOT NULL, failures INTEGER NOT NULL DEFAULT 0, locked_until REAL,"
        " PRIMARY KEY (partnership, chat)",
        (),
    ),
    (
        "audit",
        "id INTEGER PRIMARY KEY, at REAL NOT NULL, event TEXT NOT NULL, chat TEXT, who TEXT,"
        " reference TEXT",
        (),
    ),
    (
        "private_messages",
        "chat TEXT NOT NULL, message_ref TEXT NOT NULL, recorded_at REAL NOT NULL,"
        " PRIMARY KEY (partnership, chat, message_ref)",
        (),
    ),
    (
        "outbox",
        """id INTEGER PRIMARY KEY, kind TEXT NOT NULL, chat TEXT, reference TEXT,
        message_id TEXT NOT NULL, email TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'queued',
        attempts INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL,
        next_attempt_at REAL NOT NULL, claimed_at REAL, sent_at REAL, last_error TEXT,
        failure_reported_at REAL, UNIQUE (partnership, message_id)""",
        ("outbox_due ON outbox (partnership, status, next_attempt_at)",),
    ),
    (
        "notifications",
        """id INTEGER PRIMARY KEY, reference TEXT NOT NULL, year INTEGER NOT NULL,
        number INTEGER NOT NULL, draft_key TEXT NOT NULL, chat TEXT NOT NULL,
        agency TEXT NOT NULL, answers TEXT NOT NULL, created_at REAL NOT NULL,
        outbox_id INTEGER NOT NULL REFERENCES outbox (id), UNIQUE (partnership, reference),
        UNIQUE (partnership, draft_key), UNIQUE (partnership, year, number)""",
        ("notifications_by_chat ON notifications (partnership, chat, created_at)",),
    ),
    (
        "inbox",
        """id INTEGER PRIMARY KEY, message_id TEXT NOT NULL, sender TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending', mail TEXT NOT NULL DEFAULT '{}',
        received_at REAL NOT NULL, done_at REAL, UNIQUE (partnership, message_id)""",
        (
            "inbox_by_sender ON inbox (partnership, sender, status, received_at)",
            "inbox_by_status ON inbox (partnership, status)",
        ),
    ),
    (
        "email_choices",
        "chat TEXT NOT NULL, buttons TEXT NOT NULL, by_number INTEGER NOT NULL,"
        " PRIMARY KEY (partnership, chat)",
        (),
    ),
    (
        "handoffs",
        """id INTEGER PRIMARY KEY, reference TEXT NOT NULL, year INTEGER NOT NULL,
        number INTEGER NOT NULL, chat TEXT NOT NULL, question TEXT NOT NULL,
        message_id TEXT NOT NULL, thread TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'open', answer TEXT, created_at REAL NOT NULL,
        reminded_at REAL, finished_at REAL, told_at REAL, UNIQUE (partnership, reference),
        UNIQUE (partnership, message_id), UNIQUE (partnership, year, number)""",
        ("handoffs_by_status ON handoffs (partnership, status)",),
    ),
)


def _columns(body: str) -> list[str]:
    """The column names of a table body (its keys and references left out)."""
    body = re.sub(r"(PRIMARY KEY|UNIQUE|REFERENCES \w+) \([^)]*\)", "", body)
    return [part.split()[0] for part in body.split(",") if part.split()]


def _migration_5_sqlite() -> str:
    """SQLite cannot change a table's keys: each table is built again beside the old one, its
    rows copied with the default partnership, the old one dropped and the new one renamed.
    Children before parents are dropped (notifications before outbox), and renaming rewrites
    the new notifications' reference to the new outbox (SQLite 3.26 and later)."""
    script = []
    for table, body, _ in _TABLES_5:
        new_body = body.replace("REFERENCES outbox (id)", "REFERENCES outbox_v5 (id)")
        columns = ", ".join(_columns(body))
        script.append(f"CREATE TABLE {table}_v5 (partnership TEXT NOT NULL, {new_body})")
        script.append(
            f"INSERT INTO {table}_v5 (partnership, {columns})"
            f" SELECT {DEFAULT_PARTNERSHIP}, {columns} FROM {table}"
        )
    for table in ("notifications", *(t for t, _, _ in _TABLES_5 if t != "notifications")):
        script.append(f"DROP TABLE {table}")
    for table, _, indexes in _TABLES_5:
        script.append(f"ALTER TABLE {table}_v5 RENAME TO {table}")
        script += [f"CREATE INDEX {index}" for index in indexes]
    return ";\n".join(script) + ";"


# PostgreSQL changes keys in place; these are the names it gave them in migrations 1 to 4.
_KEYS_5 = {
    "sessions": (("sessions_pkey", "PRIMARY KEY (partnership, chat)"),),
    "slo_links": (("slo_links_pkey", "PRIMARY KEY (partnership, chat)"),),
    "signin_lockouts": (("signin_lockouts_pkey", "PRIMARY KEY (partnership, chat)"),),
    "private_messages": (
        ("private_messages_pkey", "PRIMARY KEY (partnership, chat, message_ref)"),
    ),
    "email_choices": (("email_choices_pkey", "PRIMARY KEY (partnership, chat)"),),
    "outbox": (("outbox_message_id_key", "UNIQUE (partnership, message_id)"),),
    "notifications": (
        ("notifications_reference_key", "UNIQUE (partnership, reference)"),
        ("notifications_draft_key_key", "UNIQUE (partnership, draft_key)"),
        ("notifications_year_number_key", "UNIQUE (partnership, year, number)"),
    ),
    "inbox": (("inbox_message_id_key", "UNIQUE (partnership, message_id)"),),
    "handoffs": (
        ("handoffs_reference_key", "UNIQUE (partnership, reference)"),
        ("handoffs_message_id_key", "UNIQUE (partnership, message_id)"),
        ("handoffs_year_number_key", "UNIQUE (partnership, year, number)"),
    ),
}


def _migration_5_postgresql() -> str:
    script = []
    for table, _, indexes in _TABLES_5:
        script.append(
            f"ALTER TABLE {table} ADD COLUMN partnership TEXT NOT NULL"
            f" DEFAULT {DEFAULT_PARTNERSHIP}"
        )
        script.append(f"ALTER TABLE {table} ALTER COLUMN partnership DROP DEFAULT")
        for name, key in _KEYS_5.get(table, ()):
            script.append(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
            script.append(f"ALTER TABLE {table} ADD {key}")
        for index in indexes:
            script.append(f"DROP INDEX {index.split()[0]}")
            script.append(f"CREATE INDEX {index}")
    return ";\n".join(script) + ";"


_SCRIPTS = {
    "migration_5_sqlite": _migration_5_sqlite,
    "migration_5_postgresql": _migration_5_postgresql,
}


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


def script_for(migration: str | dict[str, str], dialect: str, default_partnership: str) -> str:
    """The migration's script for `dialect`, naming `default_partnership` where it should."""
    if isinstance(migration, dict):
        script = _SCRIPTS[migration[dialect]]()
    else:
        script = postgres_ddl(migration) if dialect == "postgresql" else migration
    if not default_partnership or not set(default_partnership) <= ID_CHARS:
        raise MigrationError(f"not a partnership's id: {default_partnership!r}")
    # Safe to write as a literal: the id's characters are only a-z, 0-9, - and _.
    return script.replace(DEFAULT_PARTNERSHIP, f"'{default_partnership}'")


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


async def migrate(db: Db, default_partnership: str, target: int | None = None) -> None:
    """Bring the schema up to date (or to version `target`, for tests of an upgrade), under a
    lock no other process can share. Rows from before there were partnerships become
    `default_partnership`'s.

    The version is read again once the lock is held: another process starting on the same
    new database may have migrated it meanwhile, and must not be migrated over.
    """
    target = len(MIGRATIONS) if target is None else target
    if await schema_version(db) == target:
        return
    try:
        if isinstance(db, Database):
            async with db.exclusive():
                version = await schema_version(db)
                _check_version(version)
                for number in range(version + 1, target + 1):
                    script = script_for(MIGRATIONS[number - 1], "sqlite", default_partnership)
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
            for migration in MIGRATIONS[version:target]:
                script = script_for(migration, "postgresql", default_partnership)
                for statement in statements(script):
                    await db.execute(statement)
            await db.execute("DELETE FROM schema_version")
            await db.execute("INSERT INTO schema_version (version) VALUES (?)", (target,))
    except MigrationError:
        raise
    except (DatabaseError, aiosqlite.Error) as exc:
        raise MigrationError(f"could not update the database schema: {exc}") from exc
    except Exception as exc:  # asyncpg's errors
        if type(exc).__module__.startswith("asyncpg"):
            raise MigrationError(f"could not update the database schema: {exc}") from exc
        raise
