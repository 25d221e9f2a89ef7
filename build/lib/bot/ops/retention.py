"""The retention job: personal data is deleted once the assistant no longer needs it.

- the content of a notification (its answers, and its email's body and copy addresses)
  `retention.delivered_content_days` after the email was delivered; the reference, agency,
  timestamps and delivery state stay as the record of what was sent;
- notification drafts untouched for `retention.draft_days`, and a sign-in, threshold check or
  question to the partnership left half-way for a day (bot/core/lifetimes.py);
- the questions the knowledge base could not answer after `retention.unanswered_days`;
- sign-in codes (hashes) a day after they expired, and sign-in emails once their code has
  expired (the outbox blanks a sign-in email's body as soon as it is sent);
- the remembered ids of form messages after two days (Telegram deletes a bot's messages only
  within 48 hours, so older ids are of no use);
- a web chat's messages `web.history_hours` after its last message, and the conversation's
  numbering after 30 days (bot/storage/web.py);
- the .eml files in mail.outbox_dir (written when no SMTP server is set up, or as the copy of a
  refused email) with their database row: a notification's when its content goes, a sign-in
  email's when its row goes, and any file whose email is no longer on record at all; and
  half-written temporary files left by a crash, after a day.

It runs at start-up and then hourly, as a task beside the outbox worker. It logs counts only.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.core.background import BackgroundTask
from bot.core.lifetimes import CODE_MINUTES, NOTIFY_FLOW, SHORT_FLOW_HOURS, SHORT_FLOWS
from bot.mail.transport import eml_file
from bot.storage import Storage
from bot.storage.teams import REFERENCE_DAYS
from bot.storage.web import CONVERSATION_DAYS
from config.settings import Settings

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
    eml_files: int = 0
    short_flows: int = 0
    web_messages: int = 0
    staff_sessions: int = 0
    suggestions: int = 0
    teams_references: int = 0


async def apply_retention(storage: Storage, settings: Settings, now: float) -> Removed:
    """Delete everything past its retention period, as of `now`."""
    retention = settings.retention
    content_before = now - retention.delivered_content_days * DAY
    removed = Removed(
        notification_contents=await storage.retention.forget_delivered_content(content_before),
        drafts=await storage.sessions.delete_idle_sessions(
            NOTIFY_FLOW, now - retention.draft_days * DAY
        ),
        codes=await storage.signin.delete_signin_codes(now - CODE_RECORD_DAYS * DAY),
        signin_emails=await storage.retention.delete_signin_emails(now - CODE_MINUTES * 60),
        message_refs=await storage.private.forget_private_messages(now - MESSAGE_REF_DAYS * DAY),
        unanswered=await storage.questions.delete_unanswered(now - retention.unanswered_days * DAY),
        short_flows=sum(
            [
                await storage.sessions.delete_idle_sessions(flow, now - SHORT_FLOW_HOURS * 3600)
                for flow in SHORT_FLOWS
            ]
        ),
        web_messages=await storage.web.delete_idle(
            now - settings.web.history_hours * 3600, now - CONVERSATION_DAYS * DAY
        ),
        staff_sessions=await storage.staff.delete_expired_sessions(now),
        # A suggestion quotes a question (redacted as stored): kept as long as questions are.
        suggestions=await storage.staff.delete_suggestions(now - retention.unanswered_days * DAY),
        teams_references=await storage.teams.forget(now - REFERENCE_DAYS * DAY),
    )
    # After the rows: a file goes once its row (or its row's content) has gone.
    kept = await storage.retention.outbox_labels() - await storage.retention.delivered_labels(
        content_before
    )
    folder = settings.path(settings.mail.outbox_dir)
    keep = {eml_file(settings, label).name for label in kept}
    removed = dataclasses.replace(
        removed,
        eml_files=await asyncio.to_thread(delete_eml_files, folder, keep, now - DAY),
    )
    if any(vars(removed).values()):
        log.info(
            "retention: deleted %d notification content(s), %d draft(s), %d code(s), "
            "%d sign-in email(s), %d message id(s), %d unanswered question(s), %d .eml file(s), "
            "%d idle sign-in/check/question flow(s), %d web chat message(s), "
            "%d staff session(s), %d suggestion(s), %d Teams conversation reference(s)",
            removed.notification_contents,
            removed.drafts,
            removed.codes,
            removed.signin_emails,
            removed.message_refs,
            removed.unanswered,
            removed.eml_files,
            removed.short_flows,
            removed.web_messages,
            removed.staff_sessions,
            removed.suggestions,
            removed.teams_references,
        )
    return removed


def delete_eml_files(folder: Path, keep: set[str], temporary_before: float) -> int:
    """Delete the .eml files of `folder` not named in `keep`, and stale temporary files."""
    if not folder.is_dir():
        return 0
    deleted = 0
    for path in folder.glob("*.eml"):
        if path.name not in keep:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                deleted += 1
    for path in folder.glob(".*.tmp"):  # a write interrupted by a crash
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < temporary_before:
                path.unlink()
                deleted += 1
    return deleted


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
