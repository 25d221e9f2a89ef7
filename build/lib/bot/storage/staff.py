"""What the staff page (bot/channels/staff/) reads and writes beyond the other stores: its
signed-in sessions, the notifications as staff see them, suggestions for the knowledge editors,
and the counts behind the charts (numbers only, never a message's text)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.mail.message import OutgoingEmail
from bot.storage.base import Store
from bot.storage.records import NotificationStatus, notification_status


@dataclass(frozen=True)
class StaffSession:
    email: str
    csrf: str
    expires_at: float


@dataclass(frozen=True)
class NotificationInFull:
    row: NotificationStatus
    answers: dict[str, Any]  # {} once retention has deleted them
    email: OutgoingEmail  # its attachments hold the .docx until retention blanks it


@dataclass(frozen=True)
class Suggestion:
    question: str
    topic: str
    who: str
    at: float


@dataclass(frozen=True)
class UsageCount:
    day: str  # YYYY-MM-DD, UTC
    channel: str
    kind: str
    item: str
    turns: int


_NOTIFICATION = (
    "SELECT n.reference, n.agency, n.created_at, n.answers, o.status, o.attempts, o.sent_at,"
    " o.last_error, o.email FROM notifications n JOIN outbox o ON o.partnership = n.partnership"
    " AND o.id = n.outbox_id WHERE n.partnership = ?"
)


class StaffStore(Store):
    # --- sessions -----------------------------------------------------------------------------

    async def start_session(
        self, token_hash: str, email: str, csrf: str, now: float, expires_at: float
    ) -> None:
        await self.db.execute(
            "INSERT INTO staff_sessions (partnership, token_hash, email, csrf, created_at,"
            " expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            (self.partnership, token_hash, email, csrf, now, expires_at),
        )

    async def session(self, token_hash: str, now: float) -> StaffSession | None:
        """The signed-in session of this token, unless it has expired."""
        row = await self.db.fetchone(
            "SELECT email, csrf, expires_at FROM staff_sessions WHERE partnership = ?"
            " AND token_hash = ? AND expires_at > ?",
            (self.partnership, token_hash, now),
        )
        return StaffSession(row["email"], row["csrf"], row["expires_at"]) if row else None

    async def end_session(self, token_hash: str) -> None:
        await self.db.execute(
            "DELETE FROM staff_sessions WHERE partnership = ? AND token_hash = ?",
            (self.partnership, token_hash),
        )

    async def end_sessions_of(self, keep: set[str]) -> int:
        """Sign out every session whose address is not in `keep` (a registry change)."""
        rows = await self.db.fetch(
            "SELECT token_hash, email FROM staff_sessions WHERE partnership = ?",
            (self.partnership,),
        )
        gone = [r["token_hash"] for r in rows if r["email"] not in keep]
        for token_hash in gone:
            await self.end_session(token_hash)
        return len(gone)

    async def delete_expired_sessions(self, now: float) -> int:
        return await self.db.execute(
            "DELETE FROM staff_sessions WHERE partnership = ? AND expires_at <= ?",
            (self.partnership, now),
        )

    # --- notifications ------------------------------------------------------------------------

    async def notifications(self, limit: int = 200) -> list[NotificationStatus]:
        """Newest first, with the state of their email."""
        rows = await self.db.fetch(
            f"{_NOTIFICATION} ORDER BY n.created_at DESC, n.id DESC LIMIT ?",
            (self.partnership, limit),
        )
        return [notification_status(r) for r in rows]

    async def notification(self, reference: str) -> NotificationInFull | None:
        rows = await self.db.fetch(
            f"{_NOTIFICATION} AND n.reference = ?", (self.partnership, reference)
        )
        if not rows:
            return None
        r = rows[0]
        return NotificationInFull(
            notification_status(r),
            json.loads(r["answers"]),
            OutgoingEmail.from_json(json.loads(r["email"])),
        )

    async def notification_times(self) -> list[float]:
        rows = await self.db.fetch(
            "SELECT created_at FROM notifications WHERE partnership = ?", (self.partnership,)
        )
        return [float(r["created_at"]) for r in rows]

    async def handoff_times(self) -> list[tuple[float, float]]:
        """(asked, answered) of every hand-off staff answered."""
        rows = await self.db.fetch(
            "SELECT created_at, finished_at FROM handoffs WHERE partnership = ?"
            " AND status = 'answered' AND finished_at IS NOT NULL",
            (self.partnership,),
        )
        return [(float(r["created_at"]), float(r["finished_at"])) for r in rows]

    # --- suggestions --------------------------------------------------------------------------

    async def suggest(self, question: str, topic: str, who: str, now: float) -> None:
        await self.db.execute(
            "INSERT INTO suggestions (partnership, question, topic, who, at)"
            " VALUES (?, ?, ?, ?, ?)",
            (self.partnership, question[:500], topic, who, now),
        )

    async def suggestions(self) -> list[Suggestion]:
        rows = await self.db.fetch(
            "SELECT question, topic, who, at FROM suggestions WHERE partnership = ?"
            " ORDER BY topic, id",
            (self.partnership,),
        )
        return [Suggestion(r["question"], r["topic"], r["who"], r["at"]) for r in rows]

    async def delete_suggestions(self, made_before: float) -> int:
        """Delete the suggestions made before `made_before`, and any whose question is no
        longer stored as unanswered (retention deleted it): a suggestion quotes its question,
        so it must not keep the text longer than the question is kept."""
        return await self.db.execute(
            "DELETE FROM suggestions WHERE partnership = ? AND (at < ? OR question NOT IN"
            " (SELECT question FROM unanswered WHERE partnership = ?))",
            (self.partnership, made_before, self.partnership),
        )

    # --- usage counts -------------------------------------------------------------------------

    async def add_usage(self, counts: dict[tuple[str, str, str, str], int]) -> None:
        """Add turns to the counts of (day, channel, kind, item), in one transaction."""
        if not counts:
            return
        async with self.db.transaction():
            for (day, channel, kind, item), turns in counts.items():
                await self.db.execute(
                    "INSERT INTO usage_counts (partnership, day, channel, kind, item, turns)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (partnership, day, channel, kind,"
                    " item) DO UPDATE SET turns = usage_counts.turns + excluded.turns",
                    (self.partnership, day, channel, kind, item, turns),
                )

    async def usage(self, since_day: str) -> list[UsageCount]:
        rows = await self.db.fetch(
            "SELECT day, channel, kind, item, turns FROM usage_counts WHERE partnership = ?"
            " AND day >= ? ORDER BY day",
            (self.partnership, since_day),
        )
        return [
            UsageCount(r["day"], r["channel"], r["kind"], r["item"], int(r["turns"])) for r in rows
        ]
