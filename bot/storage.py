"""All SQL lives here: the schema and its migrations, and one method per query.

One database file holds conversation state, unanswered questions, the notifications, their email
outbox and the audit trail. Each write commits before the method returns, so whatever a method
has returned survives a crash. The connection, its lock and its transactions are
`bot.database.Database`: no statement here is ever left half-read, and none joins another
task's transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite

from bot.database import Database, DatabaseError
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


class MigrationError(DatabaseError):
    """The schema could not be brought up to date; the program must not run on it."""


class Storage:
    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    async def open(cls, path: str | Path) -> Storage:
        """Open (creating if needed) the database at `path` (":memory:" for a throwaway one).

        Raises MigrationError (or DatabaseError) with a message for the operator when the
        database cannot be used; the connection is closed then, so the process can exit.
        """
        db = await Database.open(path)
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
        row = await self.db.fetchone("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def migrate(self) -> None:
        """Bring the schema up to date, under an exclusive lock.

        The version is read again once the lock is held: another process starting on the same
        new database may have migrated it meanwhile, and must not be migrated over.
        """
        if await self.schema_version() == len(MIGRATIONS):
            return
        try:
            async with self.db.exclusive():
                version = await self.schema_version()
                if version > len(MIGRATIONS):
                    raise MigrationError(
                        f"the database's schema version {version} is newer than this program "
                        f"({len(MIGRATIONS)}): run the newer version, or restore a backup"
                    )
                for number, script in enumerate(MIGRATIONS[version:], version + 1):
                    for statement in script.split(";"):
                        if statement.strip():
                            await self.db.execute(statement)
                    await self.db.execute(f"PRAGMA user_version = {number}")
        except MigrationError:
            raise
        except (DatabaseError, aiosqlite.Error) as exc:
            raise MigrationError(f"could not update the database schema: {exc}") from exc

    # --- sessions -------------------------------------------------------------------------

    async def load_session(self, chat: str) -> Session:
        row = await self.db.fetchone(
            "SELECT flow, step, data, updated_at FROM sessions WHERE chat = ?", (chat,)
        )
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
        return await self.db.execute(
            "UPDATE sessions SET flow = NULL, step = NULL, data = '{}'"
            " WHERE flow = ? AND updated_at < ?",
            (flow, older_than),
        )

    # --- unanswered questions -------------------------------------------------------------

    async def record_unanswered(self, chat: str, question: str) -> None:
        # Text that is not valid Unicode (a lone surrogate from an undecodable console byte)
        # cannot be stored as UTF-8: keep what can be read rather than fail the reply.
        text = question[:500].encode("utf-8", "replace").decode("utf-8")
        await self.db.execute(
            "INSERT INTO unanswered (chat, question, asked_at) VALUES (?, ?, ?)",
            (chat, text, time.time()),
        )

    async def delete_unanswered(self, asked_before: float) -> int:
        return await self.db.execute("DELETE FROM unanswered WHERE asked_at < ?", (asked_before,))

    async def unanswered(self, limit: int = 50) -> list[tuple[str, float]]:
        rows = await self.db.fetch(
            "SELECT question, asked_at FROM unanswered ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [(row["question"], row["asked_at"]) for row in rows]

    # --- notifications and the email outbox ------------------------------------------------

    async def submit_notification(
        self,
        chat: str,
        draft_key: str,
        agency: str,
        answers: dict[str, Any],
        make_email: Callable[[str], OutgoingEmail],
    ) -> tuple[str, bool]:
        """Store a notification and queue its email in one transaction: (reference, created).

        The reference is the next SIN-<year>-<NNNN> of the current year, chosen under the write
        lock and returned only once the transaction that stores it has committed: a reference
        (or the Message-ID `make_email` gives it) is never handed out twice. Idempotent on
        `draft_key`: if that draft was already submitted (a double tap, a retry after a
        timeout), its reference is returned with False and nothing new is stored or queued.
        Raises TransactionFailed (nothing stored) when the database cannot save it.
        """
        now = time.time()
        year = time.localtime(now).tm_year
        async with self.db.transaction():
            reference = await self._notification_reference(draft_key)
            if reference is not None:
                return reference, False
            number = await self._next_notification_number(year)
            reference = f"SIN-{year}-{number:04d}"
            # Pure (builds text): if it raises, the transaction rolls back and nothing is kept.
            email = make_email(reference)
            outbox_id = await self._insert_email(email, chat, "notification", reference, now)
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
        row = await self.db.fetchone(
            "SELECT reference FROM notifications WHERE draft_key = ?", (draft_key,)
        )
        return str(row["reference"]) if row else None

    async def _next_notification_number(self, year: int) -> int:
        row = await self.db.fetchone(
            "SELECT COALESCE(MAX(number), 0) + 1 FROM notifications WHERE year = ?", (year,)
        )
        return int(row[0]) if row else 1

    async def _insert_email(
        self, email: OutgoingEmail, chat: str | None, kind: str, reference: str | None, now: float
    ) -> int:
        rows = await self.db.write_returning(
            "INSERT INTO outbox (kind, chat, reference, message_id, email, created_at,"
            " next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (kind, chat, reference, email.message_id, json.dumps(email.to_json()), now, now),
        )
        return int(rows[0]["id"])

    async def enqueue_email(
        self, email: OutgoingEmail, chat: str | None = None, kind: str = "other"
    ) -> int:
        """Queue an email for the outbox worker; returns its outbox id.

        Idempotent on the Message-ID (which must be unique): queueing the same email twice
        returns the first one's id.
        """
        async with self.db.transaction():
            row = await self.db.fetchone(
                "SELECT id FROM outbox WHERE message_id = ?", (email.message_id,)
            )
            if row is not None:
                return int(row["id"])
            return await self._insert_email(email, chat, kind, None, time.time())

    async def notifications_for(self, chat: str) -> list[NotificationStatus]:
        """The chat's notifications, newest first, with the state of their email."""
        rows = await self.db.fetch(
            "SELECT n.reference, n.agency, n.created_at, o.status, o.attempts, o.sent_at"
            " FROM notifications n JOIN outbox o ON o.id = n.outbox_id"
            " WHERE n.chat = ? ORDER BY n.created_at DESC, n.id DESC",
            (chat,),
        )
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
        rows = await self.db.write_returning(
            "UPDATE outbox SET status = 'sending', claimed_at = ?, attempts = attempts + 1"
            " WHERE id = (SELECT id FROM outbox"
            "  WHERE (status IN ('queued', 'retrying') AND next_attempt_at <= ?)"
            "  OR (status = 'sending' AND claimed_at <= ?)"
            "  ORDER BY next_attempt_at, id LIMIT 1)"
            f" RETURNING {OUTBOX_COLUMNS}",
            (now, now if due_by is None else due_by, now - lease),
        )
        return _outbox_item(rows[0]) if rows else None

    async def mark_email_sent(self, outbox_id: int, now: float) -> None:
        async with self.db.transaction():
            # A sign-in email's body holds the code, which is kept only as a hash: blank it.
            await self.db.execute(
                "UPDATE outbox SET status = 'sent', sent_at = ?, claimed_at = NULL,"
                " last_error = NULL,"
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
        """Record a permanent failure: not retried until someone queues it again, and counted
        as reported."""
        async with self.db.transaction():
            await self.db.execute(
                "UPDATE outbox SET status = 'failed', claimed_at = NULL, last_error = ?,"
                " failure_reported_at = COALESCE(failure_reported_at, ?) WHERE id = ?",
                (error, now, outbox_id),
            )
            await self._audit_delivery(outbox_id, "delivery_failed", now)

    async def failed_emails(self, limit: int = 50) -> list[OutboxItem]:
        """Emails refused for good, newest first (the admins' /outbox list)."""
        rows = await self.db.fetch(
            f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE status = 'failed' ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [_outbox_item(row) for row in rows]

    async def requeue_failed_email(self, reference: str, now: float, who: str | None) -> bool:
        """Queue a refused email again, found by its reference (a notification's, or an email's
        human reference such as CODE-2026-0003). False if no refused email has it."""
        async with self.db.transaction():
            rows = await self.db.fetch(
                f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE status = 'failed' ORDER BY id"
            )
            wanted = reference.strip().upper()
            item = next(
                (i for i in map(_outbox_item, rows) if i.human_reference.upper() == wanted), None
            )
            if item is None:
                return False
            # failure_reported_at is cleared so that a new failure is reported again; the
            # attempt count starts again so the backoff does too.
            await self.db.execute(
                "UPDATE outbox SET status = 'queued', next_attempt_at = ?, attempts = 0,"
                " failure_reported_at = NULL WHERE id = ? AND status = 'failed'",
                (now, item.id),
            )
            await self.audit(
                "requeued", item.chat, who=who or "console", reference=item.human_reference, at=now
            )
        return True

    async def overdue_emails(self, created_before: float) -> list[OutboxItem]:
        """Undelivered emails queued before `created_before` whose failure is not yet reported."""
        rows = await self.db.fetch(
            f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE status IN ('queued', 'sending', 'retrying')"
            " AND failure_reported_at IS NULL AND created_at <= ? ORDER BY id",
            (created_before,),
        )
        return [_outbox_item(row) for row in rows]

    async def mark_failure_reported(self, outbox_id: int, now: float) -> None:
        await self.db.execute(
            "UPDATE outbox SET failure_reported_at = ? WHERE id = ?", (now, outbox_id)
        )

    async def outbox_deadlines(self) -> tuple[float | None, float | None, float | None]:
        """(earliest retry time, oldest claim, oldest unreported undelivered email's creation)."""
        row = await self.db.fetchone(
            "SELECT"
            " (SELECT MIN(next_attempt_at) FROM outbox WHERE status IN ('queued', 'retrying')),"
            " (SELECT MIN(claimed_at) FROM outbox WHERE status = 'sending'),"
            " (SELECT MIN(created_at) FROM outbox"
            "  WHERE status IN ('queued', 'sending', 'retrying') AND failure_reported_at IS NULL)"
        )
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
        rows = await self.db.write_returning(
            "DELETE FROM slo_links WHERE chat = ? RETURNING email", (chat,)
        )
        return str(rows[0]["email"]) if rows else None

    async def linked_email(self, chat: str) -> str | None:
        row = await self.db.fetchone("SELECT email FROM slo_links WHERE chat = ?", (chat,))
        return str(row["email"]) if row else None

    async def linked_chats(self) -> list[tuple[str, str]]:
        """Every signed-in chat with its address."""
        rows = await self.db.fetch("SELECT chat, email FROM slo_links ORDER BY chat")
        return [(row["chat"], row["email"]) for row in rows]

    async def clear_flow(self, chat: str, flow: str) -> bool:
        """Forget `chat`'s state in `flow` (its draft), if it is in that flow."""
        changed = await self.db.execute(
            "UPDATE sessions SET flow = NULL, step = NULL, data = '{}' WHERE chat = ? AND flow = ?",
            (chat, flow),
        )
        return changed > 0

    async def add_signin_code(
        self, chat: str, email: str, salt: str, code_hash: str, now: float, expires_at: float
    ) -> None:
        """Store a new code's hash for `chat`; any earlier code of the chat stops working."""
        async with self.db.transaction():
            await self.retire_signin_codes(chat)
            await self.db.execute(
                "INSERT INTO signin_codes (chat, email, salt, code_hash, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (chat, email, salt, code_hash, now, expires_at),
            )

    async def request_signin_code(
        self,
        chat: str,
        email: str,
        code: SigninCode,
        code_email: OutgoingEmail,
        registered: bool,
        now: float,
    ) -> None:
        """Store a code's hash and queue the email carrying it, if `registered`; audit either way.

        The same statements run whether or not the address is registered (an unregistered one's
        inserts select no row), in one transaction, so the reply takes the same time and no one
        can tell from it which addresses are registered. Any earlier code of the chat stops
        working in both cases.
        """
        queued_at = time.time()  # the outbox's clock, which `now` (sign-in's) may not be
        async with self.db.transaction():
            await self.retire_signin_codes(chat)
            await self.db.execute(
                "INSERT INTO signin_codes (chat, email, salt, code_hash, created_at, expires_at)"
                " SELECT ?, ?, ?, ?, ?, ? WHERE ?",
                (chat, email, code.salt, code.code_hash, now, code.expires_at, registered),
            )
            await self.db.execute(
                "INSERT INTO outbox (kind, chat, reference, message_id, email, created_at,"
                " next_attempt_at) SELECT 'signin', ?, NULL, ?, ?, ?, ? WHERE ?",
                (
                    chat,
                    code_email.message_id,
                    json.dumps(code_email.to_json()),
                    queued_at,
                    queued_at,
                    registered,
                ),
            )
            await self.audit(
                "code_sent" if registered else "code_refused_unregistered",
                chat,
                # The typed address is kept only when it is registered (no one else's address).
                who=email if registered else "",
                at=now,
            )

    async def retire_signin_codes(self, chat: str) -> None:
        await self.db.execute(
            "UPDATE signin_codes SET state = 'replaced' WHERE chat = ? AND state = 'active'",
            (chat,),
        )

    async def signin_codes(self, chat: str) -> list[SigninCode]:
        """The chat's codes still on record, newest first (used and replaced ones included)."""
        rows = await self.db.fetch(
            "SELECT id, email, salt, code_hash, expires_at, state FROM signin_codes"
            " WHERE chat = ? ORDER BY id DESC",
            (chat,),
        )
        return [
            SigninCode(r["id"], r["email"], r["salt"], r["code_hash"], r["expires_at"], r["state"])
            for r in rows
        ]

    async def use_signin_code(self, code_id: int) -> bool:
        """Mark a code used; False if it was no longer active (so it can never work twice)."""
        changed = await self.db.execute(
            "UPDATE signin_codes SET state = 'used' WHERE id = ? AND state = 'active'", (code_id,)
        )
        return changed == 1

    async def delete_signin_codes(self, older_than: float) -> int:
        return await self.db.execute("DELETE FROM signin_codes WHERE expires_at < ?", (older_than,))

    async def signin_locked_until(self, chat: str) -> float | None:
        row = await self.db.fetchone(
            "SELECT locked_until FROM signin_lockouts WHERE chat = ?", (chat,)
        )
        return row["locked_until"] if row else None

    async def add_signin_failure(self, chat: str) -> int:
        """Count one wrong code for `chat`; returns the failures since the last lockout."""
        rows = await self.db.write_returning(
            "INSERT INTO signin_lockouts (chat, failures) VALUES (?, 1)"
            " ON CONFLICT(chat) DO UPDATE SET failures = failures + 1 RETURNING failures",
            (chat,),
        )
        return int(rows[0]["failures"]) if rows else 1

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
        row = await self.db.fetchone(
            f"SELECT COUNT(*) FROM audit WHERE chat = ? AND at >= ? AND event IN ({marks})",
            (chat, since, *events),
        )
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
        rows = await self.db.fetch(
            "SELECT at, event, chat, who, reference FROM audit ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [AuditEvent(r["at"], r["event"], r["chat"], r["who"], r["reference"]) for r in rows]

    # --- retention: personal data deleted when no longer needed ------------------------------

    async def forget_delivered_content(self, sent_before: float) -> int:
        """Delete the content of notifications delivered before `sent_before`; returns how many.

        Kept: the reference, agency, timestamps and delivery state (and the email's recipients,
        subject and Message-ID, which name no child). Gone: the answers, the email's body and
        the copy to the SLO.
        """
        async with self.db.transaction():
            forgotten = await self.db.execute(
                "UPDATE notifications SET answers = '{}' WHERE answers != '{}' AND outbox_id IN"
                " (SELECT id FROM outbox WHERE status = 'sent' AND sent_at < ?)",
                (sent_before,),
            )
            await self.db.execute(
                "UPDATE outbox SET email = json_set(email, '$.text', '', '$.html', NULL,"
                " '$.cc', json('[]'), '$.reply_to', NULL, '$.attachments', json('[]'))"
                " WHERE kind = 'notification' AND status = 'sent' AND sent_at < ?",
                (sent_before,),
            )
        return forgotten

    async def delete_signin_emails(self, created_before: float) -> int:
        """Delete sign-in emails queued before `created_before` (their code has expired).

        One still being sent is left to finish; the next run takes it.
        """
        return await self.db.execute(
            "DELETE FROM outbox WHERE kind = 'signin' AND status != 'sending' AND created_at < ?",
            (created_before,),
        )

    async def outbox_labels(self) -> set[str]:
        """The file labels (`OutboxItem.label`) of every email still on record."""
        rows = await self.db.fetch("SELECT id, reference FROM outbox")
        return {row["reference"] or f"mail-{row['id']}" for row in rows}

    async def delivered_labels(self, sent_before: float) -> set[str]:
        """Labels of emails whose content retention has removed (delivered before the time)."""
        rows = await self.db.fetch(
            "SELECT id, reference FROM outbox WHERE status = 'sent' AND sent_at < ?",
            (sent_before,),
        )
        return {row["reference"] or f"mail-{row['id']}" for row in rows}

    # --- chat messages to delete after a submission (Telegram) -------------------------------

    async def remember_private_messages(self, chat: str, refs: list[str], now: float) -> None:
        await self.db.executemany(
            "INSERT OR IGNORE INTO private_messages (chat, message_ref, recorded_at)"
            " VALUES (?, ?, ?)",
            [(chat, ref, now) for ref in refs],
        )

    async def take_private_messages(self, chat: str) -> list[str]:
        """The chat's recorded message refs, forgotten as they are returned."""
        rows = await self.db.write_returning(
            "DELETE FROM private_messages WHERE chat = ? RETURNING message_ref", (chat,)
        )
        return [str(row["message_ref"]) for row in rows]

    async def forget_private_messages(self, older_than: float) -> int:
        return await self.db.execute(
            "DELETE FROM private_messages WHERE recorded_at < ?", (older_than,)
        )

    # === email channel and hand-offs (migration 4) ==========================================
    # Kept together so the email feature's SQL reads as one unit; no method above depends on it.

    async def receive_email(self, message_id: str, sender: str, mail: dict[str, Any]) -> bool:
        """Record an inbound email as pending; False if its Message-ID was seen before."""
        changed = await self.db.execute(
            "INSERT OR IGNORE INTO inbox (message_id, sender, mail, received_at)"
            " VALUES (?, ?, ?, ?)",
            (message_id, sender, json.dumps(mail), time.time()),
        )
        return changed == 1

    async def pending_emails(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(Message-ID, sender, parsed email) of every email received but not yet dealt with."""
        rows = await self.db.fetch(
            "SELECT message_id, sender, mail FROM inbox WHERE status = 'pending' ORDER BY id"
        )
        return [(r["message_id"], r["sender"], json.loads(r["mail"])) for r in rows]

    async def finish_email(self, message_id: str, status: str) -> None:
        """Mark an inbound email dealt with (`status`) and forget its content."""
        await self.db.execute(
            "UPDATE inbox SET status = ?, mail = '{}', done_at = ? WHERE message_id = ?",
            (status, time.time(), message_id),
        )

    async def count_inbox(self, sender: str, status: str, since: float) -> int:
        """How many emails from `sender` ended as `status` since `since` (rate limits)."""
        rows = await self.db.fetch(
            "SELECT COUNT(*) FROM inbox WHERE sender = ? AND status = ? AND received_at >= ?",
            (sender, status, since),
        )
        return int(rows[0][0]) if rows else 0

    async def delete_inbox(self, received_before: float) -> int:
        changed = await self.db.execute(
            "DELETE FROM inbox WHERE status != 'pending' AND received_at < ?", (received_before,)
        )
        return changed

    async def save_email_choices(
        self, chat: str, buttons: list[list[str]], by_number: bool
    ) -> None:
        await self.db.execute(
            "INSERT INTO email_choices (chat, buttons, by_number) VALUES (?, ?, ?)"
            " ON CONFLICT(chat) DO UPDATE SET buttons = excluded.buttons,"
            " by_number = excluded.by_number",
            (chat, json.dumps(buttons), int(by_number)),
        )

    async def email_choices(self, chat: str) -> tuple[list[list[str]], bool]:
        """The [label, data] pairs last offered to `chat`, and whether a number picks one."""
        rows = await self.db.fetch(
            "SELECT buttons, by_number FROM email_choices WHERE chat = ?", (chat,)
        )
        row = rows[0] if rows else None
        return (json.loads(row["buttons"]), bool(row["by_number"])) if row else ([], True)

    async def open_handoff(
        self, chat: str, question: str, token: str, domain: str, thread: dict[str, Any]
    ) -> Handoff:
        """Store a question for the partnership under the next Q-<year>-<NNNN>.

        One statement picks the number and inserts, so two processes cannot take the same one.
        The Message-ID is the reference plus `token` (random), so a reply can be matched to it
        and nobody can guess it.
        """
        now = time.time()
        year = time.localtime(now).tm_year
        rows = await self.db.write_returning(
            "INSERT INTO handoffs (reference, year, number, chat, question, message_id, thread,"
            " created_at)"
            " SELECT printf('Q-%d-%04d', ?1, n), ?1, n, ?2, ?3,"
            "  printf('<Q-%d-%04d.%s@%s>', ?1, n, ?4, ?5), ?6, ?7"
            " FROM (SELECT COALESCE(MAX(number), 0) + 1 AS n FROM handoffs WHERE year = ?1)"
            " RETURNING *",
            (year, chat, question, token, domain, json.dumps(thread), now),
        )
        return _handoff(rows[0])

    async def handoff_by_message_ids(self, ids: list[str]) -> Handoff | None:
        if not ids:
            return None
        marks = ", ".join("?" * len(ids))
        rows = await self.db.fetch(
            f"SELECT * FROM handoffs WHERE message_id IN ({marks}) LIMIT 1", ids
        )
        return _handoff(rows[0]) if rows else None

    async def handoff_by_reference(self, reference: str) -> Handoff | None:
        rows = await self.db.fetch("SELECT * FROM handoffs WHERE reference = ?", (reference,))
        return _handoff(rows[0]) if rows else None

    async def handoffs(self, status: str) -> list[Handoff]:
        rows = await self.db.fetch("SELECT * FROM handoffs WHERE status = ? ORDER BY id", (status,))
        return [_handoff(row) for row in rows]

    async def finish_handoff(self, handoff_id: int, status: str, answer: str | None) -> bool:
        """Answer or close an open hand-off; False if it was no longer open (exactly once)."""
        changed = await self.db.execute(
            "UPDATE handoffs SET status = ?, answer = ?, finished_at = ?"
            " WHERE id = ? AND status = 'open'",
            (status, answer, time.time(), handoff_id),
        )
        return changed == 1

    async def handoffs_to_tell(self) -> list[Handoff]:
        """Answered or closed hand-offs whose person has not been told yet."""
        rows = await self.db.fetch(
            "SELECT * FROM handoffs WHERE status != 'open' AND told_at IS NULL ORDER BY id"
        )
        return [_handoff(row) for row in rows]

    async def mark_handoff_told(self, handoff_id: int) -> bool:
        changed = await self.db.execute(
            "UPDATE handoffs SET told_at = ? WHERE id = ? AND told_at IS NULL",
            (time.time(), handoff_id),
        )
        return changed == 1

    async def mark_handoff_reminded(self, handoff_id: int) -> None:
        await self.db.execute(
            "UPDATE handoffs SET reminded_at = ? WHERE id = ?", (time.time(), handoff_id)
        )

    async def set_handoff_thread(self, reference: str, chat: str, thread: dict[str, Any]) -> None:
        """Remember the email thread a hand-off was asked in, so the answer joins it."""
        await self.db.execute(
            "UPDATE handoffs SET thread = ? WHERE reference = ? AND chat = ?",
            (json.dumps(thread), reference, chat),
        )

    async def forget_handoffs(self, told_before: float) -> int:
        """Blank the question and answer of hand-offs settled before `told_before`; the
        reference, chat and timestamps stay for the record."""
        changed = await self.db.execute(
            "UPDATE handoffs SET question = '', answer = NULL"
            " WHERE told_at < ? AND (question != '' OR answer IS NOT NULL)",
            (told_before,),
        )
        return changed

    async def outbox_has(self, message_id: str) -> bool:
        rows = await self.db.fetch("SELECT 1 FROM outbox WHERE message_id = ?", (message_id,))
        return bool(rows)

    # --- health checks for /readyz (bot/web.py); they change no data -----------------------

    async def outbox_backlog(self) -> tuple[int, float | None]:
        """(emails not yet delivered nor failed, the creation time of the oldest of them)."""
        row = await self.db.fetchone(
            "SELECT COUNT(*), MIN(created_at) FROM outbox"
            " WHERE status IN ('queued', 'sending', 'retrying')"
        )
        return (int(row[0]), row[1]) if row else (0, None)

    async def check_writable(self) -> None:
        """Take the write lock and let it go, writing nothing. Raises when the database cannot
        be written, such as "database is locked" while another process holds it; a read alone
        would still succeed then (WAL), though every save would fail."""
        async with self.db.transaction():
            pass


OUTBOX_COLUMNS = (
    "id, kind, chat, reference, email, attempts, created_at, last_error, failure_reported_at,"
    " status"
)


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
    status: str = "sending"

    @property
    def label(self) -> str:
        """How logs and .eml files name the email: its reference, or its outbox id."""
        return self.reference or f"mail-{self.id}"

    @property
    def human_reference(self) -> str:
        """How people name it (messages, /outbox retry): a notification's reference, or a
        reference in the same style for other emails, e.g. CODE-2026-0003 for a sign-in code."""
        if self.reference:
            return self.reference
        prefix = "CODE" if self.kind == "signin" else "MAIL"
        return f"{prefix}-{time.localtime(self.created_at).tm_year}-{self.id:04d}"


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
        row["status"],
    )


def _delivery(status: str, attempts: int) -> str:
    """The outbox status as users see it: a first attempt in progress is still "queued"."""
    if status == "sending":
        return "queued" if attempts <= 1 else "retrying"
    return status


@dataclass(frozen=True)
class Handoff:
    """A question handed to the partnership's staff (handlers/handoff.py)."""

    id: int
    reference: str  # Q-<year>-<NNNN>
    chat: str  # where the person asked ("telegram:42", "email:name@nhs.net")
    question: str
    message_id: str  # of the email to the partnership; staff replies point to it
    thread: dict[str, Any]  # an email asker's message ids and subject, to answer in thread
    status: str  # open | answered | closed
    answer: str | None
    created_at: float
    reminded_at: float | None
    finished_at: float | None
    told_at: float | None


def _handoff(row: aiosqlite.Row) -> Handoff:
    return Handoff(
        row["id"],
        row["reference"],
        row["chat"],
        row["question"],
        row["message_id"],
        json.loads(row["thread"]),
        row["status"],
        row["answer"],
        row["created_at"],
        row["reminded_at"],
        row["finished_at"],
        row["told_at"],
    )
