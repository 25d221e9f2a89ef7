"""The retention job: personal data is deleted once the assistant no longer needs it.

- the content of a notification (its answers, and its email's body and copy addresses)
  `retention.delivered_content_days` after the email was delivered; the reference, agency,
  timestamps and delivery state stay as the record of what was sent;
- notification drafts untouched for `retention.draft_days`;
- the questions the knowledge base could not answer after `retention.unanswered_days`;
- sign-in codes (hashes) a day after they expired, and sign-in emails once their code has
  expired (the outbox blanks a sign-in email's body as soon as it is sent);
- the remembered ids of form messages after two days (Telegram deletes a bot's messages only
  within 48 hours, so older ids are of no use).

It runs at start-up and then hourly, as a task beside the outbox worker. It logs counts only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.background import BackgroundTask
from bot.storage import Storage
from config.settings import Settings
from handlers.notification import purge_idle_drafts
from handlers.signin import CODE_MINUTES

log = logging.getLogger(__name__)

DAY = 86400.0
INTERVAL_SECONDS = 3600.0
CODE_RECORD_DAYS = 1.0
MESSAGE_REF_DAYS = 2.0


@dataclass(frozen=True)
class Removed:
    """What one run deleted, by kind (counts only)."""

    notification_contents: int
    drafts: int
    codes: int
    signin_emails: int
    message_refs: int
    unanswered: int


async def apply_retention(storage: Storage, settings: Settings, now: float) -> Removed:
    """Delete everything past its retention period, as of `now`."""
    retention = settings.retention
    removed = Removed(
        notification_contents=await storage.forget_delivered_content(
            now - retention.delivered_content_days * DAY
        ),
        drafts=await purge_idle_drafts(storage, settings, now),
        codes=await storage.delete_signin_codes(now - CODE_RECORD_DAYS * DAY),
        signin_emails=await storage.delete_signin_emails(now - CODE_MINUTES * 60),
        message_refs=await storage.forget_private_messages(now - MESSAGE_REF_DAYS * DAY),
        unanswered=await storage.delete_unanswered(now - retention.unanswered_days * DAY),
    )
    if any(vars(removed).values()):
        log.info(
            "retention: deleted %d notification content(s), %d draft(s), %d code(s), "
            "%d sign-in email(s), %d message id(s), %d unanswered question(s)",
            removed.notification_contents,
            removed.drafts,
            removed.codes,
            removed.signin_emails,
            removed.message_refs,
            removed.unanswered,
        )
    return removed


class RetentionJob(BackgroundTask):
    """Runs `apply_retention` now and then every `interval` seconds until stopped."""

    name = "retention"

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        interval: float = INTERVAL_SECONDS,
    ) -> None:
        super().__init__()
        self.storage = storage
        self.settings = settings
        self.clock = clock
        self.interval = interval

    async def run(self) -> None:
        while True:
            try:
                await apply_retention(self.storage, self.settings, self.clock())
            except Exception as exc:  # e.g. the database is busy: try again next time
                log.error("retention job error: %s", type(exc).__name__)
            await asyncio.sleep(self.interval)
