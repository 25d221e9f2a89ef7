"""`python main.py serve` that stores and acknowledges every update and handles none: run by
the kill -9 tests (tests/test_incoming_crash.py) and the campaign (bench/campaign.py) in a
subprocess, then killed. What it leaves is exactly what a process killed between the
acknowledgement and the handling leaves: updates stored, Telegram told they arrived, nothing
handled. Arguments are `serve`'s ("--webhook")."""

from __future__ import annotations

import asyncio
import sys

from bot.channels.intake import Intake
from bot.cli.main import main
from bot.storage import Received


def never_handled(self: Intake, received: list[Received]) -> None:
    """Stored and acknowledged; the handling never comes (the process dies first)."""


async def never_looks(self: Intake) -> None:
    await asyncio.Event().wait()


if __name__ == "__main__":
    Intake.dispatch = never_handled  # type: ignore[assignment,method-assign]
    Intake.run = never_looks  # type: ignore[method-assign]
    sys.exit(main(["serve", *sys.argv[1:]]))
