"""Shutdown and the outbox: a send in progress may finish; one that does not is handed back, so
the next start (or another instance) sends it at once instead of after the claim's lease."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage

from bot.assistant import Assistant
from bot.mail.claims import stop_outbox, track_claims
from bot.mail.message import OutgoingEmail
from bot.mail.outbox import Outbox
from tests.test_concurrency import wait_for

EMAIL = OutgoingEmail(("board@example.org",), "Test", "Hello", None, "<claims-1@example.org>")


class SlowTransport:
    """A mail server that takes `seconds` to accept a message (forever if None)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.started = asyncio.Event()
        self.accepted: list[EmailMessage] = []

    def describe(self) -> str:
        return "slow test transport"

    async def send(self, message: EmailMessage, name: str) -> None:
        self.started.set()
        if self.seconds is None:
            await asyncio.Event().wait()
        await asyncio.sleep(self.seconds or 0)
        self.accepted.append(message)


async def start_sending(assistant: Assistant, transport: SlowTransport) -> Outbox:
    await assistant.storage.outbox.enqueue_email(EMAIL, kind="other")
    outbox = assistant.outbox
    outbox.transport = transport
    return outbox


async def test_unfinished_send_is_released_and_goes_out_at_next_start(
    assistant: Assistant,
) -> None:
    stuck = SlowTransport(None)
    outbox = await start_sending(assistant, stuck)
    ledger = track_claims(outbox)
    outbox.start()
    await asyncio.wait_for(stuck.started.wait(), 10)

    assert await stop_outbox(outbox, ledger, grace_seconds=0.1) == 1

    # The next start: the email is due now, not in claim_lease seconds (150 by default).
    after = SlowTransport(0)
    restarted = Outbox(assistant.storage, after, assistant.settings)
    assert await restarted.run_once() == 1
    assert [m["Message-ID"] for m in after.accepted] == ["<claims-1@example.org>"]


async def test_send_finishing_within_the_grace_is_not_released(assistant: Assistant) -> None:
    quick = SlowTransport(0.2)
    outbox = await start_sending(assistant, quick)
    ledger = track_claims(outbox)
    outbox.start()
    await asyncio.wait_for(quick.started.wait(), 10)

    assert await stop_outbox(outbox, ledger, grace_seconds=10) == 0
    assert len(quick.accepted) == 1
    await wait_for(lambda: not ledger.claimed, "the claim to be finished")
    assert await assistant.storage.outbox.outbox_backlog() == (0, None)
