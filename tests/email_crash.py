"""Run by test_email_crash.py in a subprocess: receive the mailbox's new email with the settings
of ASSISTANT_SETTINGS, then die by SIGKILL (no cleanup, no flush) at the point named in argv[1]:
"received" (recorded in the inbox, marked read, not answered) or "queued" (the reply queued,
the inbox row not yet marked answered)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from bot.app import build_assistant
from bot.channels.email.channel import make_email_channel
from bot.channels.email.parse import InboundEmail
from config.settings import load_settings


async def main(point: str) -> None:
    assistant = await build_assistant(load_settings())
    channel = make_email_channel(assistant)
    await channel.receive_new()
    if point == "queued":
        [(_, _, data)] = await assistant.storage.inbox.pending_emails()
        mail = InboundEmail.from_json(data)
        await channel.reply(mail, await channel.answer(mail))
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
