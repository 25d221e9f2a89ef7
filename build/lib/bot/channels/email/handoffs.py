"""The partnership's side of a hand-off: match a staff reply to its question, relay the answer
to the person exactly once, remind the partnership, and close what stays unanswered.

A reply is matched by In-Reply-To/References to the Message-ID of the question's email (which
holds a random part, so it cannot be guessed). Failing that, the reference in the subject is
accepted only from a staff address: anyone can type "Q-2026-0001" in a subject.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from bot.channels.email.parse import InboundEmail
from bot.core.replies import Reply
from bot.mail.handoff import partnership_address, partnership_email
from bot.storage import Handoff, Storage
from config.registry import normal_email
from config.settings import Settings

log = logging.getLogger(__name__)

REFERENCE = re.compile(r"\bQ-\d{4}-\d{4,}\b")
MAX_ANSWER = 3500

# (chat, replies) -> delivered? The email channel sends to "email:" chats, the running chat
# channel (Telegram, console) to the others.
Deliver = Callable[[str, list[Reply]], Awaitable[bool]]


class HandoffDesk:
    def __init__(
        self, storage: Storage, settings: Settings, clock: Callable[[], float] = time.time
    ) -> None:
        self.storage = storage
        self.settings = settings
        self.clock = clock

    def staff(self) -> set[str]:
        email = self.settings.email
        configured = email.staff_addresses if email else ()
        return {normal_email(a) for a in (*configured, partnership_address(self.settings))}

    async def match(self, mail: InboundEmail) -> Handoff | Literal[False] | None:
        """The hand-off this email answers; False if it claims one it may not answer (a
        reference from a non-staff address, or an unknown reference); None if it is no reply."""
        handoff = await self.storage.handoffs.handoff_by_message_ids(mail.thread_ids())
        if handoff is not None:
            return handoff
        found = REFERENCE.search(mail.subject)
        if found is None:
            return None
        if mail.sender not in self.staff():
            log.warning("email with hand-off reference %s from a non-staff address", found[0])
            return False
        return await self.storage.handoffs.handoff_by_reference(found[0]) or False

    async def accept(self, handoff: Handoff, mail: InboundEmail) -> bool:
        """Record the staff answer by email; False if the hand-off was already answered or
        closed."""
        return await self.answer(handoff, mail.text, None)

    async def answer(self, handoff: Handoff, text: str, who: str | None) -> bool:
        """Record a staff answer (by email, or `who` on the staff page); False if it has no
        text or the hand-off was already answered or closed: the first answer wins, once."""
        answer = text.strip()[:MAX_ANSWER]
        if not answer:
            log.warning("reply to %s has no text; not relayed", handoff.reference)
            return False
        if not await self.storage.handoffs.finish_handoff(handoff.id, "answered", answer):
            log.info("reply to %s ignored: no longer open", handoff.reference)
            return False
        # By email the chat is the asker's (who is then their signed-in address, if any); on
        # the page, the member of staff who answered.
        await self.storage.audit.audit(
            "handoff_answered", handoff.chat, who=who, reference=handoff.reference
        )
        log.info("hand-off %s answered by staff", handoff.reference)
        return True

    def outcome(self, handoff: Handoff) -> list[Reply]:
        """What the person is told: the staff's answer, or that the question was closed."""
        board, contact = self.settings.board, self.settings.partnership_email
        if handoff.status == "answered":
            return [
                Reply(
                    f"{handoff.answer}\n\n(This answer was written by a member of the "
                    f"{board.short_name}'s staff, not by the assistant.)\n\nYour question was: "
                    f'"{handoff.question}"',
                    kind="handoff_answer",
                    title=f"Answer from the partnership's staff ({handoff.reference})",
                    id=handoff.reference,
                )
            ]
        return [
            Reply(
                f"The partnership has not answered your question {handoff.reference} in time, "
                "so I have closed it. If you still need an answer, please contact "
                f"{contact} and quote {handoff.reference}.\n\nYour question was: "
                f'"{handoff.question}"',
                kind="handoff_closed",
                id=handoff.reference,
            )
        ]

    async def tell(self, deliver: Deliver) -> int:
        """Give each answered or closed hand-off's outcome to its person; returns how many.

        Marked told only after delivery, so an outage means a later try, never a loss. A crash
        right after delivering and before marking repeats one message: the same compromise as
        the outbox. An email relay has a fixed Message-ID, so the outbox drops that repeat.
        """
        told = 0
        for handoff in await self.storage.handoffs.handoffs_to_tell():
            # Several instances may run this pass: each person is told by one of them.
            async with self.storage.handoffs.take_handoff_to_tell(handoff.id) as still_to_tell:
                if not still_to_tell:
                    continue
                try:
                    delivered = await deliver(handoff.chat, self.outcome(handoff))
                except Exception as exc:  # a channel outage: try again at the next pass
                    log.warning(
                        "hand-off %s not relayed: %s", handoff.reference, type(exc).__name__
                    )
                    continue
                if delivered and await self.storage.handoffs.mark_handoff_told(handoff.id):
                    told += 1
        return told

    async def run_once(self, deliver: Deliver) -> None:
        """Queue any question email not yet queued, remind, close, and tell."""
        email = self.settings.email
        if email is None:
            return
        now = self.clock()
        for handoff in await self.storage.handoffs.handoffs("open"):
            if not await self.storage.outbox.outbox_has(handoff.message_id):
                # Stored but never queued (a crash in between): queue it now.
                await self.storage.outbox.enqueue_email(
                    partnership_email(self.settings, handoff), None, "handoff"
                )
            age = now - handoff.created_at
            if age >= email.handoff_close_days * 86400:
                if await self.storage.handoffs.finish_handoff(handoff.id, "closed", None):
                    await self.storage.audit.audit(
                        "handoff_closed", handoff.chat, reference=handoff.reference
                    )
                    log.info("hand-off %s closed unanswered", handoff.reference)
            elif age >= email.handoff_remind_hours * 3600 and handoff.reminded_at is None:
                await self.storage.outbox.enqueue_email(
                    partnership_email(self.settings, handoff, reminder=True), None, "handoff"
                )
                await self.storage.handoffs.mark_handoff_reminded(handoff.id)
                log.info("hand-off %s: partnership reminded", handoff.reference)
        await self.tell(deliver)
        # What people typed is kept as long as unanswered questions are (retention settings).
        await self.storage.handoffs.forget_handoffs(
            now - self.settings.retention.unanswered_days * 86400
        )
