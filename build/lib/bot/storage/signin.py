"""Sign-in: chat links, one-time codes (hashes only), lockouts."""

from __future__ import annotations

import json
import time

from bot.mail.message import OutgoingEmail
from bot.storage.audit import AuditStore
from bot.storage.base import Store
from bot.storage.records import RegistryInUse, SigninCode
from bot.storage.scoped import PartnershipDb


class SigninStore(Store):
    def __init__(self, db: PartnershipDb, audit: AuditStore) -> None:
        super().__init__(db)
        self.audit = audit

    async def link_chat(self, chat: str, email: str, now: float) -> None:
        """Link `chat` to the registered address it signed in with."""
        await self.db.execute(
            "INSERT INTO slo_links (partnership, chat, email, linked_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(partnership, chat) DO UPDATE SET email = excluded.email,"
            " linked_at = excluded.linked_at",
            (self.partnership, chat, email, now),
        )

    async def unlink_chat(self, chat: str) -> str | None:
        """Sign `chat` out; returns the address it was linked to, if any."""
        rows = await self.db.write_returning(
            "DELETE FROM slo_links WHERE partnership = ? AND chat = ? RETURNING email",
            (self.partnership, chat),
        )
        return str(rows[0]["email"]) if rows else None

    async def linked_email(self, chat: str) -> str | None:
        row = await self.db.fetchone(
            "SELECT email FROM slo_links WHERE partnership = ? AND chat = ?",
            (self.partnership, chat),
        )
        return str(row["email"]) if row else None

    async def linked_chats(self) -> list[tuple[str, str]]:
        """Every signed-in chat with its address."""
        rows = await self.db.fetch(
            "SELECT chat, email FROM slo_links WHERE partnership = ? ORDER BY chat",
            (self.partnership,),
        )
        return [(row["chat"], row["email"]) for row in rows]

    async def registry_in_use(self) -> RegistryInUse | None:
        row = await self.db.fetchone(
            "SELECT fingerprint, officers, administrators, adopted_at, adopted_by"
            " FROM registry_in_use WHERE partnership = ?",
            (self.partnership,),
        )
        if row is None:
            return None
        return RegistryInUse(
            row["fingerprint"],
            row["officers"],
            row["administrators"],
            row["adopted_at"],
            row["adopted_by"],
        )

    async def record_registry(self, registry: RegistryInUse) -> None:
        """Record the registry now in use (the caller has signed out whom it must)."""
        await self.db.execute(
            "INSERT INTO registry_in_use (partnership, fingerprint, officers, administrators,"
            " adopted_at, adopted_by) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (partnership) DO UPDATE SET"
            " fingerprint = excluded.fingerprint, officers = excluded.officers,"
            " administrators = excluded.administrators, adopted_at = excluded.adopted_at,"
            " adopted_by = excluded.adopted_by",
            (
                self.partnership,
                registry.fingerprint,
                registry.officers,
                registry.administrators,
                registry.adopted_at,
                registry.adopted_by,
            ),
        )

    async def add_signin_code(
        self, chat: str, email: str, salt: str, code_hash: str, now: float, expires_at: float
    ) -> None:
        """Store a new code's hash for `chat`; any earlier code of the chat stops working."""
        async with self.db.transaction():
            await self.retire_signin_codes(chat)
            await self.db.execute(
                "INSERT INTO signin_codes (partnership, chat, email, salt, code_hash, created_at,"
                " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self.partnership, chat, email, salt, code_hash, now, expires_at),
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
            # (The casts tell PostgreSQL the parameters' types, which a bare SELECT leaves open.)
            await self.db.execute(
                "INSERT INTO signin_codes (partnership, chat, email, salt, code_hash,"
                " created_at, expires_at) SELECT CAST(? AS TEXT), ?, ?, ?, ?,"
                " CAST(? AS DOUBLE PRECISION), CAST(? AS DOUBLE PRECISION) WHERE ?",
                (
                    self.partnership,
                    chat,
                    email,
                    code.salt,
                    code.code_hash,
                    now,
                    code.expires_at,
                    registered,
                ),
            )
            await self.db.execute(
                "INSERT INTO outbox (partnership, kind, chat, reference, message_id, email,"
                " created_at, next_attempt_at) SELECT CAST(? AS TEXT), 'signin', ?, NULL, ?, ?,"
                " CAST(? AS DOUBLE PRECISION), CAST(? AS DOUBLE PRECISION) WHERE ?",
                (
                    self.partnership,
                    chat,
                    code_email.message_id,
                    json.dumps(code_email.to_json()),
                    queued_at,
                    queued_at,
                    registered,
                ),
            )
            await self.audit.audit(
                "code_sent" if registered else "code_refused_unregistered",
                chat,
                # The typed address is kept only when it is registered (no one else's address).
                who=email if registered else "",
                at=now,
            )

    async def retire_signin_codes(self, chat: str) -> None:
        await self.db.execute(
            "UPDATE signin_codes SET state = 'replaced'"
            " WHERE partnership = ? AND chat = ? AND state = 'active'",
            (self.partnership, chat),
        )

    async def signin_codes(self, chat: str) -> list[SigninCode]:
        """The chat's codes still on record, newest first (used and replaced ones included)."""
        rows = await self.db.fetch(
            "SELECT id, email, salt, code_hash, expires_at, state FROM signin_codes"
            " WHERE partnership = ? AND chat = ? ORDER BY id DESC",
            (self.partnership, chat),
        )
        return [
            SigninCode(r["id"], r["email"], r["salt"], r["code_hash"], r["expires_at"], r["state"])
            for r in rows
        ]

    async def use_signin_code(self, code_id: int) -> bool:
        """Mark a code used; False if it was no longer active (so it can never work twice)."""
        changed = await self.db.execute(
            "UPDATE signin_codes SET state = 'used'"
            " WHERE partnership = ? AND id = ? AND state = 'active'",
            (self.partnership, code_id),
        )
        return changed == 1

    async def delete_signin_codes(self, older_than: float) -> int:
        return await self.db.execute(
            "DELETE FROM signin_codes WHERE partnership = ? AND expires_at < ?",
            (self.partnership, older_than),
        )

    async def signin_locked_until(self, chat: str) -> float | None:
        row = await self.db.fetchone(
            "SELECT locked_until FROM signin_lockouts WHERE partnership = ? AND chat = ?",
            (self.partnership, chat),
        )
        return row["locked_until"] if row else None

    async def add_signin_failure(self, chat: str) -> int:
        """Count one wrong code for `chat`; returns the failures since the last lockout."""
        rows = await self.db.write_returning(
            "INSERT INTO signin_lockouts (partnership, chat, failures) VALUES (?, ?, 1)"
            " ON CONFLICT(partnership, chat) DO UPDATE"
            " SET failures = signin_lockouts.failures + 1 RETURNING failures",
            (self.partnership, chat),
        )
        return int(rows[0]["failures"]) if rows else 1

    async def lock_signin(self, chat: str, until: float) -> None:
        """Lock `chat` out of sign-in until `until`; the failure count starts again after."""
        await self.db.execute(
            "INSERT INTO signin_lockouts (partnership, chat, failures, locked_until)"
            " VALUES (?, ?, 0, ?) ON CONFLICT(partnership, chat) DO UPDATE"
            " SET failures = 0, locked_until = excluded.locked_until",
            (self.partnership, chat, until),
        )

    async def clear_signin_failures(self, chat: str) -> None:
        await self.db.execute(
            "DELETE FROM signin_lockouts WHERE partnership = ? AND chat = ?",
            (self.partnership, chat),
        )
