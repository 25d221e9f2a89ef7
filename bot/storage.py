"""All SQL lives here (aiosqlite): the schema and its migrations, and one method per query.

One database file holds conversation state, unanswered questions and, in later migrations, the
notifications, their email outbox and the audit trail. Each write commits at once, so whatever
a method has returned survives a crash.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite

from bot.mailer import OutgoingEmail

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
        # One explicit transaction at a time on this connection (see `_transaction`).
        self._transaction_lock = asyncio.Lock()

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

    async def delete_unanswered(self, asked_before: float) -> int:
        cursor = await self.db.execute("DELETE FROM unanswered WHERE asked_at < ?", (asked_before,))
        return cursor.rowcount

    async def unanswered(self, limit: int = 50) -> list[tuple[str, float]]:
        async with self.db.execute(
            "SELECT question, asked_at FROM unanswered ORDER BY id DESC LIMIT ?", (limit,)
        ) as cursor:
            return [(row["question"], row["asked_at"]) for row in await cursor.fetchall()]

    # --- notifications and the email outbox ------------------------------------------------

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK if the body raises.

        The connection is shared: a statement another coroutine runs meanwhile joins the
        transaction. That is harmless when it commits; so the body should hold nothing but its
        own SQL (no outside code that might raise and roll their write back with ours).
        """
        async with self._transaction_lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
            await self.db.execute("COMMIT")

    async def submit_notification(
        self,
        chat: str,
        draft_key: str,
        agency: str,
        answers: dict[str, Any],
        make_email: Callable[[str], OutgoingEmail],
    ) -> tuple[str, bool]:
        """Store a notification and queue its email in one transaction: (reference, created).

        The reference is the next SIN-<year>-<NNNN> of the current year. Idempotent on
        `draft_key`: if that draft was already submitted (a double tap, a retry after a timeout),
        its reference is returned with False and nothing new is stored or queued.
        """
        now = time.time()
        year = time.localtime(now).tm_year
        while True:
            reference = await self._notification_reference(draft_key)
            if reference is not None:
                return reference, False
            number = await self._next_notification_number(year)
            reference = f"SIN-{year}-{number:04d}"
            # Built outside the transaction: an error in the composer cannot roll anything back.
            email = make_email(reference)
            async with self._transaction():
                # Checked again under the write lock: another process (the console and the bot on
                # one database) may have taken the number or submitted the draft meanwhile.
                if (
                    await self._notification_reference(draft_key) is None
                    and await self._next_notification_number(year) == number
                ):
                    outbox_id = await self._insert_email(
                        email, chat, "notification", reference, now
                    )
                    await self.db.execute(
                        "INSERT INTO notifications (reference, year, number, draft_key, chat,"
                        " agency, answers, created_at, outbox_id)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            reference,
                            year,
                            number,
                            draft_key,
                            chat,
                            agency,
                            json.dumps(answers),
                            now,
                            outbox_id,
                        ),
                    )
                    await self.audit("submitted", chat, reference=reference, at=now)
                    return reference, True

    async def _notification_reference(self, draft_key: str) -> str | None:
        async with self.db.execute(
            "SELECT reference FROM notifications WHERE draft_key = ?", (draft_key,)
        ) as cursor:
            row = await cursor.fetchone()
        return str(row["reference"]) if row else None

    async def _next_notification_number(self, year: int) -> int:
        async with self.db.execute(
            "SELECT COALESCE(MAX(number), 0) + 1 FROM notifications WHERE year = ?", (year,)
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 1

    async def _insert_email(
        self, email: OutgoingEmail, chat: str | None, kind: str, reference: str | None, now: float
    ) -> int:
        async with self.db.execute(
            "INSERT INTO outbox (kind, chat, reference, message_id, email, created_at,"
            " next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (kind, chat, reference, email.message_id, json.dumps(email.to_json()), now, now),
        ) as cursor:
            rows = list(await cursor.fetchall())
        return int(rows[0]["id"])

    async def enqueue_email(
        self, email: OutgoingEmail, chat: str | None = None, kind: str = "other"
    ) -> int:
        """Queue an email for the outbox worker; returns its outbox id.

        Idempotent on the Message-ID (which must be unique): queueing the same email twice
        returns the first one's id.
        """
        async with self.db.execute(
            "SELECT id FROM outbox WHERE message_id = ?", (email.message_id,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is not None:
            return int(row["id"])
        return await self._insert_email(email, chat, kind, None, time.time())

    async def notifications_for(self, chat: str) -> list[NotificationStatus]:
        """The chat's notifications, newest first, with the state of their email."""
        async with self.db.execute(
            "SELECT n.reference, n.agency, n.created_at, o.status, o.attempts, o.sent_at"
            " FROM notifications n JOIN outbox o ON o.id = n.outbox_id"
            " WHERE n.chat = ? ORDER BY n.created_at DESC, n.id DESC",
            (chat,),
        ) as cursor:
            rows = await cursor.fetchall()
        return [
            NotificationStatus(
                r["reference"],
                r["agency"],
                r["created_at"],
                _delivery(r["status"], r["attempts"]),
                r["sent_at"],
            )
            for r in rows
        ]

    async def claim_next_email(
        self, now: float, lease: float, due_by: float | None = None
    ) -> OutboxItem | None:
        """Claim the next email due for sending, or None.

        Due: queued or retrying with its time come by `due_by` (default `now`), or claimed more
        than `lease` seconds ago by a worker that never finished (it crashed). The claim is one
        statement, so two workers can never claim the same row.
        """
        async with self.db.execute(
            "UPDATE outbox SET status = 'sending', claimed_at = ?, attempts = attempts + 1"
            " WHERE id = (SELECT id FROM outbox"
            "  WHERE (status IN ('queued', 'retrying') AND next_attempt_at <= ?)"
            "  OR (status = 'sending' AND claimed_at <= ?)"
            "  ORDER BY next_attempt_at, id LIMIT 1)"
            " RETURNING id, kind, chat, reference, email, attempts, created_at, last_error,"
            " failure_reported_at",
            (now, now if due_by is None else due_by, now - lease),
        ) as cursor:
            # Fetch all: a RETURNING statement finishes (and commits) only when read to its end.
            rows = list(await cursor.fetchall())
        return _outbox_item(rows[0]) if rows else None

    async def mark_email_sent(self, outbox_id: int, now: float) -> None:
        # A sign-in email's body holds the code, which is kept only as a hash: blank it once sent.
        await self.db.execute(
            "UPDATE outbox SET status = 'sent', sent_at = ?, claimed_at = NULL, last_error = NULL,"
            " email = CASE kind WHEN 'signin' THEN json_set(email, '$.text', '') ELSE email END"
            " WHERE id = ?",
            (now, outbox_id),
        )
        await self._audit_delivery(outbox_id, "delivered", now)

    async def mark_email_retry(self, outbox_id: int, next_attempt_at: float, error: str) -> None:
        """Record a transient failure (error type and code only) and when to try again."""
        await self.db.execute(
            "UPDATE outbox SET status = 'retrying', next_attempt_at = ?, claimed_at = NULL,"
            " last_error = ? WHERE id = ? AND status = 'sending'",
            (next_attempt_at, error, outbox_id),
        )

    async def mark_email_failed(self, outbox_id: int, error: str, now: float) -> None:
        """Record a permanent failure: never retried, and counted as reported."""
        await self.db.execute(
            "UPDATE outbox SET status = 'failed', claimed_at = NULL, last_error = ?,"
            " failure_reported_at = COALESCE(failure_reported_at, ?) WHERE id = ?",
            (error, now, outbox_id),
        )
        await self._audit_delivery(outbox_id, "delivery_failed", now)

    async def overdue_emails(self, created_before: float) -> list[OutboxItem]:
        """Undelivered emails queued before `created_before` whose failure is not yet reported."""
        async with self.db.execute(
            "SELECT id, kind, chat, reference, email, attempts, created_at, last_error,"
            " failure_reported_at FROM outbox WHERE status IN ('queued', 'sending', 'retrying')"
            " AND failure_reported_at IS NULL AND created_at <= ? ORDER BY id",
            (created_before,),
        ) as cursor:
            return [_outbox_item(row) for row in await cursor.fetchall()]

    async def mark_failure_reported(self, outbox_id: int, now: float) -> None:
        await self.db.execute(
            "UPDATE outbox SET failure_reported_at = ? WHERE id = ?", (now, outbox_id)
        )

    async def outbox_deadlines(self) -> tuple[float | None, float | None, float | None]:
        """(earliest retry time, oldest claim, oldest unreported undelivered email's creation)."""
        async with self.db.execute(
            "SELECT"
            " (SELECT MIN(next_attempt_at) FROM outbox WHERE status IN ('queued', 'retrying')),"
            " (SELECT MIN(claimed_at) FROM outbox WHERE status = 'sending'),"
            " (SELECT MIN(created_at) FROM outbox"
            "  WHERE status IN ('queued', 'sending', 'retrying') AND failure_reported_at IS NULL)"
        ) as cursor:
            row = await cursor.fetchone()
        return (row[0], row[1], row[2]) if row else (None, None, None)

    # --- sign-in: chat links, one-time codes, lockouts --------------------------------------

    async def link_chat(self, chat: str, email: str, now: float) -> None:
        """Link `chat` to the registered address it signed in with."""
        await self.db.execute(
            "INSERT INTO slo_links (chat, email, linked_at) VALUES (?, ?, ?)"
            " ON CONFLICT(chat) DO UPDATE SET email = excluded.email,"
            " linked_at = excluded.linked_at",
            (chat, email, now),
        )

    async def unlink_chat(self, chat: str) -> str | None:
        """Sign `chat` out; returns the address it was linked to, if any."""
        async with self.db.execute(
            "DELETE FROM slo_links WHERE chat = ? RETURNING email", (chat,)
        ) as cursor:
            row = await cursor.fetchone()
        return str(row["email"]) if row else None

    async def linked_email(self, chat: str) -> str | None:
        async with self.db.execute("SELECT email FROM slo_links WHERE chat = ?", (chat,)) as cursor:
            row = await cursor.fetchone()
        return str(row["email"]) if row else None

    async def linked_chats(self) -> list[tuple[str, str]]:
        """Every signed-in chat with its address."""
        async with self.db.execute("SELECT chat, email FROM slo_links ORDER BY chat") as cursor:
            return [(row["chat"], row["email"]) for row in await cursor.fetchall()]

    async def clear_flow(self, chat: str, flow: str) -> bool:
        """Forget `chat`'s state in `flow` (its draft), if it is in that flow."""
        cursor = await self.db.execute(
            "UPDATE sessions SET flow = NULL, step = NULL, data = '{}' WHERE chat = ? AND flow = ?",
            (chat, flow),
        )
        return cursor.rowcount > 0

    async def add_signin_code(
        self, chat: str, email: str, salt: str, code_hash: str, now: float, expires_at: float
    ) -> None:
        """Store a new code's hash for `chat`; any earlier code of the chat stops working."""
        await self.retire_signin_codes(chat)
        await self.db.execute(
            "INSERT INTO signin_codes (chat, email, salt, code_hash, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (chat, email, salt, code_hash, now, expires_at),
        )

    async def retire_signin_codes(self, chat: str) -> None:
        await self.db.execute(
            "UPDATE signin_codes SET state = 'replaced' WHERE chat = ? AND state = 'active'",
            (chat,),
        )

    async def signin_codes(self, chat: str) -> list[SigninCode]:
        """The chat's codes still on record, newest first (used and replaced ones included)."""
        async with self.db.execute(
            "SELECT id, email, salt, code_hash, expires_at, state FROM signin_codes"
            " WHERE chat = ? ORDER BY id DESC",
            (chat,),
        ) as cursor:
            return [
                SigninCode(
                    r["id"], r["email"], r["salt"], r["code_hash"], r["expires_at"], r["state"]
                )
                for r in await cursor.fetchall()
            ]

    async def use_signin_code(self, code_id: int) -> bool:
        """Mark a code used; False if it was no longer active (so it can never work twice)."""
        cursor = await self.db.execute(
            "UPDATE signin_codes SET state = 'used' WHERE id = ? AND state = 'active'", (code_id,)
        )
        return cursor.rowcount == 1

    async def delete_signin_codes(self, older_than: float) -> int:
        cursor = await self.db.execute(
            "DELETE FROM signin_codes WHERE expires_at < ?", (older_than,)
        )
        return cursor.rowcount

    async def signin_locked_until(self, chat: str) -> float | None:
        async with self.db.execute(
            "SELECT locked_until FROM signin_lockouts WHERE chat = ?", (chat,)
        ) as cursor:
            row = await cursor.fetchone()
        return row["locked_until"] if row else None

    async def add_signin_failure(self, chat: str) -> int:
        """Count one wrong code for `chat`; returns the failures since the last lockout."""
        async with self.db.execute(
            "INSERT INTO signin_lockouts (chat, failures) VALUES (?, 1)"
            " ON CONFLICT(chat) DO UPDATE SET failures = failures + 1 RETURNING failures",
            (chat,),
        ) as cursor:
            row = await cursor.fetchone()
        return int(row["failures"]) if row else 1

    async def lock_signin(self, chat: str, until: float) -> None:
        """Lock `chat` out of sign-in until `until`; the failure count starts again after."""
        await self.db.execute(
            "INSERT INTO signin_lockouts (chat, failures, locked_until) VALUES (?, 0, ?)"
            " ON CONFLICT(chat) DO UPDATE SET failures = 0, locked_until = excluded.locked_until",
            (chat, until),
        )

    async def clear_signin_failures(self, chat: str) -> None:
        await self.db.execute("DELETE FROM signin_lockouts WHERE chat = ?", (chat,))

    # --- audit trail: who did what, when; never form content --------------------------------

    async def audit(
        self,
        event: str,
        chat: str | None = None,
        who: str | None = None,
        reference: str | None = None,
        at: float | None = None,
    ) -> None:
        """Record an event. Without `who`, the address the chat is signed in with is used."""
        await self.db.execute(
            "INSERT INTO audit (at, event, chat, who, reference) VALUES"
            " (?, ?, ?, COALESCE(?, (SELECT email FROM slo_links WHERE chat = ?)), ?)",
            (time.time() if at is None else at, event, chat, who, chat, reference),
        )

    async def count_audit(self, chat: str, events: tuple[str, ...], since: float) -> int:
        """How many of `events` the chat had since `since` (rate limits)."""
        marks = ", ".join("?" * len(events))
        async with self.db.execute(
            f"SELECT COUNT(*) FROM audit WHERE chat = ? AND at >= ? AND event IN ({marks})",
            (chat, since, *events),
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _audit_delivery(self, outbox_id: int, event: str, now: float) -> None:
        """Audit what became of a notification's email; `who` is whoever submitted it."""
        await self.db.execute(
            "INSERT INTO audit (at, event, chat, who, reference)"
            " SELECT ?, ?, o.chat, (SELECT a.who FROM audit a WHERE a.event = 'submitted'"
            "  AND a.reference = o.reference ORDER BY a.id LIMIT 1), o.reference"
            " FROM outbox o WHERE o.id = ? AND o.kind = 'notification'",
            (now, event, outbox_id),
        )

    async def audit_events(self, limit: int = 100) -> list[AuditEvent]:
        """The latest events, newest first."""
        async with self.db.execute(
            "SELECT at, event, chat, who, reference FROM audit ORDER BY id DESC LIMIT ?", (limit,)
        ) as cursor:
            return [
                AuditEvent(r["at"], r["event"], r["chat"], r["who"], r["reference"])
                for r in await cursor.fetchall()
            ]

    # --- retention: personal data deleted when no longer needed ------------------------------

    async def forget_delivered_content(self, sent_before: float) -> int:
        """Delete the content of notifications delivered before `sent_before`; returns how many.

        Kept: the reference, agency, timestamps and delivery state (and the email's recipients,
        subject and Message-ID, which name no child). Gone: the answers, the email's body and
        the copy to the SLO.
        """
        async with self._transaction():
            cursor = await self.db.execute(
                "UPDATE notifications SET answers = '{}' WHERE answers != '{}' AND outbox_id IN"
                " (SELECT id FROM outbox WHERE status = 'sent' AND sent_at < ?)",
                (sent_before,),
            )
            await self.db.execute(
                "UPDATE outbox SET email = json_set(email, '$.text', '', '$.html', NULL,"
                " '$.cc', json('[]'), '$.reply_to', NULL)"
                " WHERE kind = 'notification' AND status = 'sent' AND sent_at < ?",
                (sent_before,),
            )
        return cursor.rowcount

    async def delete_signin_emails(self, created_before: float) -> int:
        """Delete sign-in emails queued before `created_before` (their code has expired).

        One still being sent is left to finish; the next run takes it.
        """
        cursor = await self.db.execute(
            "DELETE FROM outbox WHERE kind = 'signin' AND status != 'sending' AND created_at < ?",
            (created_before,),
        )
        return cursor.rowcount

    # --- chat messages to delete after a submission (Telegram) -------------------------------

    async def remember_private_messages(self, chat: str, refs: list[str], now: float) -> None:
        await self.db.executemany(
            "INSERT OR IGNORE INTO private_messages (chat, message_ref, recorded_at)"
            " VALUES (?, ?, ?)",
            [(chat, ref, now) for ref in refs],
        )

    async def take_private_messages(self, chat: str) -> list[str]:
        """The chat's recorded message refs, forgotten as they are returned."""
        async with self.db.execute(
            "DELETE FROM private_messages WHERE chat = ? RETURNING message_ref", (chat,)
        ) as cursor:
            return [str(row["message_ref"]) for row in await cursor.fetchall()]

    async def forget_private_messages(self, older_than: float) -> int:
        cursor = await self.db.execute(
            "DELETE FROM private_messages WHERE recorded_at < ?", (older_than,)
        )
        return cursor.rowcount

    # --- health checks for /readyz (bot/web.py); they change no data -----------------------

    async def outbox_backlog(self) -> tuple[int, float | None]:
        """(emails not yet delivered nor failed, the creation time of the oldest of them)."""
        async with self.db.execute(
            "SELECT COUNT(*), MIN(created_at) FROM outbox"
            " WHERE status IN ('queued', 'sending', 'retrying')"
        ) as cursor:
            row = await cursor.fetchone()
        return (int(row[0]), row[1]) if row else (0, None)

    async def check_writable(self) -> None:
        """Take the write lock and let it go, writing nothing. Raises when the database cannot
        be written, such as "database is locked" while another process holds it; a read alone
        would still succeed then (WAL), though every save would fail."""
        async with self._transaction():
            pass


@dataclass(frozen=True)
class SigninCode:
    """A stored sign-in code: only its salted hash, never the code itself."""

    id: int
    email: str
    salt: str
    code_hash: str
    expires_at: float
    state: str  # active | used | replaced


@dataclass(frozen=True)
class AuditEvent:
    at: float
    event: str
    chat: str | None
    who: str | None
    reference: str | None


@dataclass(frozen=True)
class NotificationStatus:
    """A submitted notification as /status shows it."""

    reference: str
    agency: str
    created_at: float
    delivery: str  # queued | sent | retrying | failed
    sent_at: float | None


@dataclass(frozen=True)
class OutboxItem:
    """A queued email as the outbox worker sees it."""

    id: int
    kind: str
    chat: str | None
    reference: str | None
    email: OutgoingEmail
    attempts: int
    created_at: float
    last_error: str | None
    failure_reported_at: float | None

    @property
    def label(self) -> str:
        """How logs, files and messages name the email: its reference, or its outbox id."""
        return self.reference or f"mail-{self.id}"


def _outbox_item(row: aiosqlite.Row) -> OutboxItem:
    return OutboxItem(
        row["id"],
        row["kind"],
        row["chat"],
        row["reference"],
        OutgoingEmail.from_json(json.loads(row["email"])),
        row["attempts"],
        row["created_at"],
        row["last_error"],
        row["failure_reported_at"],
    )


def _delivery(status: str, attempts: int) -> str:
    """The outbox status as users see it: a first attempt in progress is still "queued"."""
    if status == "sending":
        return "queued" if attempts <= 1 else "retrying"
    return status
