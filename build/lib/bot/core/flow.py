"""How a flow is written: each step returns what to say and where the conversation goes next.

A step handler returns a `Turn`; the core applies it to the session in one place
(`Conversation.apply`), so a reader sees every transition in the step handlers' return
statements, as in python-telegram-bot's conversationbot example, where each handler returns the
next state.

A flow's buttons send `/<command> <action> [arg]` (`button_data`), a command the flow claims
while it runs (`Flow.commands`, bot/core/conversation.py), so a pressed button always reaches
the flow that made it; the core reads it back into `Said.pressed` (bot/core/controls.py).
Channel-free: nothing here knows Telegram.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.replies import BUTTON_DATA_LIMIT, Reply


@dataclass(frozen=True)
class Turn:
    """The replies to one message, and the step the flow waits at next (None: the flow ends)."""

    replies: Sequence[Reply]
    next_step: str | None


def button_data(command: str, action: str, arg: str = "") -> str:
    """'/form', 'edit', 'child_dob' -> '/form edit child_dob'."""
    return f"{command} {action} {arg}".strip()


def fits(data: str) -> bool:
    """Whether a button can carry `data`: Telegram refuses more than BUTTON_DATA_LIMIT bytes."""
    return len(data.encode()) <= BUTTON_DATA_LIMIT
