"""Run by test_outbox_crash.py in a subprocess: queue a notification's email in the database
that ASSISTANT_DATABASE names, then die by SIGKILL (no cleanup, no flush) at the point named
in argv[1]: "queued" (committed, not yet claimed) or "claimed" (claimed for sending, the
process killed before the SMTP conversation)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

from bot.mail.message import OutgoingEmail
from bot.storage import Storage


def notification(reference: str) -> OutgoingEmail:
    return OutgoingEmail(
        ("board@example.org",), f"Notification {reference}", "Body", None, f"<{reference}@t.org>"
    )


async def main(point: str) -> None:
    storage = await Storage.open(os.environ["ASSISTANT_DATABASE"])
    reference, _ = await storage.notifications.submit_notification(
        "chat", "draft", "Police", {}, notification
    )
    print(reference, flush=True)
    if point == "claimed":
        assert await storage.outbox.claim_next_email(time.time(), lease=60) is not None
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
