"""What the assistant answered, counted for the staff page's charts: turns per day, channel,
outcome and topic or report. Numbers only: no message text and no chat is kept.

Counted in memory as turns end (a dictionary update: no database write on a message's path)
and added to the database at most once a minute, and when the assistant closes; a process
killed outright loses at most that minute of counts, which a chart of use can bear.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence

from bot.core.replies import CASEWORK, DECLINED_ID, URGENT, Reply
from bot.storage import Storage

log = logging.getLogger(__name__)

FLUSH_SECONDS = 60.0
# How a turn is counted: by the kind of its first reply that says what became of it.
ANSWERED = frozenset(
    (
        "answer",
        "answer-more",
        "report",
        "learning",
        "learning-more",
        "learning-list",
        "learning-recurring",
        "briefing",
    )
)
OFFERED_CHOICES = frozenset(("choices", "confirm"))
OUTCOMES = {
    "answered": ANSWERED,
    "choices": OFFERED_CHOICES,
    "urgent": frozenset((URGENT,)),
    "declined": frozenset((CASEWORK,)),
    "unanswered": frozenset(("fallback",)),
}
# The item counted with an answer: the topic's or report's id (never text).
NAMED = frozenset(("answer", "answer-more", "report", "learning", "learning-more", "briefing"))


def channel_of(chat: str) -> str:
    """'telegram:42' -> 'telegram'; the web chat, email and console alike."""
    return chat.partition(":")[0] or "other"


def outcome_of(replies: Sequence[Reply]) -> tuple[str, str] | None:
    """(outcome, item) of a turn, or None when it is not a question's (a form's step, a
    command's list): counted only what the charts show."""
    for reply in replies:
        if reply.kind == "fallback" and (reply.id or "").startswith(DECLINED_ID):
            return "declined", ""
        for outcome, kinds in OUTCOMES.items():
            if reply.kind in kinds:
                item = reply.id if reply.kind in NAMED and reply.id else ""
                return outcome, item[:80]
    return None


class Usage:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.counts: Counter[tuple[str, str, str, str]] = Counter()
        self.flushed_at = clock()

    def count(self, chat: str, replies: Sequence[Reply], in_flow: bool = False) -> None:
        """Count a turn; one inside a flow (a form's step, its choices) only if it showed the
        safety route."""
        found = outcome_of(replies)
        if found is None or (in_flow and found[0] != "urgent"):
            return
        day = time.strftime("%Y-%m-%d", time.gmtime(self.clock()))
        self.counts[(day, channel_of(chat), *found)] += 1

    def due(self) -> bool:
        return bool(self.counts) and self.clock() - self.flushed_at >= FLUSH_SECONDS

    async def flush(self, storage: Storage) -> None:
        """Add what was counted to the database; kept for the next try if that fails."""
        counts, self.counts = self.counts, Counter()
        self.flushed_at = self.clock()
        try:
            await storage.staff.add_usage(dict(counts))
        except Exception as exc:  # the counts wait for the next flush
            log.warning("usage counts not saved yet: %s", type(exc).__name__)
            self.counts.update(counts)
